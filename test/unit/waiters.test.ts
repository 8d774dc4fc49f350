import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Waiters } from '../../src/queue/waiters.js';

/** The queue's wake-ups: workers long-polling a queue are woken by a new job, not by a timer. */
describe('queue waiters', () => {
  const never = new AbortController().signal;
  const settled = async (p: Promise<void>) => Promise.race([p.then(() => true), new Promise<boolean>((r) => setImmediate(() => r(false)))]);

  test('a job wakes the oldest waiter only, at once', async () => {
    const w = new Waiters();
    const first = w.wait('q', w.version('q'), 60_000, never);
    const second = w.wait('q', w.version('q'), 60_000, never);
    w.notify('q');
    assert.equal(await settled(first), true);
    assert.equal(await settled(second), false, 'one job, one wake-up');
    w.notify('q');
    assert.equal(await settled(second), true);
  });

  test("a job that arrived between a worker's empty claim and its wait is not missed", async () => {
    const w = new Waiters();
    const seen = w.version('q'); // the worker's claim found nothing…
    w.notify('q'); // …a job arrives before it waits
    assert.equal(await settled(w.wait('q', seen, 60_000, never)), true);
  });

  test('other queues do not wake it; a worker that leaves stops waiting', async () => {
    const w = new Waiters();
    const leaving = new AbortController();
    const waiting = w.wait('q', w.version('q'), 60_000, leaving.signal);
    w.notify('other');
    assert.equal(await settled(waiting), false);
    leaving.abort();
    assert.equal(await settled(waiting), true);
    const next = w.wait('q', w.version('q'), 60_000, never);
    w.notify('q');
    assert.equal(await settled(next), true, 'the wake-up went to a waiter still there');
  });
});
