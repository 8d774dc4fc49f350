import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-expect-error: a plain JavaScript script shared with scripts/run-tests.js
import { buildPythonImage, podmanTestEnv, startPodmanService } from '../../scripts/podman-service.js';
import { eventually } from '../helpers/app.js';
import { apiCaller, startGantry, type GantryProcess } from '../helpers/gantry-process.js';
import { freePort } from '../helpers/net.js';

/**
 * Together's jig CLI (the official `together` package from PyPI) against `gantry serve
 * --runtime docker` with its image registry, every step checked by exit status and output:
 * init, build, push, deploy (until Ready), status, logs, endpoint (and a request to it), secrets,
 * volumes with a real upload, submit and job-status answered by a Python worker in the deployed
 * container, destroy. Podman plays `docker` (as Debian's podman-docker makes it); the base image
 * is made offline from this machine's Python (scripts/podman-service.js#buildPythonImage).
 */
const sdkPython = process.env.GANTRY_TEST_PYTHON_SDK;
const together = sdkPython ? join(dirname(sdkPython), 'together') : '';
/** This machine's address, which containers reach through Podman's bridge (127.0.0.1 would be the container itself). */
const hostAddress = Object.entries(networkInterfaces())
  .filter(([name]) => !/^(lo|podman|cni|docker|veth)/.test(name))
  .flatMap(([, addrs]) => addrs ?? [])
  .find((a) => a.family === 'IPv4' && !a.internal)?.address;
const registryBinary = ['docker-registry', 'registry'].some((b) => spawnSync('sh', ['-c', `command -v ${b}`]).status === 0);
const skip = !process.env.GANTRY_TEST_DOCKER_HOST
  ? (process.env.GANTRY_TEST_DOCKER_SKIP ?? 'Podman is not set up (npm test sets GANTRY_TEST_DOCKER_HOST when podman is installed)')
  : !sdkPython
    ? (process.env.GANTRY_TEST_PYTHON_SDK_SKIP ?? 'no virtual environment with the together package')
    : !registryBinary
      ? "the CNCF distribution registry is not installed (Debian's docker-registry; .ci/run installs it)"
      : !hostAddress
        ? 'this machine has no non-loopback IPv4 address for containers to reach Gantry by'
        : undefined;

const WORKER = fileURLToPath(new URL('../fixtures/queue_worker.py', import.meta.url));
const NAME = 'jig-e2e';

describe('jig end to end (together CLI, Podman as docker, the docker runtime)', { ...(skip ? { skip } : {}) }, () => {
  let dir: string;
  let project: string;
  let g: GantryProcess;
  let service: { host: string; stop(): void };
  let env: Record<string, string>;
  let baseUrl: string;
  /** `<registry>/<project>/jig-e2e`, once jig has built it. */
  let image = '';
  const key = 'jig-e2e-key-0123456789abcdef0123456789abcdef';
  const call = apiCaller(() => g.url, key);

  /** Runs `together beta jig …` in the project folder; resolves with its exit status and output. */
  const jig = (args: string[]) =>
    new Promise<{ status: number | null; out: string }>((resolve) => {
      const child = spawn(together, ['beta', 'jig', ...args], { cwd: project, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      child.on('exit', (status) => resolve({ status, out }));
    });
  const ok = async (args: string[], expect: RegExp) => {
    const r = await jig(args);
    assert.equal(r.status, 0, `jig ${args.join(' ')} failed:\n${r.out}`);
    assert.match(r.out, expect, `jig ${args.join(' ')}:\n${r.out}`);
    return r.out;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gantry-jig-'));
    project = join(dir, NAME);
    mkdirSync(project);
    const registry = `127.0.0.1:${await freePort()}`;
    const port = await freePort();
    baseUrl = `http://${hostAddress}:${port}`;
    const podmanEnv = podmanTestEnv(dir, [registry]);
    service = await startPodmanService(podmanEnv);
    const base = buildPythonImage();
    // `docker` is Podman, as Debian's podman-docker makes it.
    mkdirSync(join(dir, 'bin'));
    symlinkSync(spawnSync('sh', ['-c', 'command -v podman'], { encoding: 'utf8' }).stdout.trim(), join(dir, 'bin', 'docker'));
    env = {
      ...podmanEnv,
      PATH: `${join(dir, 'bin')}:${process.env.PATH}`,
      HOME: dir,
      TOGETHER_API_KEY: key,
      TOGETHER_BASE_URL: baseUrl,
      // jig builds with buildx's docker-container driver unless told not to; Podman has none.
      JIG_DISABLE_BUILDX: '1',
      NO_COLOR: '1',
      COLUMNS: '200',
    };
    g = await startGantry(
      [
        '--runtime',
        'docker',
        '--docker-host',
        service.host,
        '--registry',
        registry,
        '--listen',
        `0.0.0.0:${port}`,
        '--public-url',
        baseUrl,
        '--data-dir',
        join(dir, 'data'),
      ],
      {
        GANTRY_ADMIN_KEY: key,
        GANTRY_REGISTRY: registry,
      },
    );
    // The application jig builds: the Python queue worker, which also serves /health.
    copyFileSync(WORKER, join(project, 'app.py'));
    writeFileSync(join(project, 'Dockerfile'), `FROM ${base}\nWORKDIR /app\nCOPY app.py /app/app.py\nCMD ["python3.11", "/app/app.py"]\n`);
  });
  after(async () => {
    if (g && (await call('GET', `/v1/deployments/${NAME}`)).status === 200) await call('DELETE', `/v1/deployments/${NAME}`);
    await g?.stop();
    service?.stop();
    if (image) spawnSync('podman', ['rmi', '--ignore', `${image}:latest`], { env });
    rmSync(dir, { recursive: true, force: true });
  });

  test('init writes a pyproject.toml, which the project then fills in as users do', async () => {
    await ok(['init'], /Created pyproject\.toml/);
    const generated = readFileSync(join(project, 'pyproject.toml'), 'utf8');
    assert.match(generated, /\[tool\.jig\.deploy\]/);
    // No GPU here, and no packages to install (the base image has what the worker needs).
    writeFileSync(
      join(project, 'pyproject.toml'),
      `[project]\nname = "${NAME}"\nversion = "0.1.0"\ndependencies = []\n\n` +
        `[tool.jig.image]\npython_version = "3.11"\ncmd = "python3.11 app.py"\n\n` +
        `[tool.jig.deploy]\ndescription = "jig against Gantry"\ngpu_type = "none"\ngpu_count = 0\ncpu = 1\nmemory = 1\n` +
        `port = 8000\nhealth_check_path = "/health"\nmin_replicas = 1\nmax_replicas = 1\ntermination_grace_period_seconds = 5\n`,
    );
  });

  test("build and push put the image in Gantry's registry under the project's base path", async () => {
    await ok(['build', '--no-json'], /Using existing Dockerfile[\s\S]*Built/);
    const state = JSON.parse(readFileSync(join(project, '.jig.json'), 'utf8')) as Record<string, { registry_base_path: string }>;
    const basePath = Object.values(state)[0]!.registry_base_path;
    assert.match(basePath, /^127\.0\.0\.1:\d+\/proj_[0-9a-f]+$/);
    image = `${basePath}/${NAME}`;
    assert.equal(spawnSync('podman', ['image', 'exists', `${image}:latest`], { env }).status, 0);
    await ok(['push', '--no-json'], /Login Succeeded[\s\S]*Pushed/);
    // The registry itself lists the tag (asked with a token for this key).
    const [host, ...path] = image.split('/');
    const tokenRes = await fetch(`${g.url}/v1/registry/token?service=gantry-registry&scope=repository:${path.join('/')}:pull`, {
      headers: { authorization: `Basic ${Buffer.from(`user:${key}`).toString('base64')}` },
    });
    const { token } = (await tokenRes.json()) as { token: string };
    const tags = await fetch(`http://${host}/v2/${path.join('/')}/tags/list`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(tags.status, 200);
    assert.deepEqual(((await tags.json()) as { tags: string[] }).tags, ['latest']);
  });

  test('deploy builds, pushes and deploys the image by digest, and waits until a replica is ready', async () => {
    await ok(['deploy', '--no-json'], /Deployed: jig-e2e[\s\S]*Deployment successful!/);
    const d = (await call('GET', `/v1/deployments/${NAME}`)).body;
    assert.equal(d.status, 'Ready');
    assert.match(d.image, new RegExp(`^${image.replace(/\./g, '\\.')}@sha256:[0-9a-f]{64}$`));
    // jig always sends the base URL it used; the replica sees that value, reachable from the container.
    assert.ok(d.environment_variables.some((v: { name: string; value?: string }) => v.name === 'TOGETHER_API_BASE_URL' && v.value === baseUrl));
  });

  test('status, logs and endpoint describe the running deployment; the endpoint answers', async () => {
    await ok(['status', '--no-json'], /jig-e2e[\s\S]*Ready/);
    await ok(['logs', '--no-json'], /worker for jig-e2e listening on 8000/);
    const out = await ok(['endpoint', '--no-json'], /\/v1\/deployment-request\/jig-e2e/);
    // jig prints Together's host; the path is Gantry's too.
    const path = new URL(/https?:\/\/\S+/.exec(out)![0]).pathname;
    const res = await fetch(`${g.url}${path}/health`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'healthy' });
  });

  test('secrets set, list, unset and delete', async () => {
    await ok(['secrets', 'set', '--name', 'hf-token', '--value', 'jig-s3cret', '--no-json'], /Created secret hf-token/);
    const listed = await ok(['secrets', 'list', '--no-json'], /hf-token/);
    assert.doesNotMatch(listed, /jig-s3cret/);
    // jig scopes a secret's name by the deployment's.
    assert.equal((await call('GET', `/v1/deployments/secrets/${NAME}-hf-token`)).status, 200);
    await ok(['secrets', 'unset', '--name', 'hf-token', '--no-json'], /Removed secret hf-token/);
    await ok(['secrets', 'delete', '--name', 'hf-token', '--no-json'], /Deleted secret hf-token/);
    assert.equal((await call('GET', `/v1/deployments/secrets/${NAME}-hf-token`)).status, 404);
  });

  test('volumes create, update, describe and delete, with files uploaded to storage', async () => {
    const source = join(dir, 'weights');
    mkdirSync(join(source, 'sub'), { recursive: true });
    writeFileSync(join(source, 'config.json'), '{"layers": 2}');
    writeFileSync(join(source, 'sub', 'tokenizer.txt'), 'a b c');
    await ok(['volumes', 'create', '--name', 'weights', '--source', source, '--no-json'], /Volume created[\s\S]*Upload completed/);
    writeFileSync(join(source, 'config.json'), '{"layers": 3}');
    await ok(['volumes', 'update', '--name', 'weights', '--source', source, '--no-json'], /Volume updated successfully/);
    await ok(['volumes', 'describe', '--name', 'weights', '--no-json'], /"current_version": 1/);
    const v = (await call('GET', '/v1/deployments/storage/volumes/weights')).body;
    assert.equal(v.current_version, 1);
    assert.deepEqual(
      v.content.files.map((f: { name: string }) => f.name),
      ['config.json', 'sub/tokenizer.txt'],
    );
    await ok(['volumes', 'delete', '--name', 'weights', '--no-json'], /Deleted volume weights/);
    assert.equal((await call('GET', '/v1/deployments/storage/volumes/weights')).status, 404);
  });

  test('submit and job-status: the worker in the deployed container runs the job', async () => {
    const out = await ok(['submit', '--payload', '{"hello": "jig"}', '--watch', '--no-json'], /Submitted job/);
    const requestId = /"requestId":\s*"([^"]+)"/.exec(out)?.[1];
    assert.ok(requestId, out);
    assert.match(out, /"status": "done"/);
    const status = await ok(['job-status', '--request-id', requestId, '--no-json'], /"status": "done"/);
    assert.match(status, /"worker": "python"/);
    assert.match(status, /"hello": "jig"/);
  });

  test('destroy removes the deployment and its containers', async () => {
    await ok(['destroy', '--no-json'], /Destroyed jig-e2e/);
    const gone = await eventually(
      async () => (await call('GET', `/v1/deployments/${NAME}`)).status,
      (s) => s === 404,
      30000,
    );
    assert.equal(gone, 404);
  });
});
