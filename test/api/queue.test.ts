import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { engines } from '../helpers/engines.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { SteppedClock } from '../helpers/clock.js';

/**
 * The queue API (`/v1/queue/*`) and the worker protocol (`/internal/v1/*`) over HTTP on both
 * store engines; the worker side is driven the way Together's sprocket library calls it.
 */
for (const engine of engines) {
  describe(`queue on ${engine.name}`, { skip: engine.skip }, () => {
    let t: TestApp;
    // Moved forward by hand, so lapsed claims need no sleeping.
    const clock = new SteppedClock();
    before(async () => {
      t = await startTestApp(engine, {
        wire: (ctx) => (ctx.clock = clock),
      });
      for (const name of ['jobs', 'other'])
        assert.equal((await t.call('POST', '/v1/deployments', { body: { name, image: 'img:1', gpu_type: 'h100-80gb' } })).status, 200);
    });
    after(async () => t?.close());

    const submit = async (body: object) => {
      const r = await t.call('POST', '/v1/queue/submit', { body: { model: 'jobs', ...body } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.requestId as string;
    };
    const retrieve = (query: string) => t.call('GET', `/internal/v1/queue/retrieve?model=jobs&hostname=w1&${query}`);
    const report = (body: object) => t.call('POST', '/internal/v1/videos/status', { body: { model: 'jobs', ...body } });
    const status = async (id: string) => (await t.call('GET', `/v1/queue/status?model=jobs&request_id=${id}`)).body;

    test('submit answers a UUIDv7 requestId; status shows the job pending with its inputs and info', async () => {
      const id = await submit({ payload: { prompt: 'a cat' }, info: { user: 'u1' }, priority: 2 });
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      const s = await status(id);
      assert.equal(s.status, 'pending');
      assert.deepEqual(s.inputs, { prompt: 'a cat' });
      assert.deepEqual(s.info, { user: 'u1' });
      assert.equal(s.priority, 2);
      assert.equal(s.retries, 0);
      assert.equal((await t.call('POST', '/v1/queue/clear', { body: { model: 'jobs' } })).body.canceled_count, 1);
    });

    test('workers get jobs in strict priority order, FIFO within a priority', async () => {
      const low1 = await submit({ payload: { n: 'low1' } });
      const high = await submit({ payload: { n: 'high' }, priority: 10 });
      const low2 = await submit({ payload: { n: 'low2' } });
      const mid = await submit({ payload: { n: 'mid' }, priority: 5 });
      const order: string[] = [];
      for (let i = 0; i < 4; i++) {
        const r = await retrieve('timeout=1s&claim_timeout=60');
        assert.equal(r.status, 200);
        order.push(r.body.data.request_id);
        assert.equal(r.body.data.status, 'running');
        assert.ok(r.body.data.payload.n, 'the worker reads payload');
        assert.equal((await report({ request_id: r.body.data.request_id, status: 'done', payload: { ok: true } })).status, 200);
      }
      assert.deepEqual(order, [high, mid, low1, low2]);
      const empty = await retrieve('timeout=100ms');
      assert.equal(empty.status, 200);
      assert.equal(empty.body.data, null, 'no job: no data once the wait ends');
      // Older worker libraries poll the same queue under its former path.
      const old = await submit({ payload: { n: 'old path' } });
      assert.equal((await t.call('GET', '/internal/v1/rabbitmq/retrieve?model=jobs&timeout=1s&claim_timeout=60')).body.data?.request_id, old);
      await report({ request_id: old, status: 'done', payload: {} });
    });

    test('a worker already waiting gets a job submitted while it waits', async () => {
      const waiting = retrieve('timeout=10s&claim_timeout=60');
      await new Promise((r) => setTimeout(r, 200));
      const id = await submit({ payload: { n: 'late' } });
      const r = await waiting;
      assert.equal(r.body.data?.request_id, id);
      await report({ request_id: id, status: 'done', payload: {} });
    });

    test('running merges info and extends the claim; done stores outputs; failed is final; reports to a finished job are 409', async () => {
      const id = await submit({ payload: { n: 1 }, info: { user: 'u1' } });
      assert.equal((await retrieve('timeout=1s&claim_timeout=30')).body.data.request_id, id);
      const running = await report({ request_id: id, status: 'running', info: { progress: 0.5 } });
      assert.equal(running.status, 200, JSON.stringify(running.body));
      assert.deepEqual((await status(id)).info, { user: 'u1', progress: 0.5 });
      assert.equal((await report({ request_id: id, status: 'done', payload: { url: 'x' }, info: { progress: 1 } })).status, 200);
      const done = await status(id);
      assert.equal(done.status, 'done');
      assert.deepEqual(done.outputs, { url: 'x' });
      assert.deepEqual(done.info, { user: 'u1', progress: 1 });
      assert.ok(done.claimed_at && done.done_at);
      const again = await report({ request_id: id, status: 'done', payload: { url: 'y' } });
      assert.equal(again.status, 409);
      assert.equal(again.body.code, 'job_not_running');
      assert.deepEqual((await status(id)).outputs, { url: 'x' }, 'a job completes once');

      const bad = await submit({ payload: { n: 2 } });
      await retrieve('timeout=1s&claim_timeout=30');
      await report({ request_id: bad, status: 'failed', payload: {}, info: { error: "ValueError('boom')" } });
      const failed = await status(bad);
      assert.equal(failed.status, 'failed');
      assert.equal(failed.info.error, "ValueError('boom')");
      clock.step(3_600_000);
      await t.parts.queue.sweep();
      assert.equal((await status(bad)).status, 'failed', 'a failed job is never retried');
      assert.equal((await retrieve('timeout=100ms')).body.data, null);
    });

    test('finished jobs are deleted once their retention (7 days) has passed; pending and running ones stay', async () => {
      const done = await submit({ payload: { n: 'old' } });
      const claimed = await retrieve('timeout=1s&claim_timeout=30');
      assert.equal(claimed.body.data.request_id, done);
      await report({ request_id: done, status: 'done', payload: { ok: true } });
      const canceled = await submit({ payload: { n: 'canceled' } });
      assert.equal((await t.call('POST', '/v1/queue/cancel', { body: { model: 'jobs', request_id: canceled } })).status, 200);
      const waiting = await submit({ payload: { n: 'still waiting' } });
      clock.step(6 * 24 * 3_600_000);
      await t.parts.queue.sweep();
      assert.equal((await status(done)).status, 'done', 'kept within the retention');
      clock.step(24 * 3_600_000 + 60_000);
      await t.parts.queue.sweep();
      for (const id of [done, canceled]) {
        const gone = await t.call('GET', `/v1/queue/status?model=jobs&request_id=${id}`);
        assert.equal(gone.status, 404, `${id} outlived its retention`);
      }
      assert.equal((await status(waiting)).status, 'pending', 'a pending job is never deleted');
      assert.equal((await t.call('POST', '/v1/queue/cancel', { body: { model: 'jobs', request_id: waiting } })).status, 200);
    });

    test('a claim without status updates goes back with retries + 1; after 3 retries the job fails for good', async () => {
      const id = await submit({ payload: { n: 'flaky' } });
      for (let attempt = 0; attempt <= 3; attempt++) {
        const r = await retrieve('timeout=1s&claim_timeout=5');
        assert.equal(r.body.data?.request_id, id, `claimed again on attempt ${attempt}`);
        assert.equal(r.body.data.retries, attempt);
        // A heartbeat within the timeout keeps the claim.
        clock.step(4_000);
        await report({ request_id: id, status: 'running' });
        clock.step(4_000);
        await t.parts.queue.sweep();
        assert.equal((await status(id)).status, 'running', 'refreshed by the heartbeat');
        clock.step(2_000);
        await t.parts.queue.sweep();
      }
      const s = await status(id);
      assert.equal(s.status, 'failed');
      assert.equal(s.retries, 3);
      assert.match(s.info.error, /claim lapsed 4 times/);
    });

    test('cancel takes pending jobs only (409 with the unchanged status otherwise); clear cancels every pending job; metrics count', async () => {
      const a = await submit({ payload: {} });
      const b = await submit({ payload: {} });
      const c = await submit({ payload: {} });
      const claimed = (await retrieve('timeout=1s&claim_timeout=60')).body.data.request_id;
      assert.equal(claimed, a);
      const metrics = await t.call('GET', '/v1/queue/metrics?model=jobs');
      assert.deepEqual(metrics.body, { messages_running: 1, messages_waiting: 2, total_jobs: 3 });

      const refused = await t.call('POST', '/v1/queue/cancel', { body: { model: 'jobs', request_id: a } });
      assert.equal(refused.status, 409);
      assert.deepEqual(refused.body, { status: 'running' });
      const canceled = await t.call('POST', '/v1/queue/cancel', { body: { model: 'jobs', request_id: b } });
      assert.equal(canceled.status, 200);
      assert.deepEqual(canceled.body, { status: 'canceled' });
      assert.equal((await t.call('POST', '/v1/queue/clear', { body: { model: 'jobs' } })).body.canceled_count, 1);
      assert.equal((await status(c)).status, 'canceled');
      await report({ request_id: a, status: 'done', payload: {} });
      assert.deepEqual((await t.call('GET', '/v1/queue/metrics?model=jobs')).body, { messages_running: 0, messages_waiting: 0, total_jobs: 0 });
    });

    test('errors are flat QueueError bodies naming the field; queues are per deployment and project', async () => {
      const missing = await t.call('POST', '/v1/queue/submit', { body: { model: 'jobs' } });
      assert.equal(missing.status, 400);
      assert.equal(missing.body.param, 'payload');
      assert.equal(missing.body.type, 'invalid_request_error');
      assert.equal(missing.body.error, undefined, 'not wrapped in "error"');
      const huge = await t.call('POST', '/v1/queue/submit', { body: { model: 'jobs', payload: {}, info: { notes: 'x'.repeat(70 * 1024) } } });
      assert.equal(huge.status, 400);
      assert.equal(huge.body.param, 'info');
      const unknown = await t.call('POST', '/v1/queue/submit', { body: { model: 'nope', payload: {} } });
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.type, 'not_found_error');
      const noKey = await t.call('GET', '/v1/queue/metrics?model=jobs', { key: null });
      assert.equal(noKey.status, 401);
      assert.equal(noKey.body.type, 'authentication_error');
      const badTimeout = await retrieve('timeout=soon');
      assert.equal(badTimeout.status, 400);
      assert.equal(badTimeout.body.param, 'timeout');

      const id = await submit({ payload: { secret: 'mine' } });
      assert.equal((await t.call('GET', `/v1/queue/status?model=other&request_id=${id}`)).status, 404, 'another queue does not see the job');
      const stranger = (await t.keyFor('stranger')).key;
      assert.equal((await t.call('GET', `/v1/queue/status?model=jobs&request_id=${id}`, { key: stranger })).status, 404, 'another project does not see it');
      assert.equal((await t.call('GET', '/internal/v1/queue/retrieve?model=jobs&timeout=100ms', { key: stranger })).status, 404);
      await t.call('POST', '/v1/queue/clear', { body: { model: 'jobs' } });
    });

    test('concurrent workers never get the same job', async () => {
      const ids = new Set<string>();
      for (let i = 0; i < 40; i++) ids.add(await submit({ payload: { i } }));
      const got: string[] = [];
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          for (;;) {
            const r = await retrieve('timeout=200ms&claim_timeout=60');
            if (!r.body.data) return;
            got.push(r.body.data.request_id);
            await report({ request_id: r.body.data.request_id, status: 'done', payload: {} });
          }
        }),
      );
      assert.equal(got.length, 40);
      assert.deepEqual(new Set(got), ids);
    });
  });
}
