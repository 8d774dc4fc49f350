import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Together from 'together-ai';
import { engines } from '../helpers/engines.js';
import { exampleEngine } from '../../src/endpoints/engine.js';
import { eventually, startTestApp, type TestApp } from '../helpers/app.js';
import { FAST_REPLICAS } from '../helpers/runtime.js';
import { DeploymentController } from '../../src/reconciler/deployment-controller.js';
import { ProcessDriver } from '../../src/runtime/process/process-driver.js';
import { GpuInventory, parseGpuDeclaration } from '../../src/runtime/gpus.js';
import type { EndpointEnv } from '../../src/endpoints/endpoint-env.js';
import { DEFAULT_ENDPOINTS } from '../../src/endpoints/settings.js';
import { UsageMeter } from '../../src/usage/usage-meter.js';
import type { UsageReportView } from '../../src/contract/schemas/usage.js';
import { SteppedClock } from '../helpers/clock.js';
import { systemClock } from '../../src/domain/clock.js';

const worker = new URL('../fixtures/worker.js', import.meta.url).pathname;

/**
 * Usage metering with real replicas (the process runtime, the controller, the API) and a
 * meter whose clock the test moves minute by minute; the report read with the official SDK.
 */
for (const engine of engines) {
  describe(`usage and cost on ${engine.name}`, { skip: engine.skip }, () => {
    let t: TestApp;
    let client: Together;
    let driver: ProcessDriver;
    let controller: DeploymentController;
    let env: EndpointEnv;
    let meter: UsageMeter;
    const dir = mkdtempSync(join(tmpdir(), 'gantry-usage-'));
    const gpus = new GpuInventory(parseGpuDeclaration('h100-80gb:2'));
    const clock = new SteppedClock(Date.parse('2026-03-10T08:00:10Z'));
    const at = (iso: string) => clock.set(Date.parse(iso));

    before(async () => {
      driver = new ProcessDriver({ dir, gpus, ...FAST_REPLICAS, baseEnv: { PATH: process.env.PATH ?? '' } });
      t = await startTestApp(engine, {
        wire: (ctx) => {
          controller = new DeploymentController({
            clock: systemClock,
            store: ctx.store,
            driver,
            secretBox: ctx.secretBox,
            platform: { apiBaseUrl: 'http://127.0.0.1:1', volumesDir: join(dir, 'volumes') },
            minReadyMs: 0,
          });
          ctx.runtime = controller;
        },
        wiring: {
          gpus,
          endpoints: {
            ...DEFAULT_ENDPOINTS,
            catalog: [{ id: 'acme/tiny-chat', type: 'chat', memory_gb: 60 }],
            engine: exampleEngine(),
            gpuPrices: { 'h100-80gb': 6 },
          },
        },
      });
      env = t.parts.endpoints;
      await controller.start();
      meter = new UsageMeter({ store: t.store, runtime: controller, hardware: env.hardware, clock });
      client = new Together({ apiKey: t.adminKey, baseURL: `${t.url}/v1`, maxRetries: 0 });
    });
    after(async () => {
      await controller?.stop();
      await driver?.close();
      await t?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const report = (query: Record<string, string>) => client.get<UsageReportView>('/usage', { query });
    const H100 = '1x_nvidia_h100_80gb_sxm';

    const deploy = async (name: string, gpus: { gpu_type: string; gpu_count: number }) => {
      const r = await t.call('POST', '/v1/deployments', {
        body: { name, image: 'i', ...gpus, command: [process.execPath, worker], health_check_path: '/health' },
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    };
    const deployment = (name: string, ok: (d: any) => boolean) => eventually(() => t.call('GET', `/v1/deployments/${name}`).then((r) => r.body), ok, 15_000);

    test('running replicas are charged per started minute at their hardware price; waiting ones are not; deleted ones stay on the report', async () => {
      await deploy('gpu-web', { gpu_type: 'h100-80gb', gpu_count: 1 });
      await deploy('cpu-web', { gpu_type: 'none', gpu_count: 0 });
      const ep = await client.endpoints.create({ model: 'acme/tiny-chat', hardware: H100, autoscaling: { min_replicas: 1, max_replicas: 1 } });
      for (const name of ['gpu-web', 'cpu-web']) await deployment(name, (d) => d.status === 'Ready');
      assert.equal(
        await eventually(
          () => client.endpoints.retrieve(ep.id).then((e) => e.state),
          (s) => s === 'STARTED',
          15_000,
        ),
        'STARTED',
      );
      // Both GPUs are taken: this one's replica waits for a GPU, holding none.
      await deploy('waiting', { gpu_type: 'h100-80gb', gpu_count: 1 });
      await deployment('waiting', (d) => Object.values(d.replica_events ?? {}).some((e: any) => e.replica_status_reason === 'Unschedulable'));

      assert.equal(await meter.sample(), 3, '08:00: gpu-web, cpu-web and the engine; not the waiting replica');
      assert.equal((await t.call('DELETE', '/v1/deployments/waiting')).status, 200);
      at('2026-03-10T08:00:50Z');
      assert.equal(await meter.sample(), 0, 'a minute is charged once');
      at('2026-03-10T08:01:05Z');
      assert.equal(await meter.sample(), 3);
      at('2026-03-10T08:02:00Z');
      assert.equal(await meter.sample(), 3);

      // Stopped: the endpoint's replica is gone and charges stop.
      await client.endpoints.update(ep.id, { state: 'STOPPED' });
      await eventually(
        () => client.endpoints.retrieve(ep.id).then((e) => e.state),
        (s) => s === 'STOPPED',
        15_000,
      );
      at('2026-03-10T08:03:30Z');
      assert.equal(await meter.sample(), 2, 'gpu-web and cpu-web');
      assert.equal((await t.call('DELETE', '/v1/deployments/gpu-web')).status, 200);
      at('2026-03-10T08:04:00Z');
      assert.equal(await meter.sample(), 1, 'a deleted deployment is not charged');

      const all = await report({ start_time: '2026-03-10T08:00:00Z', end_time: '2026-03-10T09:00:00Z' });
      assert.equal(all.object, 'usage');
      assert.equal(all.project, 'default');
      assert.equal(all.start_time, '2026-03-10T08:00:00.000Z');
      assert.equal(all.currency, 'USD');
      assert.equal(all.replica_minutes, 12);
      assert.equal(all.cost_cents, 42, '7 minutes of one H100 at 6 cents; CPU minutes are free');
      assert.deepEqual(all.endpoints, [
        {
          object: 'usage.endpoint',
          id: ep.id,
          name: ep.name,
          deleted: false,
          replica_minutes: 3,
          cost_cents: 18,
          hardware: [{ hardware: H100, replica_minutes: 3, cost_cents: 18 }],
        },
      ]);
      assert.deepEqual(
        all.deployments.map((d) => ({ ...d, id: undefined })),
        [
          {
            object: 'usage.deployment',
            id: undefined,
            name: 'cpu-web',
            deleted: false,
            replica_minutes: 5,
            cost_cents: 0,
            hardware: [{ hardware: 'cpu', replica_minutes: 5, cost_cents: 0 }],
          },
          {
            object: 'usage.deployment',
            id: undefined,
            name: 'gpu-web',
            deleted: true,
            replica_minutes: 4,
            cost_cents: 24,
            hardware: [{ hardware: H100, replica_minutes: 4, cost_cents: 24 }],
          },
        ],
        "the endpoint's engine is counted under the endpoint only; the waiting deployment never ran",
      );

      const oneMinute = await report({ start_time: '2026-03-10T08:01:00Z', end_time: '2026-03-10T08:02:00Z' });
      assert.deepEqual(
        [oneMinute.replica_minutes, oneMinute.endpoints[0]?.replica_minutes, oneMinute.deployments.map((d) => d.replica_minutes)],
        [3, 1, [1, 1]],
      );
      const withOffset = await report({ start_time: '2026-03-10T09:03:00+01:00', end_time: '2026-03-10T10:00:00+01:00' });
      assert.deepEqual([withOffset.start_time, withOffset.replica_minutes], ['2026-03-10T08:03:00.000Z', 3]);

      const monthToDate = await report({ end_time: '2026-03-31' });
      assert.deepEqual(
        [monthToDate.start_time, monthToDate.replica_minutes],
        ['2026-03-01T00:00:00.000Z', 12],
        'the range starts on the first of the month by default',
      );
    });

    test('a project sees only its own usage', async () => {
      const other = await t.keyFor('other');
      const r = await t.call('GET', '/v1/usage?start_time=2026-03-01&end_time=2026-04-01', { key: other.key });
      assert.equal(r.status, 200);
      assert.deepEqual([r.body.project, r.body.replica_minutes, r.body.cost_cents, r.body.endpoints, r.body.deployments], ['other', 0, 0, [], []]);
    });

    test('a bad time range is a 400 naming the field', async () => {
      for (const [query, param] of [
        ['start_time=yesterday', 'start_time'],
        ['end_time=2026-13-45', 'end_time'],
        ['start_time=2026-03-10T08:00:00', 'start_time'],
        ['start_time=2026-03-10&end_time=2026-03-09', 'start_time'],
      ] as const) {
        const r = await t.call('GET', `/v1/usage?${query}`);
        assert.equal(r.status, 400, query);
        assert.equal(r.body.error.param, param, query);
      }
    });
  });
}
