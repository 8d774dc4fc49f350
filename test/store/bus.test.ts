import { test } from 'node:test';
import assert from 'node:assert/strict';
import { postgres } from '../helpers/engines.js';
import { openDatabase } from '../../src/store/database.js';
import { Store } from '../../src/store/store.js';
import { PostgresBus } from '../../src/cluster/bus.js';
import { systemClock } from '../../src/domain/clock.js';

// Notifications go out in batches, and PostgreSQL delivers identical notifications of one
// statement once: each must still count, since each "a job came" wakes one waiting worker.
test(
  'PostgreSQL bus: messages published together reach another instance as often as they were sent, and the sender once',
  { skip: postgres.skip },
  async () => {
    const db = await postgres.create();
    const store = new Store(await openDatabase(db.url));
    const open = (name: string) =>
      PostgresBus.open(
        db.url,
        name,
        (m) => store.cluster.notify(m),
        systemClock,
        () => {},
      );
    const [a, b] = [await open('a'), await open('b')];
    try {
      const got = { a: [] as string[], b: [] as string[] };
      a.subscribe('jobs', (key) => got.a.push(key));
      b.subscribe('jobs', (key) => got.b.push(key));
      b.subscribe('changed', (id) => got.b.push(`changed ${id}`));
      for (const key of ['p/q', 'p/q', 'p/other', 'p/q']) a.publish('jobs', key);
      a.publish('changed', 'dep_1');
      const deadline = Date.now() + 10_000;
      while (got.b.length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 200)); // nothing more comes
      assert.deepEqual([...got.b].sort(), ['changed dep_1', 'p/other', 'p/q', 'p/q', 'p/q']);
      assert.deepEqual(got.a, ['p/q', 'p/q', 'p/other', 'p/q'], 'delivered in the sender at once, not again from PostgreSQL');
    } finally {
      await a.close();
      await b.close();
      await store.close();
      await db.drop();
    }
  },
);
