import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestClock } from '../../src/domain/clock.js';
import type { ReplicaState } from '../../src/contract/runtime.js';
import { RoutingTable } from '../../src/gateway/routing-table.js';

const replica = (id: string, status: ReplicaState['status'] = 'Running'): ReplicaState => ({
  id,
  deploymentId: 'dep_1',
  revisionId: 'r',
  image: 'i',
  status,
  readySince: status === 'Running' ? '2026-01-01T00:00:00Z' : null,
  address: `127.0.0.1:${id === 'a' ? 1 : 2}`,
  restarts: 0,
});

test('a drained replica takes no new request, is waited for until its last one ends (or the limit), and stays out until it is gone', async () => {
  const clock = new TestClock();
  const table = new RoutingTable({ maxHeld: 1, maxWaitMs: 1000 }, clock);
  table.update('p', 'web', 'dep_1', [replica('a'), replica('b')]);
  const route = table.lookup('p', 'web')!;
  const signal = new AbortController().signal;
  const onA = [await table.acquire(route, signal), await table.acquire(route, signal)].find((u) => u.replicaId === 'a')!;

  let drained = false;
  void table.drain('dep_1', 'a', 60_000).then(() => (drained = true));
  for (let i = 0; i < 4; i++) assert.equal((await table.acquire(route, signal)).replicaId, 'b', 'no new request goes to a');
  table.update('p', 'web', 'dep_1', [replica('a'), replica('b')]);
  assert.deepEqual(
    route.upstreams.map((u) => u.replicaId),
    ['b'],
    'an update while it stops does not bring it back',
  );
  await clock.advance(0);
  assert.equal(drained, false, 'a request is still in flight on a');
  table.release(onA);
  await clock.advance(0);
  assert.equal(drained, true, 'its last request ended');

  table.update('p', 'web', 'dep_1', [replica('a', 'Terminated'), replica('b')]);
  table.update('p', 'web', 'dep_1', [replica('a'), replica('b')]);
  assert.deepEqual(route.upstreams.map((u) => u.replicaId).sort(), ['a', 'b'], 'a replica of that id observed again later routes again');

  const onB = await table.acquire(route, signal);
  let timedOut = false;
  void table.drain('dep_1', onB.replicaId, 5_000).then(() => (timedOut = true));
  await clock.advance(4_999);
  assert.equal(timedOut, false);
  await clock.advance(1);
  assert.equal(timedOut, true, 'a request that never ends holds the stop at most maxMs');
});

test('with a capacity, a replica gets at most that many requests at once; the rest wait for the first with room, a new replica included', async () => {
  const clock = new TestClock();
  const table = new RoutingTable({ maxHeld: 10, maxWaitMs: 10_000 }, clock);
  table.update('p', 'web', 'dep_1', [replica('a')], 1);
  const route = table.lookup('p', 'web')!;
  const signal = new AbortController().signal;
  const first = await table.acquire(route, signal);
  assert.equal(first.replicaId, 'a');
  const got: string[] = [];
  const second = table.acquire(route, signal).then((u) => (got.push(u.replicaId), u));
  const third = table.acquire(route, signal).then((u) => (got.push(u.replicaId), u));
  await clock.advance(0);
  assert.deepEqual(got, [], 'a is at its capacity: both wait');
  assert.equal(table.held('dep_1'), 2);
  table.update('p', 'web', 'dep_1', [replica('a'), replica('b')], 1);
  await clock.advance(0);
  assert.deepEqual(got, ['b'], 'a replica that becomes ready takes one');
  table.release(first);
  await clock.advance(0);
  assert.deepEqual(got, ['b', 'a'], 'the place a request leaves goes to the next waiting');
  await Promise.all([second, third]);
  table.update('p', 'web', 'dep_1', [replica('a'), replica('b')]);
  assert.equal((await table.acquire(route, signal)).replicaId.length, 1, 'without a capacity, no limit');
});
