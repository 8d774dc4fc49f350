import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerApi } from '../../src/runtime/docker/docker-api.js';
import { eventually } from '../helpers/app.js';
import { apiCaller, startGantry, type GantryProcess } from '../helpers/gantry-process.js';

/**
 * Deployments as containers: a spawned `gantry serve --runtime docker` against Podman's
 * Docker-compatible API, driven over HTTP as a user would, with the worker image `npm test`
 * builds. The workload runs from the image's own CMD: no command is needed on this runtime.
 */
const host = process.env.GANTRY_TEST_DOCKER_HOST;
const image = process.env.GANTRY_TEST_WORKER_IMAGE;
const skip = host ? undefined : (process.env.GANTRY_TEST_DOCKER_SKIP ?? 'GANTRY_TEST_DOCKER_HOST is not set (npm test sets it when podman is installed)');

describe('deployments on the docker runtime (Podman)', { ...(skip ? { skip } : {}) }, () => {
  let dir: string;
  let g: GantryProcess;
  const key = 'docker-test-key-0123456789abcdef0123456789';
  const api = host ? new DockerApi(host) : null;
  const start = () => startGantry(['--data-dir', dir, '--runtime', 'docker', '--docker-host', host!], { GANTRY_ADMIN_KEY: key });

  const call = apiCaller(() => g.url, key);
  const get = async (name: string) => (await call('GET', `/v1/deployments/${name}`)).body;
  const waitFor = async (name: string, ok: (d: any) => boolean) => {
    const d = await eventually(() => get(name), ok, 20000);
    assert.ok(ok(d), `deployment ${name} did not get there: ${JSON.stringify(d)}`);
    return d;
  };
  /** The deployment's containers as the engine reports them, with the host port of `port`. */
  const containers = async (deploymentId: string) => {
    const filters = JSON.stringify({ label: [`gantry.deployment=${deploymentId}`] });
    const { body } = await api!.call<{ Id: string; Ports: { PrivatePort: number; PublicPort: number }[] }[]>('GET', '/containers/json', { query: { filters } });
    return body.map((c) => ({ id: c.Id, hostPort: c.Ports.find((p) => p.PrivatePort === 8000)?.PublicPort }));
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gantry-docker-e2e-'));
    g = await start();
  });
  after(async () => {
    for (const name of ['web', 'broken']) if (g) await call('DELETE', `/v1/deployments/${name}`);
    await g?.stop();
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('an image deploys without a command, becomes Ready, and gets the platform env and its secrets', async () => {
    assert.equal((await call('POST', '/v1/deployments/secrets', { name: 'token', value: 'c0ntainer-s3cret' })).status, 200);
    const created = await call('POST', '/v1/deployments', {
      name: 'web',
      image,
      gpu_type: 'none',
      port: 8000,
      health_check_path: '/health',
      termination_grace_period_seconds: 3,
      environment_variables: [
        { name: 'READY_AFTER_MS', value: '300' },
        { name: 'TOKEN', value_from_secret: 'token' },
      ],
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const ready = await waitFor('web', (d) => d.status === 'Ready');
    assert.equal(ready.ready_replicas, 1);

    const [c] = await containers(ready.id);
    const info = await (await fetch(`http://127.0.0.1:${c!.hostPort}/env`)).json();
    assert.equal(info.env.TOKEN, 'c0ntainer-s3cret');
    assert.equal(info.env.TOGETHER_DEPLOYMENT_NAME, 'web');
    assert.equal(info.env.PORT, '8000', 'PORT is the container port');
    assert.equal(info.env.TERMINATION_GRACE_PERIOD_SECONDS, '3');
    assert.ok(!JSON.stringify(await get('web')).includes('c0ntainer-s3cret'), 'the secret is never returned');
    assert.ok(!g.output().includes('c0ntainer-s3cret'), 'the secret is never logged');

    const logs = await eventually(
      () => call('GET', '/v1/deployments/web/logs'),
      (r) => r.body.lines?.some((l: string) => /worker listening on 8000/.test(l)),
    );
    assert.ok(
      logs.body.lines.some((l: string) => /worker listening on 8000/.test(l)),
      JSON.stringify(logs.body),
    );
  });

  test('an image that cannot be pulled makes the deployment Failed, saying why', async () => {
    assert.equal((await call('POST', '/v1/deployments', { name: 'broken', image: '127.0.0.1:9/none/such:1', gpu_type: 'none', port: 8000 })).status, 200);
    const failed = await waitFor('broken', (d) => d.status === 'Failed');
    const [event] = Object.values(failed.replica_events) as any[];
    assert.equal(event.replica_status_reason, 'ErrImagePull');
    assert.match(event.replica_status_message, /cannot pull image 127\.0\.0\.1:9\/none\/such:1/);
    assert.equal((await call('DELETE', '/v1/deployments/broken')).status, 200);
  });

  test('containers outlive a Gantry restart and are adopted, not duplicated; delete removes them', async () => {
    const web = await waitFor('web', (d) => d.status === 'Ready');
    const [replicaId] = Object.keys(web.replica_events);
    const before = await containers(web.id);
    assert.equal(await g.stop('SIGTERM'), 0);
    assert.deepEqual(
      (await containers(web.id)).map((c) => c.id),
      before.map((c) => c.id),
      'the container kept running',
    );

    g = await start();
    const again = await waitFor('web', (d) => d.status === 'Ready');
    assert.deepEqual(Object.keys(again.replica_events), [replicaId], 'the same replica, adopted');
    assert.deepEqual(
      (await containers(web.id)).map((c) => c.id),
      before.map((c) => c.id),
      'no duplicate container',
    );

    assert.equal((await call('DELETE', '/v1/deployments/web')).status, 200);
    const left = await eventually(
      () => containers(web.id),
      (cs) => cs.length === 0,
    );
    assert.deepEqual(left, []);
  });
});
