import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildApp } from '../../src/app.js';
import { sqlite } from '../helpers/engines.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import type { FastifyInstance } from 'fastify';

/** Per-key limits: API requests per second, and queue long polls held open at once. */
describe('per-key rate limits', () => {
  let t: TestApp;
  let app: FastifyInstance;
  let url: string;
  before(async () => {
    t = await startTestApp(sqlite);
    app = await buildApp({ ...t.parts, rateLimits: { requestsPerSecond: 5, longPolls: 2 } });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
    await t.call('POST', '/v1/deployments', { body: { name: 'q', image: 'img:1', gpu_type: 'none' } });
  });
  after(async () => {
    await app?.close();
    await t?.close();
  });
  const get = (path: string, key: string) => fetch(url + path, { headers: { authorization: `Bearer ${key}` } });

  test('over the rate a key gets 429 with Retry-After in Together’s shape; another key is not affected', async () => {
    const other = (await t.keyFor('other')).key;
    // Twenty at once: at most five per one-second window get through, whatever the window's edge.
    const answers = await Promise.all(Array.from({ length: 20 }, () => get('/v1/deployments', t.adminKey)));
    const statuses = answers.map((r) => r.status);
    assert.ok(statuses.filter((s) => s === 200).length <= 10 && statuses.includes(429), statuses.join(','));
    const refused = answers.find((r) => r.status === 429);
    assert.ok(Number(refused!.headers.get('retry-after')) >= 1);
    const body = (await refused!.json()) as { error: { type: string; message: string } };
    assert.equal(body.error.type, 'rate_limit_exceeded');
    assert.match(body.error.message, /more than 5 requests in a second/);
    assert.equal((await get('/v1/deployments', other)).status, 200, 'limits are per key');
    // Without a valid key the limit is never reached: the request is a 401 before it is counted.
    assert.equal((await get('/v1/deployments', 'not-a-key')).status, 401);
  });

  test('a key may hold two long polls; a third is a 429 until one ends', async () => {
    const worker = (await t.keyFor('pollers')).key;
    await fetch(url + '/v1/deployments', {
      method: 'POST',
      headers: { authorization: `Bearer ${worker}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'polled', image: 'img:1', gpu_type: 'none' }),
    });
    const poll = () => get('/internal/v1/queue/retrieve?model=polled&timeout=3s', worker);
    const first = poll();
    const second = poll();
    await new Promise((r) => setTimeout(r, 300));
    const third = await poll();
    assert.equal(third.status, 429);
    assert.equal(third.headers.get('retry-after'), '1');
    assert.equal((await first).status, 200);
    await (await second).arrayBuffer();
    assert.equal((await poll()).status, 200, 'a slot is free again once a poll ends');
  });
});
