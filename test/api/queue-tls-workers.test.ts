import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Together from 'together-ai';
import { Agent, setGlobalDispatcher } from 'undici';
import { eventually } from '../helpers/app.js';
import { serveWithClient, stopServed, type GantryProcess, type ServedGantry } from '../helpers/gantry-process.js';

const nodeWorker = new URL('../fixtures/queue-worker.js', import.meta.url).pathname;
const pythonWorker = new URL('../fixtures/queue_worker.py', import.meta.url).pathname;
/** Debian's python3-httpx belongs to /usr/bin/python3 (another python3 may come first on PATH). */
const PYTHON = '/usr/bin/python3';
const noHttpx = spawnSync(PYTHON, ['-c', 'import httpx'], { stdio: 'ignore' }).status !== 0;

/**
 * `gantry serve --tls self-signed`, as Together's worker library needs (it insists on https://):
 * the certificate is made in the data dir and the hint printed; replicas get the https base URL
 * and trust the certificate; a Node.js and a Python (httpx) worker complete jobs over it,
 * uploading output files and downloading https inputs, as sprocket does.
 */
describe('workers over HTTPS', () => {
  let g: GantryProcess;
  let client: Together;
  let key: string;
  let certFile: string;

  const deploy = (name: string, command: string[]) =>
    client.beta.jig.deploy({
      name,
      image: 'local/worker:1',
      gpu_type: 'none' as never,
      command,
      health_check_path: '/health',
      termination_grace_period_seconds: 2,
    } as never);
  const done = (model: string, id: string) =>
    eventually(
      () => client.beta.jig.queue.retrieve({ model, request_id: id }),
      (s) => ['done', 'failed', 'canceled'].includes(s.status),
      20000,
    );
  const authed = (url: string) => fetch(url, { headers: { authorization: `Bearer ${key}` } });

  let served: ServedGantry;
  before(async () => {
    served = await serveWithClient('gantry-tls-', (dir) => ['--data-dir', dir, '--tls', 'self-signed']);
    ({ g, key, client } = served);
    certFile = join(served.dir, 'tls', 'localhost.crt');
    // This test process trusts the certificate the way a user's client would be told to.
    setGlobalDispatcher(new Agent({ connect: { ca: readFileSync(certFile) } }));
  });
  after(() => stopServed(served));

  test('serves HTTPS with a certificate for 127.0.0.1 and prints how to trust it', async () => {
    assert.match(g.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(g.output().includes(`SSL_CERT_FILE=${certFile}`), g.output());
    assert.equal((await fetch(`${g.url}/health`)).status, 200);
    const untrusted = await fetch(`${g.url}/health`, { dispatcher: new Agent() } as RequestInit).then(
      () => 'connected',
      (err: Error & { cause?: { code?: string } }) => err.cause?.code,
    );
    assert.equal(untrusted, 'DEPTH_ZERO_SELF_SIGNED_CERT', 'a client that was not told to trust it refuses');
  });

  test('--tls-cert and --tls-key serve HTTPS with a given certificate', async () => {
    const other = await serveWithClient('gantry-tls-files-', (dir) => [
      '--data-dir',
      dir,
      '--tls-cert',
      certFile,
      '--tls-key',
      join(served.dir, 'tls', 'localhost.key'),
    ]);
    try {
      assert.match(other.g.url, /^https:\/\//);
      assert.equal((await fetch(`${other.g.url}/health`)).status, 200, 'served with the certificate this client trusts');
      assert.ok(!other.g.output().includes('SSL_CERT_FILE'), "no hint: the certificate is the user's own");
      assert.ok(!existsSync(join(other.dir, 'tls')), 'nothing self-signed was made');
    } finally {
      await stopServed(other);
    }
  });

  test('a Node.js worker gets the https base URL, claims jobs and uploads its output over TLS', async () => {
    await deploy('node-workers', [process.execPath, nodeWorker]);
    const job = await client.beta.jig.queue.submit({ model: 'node-workers', payload: { file: { name: 'out.txt', text: 'from node' } } });
    const s = await done('node-workers', job.requestId);
    assert.equal(s.status, 'done', JSON.stringify(s));
    const url = (s.outputs as { file: string }).file;
    assert.ok(url.startsWith(`${g.url}/v1/storage/`), url);
    assert.equal(await (await authed(url)).text(), 'from node');
  });

  test(
    'a Python worker (httpx) downloads an https input, uploads an output file and reports',
    { skip: noHttpx && `${PYTHON} has no httpx: install Debian's python3-httpx (.ci/run does)` },
    async () => {
      await deploy('py-workers', [PYTHON, pythonWorker]);
      // An input the worker downloads, as sprocket does with https:// values: a signed URL.
      const u = (
        await (
          await fetch(`${g.url}/v1/storage/upload-request`, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            body: JSON.stringify({ filename: 'inputs/prompt.txt' }),
          })
        ).json()
      ).upload_url;
      assert.equal((await fetch(u.url, { method: 'PUT', body: 'a photo of a cat' })).status, 200);
      const signed = (await fetch(`${g.url}/v1/storage/inputs/prompt.txt`, { headers: { authorization: `Bearer ${key}` }, redirect: 'manual' })).headers.get(
        'location',
      )!;

      const ok = await client.beta.jig.queue.submit({
        model: 'py-workers',
        payload: { image: signed, sleep_ms: 400, file: { name: 'caption.txt', text: 'a cat' } },
      });
      const failing = await client.beta.jig.queue.submit({ model: 'py-workers', payload: { fail: "ValueError('bad')" } });
      const s = await done('py-workers', ok.requestId);
      assert.equal(s.status, 'done', JSON.stringify(s));
      const outputs = s.outputs as { worker: string; inputs: { image: { size: number; head: string } }; file: string };
      assert.equal(outputs.worker, 'python');
      assert.deepEqual(outputs.inputs.image, { size: 16, head: 'a photo of a cat' });
      assert.equal(outputs.file, `${g.url}/v1/storage/${ok.requestId}-caption.txt`);
      assert.equal(await (await authed(outputs.file)).text(), 'a cat');
      assert.equal(s.info?.progress, 1);
      const f = await done('py-workers', failing.requestId);
      assert.equal(f.status, 'failed');
      assert.equal(f.info?.error, "ValueError('bad')");
    },
  );
});
