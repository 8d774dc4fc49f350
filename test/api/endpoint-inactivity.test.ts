import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sqlite } from '../helpers/engines.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { InactivityWatcher } from '../../src/commands/endpoint-inactivity.js';
import { Traffic } from '../../src/gateway/traffic.js';
import { GpuInventory, parseGpuDeclaration } from '../../src/runtime/gpus.js';
import { SteppedClock } from '../helpers/clock.js';

/** `inactive_timeout` under a clock the test moves: stopped after that many idle minutes, not before. */
describe('endpoint inactivity', () => {
  let t: TestApp;
  const clock = new SteppedClock();
  const traffic = new Traffic(clock);
  let watcher: InactivityWatcher;
  before(async () => {
    t = await startTestApp(sqlite, { wiring: { gpus: new GpuInventory(parseGpuDeclaration('h100-80gb:1')) }, wire: (ctx) => (ctx.clock = clock) });
    watcher = new InactivityWatcher({ ctx: t.ctx, env: t.parts.endpoints, traffic, clock });
  });
  after(async () => t?.close());

  const create = async (inactive_timeout: number | null) => {
    const r = await t.call('POST', '/v1/endpoints', {
      body: { model: 'Qwen/Qwen2.5-7B-Instruct', hardware: '1x_nvidia_h100_80gb_sxm', autoscaling: { min_replicas: 1, max_replicas: 1 }, inactive_timeout },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body as { id: string; deployment: string; inactive_timeout: number | null };
  };
  const stateOf = async (id: string) => (await t.call('GET', `/v1/endpoints/${id}`)).body.state;

  test('an endpoint idle for inactive_timeout minutes is stopped; one without a timeout, or in use, is not', async () => {
    const idle = await create(2);
    const forever = await create(0);
    assert.equal(forever.inactive_timeout, null, '0 means no timeout');
    clock.step(119_000);
    assert.deepEqual(await watcher.sweep(), [], 'not before two minutes');
    clock.step(2_000);
    assert.deepEqual(await watcher.sweep(), [idle.id]);
    assert.equal(await stateOf(idle.id), 'STOPPED');
    assert.equal((await t.call('GET', `/v1/deployments/${idle.deployment}`)).body.min_replicas, 0, 'its engine is scaled to nothing');
    assert.notEqual(await stateOf(forever.id), 'STOPPED');

    // Started again, then busy: a request in flight keeps it up past the timeout.
    await t.call('PATCH', `/v1/endpoints/${idle.id}`, { body: { state: 'STARTED' } });
    const engineId = (await t.call('GET', `/v1/deployments/${idle.deployment}`)).body.id;
    traffic.started(engineId);
    clock.step(10 * 60_000);
    assert.deepEqual(await watcher.sweep(), []);
    traffic.finished(engineId, 5);
    assert.deepEqual(await watcher.sweep(), [], 'a request just ended: the idle time starts again');
    clock.step(2 * 60_000);
    assert.deepEqual(await watcher.sweep(), [idle.id]);
  });
});
