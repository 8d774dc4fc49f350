import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Batcher } from '../../src/domain/batcher.js';

/** Group commit, as the queue's submits, claims and ends of jobs use it. */
describe('batcher', () => {
  /** A write that records its batches and is held open until `release` is called. */
  function recorder() {
    const batches: number[][] = [];
    let release = () => {};
    const write = async (items: number[]) => {
      batches.push(items);
      await new Promise<void>((r) => (release = r));
      return items.map((i) => i * 10);
    };
    return { batches, write, release: () => release() };
  }

  test('calls of one turn are one write; calls during a write are the next one; each gets its own answer', async () => {
    const r = recorder();
    const b = new Batcher(r.write);
    const first = [b.add(1), b.add(2), b.add(3)];
    await new Promise((done) => setImmediate(done));
    assert.deepEqual(r.batches, [[1, 2, 3]]);
    const second = [b.add(4), b.add(5)];
    await new Promise((done) => setImmediate(done));
    assert.deepEqual(r.batches, [[1, 2, 3]], 'one write at a time');
    r.release();
    assert.deepEqual(await Promise.all(first), [10, 20, 30]);
    await new Promise((done) => setImmediate(done));
    assert.deepEqual(r.batches, [
      [1, 2, 3],
      [4, 5],
    ]);
    r.release();
    assert.deepEqual(await Promise.all(second), [40, 50]);
  });

  test('a batch is at most `max` calls; a failed write rejects its calls only', async () => {
    let fail = true;
    const batches: number[][] = [];
    const b = new Batcher(async (items: number[]) => {
      batches.push(items);
      if (fail) {
        fail = false;
        throw new Error('disk full');
      }
      return items;
    }, 2);
    const calls = [1, 2, 3].map((i) =>
      b.add(i).then(
        (v) => `ok ${v}`,
        (e: Error) => e.message,
      ),
    );
    assert.deepEqual(await Promise.all(calls), ['disk full', 'disk full', 'ok 3']);
    assert.deepEqual(batches, [[1, 2], [3]]);
  });
});
