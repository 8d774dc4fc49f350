import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Together from 'together-ai';
import { assertMatchesContract } from '../helpers/contract.js';
import { eventually } from '../helpers/app.js';
import { apiCaller, serveWithClient, stopServed, type GantryProcess, type ServedGantry } from '../helpers/gantry-process.js';

const worker = new URL('../fixtures/queue-worker.js', import.meta.url).pathname;

/**
 * Jobs end to end: the official `together-ai` SDK submits, polls, cancels and clears; real
 * replicas on the process runtime run the Node.js queue worker fixture, which long-polls and
 * reports with the worker key Gantry injected as TOGETHER_API_KEY.
 */
describe('queue with real workers', () => {
  let g: GantryProcess;
  let client: Together;
  let key: string;
  let call: ReturnType<typeof apiCaller>;

  const deploy = (name: string, extra: object = {}) =>
    client.beta.jig.deploy({
      name,
      image: 'local/queue-worker:1',
      gpu_type: 'none' as never,
      command: [process.execPath, worker],
      health_check_path: '/health',
      termination_grace_period_seconds: 2,
      ...extra,
    } as never);
  const done = (model: string, id: string) =>
    eventually(
      () => client.beta.jig.queue.retrieve({ model, request_id: id }),
      (s) => ['done', 'failed', 'canceled'].includes(s.status),
      15000,
    );

  let served: ServedGantry;
  before(async () => {
    served = await serveWithClient('gantry-qw-', (dir) => ['--data-dir', dir, '--scale-down-window', '1', '--idle-grace', '1']);
    ({ g, key, client } = served);
    call = apiCaller(() => g.url, key);
    await deploy('workers', { min_replicas: 2 });
    await eventually(
      () => client.beta.jig.retrieve('workers'),
      (d) => d.ready_replicas === 2,
      15000,
    );
  });
  after(() => stopServed(served));

  test('jobs submitted with the SDK are claimed and completed by the workers, in the contract shape', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const submitted = await client.beta.jig.queue.submit({ model: 'workers', payload: { i }, info: { batch: 'a' } });
      assertMatchesContract('/queue/submit', 'post', submitted);
      ids.push(submitted.requestId);
    }
    for (const [i, id] of ids.entries()) {
      const s = await done('workers', id);
      assertMatchesContract('/queue/status', 'get', s);
      assert.equal(s.status, 'done', JSON.stringify(s));
      assert.deepEqual((s.outputs as { echo: unknown }).echo, { i });
      assert.deepEqual(s.info, { batch: 'a', progress: 1 });
    }
    const metrics = await client.beta.jig.queue.metrics({ model: 'workers' });
    assertMatchesContract('/queue/metrics', 'get', metrics);
    assert.deepEqual(metrics, { messages_running: 0, messages_waiting: 0, total_jobs: 0 });
  });

  test("a worker's output file is uploaded to storage, and its URL downloads it with the caller's key", async () => {
    const job = await client.beta.jig.queue.submit({ model: 'workers', payload: { file: { name: 'result.txt', text: 'forty-two' } } });
    const s = await done('workers', job.requestId);
    assert.equal(s.status, 'done', JSON.stringify(s));
    const url = (s.outputs as { file: string }).file;
    assert.equal(url, `${g.url}/v1/storage/${job.requestId}-result.txt`);
    const res = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'forty-two');
    assert.equal((await fetch(url)).status, 401, 'not without a key');
  });

  test('a failure reported by the worker ends the job with info.error; heartbeats merge progress', async () => {
    const failing = await client.beta.jig.queue.submit({ model: 'workers', payload: { fail: "RuntimeError('bad input')" } });
    const failed = await done('workers', failing.requestId);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.info?.error, "RuntimeError('bad input')");
    assert.equal(failed.retries, 0);

    const slow = await client.beta.jig.queue.submit({ model: 'workers', payload: { sleep_ms: 600 } });
    const halfway = await eventually(
      () => client.beta.jig.queue.retrieve({ model: 'workers', request_id: slow.requestId }),
      (s) => s.info?.progress === 0.5 || s.status === 'done',
    );
    assert.equal(halfway.status, 'running', 'the heartbeat was seen while the job ran');
    assert.equal((await done('workers', slow.requestId)).status, 'done');
  });

  test('the SDK cancels a pending job (not a running one) and clears the queue', async () => {
    // Both workers busy for a while, so the next jobs wait.
    const busy = await Promise.all([1, 2].map(() => client.beta.jig.queue.submit({ model: 'workers', payload: { sleep_ms: 2000 } })));
    await eventually(
      () => client.beta.jig.queue.metrics({ model: 'workers' }),
      (m) => m.messages_running === 2,
    );
    const waiting = await Promise.all([1, 2, 3].map(() => client.beta.jig.queue.submit({ model: 'workers', payload: {} })));
    const canceled = await client.beta.jig.queue.cancel({ model: 'workers', request_id: waiting[0]!.requestId });
    assert.deepEqual(canceled, { status: 'canceled' });
    const running = await client.beta.jig.queue.cancel({ model: 'workers', request_id: busy[0]!.requestId }).then(
      () => 'no error',
      (err: { status?: number }) => err.status,
    );
    assert.equal(running, 409, 'a running job cannot be canceled');
    assert.deepEqual(await client.beta.jig.queue.clear({ model: 'workers' }), { canceled_count: 2 });
    for (const w of waiting) assert.equal((await client.beta.jig.queue.retrieve({ model: 'workers', request_id: w.requestId })).status, 'canceled');
    for (const b of busy) assert.equal((await done('workers', b.requestId)).status, 'done');
  });

  test("the injected worker key may use its own deployment's queue and nothing else", async () => {
    await deploy('other', { min_replicas: 0 });
    const asWorker = async (path: string) => {
      const res = await call('GET', `/v1/deployment-request/workers/call?path=${encodeURIComponent(path)}`);
      return res.body.status as number;
    };
    assert.equal(await asWorker('/v1/queue/metrics?model=workers'), 200);
    assert.equal(await asWorker('/v1/queue/metrics?model=other'), 403, "another deployment's queue");
    assert.equal(await asWorker('/v1/deployments'), 403, 'the deployments API');
    assert.equal(await asWorker('/v1/deployments/secrets'), 403, 'secrets');
    const d = await call('GET', '/v1/deployments/workers');
    assert.ok(!JSON.stringify(d.body).includes('gantry_w_'), 'the worker key never appears in the API');
  });

  test('a job submitted to an autoscaled deployment at zero wakes it, and it goes back to zero', async () => {
    await deploy('batch', { min_replicas: 0, max_replicas: 2, autoscaling: { metric: 'QueueBacklogPerWorker', target: 1 } });
    await eventually(
      () => client.beta.jig.retrieve('batch'),
      (d) => d.status === 'ScaledToZero',
    );
    const job = await client.beta.jig.queue.submit({ model: 'batch', payload: { wake: true } });
    const s = await done('batch', job.requestId);
    assert.equal(s.status, 'done');
    const idle = await eventually(
      () => client.beta.jig.retrieve('batch'),
      (d) => d.status === 'ScaledToZero',
      15000,
    );
    assert.equal(idle.status, 'ScaledToZero');
  });
});
