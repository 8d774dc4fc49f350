import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decide, type Signals } from '../../src/autoscaler/decide.js';
import { sumSeries } from '../../src/autoscaler/custom-metric.js';
import { Traffic } from '../../src/gateway/traffic.js';
import { TestClock } from '../../src/domain/clock.js';

const quiet: Signals = {
  shortRate: 0,
  windowRate: 0,
  shortAvgMs: null,
  windowAvgMs: null,
  shortConcurrency: 0,
  windowConcurrency: 0,
  inFlight: 0,
  held: 0,
  idleMs: 0,
  custom: null,
  queueDepth: null,
  rollingOut: false,
};
const opts = { stabilizationMs: 300_000, idleGraceMs: 60_000 };
const rps = { metric: 'HTTPTotalRequests' as const, target: 10, time_interval_minutes: 10 };

/** Runs decisions one per second with the given signals, carrying desired and history along. */
function run(steps: { at: number; s: Partial<Signals> }[], start = 1, bounds = { min: 0, max: 10 }) {
  const history: { at: number; recommended: number }[] = [];
  let current = start;
  const out: number[] = [];
  for (const { at, s } of steps) {
    current = decide(rps, { ...bounds, current }, { ...quiet, ...s }, history, at, opts).desired;
    out.push(current);
  }
  return out;
}

describe('autoscaler decisions (stepped clock)', () => {
  test('QueueBacklogPerWorker: ceil(depth / target); jobs keep any autoscaled deployment from zero', () => {
    const queue = { metric: 'QueueBacklogPerWorker' as const, target: 4, model: 'jobs' };
    const bounds = { min: 0, max: 10, current: 1 };
    assert.equal(decide(queue, bounds, { ...quiet, queueDepth: 17 }, [], 0, opts).desired, 5);
    assert.equal(
      decide(queue, { ...bounds, current: 0 }, { ...quiet, queueDepth: 1, idleMs: 600_000 }, [], 0, opts).desired,
      1,
      'one job wakes it from zero, however long without HTTP',
    );
    assert.equal(
      decide(rps, { ...bounds, current: 0 }, { ...quiet, queueDepth: 2, idleMs: 600_000 }, [], 0, opts).desired,
      1,
      'so do jobs under another metric',
    );
    const longAgo = [{ at: -400_000, recommended: 1 }]; // the stabilization window has passed
    assert.equal(decide(queue, bounds, { ...quiet, queueDepth: 0, idleMs: 600_000 }, longAgo, 0, opts).desired, 0, 'an empty queue and no requests: to zero');
  });

  test('ConcurrentRequests: the averages for a steady load; what is in flight and held only when it asks for twice the replicas (panic)', () => {
    const conc = { metric: 'ConcurrentRequests' as const, target: 2, time_interval_minutes: 1 };
    const at = (current: number, s: Partial<Signals>) => decide(conc, { min: 0, max: 10, current }, { ...quiet, ...s }, [], 0, opts).desired;
    assert.equal(at(2, { windowConcurrency: 5.2, shortConcurrency: 3 }), 3, 'ceil(5.2 / 2) from the window');
    assert.equal(at(2, { windowConcurrency: 1, shortConcurrency: 7 }), 4, 'the last seconds when higher');
    assert.equal(at(2, { windowConcurrency: 1, inFlight: 5, held: 1 }), 2, 'in flight and held ask for 3, less than twice 2: no panic');
    assert.equal(at(2, { windowConcurrency: 1, inFlight: 4, held: 12 }), 8, 'they ask for 8, twice 2 or more: panic, at once');
    assert.equal(at(0, { held: 1 }), 1, 'a held request wakes it from zero');
  });

  test('a burst scales up at once: ceil(rate / target), within max', () => {
    assert.deepEqual(run([{ at: 0, s: { shortRate: 45, inFlight: 3 } }]), [5]);
    assert.deepEqual(run([{ at: 0, s: { shortRate: 500 } }]), [10], 'clamped to max_replicas');
  });

  test('scale-down waits for the whole stabilization window', () => {
    const steps = [{ at: 0, s: { shortRate: 45, windowRate: 45 } }];
    for (let t = 1000; t <= 301_000; t += 60_000) steps.push({ at: t, s: { shortRate: 5, windowRate: 5 } });
    const out = run(steps);
    assert.equal(out[0], 5);
    assert.ok(
      out.slice(1, -1).every((n) => n === 5),
      `held at 5 inside the window: ${out}`,
    );
    assert.equal(out.at(-1), 1, 'down once the window has passed');
  });

  test('to zero only after the idle grace with nothing in flight or held; never during a rollout', () => {
    assert.deepEqual(run([{ at: 0, s: { idleMs: 10_000 } }], 1, { min: 0, max: 3 }), [1], 'idle, but not long enough');
    const zero = [
      { at: 0, s: { idleMs: 70_000 } },
      { at: 301_000, s: { idleMs: 371_000 } },
    ];
    assert.deepEqual(run(zero, 1, { min: 0, max: 3 }).at(-1), 0);
    assert.deepEqual(run([{ at: 0, s: { idleMs: 70_000, inFlight: 1 } }], 1, { min: 0, max: 3 }), [1], 'a request in flight keeps a replica');
    const rolling = [
      { at: 0, s: { idleMs: 70_000, rollingOut: true } },
      { at: 301_000, s: { idleMs: 371_000, rollingOut: true } },
    ];
    assert.equal(run(rolling, 1, { min: 0, max: 3 }).at(-1), 1);
    assert.deepEqual(run([{ at: 0, s: { idleMs: 70_000 } }], 2, { min: 1, max: 3 }).at(-1), 2, 'min_replicas 1 never goes below 1 (and waits out the window)');
  });

  test('a held request wakes a deployment at zero', () => {
    assert.deepEqual(run([{ at: 0, s: { held: 1, idleMs: 999_999 } }], 0, { min: 0, max: 3 }), [1]);
  });

  test('average duration scales proportionally; the custom metric and queue depth are per replica totals', () => {
    const avg = decide({ metric: 'HTTPAvgRequestDuration', target: 500 }, { min: 1, max: 10, current: 2 }, { ...quiet, shortAvgMs: 1250 }, [], 0, opts);
    assert.equal(avg.desired, 5);
    const custom = decide(
      { metric: 'CustomMetric', target: 4, custom_metric_name: 'vllm:num_requests_running' },
      { min: 1, max: 10, current: 1 },
      { ...quiet, custom: 13 },
      [],
      0,
      opts,
    );
    assert.equal(custom.desired, 4);
    const unknown = decide({ metric: 'CustomMetric', target: 4, custom_metric_name: 'x' }, { min: 1, max: 10, current: 3 }, quiet, [], 0, opts);
    assert.equal(unknown.desired, 3, 'an unreadable metric changes nothing');
  });

  test('Prometheus text: every series of the name is summed, others ignored', () => {
    const text =
      '# HELP vllm:num_requests_running x\n# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{model="a"} 3\nvllm:num_requests_running{model="b"} 2.5 1700000000\nvllm:num_requests_running_total 99\nother 7\n';
    assert.equal(sumSeries(text, 'vllm:num_requests_running'), 5.5);
    assert.equal(sumSeries(text, 'missing'), null);
  });

  test('traffic windows count requests per second and their durations', async () => {
    const clock = new TestClock(1_000_000);
    const t = new Traffic(clock);
    for (let i = 0; i < 10; i++) {
      t.started('d');
      await clock.advance(100);
      t.finished('d', 100);
    }
    const w = t.window('d', 5000);
    assert.equal(w.count, 10);
    assert.equal(w.durationMs / w.count, 100);
    await clock.advance(10_000);
    assert.equal(t.window('d', 5000).count, 0, 'old seconds fall out of the window');
    assert.equal(t.window('d', 60_000).count, 10);
    t.retain(new Set(['other']));
    assert.equal(t.window('d', 60_000).count, 0, 'a deleted deployment leaves nothing behind');
  });
});
