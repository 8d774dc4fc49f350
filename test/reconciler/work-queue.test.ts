import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkQueue, type Scheduler } from '../../src/reconciler/work-queue.js';

/** A scheduler the test steps by hand: no sleeping. */
function manualScheduler() {
  let now = 0;
  const timers: { at: number; fn: () => void; id: number }[] = [];
  let next = 0;
  const s: Scheduler & { advance(ms: number): void; pending(): number[] } = {
    setTimeout: (fn, ms) => {
      const id = ++next;
      timers.push({ at: now + ms, fn, id });
      return id;
    },
    clearTimeout: (id) => {
      const i = timers.findIndex((t) => t.id === id);
      if (i >= 0) timers.splice(i, 1);
    },
    advance(ms) {
      now += ms;
      for (const t of timers.filter((t) => t.at <= now)) {
        timers.splice(timers.indexOf(t), 1);
        t.fn();
      }
    },
    pending: () => timers.map((t) => t.at - now),
  };
  return s;
}

const tick = () => new Promise((r) => setImmediate(r));

describe('work queue', () => {
  test('a key is never processed twice at once; a change during processing runs it once more', async () => {
    let running = 0;
    let maxRunning = 0;
    let calls = 0;
    let release!: () => void;
    const q = new WorkQueue(async () => {
      calls++;
      running++;
      maxRunning = Math.max(maxRunning, running);
      if (calls === 1) await new Promise<void>((r) => (release = r));
      running--;
    }, manualScheduler());
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
    const s = manualScheduler();
    let fail = 3;
    let calls = 0;
    const q = new WorkQueue(async () => {
      calls++;
      if (fail-- > 0) throw new Error('not yet');
      return { requeueAfterMs: 5000 };
    }, s, () => {}, { baseMs: 100, maxMs: 1000 });
    q.add('k');
    await tick();
    assert.deepEqual(s.pending(), [100]);
    s.advance(100);
    await tick();
    assert.deepEqual(s.pending(), [200]);
    s.advance(200);
    await tick();
    assert.deepEqual(s.pending(), [400]);
    s.advance(400);
    await tick();
    assert.equal(calls, 4);
    assert.deepEqual(s.pending(), [5000], 'success: requeued after what the handler asked');
    await q.stop();
    assert.deepEqual(s.pending(), [], 'stop cancels what was scheduled');
  });
});
