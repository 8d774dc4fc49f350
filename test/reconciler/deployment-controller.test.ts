import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqlite } from '../helpers/engines.js';
import { eventually, startTestApp, type TestApp } from '../helpers/app.js';
import { DeploymentController } from '../../src/reconciler/deployment-controller.js';
import { ProcessDriver } from '../../src/runtime/process/process-driver.js';
import { systemClock } from '../../src/domain/clock.js';

/**
 * The controller with the real process driver and fast timings, behind the real API:
 * a revision that keeps crashing turns the deployment Failed; a fix clears it.
 */
const worker = new URL('../fixtures/worker.js', import.meta.url).pathname;

describe('deployment controller', () => {
  let t: TestApp;
  let driver: ProcessDriver;
  let controller: DeploymentController;
  const dir = mkdtempSync(join(tmpdir(), 'gantry-ctl-'));

  before(async () => {
    driver = new ProcessDriver({
      dir,
      baseBackoffMs: 20,
      maxBackoffMs: 40,
      startupProbeMs: 20,
      probeIntervalMs: 50,
      baseEnv: { PATH: process.env.PATH ?? '' },
    });
    t = await startTestApp(sqlite, {
      wire: (ctx) => {
        controller = new DeploymentController({
          clock: systemClock,
          store: ctx.store,
          driver,
          secretBox: ctx.secretBox,
          platform: { apiBaseUrl: 'http://127.0.0.1:1', volumesDir: join(tmpdir(), 'gantry-no-volumes') },
          failAfterRestarts: 3,
          minReadyMs: 100,
          resyncMs: 60_000,
        });
        ctx.runtime = controller;
      },
    });
    await controller.start();
  });
  after(async () => {
    await controller.stop();
    await driver.close();
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const body = (env: object[]) => ({
    name: 'flaky',
    image: 'i',
    gpu_type: 'none',
    command: [process.execPath, worker],
    health_check_path: '/health',
    environment_variables: env,
  });

  test('a revision that crashes past the limit is Failed; the replica event says why', async () => {
    await t.call('POST', '/v1/deployments', { body: body([{ name: 'CRASH_AFTER_MS', value: '10' }]) });
    // The replica alternates between crashing and restarting; the deployment stays Failed.
    const d = await eventually(
      () => t.call('GET', '/v1/deployments/flaky'),
      (r) => r.body.status === 'Failed' && (Object.values(r.body.replica_events) as any[])[0]?.replica_status_reason === 'CrashLoopBackOff',
      10_000,
    );
    assert.equal(d.body.status, 'Failed');
    const [event] = Object.values(d.body.replica_events) as any[];
    assert.equal(event.replica_status_reason, 'CrashLoopBackOff');
    assert.match(event.replica_status_message, /exited with code 3/);
  });

  test('a fixed revision clears the failure and becomes Ready', async () => {
    await t.call('PATCH', '/v1/deployments/flaky', { body: { environment_variables: [] } });
    const d = await eventually(
      () => t.call('GET', '/v1/deployments/flaky'),
      (r) => r.body.status === 'Ready',
      10_000,
    );
    assert.equal(d.body.status, 'Ready');
    assert.equal(Object.keys(d.body.replica_events).length, 1, 'the failed revision is gone');
  });

  test('deleting the deployment stops its replicas', async () => {
    const id = (await t.call('GET', '/v1/deployments/flaky')).body.id;
    await t.call('DELETE', '/v1/deployments/flaky');
    await eventually(
      async () => driver.observe(id),
      (rs) => rs.length === 0,
    );
    assert.deepEqual(driver.observe(id), []);
  });
});
