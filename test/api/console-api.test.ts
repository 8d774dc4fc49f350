import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../../src/app.js';
import { MetricsHistory } from '../../src/metrics/history.js';
import { engines } from '../helpers/engines.js';
import { SteppedClock } from '../helpers/clock.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

/** The read routes the web console adds to the API: metrics history, a queue's jobs, usage over time, restart. */
for (const engine of engines) {
  describe(`console API on ${engine.name}`, { skip: engine.skip }, () => {
    let t: TestApp;
    let clock: SteppedClock;
    let history: MetricsHistory;
    let app: { id: string };

    before(async () => {
      clock = new SteppedClock(Date.parse('2026-11-30T12:00:05Z'));
      t = await startTestApp(engine, { wire: (ctx) => (ctx.clock = clock) });
      history = new MetricsHistory({ store: t.store, traffic: t.parts.traffic, observe: () => [], clock });
      app = (await t.call('POST', '/v1/deployments', { body: { name: 'app', image: 'img:1', gpu_type: 'none' } })).body;
      await t.call('POST', '/v1/deployments', { body: { name: 'idle', image: 'img:1', gpu_type: 'none', min_replicas: 0, max_replicas: 1 } });
    });
    after(async () => t?.close());

    test('the metrics history keeps requests, latency percentiles, jobs and decisions every 10 s, and nothing for idle deployments', async () => {
      for (let ms = 1; ms <= 100; ms++) {
        t.parts.traffic.started(app.id);
        t.parts.traffic.finished(app.id, ms);
      }
      t.parts.traffic.started(app.id);
      t.parts.traffic.started(app.id); // two in flight at the end
      const project = await projectOf(t);
      history.jobFinished(project, 'app', 1500);
      history.jobFinished(project, 'app', 2500);
      history.decided(app.id, '1 → 2: test');
      clock.step(10_000);
      await history.sample();

      const res = await t.call('GET', '/v1/deployments/app/metrics?minutes=5');
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.interval_seconds, 10);
      assert.equal(res.body.data.length, 1);
      const [p] = res.body.data;
      assert.equal(p.time, '2026-11-30T12:00:00.000Z', 'the interval that just ended, on the 10 s grid');
      assert.deepEqual(
        { requests: p.requests, p50: p.p50_ms, p99: p.p99_ms, in_flight: p.in_flight, desired: p.desired_replicas },
        { requests: 100, p50: 50, p99: 99, in_flight: 2, desired: 1 },
      );
      assert.deepEqual({ jobs: p.jobs_done, latency: p.job_latency_ms, decision: p.decision }, { jobs: 2, latency: 2000, decision: '1 → 2: test' });
      assert.deepEqual((await t.call('GET', '/v1/deployments/idle/metrics')).body.data, [], 'an idle deployment costs no rows');

      // The next interval: no requests finished, two still in flight; the decision and jobs are not repeated.
      clock.step(10_000);
      await history.sample();
      const next = (await t.call('GET', '/v1/deployments/app/metrics')).body.data[1];
      assert.deepEqual(
        { requests: next.requests, p50: next.p50_ms, in_flight: next.in_flight, jobs: next.jobs_done, decision: next.decision },
        {
          requests: 0,
          p50: null,
          in_flight: 2,
          jobs: 0,
          decision: null,
        },
      );

      // A day later the old points are gone from the store, not only from the answer.
      clock.step(24 * 3600_000 + 10_000);
      await history.sample();
      const kept = await t.store.metrics.series(app.id, 0);
      assert.ok(
        kept.every((x) => x.at > clock.nowMs() - 24 * 3600_000),
        `only the last day is kept: ${kept.map((x) => new Date(x.at).toISOString())}`,
      );
    });

    test('the history route checks its range and answers only for the caller’s project', async () => {
      for (const minutes of ['0', '1441', 'x']) {
        const r = await t.call('GET', `/v1/deployments/app/metrics?minutes=${minutes}`);
        assert.equal(r.status, 400, minutes);
        assert.match(r.body.error.message, /minutes/);
      }
      const other = (await t.keyFor('other')).key;
      assert.equal((await t.call('GET', '/v1/deployments/app/metrics', { key: other })).status, 404);
      assert.equal((await t.call('POST', '/v1/deployments/app/restart', { key: other })).status, 404);
      assert.equal((await t.call('GET', '/v1/queue/jobs?model=app', { key: other })).status, 404);
    });

    test("a queue's latest jobs, newest first, by status and limit", async () => {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await t.call('POST', '/v1/queue/submit', { body: { model: 'app', payload: { i } } })).body.requestId);
      await t.call('POST', '/v1/queue/cancel', { body: { model: 'app', request_id: ids[0] } });
      const all = await t.call('GET', '/v1/queue/jobs?model=app');
      assert.equal(all.status, 200, JSON.stringify(all.body));
      assert.deepEqual(
        all.body.data.map((j: { request_id: string }) => j.request_id),
        [...ids].reverse(),
      );
      assert.deepEqual(all.body.data[2].inputs, { i: 0 });
      const canceled = await t.call('GET', '/v1/queue/jobs?model=app&status=canceled');
      assert.deepEqual(
        canceled.body.data.map((j: { request_id: string }) => j.request_id),
        [ids[0]],
      );
      assert.equal((await t.call('GET', '/v1/queue/jobs?model=app&limit=1')).body.data.length, 1);
      assert.equal((await t.call('GET', '/v1/queue/jobs?model=app&status=lost')).status, 400);
      assert.equal((await t.call('GET', '/v1/queue/jobs?model=nope')).status, 404);
    });

    test('usage answers a series per hour or day when asked', async () => {
      const project = await projectOf(t);
      const minute = (iso: string, replica: string, cents: number) => ({
        replica_id: replica,
        minute: iso,
        project_id: project,
        deployment_id: app.id,
        deployment_name: 'app',
        endpoint_id: null,
        endpoint_name: null,
        hardware: 'h',
        cents_per_minute: cents,
      });
      await t.store.usage.record([
        minute('2026-11-29T10:00:00.000Z', 'r1', 2),
        minute('2026-11-29T10:01:00.000Z', 'r1', 2),
        minute('2026-11-29T11:30:00.000Z', 'r1', 3),
      ]);
      const range = 'start_time=2026-11-29T00:00:00Z&end_time=2026-11-30T00:00:00Z';
      const hourly = await t.call('GET', `/v1/usage?${range}&bucket=hour`);
      assert.equal(hourly.status, 200, JSON.stringify(hourly.body));
      assert.deepEqual(hourly.body.series, [
        { start_time: '2026-11-29T10:00:00.000Z', replica_minutes: 2, cost_cents: 4, items: [{ id: app.id, replica_minutes: 2, cost_cents: 4 }] },
        { start_time: '2026-11-29T11:00:00.000Z', replica_minutes: 1, cost_cents: 3, items: [{ id: app.id, replica_minutes: 1, cost_cents: 3 }] },
      ]);
      const daily = await t.call('GET', `/v1/usage?${range}&bucket=day`);
      assert.deepEqual(
        daily.body.series.map((b: { start_time: string; cost_cents: number }) => [b.start_time, b.cost_cents]),
        [['2026-11-29T00:00:00.000Z', 7]],
      );
      assert.equal((await t.call('GET', `/v1/usage?${range}`)).body.series, undefined, 'no series unless asked');
      assert.equal((await t.call('GET', `/v1/usage?${range}&bucket=week`)).status, 400);
    });

    test('restart rolls out a new revision of the same spec', async () => {
      const revision = (d: { environment_variables: { name: string; value: string }[] }) =>
        d.environment_variables.find((v) => v.name === 'TOGETHER_DEPLOYMENT_REVISION_ID')!.value;
      const before = (await t.call('GET', '/v1/deployments/app')).body;
      const after = await t.call('POST', '/v1/deployments/app/restart');
      assert.equal(after.status, 200, JSON.stringify(after.body));
      assert.notEqual(revision(after.body), revision(before));
      assert.deepEqual(
        { ...after.body, environment_variables: [], updated_at: '', status: '' },
        { ...before, environment_variables: [], updated_at: '', status: '' },
      );
    });

    test('the console is served with a strict content policy, and says how to build it when it is not built', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'gantry-console-files-'));
      try {
        writeFileSync(join(dir, 'index.html'), '<!doctype html><title>c</title>');
        const built = await buildApp({ ...t.parts, consoleDir: dir });
        const bare = await built.inject({ url: '/console' });
        assert.equal(bare.statusCode, 302);
        assert.equal(bare.headers.location, '/console/');
        const page = await built.inject({ url: '/console/' });
        assert.equal(page.statusCode, 200);
        assert.match(page.payload, /<title>c<\/title>/);
        assert.match(String(page.headers['content-security-policy']), /default-src 'self'/);
        assert.equal(page.headers['cache-control'], 'no-cache');
        await built.close();
        const missing = await buildApp({ ...t.parts, consoleDir: join(dir, 'nothing') });
        const r = await missing.inject({ url: '/console/' });
        assert.equal(r.statusCode, 404);
        assert.match(r.payload, /run npm run build/);
        await missing.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

/** The default project's id (where `app` lives). */
async function projectOf(t: TestApp): Promise<string> {
  const ids = await t.store.listDeploymentIds();
  const all = await Promise.all(ids.map((id) => t.store.findDeploymentById(id)));
  return all.find((d) => d?.name === 'app')!.project_id;
}
