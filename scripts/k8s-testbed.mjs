// A real Kubernetes control plane for the kubernetes runtime's tests, built from source (no
// Kubernetes binary exists for this machine and none may be downloaded): etcd,
// kube-apiserver, kube-controller-manager and kube-scheduler from Go modules (k8s.io/kubernetes
// with its staging modules pinned by `replace`), and kwok, which plays the kubelets of simulated
// GPU nodes. Binaries are built once into ~/.cache/gantry-k8s (GANTRY_K8S_CACHE), never into
// the repository.
//
//   node scripts/k8s-testbed.mjs up     builds if needed, starts everything on loopback, registers
//                                       the nodes, prints KUBECONFIG=<path>
//   node scripts/k8s-testbed.mjs down   stops it and removes its state
//   node scripts/k8s-testbed.mjs build  only builds
//   node scripts/k8s-testbed.mjs restart kube-apiserver   kills a component and starts it again
//
// Nodes: two with 8 × nvidia.com/gpu labelled NVIDIA-H100-80GB-HBM3, one with 4 × NVIDIA-B200,
// each tainted nvidia.com/gpu=present:NoSchedule as GPU nodes usually are.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const KUBERNETES = '1.36.3';
const KWOK = 'v0.8.0';
const cache = process.env.GANTRY_K8S_CACHE ?? join(homedir(), '.cache', 'gantry-k8s');
const bin = join(cache, 'bin');
const run = process.env.GANTRY_K8S_RUN ?? join(cache, 'run');
const TOKEN = 'gantry-testbed-admin-token';
const PORTS = { etcd: 23790, etcdPeer: 23800, apiserver: 16443, controllerManager: 10357, scheduler: 10359, kwok: 10347 };
const BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'];

const log = (msg) => process.stderr.write(`k8s-testbed: ${msg}\n`);
// The apiserver serves a self-signed certificate it makes itself; this script only talks to it on loopback.
process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';

/** The main packages: each a thin wrapper over the upstream command, as its own cmd/ does. */
const MAINS = {
  'kube-apiserver': ['k8s.io/kubernetes/cmd/kube-apiserver/app', 'app.NewAPIServerCommand()'],
  'kube-scheduler': ['k8s.io/kubernetes/cmd/kube-scheduler/app', 'app.NewSchedulerCommand()'],
  'kube-controller-manager': ['k8s.io/kubernetes/cmd/kube-controller-manager/app', 'app.NewControllerManagerCommand()'],
};

function go(args, cwd, env = {}) {
  const r = spawnSync('nice', ['-n', '10', 'go', ...args], {
    cwd,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, GOFLAGS: '-mod=mod', ...env },
  });
  if (r.status !== 0) throw new Error(`go ${args.join(' ')} failed (exit ${r.status})`);
}

function build() {
  if (BINARIES.every((b) => existsSync(join(bin, b)))) return;
  const started = Date.now();
  const src = join(cache, 'build');
  mkdirSync(src, { recursive: true });
  mkdirSync(bin, { recursive: true });
  // k8s.io/kubernetes requires its staging modules at v0.0.0 (replaced by ./staging in its own
  // repository): point each at the matching published v0 release.
  const info = JSON.parse(execFileSync('go', ['mod', 'download', '-json', `k8s.io/kubernetes@v${KUBERNETES}`], { encoding: 'utf8' }));
  const staging = [...readFileSync(info.GoMod, 'utf8').matchAll(/^\s*(k8s\.io\/[a-z0-9-]+) => \.\/staging/gm)].map((m) => m[1]);
  const v0 = `v0.${KUBERNETES.split('.').slice(1).join('.')}`;
  writeFileSync(
    join(src, 'go.mod'),
    `module gantry.local/k8s-testbed\n\ngo 1.26.0\n\nrequire k8s.io/kubernetes v${KUBERNETES}\n\n${staging.map((m) => `replace ${m} => ${m} ${v0}`).join('\n')}\n`,
  );
  for (const [name, [pkg, call]] of Object.entries(MAINS)) {
    mkdirSync(join(src, 'cmd', name), { recursive: true });
    writeFileSync(
      join(src, 'cmd', name, 'main.go'),
      `package main\n\nimport (\n\t"os"\n\n\t"k8s.io/component-base/cli"\n\t"${pkg}"\n)\n\nfunc main() { os.Exit(cli.Run(${call})) }\n`,
    );
  }
  mkdirSync(join(src, 'cmd', 'etcd'), { recursive: true });
  writeFileSync(
    join(src, 'cmd', 'etcd', 'main.go'),
    'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n',
  );
  go(['mod', 'tidy'], src);
  // The binaries report their real version (kubectl and client libraries check it).
  const [major, minor] = KUBERNETES.split('.');
  const ldflags = [
    '-s -w',
    `-X k8s.io/component-base/version.gitVersion=v${KUBERNETES}`,
    `-X k8s.io/component-base/version.gitMajor=${major}`,
    `-X k8s.io/component-base/version.gitMinor=${minor}`,
    '-X k8s.io/component-base/version.gitTreeState=clean',
    `-X k8s.io/client-go/pkg/version.gitVersion=v${KUBERNETES}`,
  ].join(' ');
  log(`building Kubernetes v${KUBERNETES} and etcd (cold: about 7 minutes on 2 cores)`);
  go(['build', '-ldflags', ldflags, '-o', bin + '/', './cmd/...'], src);
  log(`building kwok ${KWOK}`);
  go(['install', `sigs.k8s.io/kwok/cmd/kwok@${KWOK}`], cache, { GOBIN: bin });
  log(`built in ${Math.round((Date.now() - started) / 1000)} s`);
}

/** kwok's stages for nodes (ready, heartbeats with leases) and pods (ready, complete, delete), from its module source. */
function kwokStages() {
  const dir = execFileSync('go', ['list', '-m', '-f', '{{.Dir}}', `sigs.k8s.io/kwok@${KWOK}`], {
    cwd: join(cache, 'build'),
    encoding: 'utf8',
    env: { ...process.env, GOFLAGS: '-mod=mod' },
  }).trim();
  const base = join(dir, 'kustomize', 'stage');
  const files = [
    'node/fast/node-initialize.yaml',
    'node/heartbeat-with-lease/node-heartbeat-with-lease.yaml',
    'pod/fast/pod-ready.yaml',
    'pod/fast/pod-complete.yaml',
    'pod/fast/pod-delete.yaml',
  ];
  const stages = files.map((f) => readFileSync(join(base, f), 'utf8'));
  // Pods of a deployment named "crasher" crash-loop instead of becoming ready (tests of failure).
  const notCrasher = `    - key: '.metadata.annotations["gantry.dev/deployment-name"]'\n      operator: 'NotIn'\n      values:\n      - 'crasher'\n`;
  stages[files.indexOf('pod/fast/pod-ready.yaml')] = stages[files.indexOf('pod/fast/pod-ready.yaml')].replace(
    '  selector:\n    matchExpressions:\n',
    `  selector:\n    matchExpressions:\n${notCrasher}`,
  );
  stages.push(CRASH_LOOP_STAGE);
  return stages.join('\n---\n');
}

const CRASH_LOOP_STAGE = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-crash-loop
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values:
      - 'Pending'
    - key: '.metadata.annotations["gantry.dev/deployment-name"]'
      operator: 'In'
      values:
      - 'crasher'
  next:
    statusTemplate: |
      {{ $now := Now }}
      phase: Running
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        type: Ready
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        restartCount: 6
        state:
          waiting:
            reason: CrashLoopBackOff
            message: back-off 5m0s restarting failed container
        lastState:
          terminated:
            exitCode: 1
            reason: Error
      {{ end }}
`;

/** Starts a component in a process group of its own (so `down` stops all it forked), its output in <run>/<name>.log. */
function startLogged(name, args) {
  writeFileSync(join(run, `${name}.args.json`), JSON.stringify(args));
  const logFile = join(run, `${name}.log`);
  const child = spawn('sh', ['-c', `exec "$0" "$@" >"${logFile}" 2>&1`, join(bin, name), ...args], { detached: true, stdio: 'ignore' });
  child.unref();
  writeFileSync(join(run, `${name}.pid`), String(child.pid));
}

async function api(method, path, body) {
  const res = await fetch(`https://127.0.0.1:${PORTS.apiserver}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

async function until(what, check, seconds = 60) {
  for (let i = 0; i < seconds * 4; i++) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} did not come up within ${seconds} s; see ${run}/*.log`);
}

function node(name, product, gpus) {
  const capacity = { cpu: '64', memory: '512Gi', pods: '110', 'ephemeral-storage': '2Ti', 'nvidia.com/gpu': String(gpus) };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: {
        type: 'kwok',
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'nvidia.com/gpu.product': product,
        'nvidia.com/gpu.count': String(gpus),
      },
    },
    spec: { taints: [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }] },
    status: { allocatable: capacity, capacity },
  };
}

async function up() {
  build();
  if (existsSync(join(run, 'kubeconfig')) && (await api('GET', '/readyz').catch(() => ({ status: 0 }))).status === 200) {
    process.stdout.write(`KUBECONFIG=${join(run, 'kubeconfig')}\n`);
    return;
  }
  rmSync(run, { recursive: true, force: true });
  mkdirSync(run, { recursive: true });
  execFileSync('openssl', ['genrsa', '-out', join(run, 'sa.key'), '2048'], { stdio: 'ignore' });
  execFileSync('openssl', ['rsa', '-in', join(run, 'sa.key'), '-pubout', '-out', join(run, 'sa.pub')], { stdio: 'ignore' });
  writeFileSync(join(run, 'tokens.csv'), `${TOKEN},admin,admin,system:masters\n`);
  writeFileSync(
    join(run, 'kubeconfig'),
    `apiVersion: v1\nkind: Config\nclusters:\n- name: testbed\n  cluster:\n    server: https://127.0.0.1:${PORTS.apiserver}\n    insecure-skip-tls-verify: true\n` +
      `users:\n- name: admin\n  user:\n    token: ${TOKEN}\ncontexts:\n- name: testbed\n  context:\n    cluster: testbed\n    user: admin\n    namespace: default\ncurrent-context: testbed\n`,
  );
  // Every simulated container's log is this file, served through the pod log API (kwok's ClusterLogs).
  // (The CRI log format a kubelet reads: time, stream, P(artial)/F(ull), text.)
  const at = new Date().toISOString();
  writeFileSync(join(run, 'container.log'), `${at} stdout F simulated container: listening on 8000\n${at} stdout F simulated container: ready\n`);
  writeFileSync(
    join(run, 'kwok-config.yaml'),
    `${kwokStages()}\n---\napiVersion: kwok.x-k8s.io/v1alpha1\nkind: ClusterLogs\nmetadata:\n  name: all-containers\nspec:\n  logs:\n  - logsFile: ${join(run, 'container.log')}\n    follow: true\n`,
  );
  // The apiserver reaches kwok's kubelet API over HTTPS at the nodes' address for logs.
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '365', '-subj', '/CN=kwok', '-keyout', join(run, 'kwok.key'), '-out', join(run, 'kwok.crt')],
    { stdio: 'ignore' },
  );
  startLogged('etcd', [
    `--data-dir=${join(run, 'etcd')}`,
    `--listen-client-urls=http://127.0.0.1:${PORTS.etcd}`,
    `--advertise-client-urls=http://127.0.0.1:${PORTS.etcd}`,
    `--listen-peer-urls=http://127.0.0.1:${PORTS.etcdPeer}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${PORTS.etcdPeer}`,
    `--initial-cluster=default=http://127.0.0.1:${PORTS.etcdPeer}`,
    // A throwaway test cluster: no fsync, so a busy disk cannot time out the apiserver's writes.
    '--unsafe-no-fsync',
  ]);
  startLogged('kube-apiserver', [
    `--etcd-servers=http://127.0.0.1:${PORTS.etcd}`,
    `--secure-port=${PORTS.apiserver}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--cert-dir=${join(run, 'certs')}`,
    `--token-auth-file=${join(run, 'tokens.csv')}`,
    '--authorization-mode=RBAC',
    '--service-account-issuer=https://kubernetes.default.svc',
    `--service-account-key-file=${join(run, 'sa.pub')}`,
    `--service-account-signing-key-file=${join(run, 'sa.key')}`,
    '--service-cluster-ip-range=10.96.0.0/16',
  ]);
  await until('kube-apiserver', async () => (await api('GET', '/readyz')).status === 200);
  const kubeconfig = `--kubeconfig=${join(run, 'kubeconfig')}`;
  startLogged('kube-controller-manager', [
    kubeconfig,
    '--leader-elect=false',
    `--service-account-private-key-file=${join(run, 'sa.key')}`,
    `--root-ca-file=${join(run, 'certs', 'apiserver.crt')}`,
    // No cloud, no pod network: the controllers for those have nothing to do.
    '--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller',
    // kwok renews node leases from one busy process on a shared 2-core machine: a heartbeat late
    // by seconds must not mark nodes unhealthy (which turns every pod on them NotReady for good).
    '--node-monitor-grace-period=300s',
    '--bind-address=127.0.0.1',
    `--secure-port=${PORTS.controllerManager}`,
  ]);
  startLogged('kube-scheduler', [kubeconfig, '--leader-elect=false', '--bind-address=127.0.0.1', `--secure-port=${PORTS.scheduler}`]);
  startLogged('kwok', [
    kubeconfig,
    `--config=${join(run, 'kwok-config.yaml')}`,
    '--manage-all-nodes=false',
    '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
    `--server-address=127.0.0.1:${PORTS.kwok}`,
    '--node-ip=127.0.0.1',
    // Pod IPs on loopback: a test's HTTP server listening on 0.0.0.0:PORT answers for the
    // simulated pods, so the gateway's traffic to them is real.
    '--cidr=127.0.1.0/24',
    `--node-port=${PORTS.kwok}`,
    `--tls-cert-file=${join(run, 'kwok.crt')}`,
    `--tls-private-key-file=${join(run, 'kwok.key')}`,
  ]);
  for (const n of [node('gpu-h100-a', 'NVIDIA-H100-80GB-HBM3', 8), node('gpu-h100-b', 'NVIDIA-H100-80GB-HBM3', 8), node('gpu-b200-a', 'NVIDIA-B200', 4)]) {
    // A control plane that has just started can still time out a write (a 500): try again.
    let last = null;
    for (let attempt = 0; attempt < 10; attempt++) {
      last = await api('POST', '/api/v1/nodes', n).catch((err) => ({ status: 0, body: String(err) }));
      if (last.status === 201 || last.status === 409) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    if (last.status !== 201 && last.status !== 409) throw new Error(`creating node ${n.metadata.name}: ${last.status} ${JSON.stringify(last.body)}`);
  }
  // Ready nodes without the not-ready taint, and the default service account, mean pods can be scheduled.
  await until('the nodes', async () => {
    const { body } = await api('GET', '/api/v1/nodes');
    return body.items.length === 3 && body.items.every((n) => !(n.spec.taints ?? []).some((t) => t.key.startsWith('node.kubernetes.io/')));
  });
  await until('the default service account', async () => (await api('GET', '/api/v1/namespaces/default/serviceaccounts/default')).status === 200);
  process.stdout.write(`KUBECONFIG=${join(run, 'kubeconfig')}\n`);
}

/** Kills one component and starts it again with the same arguments (tests of watch reconnection). */
async function restart(name) {
  try {
    process.kill(-Number(readFileSync(join(run, `${name}.pid`), 'utf8')), 'SIGKILL');
  } catch {
    // already gone
  }
  await new Promise((r) => setTimeout(r, 500));
  startLogged(name, JSON.parse(readFileSync(join(run, `${name}.args.json`), 'utf8')));
  if (name === 'kube-apiserver') await until('kube-apiserver', async () => (await api('GET', '/readyz')).status === 200);
}

function down() {
  for (const name of ['kwok', 'kube-scheduler', 'kube-controller-manager', 'kube-apiserver', 'etcd']) {
    const file = join(run, `${name}.pid`);
    if (!existsSync(file)) continue;
    try {
      process.kill(-Number(readFileSync(file, 'utf8')), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(run, { recursive: true, force: true });
}

const command = process.argv[2];
if (command === 'build') build();
else if (command === 'up') await up();
else if (command === 'down') down();
else if (command === 'restart' && process.argv[3]) await restart(process.argv[3]);
else {
  process.stderr.write('usage: node scripts/k8s-testbed.mjs up|down|build|restart COMPONENT\n');
  process.exit(2);
}
