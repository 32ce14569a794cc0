// helm/weft without a cluster (ctest helm_chart, label deploy): helm lint
// --strict and helm template over a matrix of values, every manifest
// validated against the Kubernetes 1.33 and 1.36 schemas, the chart's own
// promises checked on the rendered objects (security contexts, UDP relay
// Service, probes, ...), the template's and values.schema.json's refusals,
// and every flag the chart passes to a weft program found in that
// program's --help.
//   node chart_test.mjs CHART TOOLS_DIR WEFT_CONTROLLER WEFT_RELAY WEFT_AGENT
import test from 'node:test';
import assert from 'node:assert/strict';
import { parseAllDocuments } from 'yaml';
import { readFileSync } from 'node:fs';
import { tools, run, versions } from './tools.mjs';
import { validate } from './k8s_validate.mjs';

const [chart, toolsDir, ctlBin, relayBin, agentBin] = process.argv.slice(2);
const t = tools(toolsDir);
const MON = 'monitoring.coreos.com/v1';

const PG = ['controller.database.type=postgres', 'controller.database.postgres.existingSecret=pg'];
const AUTH = (c) => [`${c}.enabled=true`, `${c}.authKey.existingSecret=${c}-auth`];
const STREAM = [...AUTH('agent'), 'agent.streamMode.enabled=true',
  'agent.streamMode.forwards={0.0.0.0:5432=db:5432,[::]:8080=web.weft.internal:80}', 'agent.streamMode.socks5=0.0.0.0:1080'];
const SCONN = [...AUTH('connector'), 'connector.streamMode.enabled=true', 'controller.tls.secretName=weft-tls'];
// The matrix: name, --set values, extra helm flags.
const cases = [
  ['defaults (sqlite, relay LoadBalancer)', [], []],
  ['sqlite with TLS and ingress', ['controller.tls.secretName=weft-tls', 'controller.ingress.enabled=true',
    'controller.ingress.tlsSecretName=weft-ingress-tls', 'relay.publicAddress=relay.example.com:3478'], []],
  ['postgres', PG, []],
  ['replicas 3 + postgres', [...PG, 'controller.replicas=3'], []],
  ['relay NodePort', ['relay.service.type=NodePort', 'relay.service.nodePort=31478', 'relay.publicAddress=203.0.113.7:31478'], []],
  ['relay hostNetwork DaemonSet', ['relay.kind=DaemonSet', 'relay.hostNetwork=true'], []],
  ['agent DaemonSet', AUTH('agent'), []],
  ['agent stream mode (no TUN, no capabilities)', STREAM, []],
  ['connector', [...AUTH('connector'), 'connector.advertiseRoutes={10.96.0.0/12}'], []],
  ['connector in stream mode (no TUN, no capabilities)', SCONN, []],
  ['cluster B: controller elsewhere, connector and agents only', ['controller.enabled=false',
    'controller.publicURL=https://weft.example.com', 'relay.enabled=false', ...AUTH('agent'), ...AUTH('connector')], []],
  ['everything, ServiceMonitor CRD present', [...PG, 'controller.replicas=2', ...AUTH('agent'), ...AUTH('connector')],
    ['--api-versions', MON]],
];

function helm(args) {
  return run(t.helm, args);
}
function setArgs(sets) {
  return sets.flatMap((s) => ['--set', s]);
}
function render(sets, extra = []) {
  const r = helm(['template', 'rel', chart, '--namespace', 'mesh', ...setArgs(sets), ...extra]);
  assert.equal(r.status, 0, `helm template failed: ${r.stderr}`);
  // YAML 1.1, as Kubernetes reads it (0440 is octal).
  return parseAllDocuments(r.stdout, { version: '1.1' }).map((d) => d.toJS()).filter(Boolean);
}
const podSpec = (o) => o.spec?.template?.spec;
const workloads = (docs) => docs.filter((o) => podSpec(o));
const byKind = (docs, kind) => docs.filter((o) => o.kind === kind);
const one = (docs, kind, name) => {
  const o = docs.find((d) => d.kind === kind && d.metadata.name === name);
  assert.ok(o, `no ${kind} ${name}`);
  return o;
};

// Flags in a program's --help ("  --name VALUE"), by program and subcommand.
const helpCache = new Map();
function helpFlags(bin, sub) {
  const key = `${bin} ${sub ?? ''}`;
  if (!helpCache.has(key)) {
    const r = run(bin, sub ? [sub, '--help'] : ['--help']);
    const flags = new Set([...(r.stdout + r.stderr).matchAll(/^\s+(--[a-z0-9-]+)/gm)].map((m) => m[1]));
    assert.ok(flags.size > 3, `${key} --help lists no flags: ${r.stdout}${r.stderr}`);
    helpCache.set(key, flags);
  }
  return helpCache.get(key);
}
const BINS = { 'weft-controller': ctlBin, 'weft-relay': relayBin, 'weft-agent': agentBin };

for (const [name, sets, extra] of cases) {
  test(`lint --strict: ${name}`, () => {
    // lint has no --api-versions: it renders without the CRD.
    const r = helm(['lint', '--strict', chart, ...setArgs(sets)]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  test(`template: ${name}`, async () => {
    const docs = render(sets, extra);
    assert.ok(docs.length >= 3, `only ${docs.length} objects`);
    for (const o of docs) {
      const problems = await validate(o);
      assert.deepEqual(problems, [], `${o.kind} ${o.metadata.name}`);
    }
    for (const w of workloads(docs)) {
      const spec = podSpec(w);
      assert.equal(spec.automountServiceAccountToken, false, `${w.metadata.name}: no API token`);
      // uid 10001 reads its Secrets through the group fsGroup gives them.
      if (spec.securityContext?.runAsUser === 10001) {
        assert.equal(spec.securityContext.fsGroup, 10001, `${w.metadata.name}: no fsGroup`);
        for (const v of spec.volumes.filter((x) => x.secret?.defaultMode !== undefined)) {
          assert.ok(v.secret.defaultMode & 0o040, `${w.metadata.name}: Secret ${v.name} unreadable by the group`);
        }
      }
      for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
        const where = `${w.metadata.name}/${c.name}`;
        const sc = c.securityContext;
        assert.ok(sc, `${where}: no securityContext`);
        assert.equal(sc.privileged ?? false, false, `${where}: privileged`);
        assert.equal(sc.allowPrivilegeEscalation, false, `${where}: privilege escalation`);
        assert.equal(sc.readOnlyRootFilesystem, true, `${where}: writable root`);
        assert.deepEqual(sc.capabilities.drop, ['ALL'], `${where}: drop ALL`);
        const add = sc.capabilities.add ?? [];
        assert.ok(add.every((cap) => ['NET_ADMIN', 'NET_BIND_SERVICE'].includes(cap)), `${where}: adds ${add}`);
        assert.ok(c.resources?.limits?.memory, `${where}: no memory limit`);
        if (add.length === 0 && c.command[0] !== 'install') {
          assert.equal(sc.runAsNonRoot, true, `${where}: not runAsNonRoot`);
        }
        if (c.args?.includes('--no-tun')) {
          assert.deepEqual(add, [], `${where}: stream mode adds capabilities`);
          assert.deepEqual(spec.volumes.filter((v) => v.hostPath), [], `${where}: stream mode with a host path`);
        }
        const bin = BINS[c.command[0]];
        if (bin) {
          const sub = c.command[0] === 'weft-relay' ? undefined : c.args[0];
          const known = helpFlags(bin, sub);
          for (const a of c.args.filter((x) => x.startsWith('--'))) {
            const flag = a.split('=')[0];
            assert.ok(known.has(flag), `${where}: ${c.command[0]} ${sub ?? ''} has no ${flag}`);
          }
        }
        for (const e of c.env ?? []) {
          if (e.name.startsWith('WEFT_') && bin) {
            const flag = '--' + e.name.slice(5).toLowerCase().replaceAll('_', '-');
            const sub = c.command[0] === 'weft-relay' ? undefined : c.args[0];
            assert.ok(helpFlags(bin, sub).has(flag), `${where}: env ${e.name} is no flag of ${c.command[0]}`);
          }
        }
      }
    }
    const hasMon = extra.includes(MON);
    assert.equal(byKind(docs, 'ServiceMonitor').length, hasMon ? 1 : 0, 'ServiceMonitor only with the CRD');
  });
}

test('controller: SQLite on a 1Gi claim, one pod per volume, probes', () => {
  const ss = one(render([]), 'StatefulSet', 'rel-weft-controller');
  assert.equal(ss.spec.replicas, 1);
  assert.equal(ss.spec.podManagementPolicy, 'OrderedReady');
  assert.equal(ss.spec.volumeClaimTemplates[0].spec.resources.requests.storage, '1Gi');
  const c = ss.spec.template.spec.containers[0];
  assert.ok(c.args.includes('--data-dir=/var/lib/weft'));
  assert.equal(c.livenessProbe.httpGet.path, '/healthz');
  assert.equal(c.readinessProbe.httpGet.path, '/readyz');
  assert.ok(c.args.includes('--bootstrap-key-file=/etc/weft/admin/api-key'));
  assert.equal(ss.spec.template.spec.securityContext.fsGroup, 10001);
});

test('controller: PostgreSQL from the Secret, no volume, 3 replicas', () => {
  const ss = one(render([...PG, 'controller.replicas=3']), 'StatefulSet', 'rel-weft-controller');
  assert.equal(ss.spec.replicas, 3);
  assert.equal(ss.spec.volumeClaimTemplates, undefined);
  const env = ss.spec.template.spec.containers[0].env.find((e) => e.name === 'WEFT_DB');
  assert.deepEqual(env.valueFrom.secretKeyRef, { name: 'pg', key: 'dsn' });
});

test('controller: TLS from the Secret, HTTPS probes, agents get its CA', () => {
  const docs = render(['controller.tls.secretName=weft-tls', ...AUTH('agent')]);
  const c = one(docs, 'StatefulSet', 'rel-weft-controller').spec.template.spec.containers[0];
  assert.ok(c.args.includes('--tls-cert=/etc/weft/tls/tls.crt'));
  assert.equal(c.readinessProbe.httpGet.scheme, 'HTTPS');
  const a = one(docs, 'DaemonSet', 'rel-weft-agent').spec.template.spec.containers[0];
  assert.ok(a.args.includes('--controller=https://rel-weft-controller.mesh.svc:8080'));
  assert.ok(a.args.includes('--controller-ca=/etc/weft/ca/ca.crt'));
  assert.ok(!a.args.includes('--insecure-http'));
});

test('relay: UDP LoadBalancer/NodePort with externalTrafficPolicy Local', () => {
  for (const type of ['LoadBalancer', 'NodePort']) {
    const svc = one(render([`relay.service.type=${type}`]), 'Service', 'rel-weft-relay');
    assert.equal(svc.spec.type, type);
    assert.equal(svc.spec.externalTrafficPolicy, 'Local');
    assert.deepEqual(svc.spec.ports.map((p) => p.protocol), ['UDP']);
  }
});

test('relay: hostNetwork DaemonSet registers each node by its address', () => {
  const docs = render(['relay.kind=DaemonSet', 'relay.hostNetwork=true']);
  assert.equal(docs.find((d) => d.kind === 'Service' && d.metadata.name === 'rel-weft-relay'), undefined);
  const ds = one(docs, 'DaemonSet', 'rel-weft-relay');
  assert.equal(ds.spec.template.spec.hostNetwork, true);
  const env = Object.fromEntries(ds.spec.template.spec.initContainers[0].env.map((e) => [e.name, e.value]));
  assert.equal(env.RELAY_ADDRESS, '$(HOST_IP):3478');
  assert.equal(env.RELAY_NAME, 'rel-weft-$(NODE_NAME)');
});

test('agent and connector: NET_ADMIN, /dev/net/tun, identity kept, auth key from the Secret', () => {
  const docs = render([...AUTH('agent'), ...AUTH('connector')]);
  const ds = one(docs, 'DaemonSet', 'rel-weft-agent').spec.template.spec;
  const dep = one(docs, 'Deployment', 'rel-weft-connector');
  assert.equal(dep.spec.strategy.type, 'Recreate');
  assert.equal(ds.volumes.find((v) => v.name === 'state').hostPath.path, '/var/lib/weft-agent');
  assert.equal(dep.spec.template.spec.volumes.find((v) => v.name === 'node-key').secret.secretName,
    'rel-weft-connector-key');
  for (const spec of [ds, dep.spec.template.spec]) {
    assert.equal(spec.volumes.find((v) => v.name === 'tun').hostPath.path, '/dev/net/tun');
    const c = spec.containers[0];
    assert.ok(c.securityContext.capabilities.add.includes('NET_ADMIN'));
    assert.ok(c.env.find((e) => e.name === 'WEFT_AUTH_KEY').valueFrom.secretKeyRef);
  }
  assert.ok(dep.spec.template.spec.containers[0].args.includes('--connector'));
});

// Pod Security Standard "restricted" (and so "baseline"), as the admission
// controller checks a pod: what the stream-mode pod promises.
function restrictedProblems(spec) {
  const p = [];
  const pod = spec.securityContext ?? {};
  for (const k of ['hostNetwork', 'hostPID', 'hostIPC']) if (spec[k]) p.push(k);
  for (const v of spec.volumes ?? []) {
    if (!['emptyDir', 'secret', 'configMap', 'projected', 'persistentVolumeClaim'].some((t) => v[t])) {
      p.push(`volume ${v.name} is neither emptyDir, secret, configMap, projected nor a claim`);
    }
  }
  if (pod.sysctls?.length) p.push('sysctls');
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    const sc = c.securityContext ?? {};
    if (sc.privileged) p.push(`${c.name}: privileged`);
    if (sc.allowPrivilegeEscalation !== false) p.push(`${c.name}: allowPrivilegeEscalation`);
    if (!(sc.runAsNonRoot ?? pod.runAsNonRoot)) p.push(`${c.name}: runAsNonRoot`);
    if ((sc.runAsUser ?? pod.runAsUser) === 0) p.push(`${c.name}: runAsUser 0`);
    if ((sc.seccompProfile ?? pod.seccompProfile)?.type !== 'RuntimeDefault') p.push(`${c.name}: seccomp`);
    if (!sc.capabilities?.drop?.includes('ALL')) p.push(`${c.name}: capabilities not dropped`);
    if (sc.capabilities?.add?.length) p.push(`${c.name}: adds ${sc.capabilities.add}`);
    if (c.ports?.some((x) => x.hostPort)) p.push(`${c.name}: hostPort`);
  }
  return p;
}

test('agent stream mode: Pod Security restricted, no TUN, forwards and SOCKS5 behind a Service', () => {
  const docs = render(STREAM);
  assert.equal(docs.find((d) => d.kind === 'DaemonSet' && d.metadata.name === 'rel-weft-agent'), undefined,
    'no TUN DaemonSet in stream mode');
  const dep = one(docs, 'Deployment', 'rel-weft-agent');
  assert.equal(dep.spec.replicas, 1);
  assert.equal(dep.spec.strategy.type, 'Recreate');
  const spec = dep.spec.template.spec;
  assert.deepEqual(restrictedProblems(spec), []);
  assert.ok(!spec.volumes.some((v) => v.hostPath), 'no hostPath (no /dev/net/tun)');
  assert.equal(spec.volumes.find((v) => v.name === 'node-key').secret.secretName, 'rel-weft-agent-key');
  one(docs, 'Secret', 'rel-weft-agent-key');
  const c = spec.containers[0];
  assert.equal(c.securityContext.capabilities.add, undefined, 'no capability added');
  assert.equal(c.securityContext.runAsNonRoot, true);
  for (const a of ['--no-tun', '--dns=off', '--dns-listen=127.0.0.1:5353', '--forward=0.0.0.0:5432=db:5432',
    '--forward=[::]:8080=web.weft.internal:80', '--socks5=0.0.0.0:1080', '--state-dir=/var/lib/weft-agent/state',
    '--hostname=rel-weft-agent']) {
    assert.ok(c.args.includes(a), `no ${a} in ${c.args}`);
  }
  assert.ok(!c.args.includes('--accept-routes') && !c.args.includes('--connector'));
  assert.ok(c.env.find((e) => e.name === 'WEFT_AUTH_KEY').valueFrom.secretKeyRef);
  assert.deepEqual(c.ports.map((x) => [x.name, x.containerPort, x.protocol]),
    [['tcp-5432', 5432, 'TCP'], ['tcp-8080', 8080, 'TCP'], ['tcp-1080', 1080, 'TCP']]);
  const svc = one(docs, 'Service', 'rel-weft-agent');
  assert.equal(svc.spec.type, 'ClusterIP');
  assert.deepEqual(svc.spec.ports.map((x) => [x.port, x.targetPort, x.protocol]),
    [[5432, 'tcp-5432', 'TCP'], [8080, 'tcp-8080', 'TCP'], [1080, 'tcp-1080', 'TCP']]);
  assert.deepEqual(svc.spec.selector, dep.spec.selector.matchLabels);
  // The TUN DaemonSet would fail the same check: the check can fail.
  const ds = one(render(AUTH('agent')), 'DaemonSet', 'rel-weft-agent').spec.template.spec;
  assert.ok(restrictedProblems(ds).length >= 3, restrictedProblems(ds).join(', '));
  // No Service without its option, or without ports.
  assert.equal(render([...STREAM, 'agent.streamMode.service.enabled=false']).find((d) => d.kind === 'Service' &&
    d.metadata.name === 'rel-weft-agent'), undefined);
  assert.equal(render([...AUTH('agent'), 'agent.streamMode.enabled=true']).find((d) => d.kind === 'Service' &&
    d.metadata.name === 'rel-weft-agent'), undefined);
});

test('connector stream mode: Pod Security restricted, --no-tun without --connector, no TUN', () => {
  const dep = one(render(SCONN), 'Deployment', 'rel-weft-connector');
  assert.equal(dep.spec.strategy.type, 'Recreate');
  const spec = dep.spec.template.spec;
  assert.deepEqual(restrictedProblems(spec), []);
  assert.ok(!spec.volumes.some((v) => v.hostPath), 'no hostPath (no /dev/net/tun)');
  assert.equal(spec.securityContext.runAsUser, 10001);
  const c = spec.containers[0];
  assert.equal(c.securityContext.capabilities.add, undefined, 'no capability added');
  assert.ok(!c.volumeMounts.some((m) => m.name === 'tun'), 'no TUN mount');
  for (const a of ['--no-tun', '--dns=off', '--state-dir=/var/lib/weft-agent/state', '--hostname=rel-weft',
    '--controller-ca=/etc/weft/ca/ca.crt']) {
    assert.ok(c.args.includes(a), `no ${a} in ${c.args}`);
  }
  // --connector needs a TUN: the agent refuses it with --no-tun.
  assert.ok(!c.args.includes('--connector'), '--connector with --no-tun');
  assert.deepEqual(spec.initContainers[0].command.slice(0, 3), ['install', '-D', '-m']);
  assert.equal(spec.initContainers[0].command.at(-1), '/var/lib/weft-agent/state/node.key');
  // The TUN connector fails the same check (root, NET_ADMIN, host path, sysctls).
  const tun = one(render(AUTH('connector')), 'Deployment', 'rel-weft-connector').spec.template.spec;
  assert.ok(restrictedProblems(tun).length >= 4, restrictedProblems(tun).join(', '));
});

test('cluster B: no controller objects, agents use controller.publicURL over HTTPS', () => {
  const docs = render(['controller.enabled=false', 'controller.publicURL=https://weft.example.com/',
    'relay.enabled=false', ...AUTH('connector')]);
  assert.deepEqual(docs.filter((d) => d.metadata.name.includes('controller') || d.kind === 'StatefulSet'), []);
  assert.deepEqual(byKind(docs, 'Secret').map((d) => d.metadata.name), ['rel-weft-connector-key']);
  const args = one(docs, 'Deployment', 'rel-weft-connector').spec.template.spec.containers[0].args;
  assert.ok(args.includes('--controller=https://weft.example.com'));
  assert.ok(!args.includes('--insecure-http'));
});

test('NOTES.txt: the admin key, the relay registration, the join command', () => {
  const notes = (sets) => {
    const r = helm(['install', 'rel', chart, '--dry-run=client', '--namespace', 'mesh', ...setArgs(sets)]);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.slice(r.stdout.indexOf('NOTES:'));
  };
  let n = notes([]);
  assert.match(n, /get secret rel-weft-admin-key \\\n\s+-o jsonpath='\{\.data\.api-key\}' \| base64 -d/);
  assert.match(n, /NOT REGISTERED: set relay\.publicAddress/);
  assert.match(n, /weft-agent up --controller http:\/\/rel-weft-controller\.mesh\.svc:8080 --auth-key weft_auth_\.\.\. --insecure-http/);
  n = notes(['controller.ingress.enabled=true', 'controller.ingress.host=w.example.com',
    'controller.ingress.tlsSecretName=t', 'relay.publicAddress=r.example.com:3478']);
  assert.match(n, /registers itself with the controller at every start/);
  assert.match(n, /weft-agent up --controller https:\/\/w\.example\.com --auth-key weft_auth_\.\.\.\n/);
  assert.doesNotMatch(n, /WARNING: no TLS/);
  n = notes(STREAM);
  assert.match(n, /joins as the node\n\s+rel-weft-agent\./);
  assert.match(n, /rel-weft-agent\.mesh\.svc:5432 -> db:5432\n/);
  assert.match(n, /rel-weft-agent\.mesh\.svc:8080 -> web\.weft\.internal:80\n/);
  assert.match(n, /curl --socks5-hostname rel-weft-agent\.mesh\.svc:1080 /);
  n = notes(SCONN);
  assert.match(n, /--connectors rel-weft\n\s+It runs in stream mode .*\n\s+clients only/);
  assert.doesNotMatch(notes(AUTH('connector')), /stream mode/);
});

test('docs/deploy.md records the helm and kubectl versions the tests run', () => {
  const v = versions(t);
  const doc = readFileSync(new URL('../../docs/deploy.md', import.meta.url), 'utf8');
  assert.ok(doc.includes(`**helm ${v.helm}**`), `docs/deploy.md does not say **helm ${v.helm}**`);
  assert.ok(doc.includes(`**kubectl ${v.kubectl}**`), `docs/deploy.md does not say **kubectl ${v.kubectl}**`);
});

// The chart refuses what cannot work, with a message that says what to do.
const refusals = [
  ['replicas 2 + sqlite', ['controller.replicas=2'], /SQLite is one file on one volume and allows one controller only/],
  ['postgres without a Secret', ['controller.database.type=postgres'], /postgres\.existingSecret is empty/],
  ['agent without an auth key', ['agent.enabled=true'], /agent\.authKey\.existingSecret is empty/],
  ['controller elsewhere without its URL', ['controller.enabled=false', 'relay.enabled=false'], /set controller\.publicURL/],
  ['relay registering elsewhere without an admin key', ['controller.enabled=false', 'controller.publicURL=https://w.example'],
    /controller\.bootstrapKey\.existingSecret/],
  ['stream-mode forward on loopback', [...AUTH('agent'), 'agent.streamMode.enabled=true',
    'agent.streamMode.forwards={127.0.0.1:5432=db:5432}'], /127\.0\.0\.1:5432 is on loopback/],
  ['stream-mode port used twice', [...STREAM, 'agent.streamMode.socks5=0.0.0.0:5432'], /port 5432 is used twice/],
  ['connector without an auth key', ['connector.enabled=true'], /connector\.authKey\.existingSecret is empty/],
  ['stream-mode connector with subnet routes', [...SCONN, 'connector.advertiseRoutes={10.96.0.0/12}'],
    /advertiseRoutes are subnet routes, whose packets need the connector's TUN device/],
  ['stream mode as a string', ['--set-string', 'connector.streamMode.enabled=yes'], /streamMode\/enabled.*want boolean/],
  // values.schema.json
  ['replicas as a string', ['controller.replicas=two'], /controller\/replicas.*want integer/],
  ['replicas 0', ['controller.replicas=0'], /controller\/replicas/],
  ['unknown database', ['controller.database.type=mysql'], /database\/type/],
  ['TCP-only relay Service type', ['relay.service.type=ClusterIP'], /relay\/service\/type/],
  ['relay port out of range', ['relay.port=70000'], /relay\/port/],
  ['relay kind', ['relay.kind=StatefulSet'], /relay\/kind/],
  ['boolean as a string', ['--set-string', 'agent.enabled=yes'], /agent\/enabled.*want boolean/],
  ['misspelt key', ['controller.replica=2'], /additional properties 'replica' not allowed/],
  ['bad size', ['controller.persistence.size=lots'], /persistence\/size/],
  ['bad relay address', ['relay.publicAddress=no-port'], /relay\/publicAddress/],
  ['forward without a listen address', [...STREAM, 'agent.streamMode.forwards={5432=db:5432}'], /streamMode\/forwards/],
  ['SOCKS5 on a host name', [...STREAM, 'agent.streamMode.socks5=localhost:1080'], /streamMode\/socks5/],
  ['bad route', ['connector.advertiseRoutes={10.0.0.0}'], /advertiseRoutes/],
];
for (const [name, sets, want] of refusals) {
  test(`refused: ${name}`, () => {
    const args = sets[0] === '--set-string' ? sets : setArgs(sets);
    const r = helm(['template', 'rel', chart, ...args]);
    assert.notEqual(r.status, 0, `rendered although ${name}`);
    assert.match(r.stderr, want);
  });
}
