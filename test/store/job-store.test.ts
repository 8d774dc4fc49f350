import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { engines, sqlite } from '../helpers/engines.js';
import { openDatabase } from '../../src/store/database.js';
import { Store } from '../../src/store/store.js';
import { pendingJob } from '../helpers/jobs.js';

const now = '2026-01-01T00:00:00.000Z';

const job = (id: string, priority: number, model = 'q') =>
  pendingJob(id, { project_id: 'proj_1', model, priority, payload: JSON.stringify({ id, quote: 'a "b" \\ c' }) });

// The queue writes submits, claims and ends in batches (one statement per batch); these are
// the batches' rules, on both engines, below the HTTP tests that cover one job at a time.
for (const engine of engines) {
  describe(`job batches on ${engine.name}`, { skip: engine.skip }, () => {
    async function withJobs(fn: (s: Store) => Promise<void>) {
      const db = await engine.create();
      const store = new Store(await openDatabase(db.url));
      try {
        await store.ensureProject({ id: 'proj_1', name: 'p', created_at: now });
        await fn(store);
      } finally {
        await store.close();
        await db.drop();
      }
    }

    test('a batch of claims takes the highest priority first, then the oldest, each claim with its own worker and deadline', async () => {
      await withJobs(async (store) => {
        // Ids sort by submit time (UUIDv7 in Gantry); these sort as their names.
        await store.jobs.insertMany([job('j1', 0), job('j2', 5), job('j3', 0), job('j4', 5), job('other', 9, 'another-queue')]);
        assert.equal((await store.jobs.get('proj_1', 'q', 'j1'))!.payload, JSON.stringify({ id: 'j1', quote: 'a "b" \\ c' }), 'payload stored as sent');
        const claims = [
          { hostname: 'w1', timeoutS: 30, atMs: 1_000 },
          { hostname: 'w2', timeoutS: null, atMs: 1_000 },
          { hostname: 'w3', timeoutS: 90, atMs: 2_000 },
        ];
        const got = await store.jobs.claimMany('proj_1', 'q', claims, now);
        assert.deepEqual(
          got.map((j) => [j?.id, j?.status, j?.claimed_by, j?.claim_timeout_s, j?.claim_expires_at === null ? null : Number(j?.claim_expires_at)]),
          [
            ['j2', 'running', 'w1', 30, 31_000],
            ['j4', 'running', 'w2', null, null],
            ['j1', 'running', 'w3', 90, 92_000],
          ],
        );
        // Past the queue's end a claim gets nothing; the other queue's job is not taken.
        const rest = await store.jobs.claimMany('proj_1', 'q', claims, now);
        assert.deepEqual(
          rest.map((j) => j?.id),
          ['j3', undefined, undefined],
        );
        assert.equal((await store.jobs.get('proj_1', 'another-queue', 'other'))!.status, 'pending');
      });
    });

    test('a batch of ends ends running jobs of their queue only, each once, and says which it did not', async () => {
      await withJobs(async (store) => {
        await store.jobs.insertMany([job('j1', 0), job('j2', 0), job('j3', 0), job('pending', -1)]);
        await store.jobs.claimMany(
          'proj_1',
          'q',
          [1, 2, 3].map(() => ({ hostname: 'w', timeoutS: 60, atMs: 0 })),
          now,
        );
        const end = (id: string, status: 'done' | 'failed', model = 'q') => ({
          id,
          project_id: 'proj_1',
          model,
          status,
          outputs: status === 'done' ? `{"r":"${id}"}` : null,
          done_at: now,
        });
        const got = await store.jobs.finishMany([
          end('j1', 'done'),
          end('j2', 'failed'),
          end('j1', 'failed'),
          end('j3', 'done', 'wrong-queue'),
          end('pending', 'done'),
        ]);
        assert.deepEqual(
          got.map((j) => j && [j.id, j.status, j.outputs, j.claim_expires_at]),
          [['j1', 'done', '{"r":"j1"}', null], ['j2', 'failed', null, null], undefined, undefined, undefined],
        );
        const stored = async (id: string) => (await store.jobs.get('proj_1', 'q', id))!.status;
        assert.deepEqual(await Promise.all(['j1', 'j2', 'j3', 'pending'].map(stored)), ['done', 'failed', 'running', 'pending']);
      });
    });

    test('a table that outgrew its statistics is analyzed once (PostgreSQL plans claims from them)', async () => {
      await withJobs(async (store) => {
        assert.deepEqual(await store.refreshStatistics(), [], 'empty tables');
        await store.jobs.insertMany(Array.from({ length: 3000 }, (_, i) => job(`j${String(i).padStart(5, '0')}`, 0)));
        if (engine.name === 'sqlite') return assert.deepEqual(await store.refreshStatistics(), [], 'SQLite plans without statistics');
        // PostgreSQL counts live rows a moment after the commit.
        let analyzed: string[] = [];
        for (let i = 0; i < 50 && !analyzed.length; i++) {
          analyzed = await store.refreshStatistics();
          if (!analyzed.length) await new Promise((r) => setTimeout(r, 100));
        }
        assert.deepEqual(analyzed, ['jobs'], '3,000 jobs against statistics of none');
        assert.deepEqual(await store.refreshStatistics(), [], 'counted now: not again');
      });
    });
  });
}

// SQLite's checkpoints run on a thread of their own (store/sqlite.ts), not inside a commit on
// the event loop: what is committed still reaches the database file while Gantry runs.
test('SQLite: committed rows reach the database file while it is open, copied from the WAL off the event loop', async () => {
  const db = await sqlite.create();
  const path = db.url.slice('sqlite:'.length);
  const store = new Store(await openDatabase(db.url));
  try {
    await store.ensureProject({ id: 'proj_1', name: 'p', created_at: now });
    const before = statSync(path).size;
    await store.jobs.insertMany(Array.from({ length: 3000 }, (_, i) => job(`j${i}`, 0)));
    assert.equal((await store.db.get<{ wal_autocheckpoint: number }>('PRAGMA wal_autocheckpoint'))?.wal_autocheckpoint, 0, 'no checkpoint inside a commit');
    let grown = false;
    for (let i = 0; i < 100 && !grown; i++) {
      grown = statSync(path).size > before + 500_000;
      if (!grown) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(grown, `the database file grew from ${before} bytes to ${statSync(path).size}`);
  } finally {
    await store.close();
    await db.drop();
  }
});
