// Podman's Docker-compatible API for the docker runtime's tests: starts `podman system service`
// on a socket in a temporary directory, with a containers.conf of its own (CONTAINERS_CONF, so
// the machine's /etc/containers is neither needed nor changed) and builds the test worker image from a rootfs tarball
// (the node binary, the libraries ldd lists, and test/fixtures/worker.js) with `podman import`,
// since no public registry is reachable. The image tag is a hash of what goes into it, so a
// changed fixture gets a fresh image.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const WORKER = new URL('../test/fixtures/worker.js', import.meta.url).pathname;

/**
 * What Podman needs on machines like this one: runc (crun cannot set up containers on this
 * kernel) and no default ulimits (raising RLIMIT_NPROC fails: "error setting rlimit type 7").
 * Written once per run; every podman command of the tests reads it through CONTAINERS_CONF.
 */
let confDir = null;
function podmanEnv() {
  if (!confDir) {
    confDir = mkdtempSync(join(tmpdir(), 'gantry-containers-conf-'));
    const made = confDir;
    process.on('exit', () => rmSync(made, { recursive: true, force: true }));
    const hasRunc = spawnSync('sh', ['-c', 'command -v runc']).status === 0;
    writeFileSync(join(confDir, 'containers.conf'), `[containers]\ndefault_ulimits = []\n\n[engine]\n${hasRunc ? 'runtime = "runc"\n' : ''}`);
  }
  return { ...process.env, CONTAINERS_CONF: join(confDir, 'containers.conf') };
}

/**
 * The environment for podman commands (and `docker` as podman) of a test: the containers.conf
 * above, and registries.conf marking `insecureRegistries` (host:port) as plain HTTP, as a user
 * of a registry on loopback without TLS configures it.
 */
export function podmanTestEnv(dir, insecureRegistries = []) {
  const registries = join(dir, 'registries.conf');
  writeFileSync(registries, insecureRegistries.map((r) => `[[registry]]\nlocation = "${r}"\ninsecure = true\n`).join('\n'));
  return { ...podmanEnv(), CONTAINERS_REGISTRIES_CONF: registries, REGISTRY_AUTH_FILE: join(dir, 'auth.json') };
}

export function findPodman() {
  const r = spawnSync('podman', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function podman(args) {
  const r = spawnSync('podman', args, { encoding: 'utf8', env: podmanEnv() });
  if (r.status !== 0) throw new Error(`podman ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** The node binary and its shared libraries, as `ldd` lists them. */
function nodeFiles() {
  const out = execFileSync('ldd', [process.execPath], { encoding: 'utf8' });
  const libs = [...out.matchAll(/(\/\S+) \(0x/g)].map((m) => m[1]);
  return [process.execPath, ...libs];
}

export function buildWorkerImage() {
  const files = nodeFiles();
  const hash = createHash('sha256');
  hash.update(readFileSync(WORKER));
  hash.update(process.version);
  const tag = `localhost/gantry-test-worker:${hash.digest('hex').slice(0, 12)}`;
  if (spawnSync('podman', ['image', 'exists', tag], { env: podmanEnv() }).status === 0) return tag;
  const dir = mkdtempSync(join(tmpdir(), 'gantry-image-'));
  try {
    const root = join(dir, 'rootfs');
    for (const f of files) {
      const target = f === process.execPath ? join(root, 'usr/local/bin/node') : join(root, f);
      mkdirSync(dirname(target), { recursive: true });
      copyFileSync(f, target);
    }
    mkdirSync(join(root, 'app'), { recursive: true });
    mkdirSync(join(root, 'tmp'), { recursive: true });
    copyFileSync(WORKER, join(root, 'app/worker.js'));
    execFileSync('tar', ['-C', root, '-cf', join(dir, 'rootfs.tar'), '.']);
    podman(['import', '--change', 'CMD ["/usr/local/bin/node", "/app/worker.js"]', '--change', 'WORKDIR /app', join(dir, 'rootfs.tar'), tag]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return tag;
}

/** Podman's Docker API on a socket of its own; `env` (e.g. podmanTestEnv's) replaces the default configuration. */
/**
 * A Python 3.11 base image with httpx, as `python:3.11-slim` plus httpx would be, made offline
 * from this machine's Debian Python (no registry is reachable): the interpreter, its standard
 * library, the dist-packages httpx imports and the shared libraries all of them load, archived
 * with `tar -h` from / and imported. Tagged by a hash of the interpreter and the package list.
 */
export function buildPythonImage() {
  const python = '/usr/bin/python3.11';
  if (!existsSync(python)) throw new Error(`${python} is not installed (Debian's python3)`);
  const modules = JSON.parse(
    execFileSync(
      python,
      ['-c', 'import httpx, json, sys; print(json.dumps(sorted({m.__file__ for m in list(sys.modules.values()) if getattr(m, "__file__", None)})))'],
      {
        encoding: 'utf8',
      },
    ),
  );
  const dist = '/usr/lib/python3/dist-packages/';
  const packages = [...new Set(modules.filter((f) => f.startsWith(dist)).map((f) => dist + f.slice(dist.length).split('/')[0]))];
  const hash = createHash('sha256');
  hash.update(readFileSync(python));
  hash.update(packages.join('\n'));
  const tag = `localhost/gantry-test-python:3.11-${hash.digest('hex').slice(0, 12)}`;
  if (spawnSync('podman', ['image', 'exists', tag], { env: podmanEnv() }).status === 0) return tag;
  const stdlib = '/usr/lib/python3.11';
  const skip = new Set(['test', 'idlelib', 'tkinter', 'turtledemo', 'lib2to3', 'ensurepip', 'pydoc_data']);
  const stdlibEntries = readdirSync(stdlib)
    .filter((e) => !skip.has(e))
    .map((e) => join(stdlib, e));
  const sharedObjects = execFileSync('find', [stdlib, ...packages, '-name', '*.so'], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean);
  const libs = new Set(['/lib64/ld-linux-x86-64.so.2']);
  for (const file of [python, ...sharedObjects]) {
    for (const m of execFileSync('ldd', [file], { encoding: 'utf8' }).matchAll(/(\/\S+) \(0x/g)) libs.add(m[1]);
  }
  const dir = mkdtempSync(join(tmpdir(), 'gantry-python-image-'));
  try {
    mkdirSync(join(dir, 'skeleton', 'tmp'), { recursive: true });
    mkdirSync(join(dir, 'skeleton', 'app'), { recursive: true });
    const list = [python, ...stdlibEntries, ...packages, ...libs].map((p) => p.slice(1));
    writeFileSync(join(dir, 'files'), list.join('\n') + '\n');
    execFileSync('tar', ['-h', '-cf', join(dir, 'rootfs.tar'), '-C', join(dir, 'skeleton'), 'tmp', 'app', '-C', '/', '-T', join(dir, 'files')]);
    podman([
      'import',
      '--change',
      'ENV PATH=/usr/local/bin:/usr/bin:/bin',
      '--change',
      'WORKDIR /app',
      '--change',
      'CMD ["/usr/bin/python3.11"]',
      join(dir, 'rootfs.tar'),
      tag,
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return tag;
}

export async function startPodmanService(env = podmanEnv()) {
  const dir = mkdtempSync(join(tmpdir(), 'gantry-podman-'));
  const socket = join(dir, 'podman.sock');
  const child = spawn('podman', ['system', 'service', '--time=0', `unix://${socket}`], { stdio: ['ignore', 'ignore', 'pipe'], env });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  for (let i = 0; i < 100 && !existsSync(socket); i++) {
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!existsSync(socket)) {
    child.kill('SIGKILL');
    throw new Error(`podman system service did not start: ${stderr}`);
  }
  return {
    host: `unix://${socket}`,
    stop() {
      child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
