import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LeaderLease } from '../../src/cluster/leader-lease.js';
import { TestClock } from '../../src/domain/clock.js';
import { openDatabase } from '../../src/store/database.js';
import { Store } from '../../src/store/store.js';
import { engines } from '../helpers/engines.js';

const LEASE_MS = 3000;

/**
 * The leader lease on both engines, on a test clock: one leader at a time, a clean stop hands
 * over at once, and a leader that stops renewing stops acting before anyone else may start.
 */
for (const engine of engines) {
  describe(`leader lease on ${engine.name}`, { skip: engine.skip }, () => {
    const withLeases = async (fn: (a: LeaderLease, b: LeaderLease, clock: TestClock, changes: string[]) => Promise<void>) => {
      const db = await engine.create();
      const store = new Store(await openDatabase(db.url));
      const clock = new TestClock();
      const changes: string[] = [];
      const make = (holder: string) => {
        const lease = new LeaderLease({ store: store.cluster, clock, holder, url: () => `http://${holder}`, leaseMs: LEASE_MS });
        lease.onChange((leading) => changes.push(`${holder} ${leading ? 'leads' : 'follows'}`));
        return lease;
      };
      const a = make('a');
      const b = make('b');
      try {
        await fn(a, b, clock, changes);
      } finally {
        await store.close();
        await db.drop();
      }
    };

    test('the first to start leads; the other follows while the leader renews', () =>
      withLeases(async (a, b, clock, changes) => {
        // Stepped by hand: the test decides who runs when.
        await a.tick();
        await b.tick();
        assert.ok(a.holds() && !b.holds());
        assert.equal(b.leaderUrl(), 'http://a', 'a follower knows where the leader is');
        for (let i = 0; i < 10; i++) {
          await clock.advance(LEASE_MS / 3);
          await a.tick();
          await b.tick();
        }
        assert.ok(a.holds() && !b.holds(), 'a renewed lease is never taken');
        assert.deepEqual(changes, ['a leads']);
      }));

    test('a leader that stops renewing stops acting before the other may take over, and learns it lost', () =>
      withLeases(async (a, b, clock, changes) => {
        // Stepped by hand: the test decides who runs when.
        await a.tick();
        await b.tick();
        // a stalls (SIGSTOP, a hung database): b keeps looking and sees no renewal.
        await clock.advance(LEASE_MS / 3);
        await a.tick();
        await b.tick();
        let aStopped: number | null = null;
        let bLeads: number | null = null;
        for (let t = 0; t < 3 * LEASE_MS && bLeads === null; t += 100) {
          await clock.advance(100);
          if (aStopped === null && !a.holds()) aStopped = clock.nowMs();
          if (t % 1000 === 0) await b.tick();
          if (b.holds()) bLeads = clock.nowMs();
        }
        assert.ok(aStopped !== null && bLeads !== null, 'b took over');
        assert.ok(aStopped < bLeads, `a stopped acting (${aStopped}) before b led (${bLeads})`);
        assert.ok(bLeads - aStopped >= LEASE_MS / 4 - 100, 'by a margin');
        // a runs again: its renewal fails, and its duties are told (holds() had been false all along).
        await a.tick();
        assert.ok(!a.holds() && b.holds());
        assert.deepEqual(changes, ['a leads', 'b leads', 'a follows']);
      }));

    test('a clean stop gives the lease up: the other takes it at its next step', () =>
      withLeases(async (a, b) => {
        // Stepped by hand: the test decides who runs when.
        await a.tick();
        await b.tick();
        await a.stop();
        assert.ok(!a.holds());
        await b.tick();
        assert.ok(b.holds(), 'no lease-long wait after a clean stop');
        await b.stop();
      }));
  });
}
