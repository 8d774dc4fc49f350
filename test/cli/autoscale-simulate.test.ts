import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runGantry } from '../helpers/gantry-process.js';

/**
 * `gantry autoscale simulate` as a user runs it, on small synthetic traces whose answers are
 * known by hand: each request's work is 10 ms per generated token (context tokens cost nothing
 * here), one request at a time per replica.
 */
describe('gantry autoscale simulate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gantry-sim-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };
  const trace = (rows: [string, number][]) =>
    write(
      `trace-${Math.random().toString(36).slice(2)}.csv`,
      ['TIMESTAMP,ContextTokens,GeneratedTokens', ...rows.map(([t, g]) => `2023-11-16 ${t},0,${g}`)].join('\n'),
    );
  const spec = (extra: object) =>
    write(
      `spec-${Math.random().toString(36).slice(2)}.json`,
      JSON.stringify({
        gpu_type: 'h100-80gb',
        gpu_count: 2,
        ...extra,
        simulation: { ms_per_context_token: 0, ms_per_generated_token: 10, ...(extra as { simulation?: object }).simulation },
      }),
    );
  const simulate = async (args: string[]) => {
    const run = runGantry(['autoscale', 'simulate', ...args, '--json']);
    const code = await run.exited;
    assert.equal(code, 0, run.output());
    return JSON.parse(run.output()) as {
      policy: string;
      p50WaitMs: number;
      p99WaitMs: number;
      rejected: number;
      replicaSeconds: number;
      costDollars: number;
    }[];
  };

  test('one fixed replica works through three simultaneous requests in turn', async () => {
    // Three requests at the same instant, 100 ms of work each: they wait 0, 100 and 200 ms.
    const t = trace([
      ['18:00:00.000', 10],
      ['18:00:00.000', 10],
      ['18:00:00.000', 10],
    ]);
    const [fixed] = await simulate(['--trace', t, '--deployment-spec', spec({ min_replicas: 1, max_replicas: 1 }), '--policy', 'fixed:1']);
    assert.equal(fixed!.p50WaitMs, 100);
    assert.equal(fixed!.p99WaitMs, 200);
    assert.equal(fixed!.rejected, 0);
    // The replay ends on the first whole second after the last request: one replica for one second,
    // two H100s at $0.056 a minute each.
    assert.equal(fixed!.replicaSeconds, 1);
    assert.ok(Math.abs(fixed!.costDollars - (1 / 60) * 2 * 0.056) < 1e-9);
  });

  test("a deployment at zero: the first request waits for the replica's start; one held past the hold timeout is refused", async () => {
    const t = trace([['18:00:00.000', 10]]);
    const cold = spec({ min_replicas: 0, max_replicas: 1, simulation: { startup_seconds: 2 } });
    const [woken] = await simulate(['--trace', t, '--deployment-spec', cold, '--policy', 'ConcurrentRequests:1']);
    assert.equal(woken!.p99WaitMs, 2000, 'held, the autoscaler wakes the deployment at once, the replica is ready 2 s later');
    assert.equal(woken!.rejected, 0);
    const impatient = spec({ min_replicas: 0, max_replicas: 1, simulation: { startup_seconds: 2, hold_timeout_seconds: 1 } });
    const [refused] = await simulate(['--trace', t, '--deployment-spec', impatient, '--policy', 'ConcurrentRequests:1']);
    assert.equal(refused!.rejected, 1, 'held past --hold-timeout: a 503');
  });

  test('a burst scales a concurrency policy out; a chart is written; bad input is refused naming the flag', async () => {
    // Ten requests in one instant, a second of work each. Five fixed replicas: five wait nothing,
    // five wait one request. From zero with up to five, ConcurrentRequests target 1: the gateway
    // holds what no replica has room for, the autoscaler asks for five, the first five requests
    // start on them after 1 s and the next five as those end, after 2 s (not all on the first
    // replica ready, which is what a gateway without a replica capacity would do).
    const t = trace(Array.from({ length: 10 }, () => ['18:00:00.000', 100] as [string, number]));
    const chart = join(dir, 'chart.svg');
    const burst = spec({ min_replicas: 0, max_replicas: 5, simulation: { startup_seconds: 1 } });
    const [scaled, fixed] = await simulate([
      '--trace',
      t,
      '--deployment-spec',
      burst,
      '--policy',
      'ConcurrentRequests:1',
      '--policy',
      'fixed:5',
      '--chart',
      chart,
    ]);
    assert.deepEqual([fixed!.p50WaitMs, fixed!.p99WaitMs], [0, 1000]);
    assert.deepEqual([scaled!.p50WaitMs, scaled!.p99WaitMs], [1000, 2000]);
    assert.ok(existsSync(chart));
    const svg = readFileSync(chart, 'utf8');
    assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    for (const label of ['p99 wait (ms)', 'replica-seconds', 'GPU cost ($)', 'fixed 5', 'ConcurrentRequests:1']) assert.ok(svg.includes(label), label);

    const bad = runGantry(['autoscale', 'simulate', '--trace', t, '--deployment-spec', burst, '--policy', 'Fastest:1']);
    assert.equal(await bad.exited, 2);
    assert.match(bad.output(), /--policy Fastest:1: expected spec, fixed:N, fixed:peak or METRIC:TARGET/);
    const notATrace = runGantry(['autoscale', 'simulate', '--trace', burst, '--deployment-spec', burst]);
    assert.equal(await notATrace.exited, 2);
    assert.match(notATrace.output(), /--trace .*not a metrics history/);
    const notCsv = runGantry(['autoscale', 'simulate', '--trace', chart, '--deployment-spec', burst]);
    assert.equal(await notCsv.exited, 2);
    assert.match(notCsv.output(), /--trace .*not an Azure LLM trace/);
  });

  test("a deployment's own history (GET /v1/deployments/{id}/metrics) replays as requests spread over each interval", async () => {
    // 20 requests in one 10 s interval with a median of 1 s: one every 0.5 s, a second of work
    // each. Two replicas take them in turn and nobody waits; one falls behind by 0.5 s a
    // request, so the last waits 9.5 s. An interval without requests adds none.
    const point = (time: string, requests: number, p50: number | null) => ({ time, requests, p50_ms: p50, p99_ms: p50, in_flight: 1 });
    const history = write(
      'history.json',
      JSON.stringify({
        object: 'list',
        deployment_id: 'dep_x',
        interval_seconds: 10,
        data: [point('2026-12-01T10:00:00.000Z', 20, 1000), point('2026-12-01T10:00:10.000Z', 0, null)],
      }),
    );
    const [two, one] = await simulate(['--trace', history, '--deployment-spec', spec({ min_replicas: 1 }), '--policy', 'fixed:2', '--policy', 'fixed:1']);
    assert.deepEqual([two!.p50WaitMs, two!.p99WaitMs], [0, 0]);
    assert.equal(one!.p99WaitMs, 9500);
  });
});
