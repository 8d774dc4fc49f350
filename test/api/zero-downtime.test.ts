import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '../helpers/app.js';
import { apiCaller, startGantry, type GantryProcess, workerDeployment } from '../helpers/gantry-process.js';

/**
 * No request fails through the gateway while a deployment rolls to a new revision and scales
 * down: a ready replica leaves the routing table and finishes what it serves before it gets
 * SIGTERM. Eight clients send at least 5,000 requests across both changes; every one is a 200.
 */

describe('zero failed requests across a rolling update and a scale-down', () => {
  let g: GantryProcess;
  let dir: string;
  const key = 'zero-downtime-key-0123456789abcdef0123456789';
  const call = apiCaller(() => g.url, key);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gantry-zdt-'));
    g = await startGantry(['--data-dir', dir], { GANTRY_ADMIN_KEY: key });
    const created = await call('POST', '/v1/deployments', {
      ...workerDeployment('web'),
      termination_grace_period_seconds: 5,
      min_replicas: 2,
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    await eventually(
      async () => (await call('GET', '/v1/deployments/web')).body,
      (d) => d.status === 'Ready' && d.ready_replicas === 2,
      15_000,
    );
  });
  after(async () => {
    await g?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('every request of at least 5,000 succeeds while the deployment is updated and scaled down', async () => {
    const statuses = new Map<string, number>();
    let sent = 0;
    let changing = true;
    const client = async () => {
      while (changing || sent < 5000) {
        sent++;
        const res = await fetch(`${g.url}/v1/deployment-request/web/echo`, { headers: { authorization: `Bearer ${key}` } }).catch(
          (err: Error) => ({ status: err.message }) as never,
        );
        const status = String((res as Response).status);
        if (res instanceof Response) await res.arrayBuffer();
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    };
    const clients = Array.from({ length: 8 }, client);
    const settled = (want: (d: any) => boolean) => eventually(async () => (await call('GET', '/v1/deployments/web')).body, want, 30_000);

    while (sent < 500) await new Promise((r) => setTimeout(r, 10));
    const before = (await call('GET', '/v1/deployments/web')).body;
    const rolled = await call('PATCH', '/v1/deployments/web', { environment_variables: [{ name: 'VERSION', value: '2' }] });
    assert.equal(rolled.status, 200);
    const newRevision = rolled.body.environment_variables.find((e: any) => e.name === 'TOGETHER_DEPLOYMENT_REVISION_ID').value;
    assert.notEqual(newRevision, before.environment_variables.find((e: any) => e.name === 'TOGETHER_DEPLOYMENT_REVISION_ID').value);
    await settled((d) => d.status === 'Ready' && d.ready_replicas === 2 && Object.values(d.replica_events).every((e: any) => e.revision_id === newRevision));
    assert.equal((await call('PATCH', '/v1/deployments/web', { min_replicas: 1, max_replicas: 1 })).status, 200);
    await settled((d) => d.status === 'Ready' && Object.keys(d.replica_events).length === 1);
    changing = false;
    await Promise.all(clients);

    const total = [...statuses.values()].reduce((a, b) => a + b, 0);
    assert.ok(total >= 5000, `sent ${total}`);
    assert.deepEqual(Object.fromEntries(statuses), { 200: total }, 'every request answered 200');
  });
});
