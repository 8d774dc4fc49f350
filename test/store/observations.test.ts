import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalBus } from '../../src/cluster/bus.js';
import { Observations } from '../../src/cluster/observations.js';
import { TestClock } from '../../src/domain/clock.js';
import { RoutingTable } from '../../src/gateway/routing-table.js';
import { openDatabase } from '../../src/store/database.js';
import { Store } from '../../src/store/store.js';
import { sqlite } from '../helpers/engines.js';

/**
 * What the leader observes reaches another instance's (or gateway worker's) routing table
 * through the store: the ready replicas, and how many requests a replica takes at once.
 */
test("a follower's routes get the leader's ready replicas and their capacity, and lose them when they stop", async () => {
  const db = await sqlite.create();
  const store = new Store(await openDatabase(db.url));
  try {
    const clock = new TestClock();
    const bus = new LocalBus();
    const leader = new Observations(store.cluster, bus, new RoutingTable({ maxHeld: 10, maxWaitMs: 60_000 }, clock), clock, () => {});
    const routes = new RoutingTable({ maxHeld: 10, maxWaitMs: 60_000 }, clock);
    const follower = new Observations(store.cluster, bus, routes, clock, () => {});
    await follower.follow();
    const replica = {
      id: 'r1',
      deploymentId: 'dep_1',
      revisionId: 'rev',
      image: 'i',
      status: 'Running' as const,
      readySince: '2026-01-01T00:00:00Z',
      address: '127.0.0.1:9',
      restarts: 0,
    };
    await leader.publish('proj', 'web', 'dep_1', [replica], 1);
    await clock.advance(0);
    const route = routes.lookup('proj', 'web')!;
    assert.deepEqual(
      route.upstreams.map((u) => u.address),
      ['127.0.0.1:9'],
    );
    assert.equal(route.capacity, 1, 'the capacity goes with the replicas');
    const signal = new AbortController().signal;
    await routes.acquire(route, signal);
    let second = false;
    void routes.acquire(route, signal).then(() => (second = true));
    await clock.advance(0);
    assert.equal(second, false, 'a second request waits for room, as on the leader');
    assert.deepEqual(follower.replicas('dep_1'), [replica]);

    await leader.leaving('dep_1', 'r1');
    await clock.advance(0);
    assert.deepEqual(route.upstreams, [], 'a replica about to stop leaves the follower first');
    await leader.publish('proj', 'web', 'dep_1', []);
    await clock.advance(0);
    assert.deepEqual(follower.deployments(), []);
    follower.stopFollowing();
  } finally {
    await store.close();
    await db.drop();
  }
});
