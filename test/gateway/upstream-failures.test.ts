import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ReplicaState } from '../../src/contract/runtime.js';
import { sqlite } from '../helpers/engines.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

/**
 * What the gateway does when a replica fails it, with replicas placed in its routing table by
 * the test (real HTTP servers on loopback, and a port nothing listens on): one retry elsewhere
 * on a refused connection, 504 past the time to first byte, 503 once no replica is left.
 */
describe('gateway: failing replicas', () => {
  let t: TestApp;
  let projectId: string;
  const servers: Server[] = [];

  const listen = async (handler: Parameters<typeof createServer>[1]) => {
    const s = createServer(handler);
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return `127.0.0.1:${(s.address() as AddressInfo).port}`;
  };
  const replica = (id: string, address: string): ReplicaState => ({
    id,
    deploymentId: '',
    revisionId: 'r',
    image: 'i',
    status: 'Running',
    readySince: new Date().toISOString(),
    address,
    restarts: 0,
  });
  /** A deployment the controller would report with these replicas ready. */
  const deployWith = async (name: string, replicas: ReplicaState[]) => {
    assert.equal((await t.call('POST', '/v1/deployments', { body: { name, image: 'i', gpu_type: 'none' } })).status, 200);
    const d = (await t.store.findDeployment(projectId, name))!;
    t.parts.routes.update(projectId, name, d.id, replicas);
  };

  before(async () => {
    t = await startTestApp(sqlite, { wiring: { hold: { maxHeld: 10, maxWaitMs: 500 } }, gatewayTimeouts: { firstByteMs: 300 } });
    await t.call('POST', '/v1/deployments', { body: { name: 'probe', image: 'i', gpu_type: 'none' } });
    const id = (await t.store.listDeploymentIds())[0]!;
    projectId = (await t.store.findDeploymentById(id))!.project_id;
  });
  after(async () => {
    servers.forEach((s) => s.closeAllConnections());
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    await t.close();
  });

  test('a refused connection is retried once on another ready replica', async () => {
    const dead = await listen(() => {});
    servers.pop()!.close(); // the port is now refused
    const live = await listen((_req, res) => res.end('live'));
    await deployWith('flaky', [replica('dead', dead), replica('live', live)]);
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${t.url}/v1/deployment-request/flaky/x`, { headers: { authorization: `Bearer ${t.adminKey}` } });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'live');
      assert.equal(res.headers.get('x-gantry-replica'), 'live');
    }
  });

  test('with no other replica to retry on, the request is held and then refused with 503', async () => {
    const dead = await listen(() => {});
    servers.pop()!.close();
    await deployWith('gone', [replica('dead', dead)]);
    const res = await t.call('GET', '/v1/deployment-request/gone/x');
    assert.equal(res.status, 503);
    assert.equal(res.body.error.code, 'no_ready_replica');
    assert.equal(res.headers.get('retry-after'), '1');
  });

  test('a replica that sends no response within the time to first byte is a 504', async () => {
    const slow = await listen(() => {}); // never answers
    await deployWith('slow', [replica('slow', slow)]);
    const res = await t.call('GET', '/v1/deployment-request/slow/x');
    assert.equal(res.status, 504);
    assert.equal(res.body.error.type, 'gateway_timeout');
    assert.match(res.body.error.message, /no response within 300 ms/);
  });
});
