import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerApi } from '../../src/runtime/docker/docker-api.js';
import { eventually } from '../helpers/app.js';
import { postgres } from '../helpers/engines.js';
import { apiCaller, startGantry, type GantryProcess } from '../helpers/gantry-process.js';

const host = process.env.GANTRY_TEST_DOCKER_HOST;
const image = process.env.GANTRY_TEST_WORKER_IMAGE;
const skip =
  postgres.skip ||
  (host ? undefined : (process.env.GANTRY_TEST_DOCKER_SKIP ?? 'GANTRY_TEST_DOCKER_HOST is not set (npm test sets it when podman is installed)'));

/**
 * The leader killed outright under load. Three instances with data dirs of their own (as on
 * three machines) share one PostgreSQL and one container engine (Podman's Docker API): the
 * docker runtime's containers outlive the leader, and the next leader adopts them.
 */
describe('SIGKILL of the leader under API, gateway and queue load (docker runtime)', { ...(skip ? { skip } : {}) }, () => {
  const key = 'failover-test-key-0123456789abcdef0123456789';
  const dirs: string[] = [];
  const instances: GantryProcess[] = [];
  let db: Awaited<ReturnType<typeof postgres.create>>;
  const api = host ? new DockerApi(host) : null;
  const env = { GANTRY_ADMIN_KEY: key, GANTRY_SECRET_KEY: 'ab'.repeat(32) };
  const health = async (g: GantryProcess) => (await (await fetch(`${g.url}/health`)).json()) as { leader: boolean };
  const running = () => instances.filter((g) => g.proc.exitCode === null && g.proc.signalCode === null);
  const containers = async (deploymentId: string) => {
    const filters = JSON.stringify({ label: [`gantry.deployment=${deploymentId}`] });
    return (await api!.call<{ Id: string }[]>('GET', '/containers/json', { query: { filters } })).body.map((c) => c.Id).sort();
  };

  before(async () => {
    db = await postgres.create();
    for (let i = 0; i < 3; i++) {
      const dir = mkdtempSync(join(tmpdir(), `gantry-failover-${i}-`));
      dirs.push(dir);
      instances.push(await startGantry(['--data-dir', dir, '--database', db.url, '--runtime', 'docker', '--docker-host', host!, '--rate-limit', '0'], env));
    }
  });
  after(async () => {
    const live = running()[0];
    if (live) await apiCaller(() => live.url, key)('DELETE', '/v1/deployments/web');
    for (const g of instances) await g.stop();
    await api?.close();
    await db?.drop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  test('a new leader adopts the replicas; requests, jobs and the API carry on through the others', async (t) => {
    const [a, b, c] = instances;
    assert.equal((await health(a!)).leader, true, 'the first to start leads');
    const viaB = apiCaller(() => b!.url, key);
    const created = await viaB('POST', '/v1/deployments', {
      name: 'web',
      image,
      gpu_type: 'none',
      port: 8000,
      health_check_path: '/health',
      min_replicas: 2,
      max_replicas: 2,
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const ready = await eventually(
      () => viaB('GET', '/v1/deployments/web'),
      (r) => r.body.ready_replicas === 2,
      60000,
    );
    assert.equal(ready.body.ready_replicas, 2, JSON.stringify(ready.body));
    const before = await containers(ready.body.id);
    assert.equal(before.length, 2);
    assert.equal((await viaB('POST', '/v1/deployments', { name: 'jobs', image: 'img:1', gpu_type: 'none', min_replicas: 0 })).status, 200);

    // Load through the two instances that survive: gateway requests, submits, claims and completions, reads.
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const survivors = [b!, c!];
    let loading = true;
    const failures: string[] = [];
    let served = 0;
    const gateway = async (g: GantryProcess) => {
      while (loading) {
        const res = await fetch(`${g.url}/v1/deployment-request/web/hello`, { headers }).catch((err: Error) => err);
        if (res instanceof Error || res.status !== 200) failures.push(res instanceof Error ? res.message : `${res.status} ${await res.text()}`);
        else {
          await res.arrayBuffer();
          served++;
        }
      }
    };
    const acknowledged = new Set<string>();
    const completions = new Map<string, number>();
    const submitter = async (g: GantryProcess) => {
      while (loading) {
        const res = await fetch(`${g.url}/v1/queue/submit`, { method: 'POST', headers, body: JSON.stringify({ model: 'jobs', payload: {} }) });
        if (res.status === 200) acknowledged.add(((await res.json()) as { requestId: string }).requestId);
        else failures.push(`submit ${res.status}`);
      }
    };
    let working = true;
    const worker = async (g: GantryProcess) => {
      while (working) {
        const res = await fetch(`${g.url}/internal/v1/queue/retrieve?model=jobs&timeout=200ms&hostname=w&claim_timeout=5`, { headers });
        const job = ((await res.json()) as { data: { request_id: string } | null }).data;
        if (!job) continue;
        const done = await fetch(`${g.url}/internal/v1/videos/status`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ model: 'jobs', request_id: job.request_id, status: 'done', payload: {} }),
        });
        await done.arrayBuffer();
        if (done.status === 200) completions.set(job.request_id, (completions.get(job.request_id) ?? 0) + 1);
      }
    };
    const reader = async (g: GantryProcess) => {
      while (loading) {
        const r = await apiCaller(() => g.url, key)('GET', '/v1/deployments/web');
        if (r.status !== 200) failures.push(`read ${r.status}`);
      }
    };
    const load = Promise.all(survivors.flatMap((g) => [gateway(g), submitter(g), reader(g)]));
    const work = Promise.all(survivors.map(worker));
    await new Promise((r) => setTimeout(r, 1000));

    a!.proc.kill('SIGKILL');
    const killedAt = Date.now();
    const next = await eventually(
      async () => (await Promise.all(survivors.map(async (g) => (await health(g)).leader))).indexOf(true),
      (i) => i >= 0,
      30000,
    );
    assert.ok(next >= 0, 'another instance leads');
    const takeoverMs = Date.now() - killedAt;
    // Carry on under load a while after the takeover, watching the containers.
    const seen = new Set<number>();
    for (let i = 0; i < 15; i++) {
      seen.add((await containers(ready.body.id)).length);
      await new Promise((r) => setTimeout(r, 200));
    }
    loading = false;
    await load;
    // The workers finish what is queued.
    await eventually(
      async () => (await apiCaller(() => survivors[next]!.url, key)('GET', '/v1/queue/metrics?model=jobs')).body,
      (m) => m?.pending === 0 && m?.running === 0,
      30000,
    );
    working = false;
    await work;

    t.diagnostic(`new leader ${takeoverMs} ms after the SIGKILL; ${served} gateway requests, ${acknowledged.size} jobs during the test`);
    assert.deepEqual(await containers(ready.body.id), before, 'the new leader adopted the same two containers');
    assert.deepEqual([...seen], [2], 'never more (or fewer) than two containers');
    assert.deepEqual(failures, [], `every request through the surviving instances succeeded (${served} gateway requests; new leader after ${takeoverMs} ms)`);
    const missing = [...acknowledged].filter((id) => !completions.has(id));
    assert.deepEqual(missing, [], 'every acknowledged job was completed');
    assert.deepEqual(
      [...completions].filter(([, n]) => n > 1),
      [],
      'no job completed twice',
    );
  });
});
