// Validates rendered manifests against the Kubernetes OpenAPI schemas of
// two minor versions: kubernetes-models 4.5 (Kubernetes 1.33) and 5.1
// (Kubernetes 1.36), installed side by side under npm aliases, and the
// ServiceMonitor against the prometheus-operator CRD schema. Each model's
// validate() is the schema compiled by ajv: wrong types, missing required
// fields and bad enum values fail. (Kubernetes' OpenAPI does not forbid
// unknown fields, so the chart's own checks cover those it cares about.)

export const KUBE_VERSIONS = ['1.33', '1.36'];

// The model of a kind: core "v1" is PKG/v1/Kind, "apps/v1" PKG/apps/v1/Kind.
async function model(pkg, apiVersion, kind) {
  const mod = await import(`${pkg}/${apiVersion}/${kind}`);
  if (!mod[kind]) throw new Error(`${pkg} has no ${apiVersion} ${kind}`);
  return mod[kind];
}

// Returns a list of problems ("" for none) of one manifest, for every
// Kubernetes version (or the CRD package for monitoring.coreos.com).
export async function validate(doc) {
  const problems = [];
  const { apiVersion, kind } = doc;
  const pkgs = apiVersion.startsWith('monitoring.coreos.com/')
    ? [['prometheus-operator', '@kubernetes-models/prometheus-operator']]
    : KUBE_VERSIONS.map((v) => [`Kubernetes ${v}`, `k8s-models-${v}`]);
  for (const [label, pkg] of pkgs) {
    let M;
    try {
      M = await model(pkg, apiVersion, kind);
    } catch (e) {
      problems.push(`${label}: no schema for ${apiVersion} ${kind} (${e.message})`);
      continue;
    }
    try {
      new M(doc).validate();
    } catch (e) {
      problems.push(`${label}: ${e.message}`);
    }
  }
  return problems;
}
