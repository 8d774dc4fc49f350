import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error: a plain JavaScript script shared with scripts/run-tests.js
import { podmanTestEnv, startPodmanService } from '../../scripts/podman-service.js';
import { eventually } from '../helpers/app.js';
import { freePort } from '../helpers/net.js';
import { apiCaller, runGantry, startGantry, type GantryProcess } from '../helpers/gantry-process.js';

/**
 * Gantry's image registry, as jig and Docker users meet it: `gantry serve --registry` runs the
 * CNCF distribution registry with Gantry's token authentication; Podman's CLI logs in with an
 * API key, pushes under the project's base path and is refused elsewhere; the docker runtime
 * (Podman's API) pulls a pushed image with the deployment's worker key, by digest and by tag;
 * the registry's data outlives a restart of Gantry.
 */
const image = process.env.GANTRY_TEST_WORKER_IMAGE;
const binary = ['docker-registry', 'registry'].find((b) => spawnSync('sh', ['-c', `command -v ${b}`]).status === 0);
const skip = !process.env.GANTRY_TEST_DOCKER_HOST
  ? (process.env.GANTRY_TEST_DOCKER_SKIP ?? 'Podman is not set up (npm test sets GANTRY_TEST_DOCKER_HOST when podman is installed)')
  : !binary
    ? "the CNCF distribution registry is not installed (Debian's docker-registry; .ci/run installs it)"
    : undefined;

describe('the image registry (docker-registry with Gantry tokens, Podman as client and engine)', { ...(skip ? { skip } : {}) }, () => {
  let dir: string;
  let podmanDir: string;
  let g: GantryProcess;
  let basePath = '';
  let digestRef = '';
  let service: { host: string; stop(): void };
  let registry: string;
  let env: Record<string, string>;
  /** An image of this test's own (the worker image plus a label), so removing it touches no other test's. */
  let ownImage: string;
  const key = 'registry-test-key-0123456789abcdef0123456789';
  const call = apiCaller(() => g.url, key);
  const start = () =>
    startGantry(['--data-dir', dir, '--runtime', 'docker', '--docker-host', service.host, '--registry', registry], {
      GANTRY_ADMIN_KEY: key,
      GANTRY_REGISTRY: registry,
    });
  /** Podman's CLI as a user runs it, with its own login file (`as` names whose). */
  const podman = (args: string[], input?: string, as = 'a') => {
    const r = spawnSync('podman', args, { encoding: 'utf8', input, env: { ...env, REGISTRY_AUTH_FILE: join(podmanDir, `auth-${as}.json`) } });
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gantry-registry-'));
    podmanDir = mkdtempSync(join(tmpdir(), 'gantry-registry-podman-'));
    registry = `127.0.0.1:${await freePort()}`;
    env = podmanTestEnv(podmanDir, [registry]);
    // The engine pulls from the registry over plain HTTP too, so it gets the same configuration.
    service = await startPodmanService(env);
    const id = Math.random().toString(16).slice(2, 10);
    ownImage = `localhost/gantry-registry-test:${id}`;
    writeFileSync(join(podmanDir, 'Containerfile'), `FROM ${image}\nLABEL gantry.registry-test=${id}\n`);
    const built = spawnSync('podman', ['build', '-t', ownImage, podmanDir], { encoding: 'utf8', env });
    assert.equal(built.status, 0, built.stderr);
    g = await start();
  });
  after(async () => {
    if (g) for (const name of ['by-digest', 'by-tag']) await call('DELETE', `/v1/deployments/${name}`);
    await g?.stop();
    service?.stop();
    podman(['rmi', '--ignore', ownImage, `${basePath}/worker:v1`, digestRef].filter(Boolean) as string[]);
    rmSync(dir, { recursive: true, force: true });
    rmSync(podmanDir, { recursive: true, force: true });
  });

  test('base-path names the registry and the project; a wrong key cannot log in, an API key can', async () => {
    assert.match(g.output(), new RegExp(`image registry: ${registry.replace(/\./g, '\\.')}`));
    const res = await call('GET', '/v1/image-repositories/base-path');
    assert.equal(res.status, 200);
    assert.match(res.body['base-path'], new RegExp(`^http://${registry.replace(/\./g, '\\.')}/proj_[0-9a-f]+$`));
    basePath = res.body['base-path'].replace(/^http:\/\//, '');
    const wrong = podman(['login', registry, '--username', 'user', '--password-stdin'], 'not-a-key');
    assert.notEqual(wrong.status, 0, wrong.out);
    assert.match(wrong.out, /invalid username\/password|unauthorized/i);
    const ok = podman(['login', registry, '--username', 'user', '--password-stdin'], key);
    assert.equal(ok.status, 0, ok.out);
    // The token endpoint speaks Together's error shape to anything else that calls it.
    const anonymous = await fetch(`${g.url}/v1/registry/token?service=gantry-registry`);
    assert.equal(anonymous.status, 401);
    assert.equal(((await anonymous.json()) as { error: { code: string } }).error.code, 'invalid_api_key');
  });

  test("a push under the project's path works and names a digest; another project's path is refused", () => {
    assert.equal(podman(['tag', ownImage, `${basePath}/worker:v1`]).status, 0);
    // Podman's RepoDigests name the local manifest, not the one it pushed (it compresses layers on
    // the way): the pushed digest is what --digestfile writes.
    const pushed = podman(['push', '--digestfile', join(podmanDir, 'digest'), `${basePath}/worker:v1`]);
    assert.equal(pushed.status, 0, pushed.out);
    digestRef = `${basePath}/worker@${readFileSync(join(podmanDir, 'digest'), 'utf8').trim()}`;
    assert.match(digestRef, /@sha256:[0-9a-f]{64}$/);

    assert.equal(podman(['tag', ownImage, `${registry}/proj_someone_else/worker:v1`]).status, 0);
    const foreign = podman(['push', `${registry}/proj_someone_else/worker:v1`]);
    assert.notEqual(foreign.status, 0, 'a push outside the project path must be refused');
    assert.match(foreign.out, /401|403|unauthorized|denied/i);
    podman(['rmi', `${registry}/proj_someone_else/worker:v1`]);
  });

  test("another project's key logs in but cannot pull this project's image", () => {
    const created = runGantry(['keys', 'create', '--project', 'team-b', '--data-dir', dir]);
    return created.exited.then((code) => {
      assert.equal(code, 0, created.output());
      const keyB = created.output().trim().split('\n').pop()!;
      assert.equal(podman(['login', registry, '--username', 'b', '--password-stdin'], keyB, 'b').status, 0);
      const pull = podman(['pull', `${basePath}/worker:v1`], undefined, 'b');
      assert.notEqual(pull.status, 0, "team-b pulled team a's image");
      assert.match(pull.out, /401|403|unauthorized|denied/i);
    });
  });

  test('the docker runtime pulls pushed images with the worker key, by digest and by tag', async () => {
    // Gone from the engine: the runtime must pull it from the registry.
    const id = podman(['image', 'inspect', '--format', '{{.Id}}', ownImage]).out.trim();
    assert.equal(podman(['rmi', '--force', id]).status, 0);
    assert.notEqual(podman(['image', 'exists', digestRef]).status, 0);
    assert.notEqual(podman(['image', 'exists', `${basePath}/worker:v1`]).status, 0);
    for (const [name, ref] of [
      ['by-digest', digestRef],
      ['by-tag', `${basePath}/worker:v1`],
    ] as const) {
      const created = await call('POST', '/v1/deployments', { name, image: ref, gpu_type: 'none', port: 8000, health_check_path: '/health' });
      assert.equal(created.status, 200, JSON.stringify(created.body));
      const d = await eventually(
        async () => (await call('GET', `/v1/deployments/${name}`)).body,
        (d) => d.status === 'Ready' && d.ready_replicas === 1,
        60000,
      );
      assert.equal(d.status, 'Ready', `${name} (${ref}) did not become Ready: ${JSON.stringify(d)}`);
    }
    // The worker key the runtime pulled with may pull its own image only, never push.
    const env = (await (await fetch(`${g.url}/v1/deployment-request/by-tag/env`, { headers: { authorization: `Bearer ${key}` } })).json()) as {
      env: Record<string, string>;
    };
    const workerKey = env.env.TOGETHER_API_KEY!;
    const repo = `${basePath.split('/').slice(1).join('/')}/worker`;
    const token = async (scope: string) => {
      const res = await fetch(`${g.url}/v1/registry/token?service=gantry-registry&scope=${encodeURIComponent(scope)}`, {
        headers: { authorization: `Basic ${Buffer.from(`worker:${workerKey}`).toString('base64')}` },
      });
      assert.equal(res.status, 200);
      const { token } = (await res.json()) as { token: string };
      return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).access as { name: string; actions: string[] }[];
    };
    assert.deepEqual(await token(`repository:${repo}:pull,push`), [{ type: 'repository', name: repo, actions: ['pull'] }]);
    assert.deepEqual(await token(`repository:${repo}-other:pull`), []);
  });

  test("the registry's data and login outlive a restart of Gantry, which leaves no registry process behind", async () => {
    const pidFile = join(dir, 'registry', 'replica.pid');
    const { pid } = JSON.parse(readFileSync(pidFile, 'utf8')) as { pid: number };
    assert.equal(await g.stop(), 0);
    assert.throws(() => process.kill(pid, 0), 'the registry outlived gantry serve');
    assert.equal(existsSync(pidFile), false);
    g = await start();
    // `podman pull` always asks the registry for the manifest: it fails if the registry lost it.
    const pull = podman(['pull', digestRef]);
    assert.equal(pull.status, 0, pull.out);
  });
});
