import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestClock } from '../../src/domain/clock.js';
import { TerminalError, WorkQueue } from '../../src/reconciler/work-queue.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('work queue', () => {
  test('a key is never processed twice at once; a change during processing runs it once more', async () => {
    let running = 0;
    let maxRunning = 0;
    let calls = 0;
    let release!: () => void;
    const q = new WorkQueue(
      async () => {
        calls++;
        running++;
        maxRunning = Math.max(maxRunning, running);
        if (calls === 1) await new Promise<void>((r) => (release = r));
        running--;
      },
      { clock: new TestClock() },
    );
    q.add('a');
    q.add('a');
    q.add('a');
    await tick();
    assert.equal(calls, 1);
    release();
    await tick();
    await tick();
    assert.equal(calls, 2, 'the three adds during the first run merge into one more run');
    assert.equal(maxRunning, 1);
    await q.stop();
  });

  test('failures retry with exponential backoff; a success resets it; requeueAfter schedules', async () => {
    const clock = new TestClock();
    let fail = 3;
    const calls: number[] = [];
    const q = new WorkQueue(
      async () => {
        calls.push(clock.nowMs());
        if (fail-- > 0) throw new Error('not yet');
        return { requeueAfterMs: 5000 };
      },
      { clock, backoff: { baseMs: 100, maxMs: 1000 } },
    );
    const t0 = clock.nowMs();
    q.add('k');
    await clock.advance(700);
    assert.deepEqual(
      calls.map((t) => t - t0),
      [0, 100, 300, 700],
      'retried after 100, 200, 400 ms',
    );
    assert.equal(clock.timers, 1);
    await clock.advance(5000);
    assert.equal(calls.at(-1)! - t0, 5700, 'success: requeued after what the handler asked');
    await q.stop();
    assert.equal(clock.timers, 0, 'stop cancels what was scheduled');
  });

  test('at most maxConcurrent keys run at once; the others wait their turn in order', async () => {
    const releases: (() => void)[] = [];
    const started: string[] = [];
    const q = new WorkQueue(
      async (key) => {
        started.push(key);
        await new Promise<void>((r) => releases.push(r));
      },
      { clock: new TestClock(), maxConcurrent: 2 },
    );
    for (const k of ['a', 'b', 'c', 'd']) q.add(k);
    await tick();
    assert.deepEqual(started, ['a', 'b']);
    assert.equal(q.depth, 2);
    releases.shift()!();
    await tick();
    await tick();
    assert.deepEqual(started, ['a', 'b', 'c']);
    while (releases.length) {
      releases.shift()!();
      await tick();
      await tick();
    }
    assert.deepEqual(started, ['a', 'b', 'c', 'd']);
    await q.stop();
  });

  test('a TerminalError is reported and not retried', async () => {
    const clock = new TestClock();
    let calls = 0;
    const errors: unknown[] = [];
    const q = new WorkQueue(
      async () => {
        calls++;
        throw new TerminalError('cannot ever work');
      },
      { clock, onError: (_k, err) => errors.push(err) },
    );
    q.add('k');
    await clock.advance(60_000);
    assert.equal(calls, 1);
    assert.equal(errors.length, 1);
    assert.equal(clock.timers, 0);
    await q.stop();
  });
});
