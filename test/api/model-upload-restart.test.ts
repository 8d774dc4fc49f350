import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Together from 'together-ai';
import { eventually } from '../helpers/app.js';
import { serveWithClient, startGantry, stopServed, type ServedGantry } from '../helpers/gantry-process.js';

/**
 * A model upload survives a crash of Gantry: `gantry serve` is SIGKILLed in the middle of the
 * download, started again on the same data dir, and the job resumes from the bytes it had (a
 * Range request with If-Range) and completes, with the stored file byte for byte the source's.
 */
const SIZE = 4 * 1024 * 1024;
const CHUNK = 64 * 1024;
const weights = Buffer.alloc(SIZE);
for (let i = 0; i < SIZE; i++) weights[i] = (i * 31 + (i >> 12)) & 0xff;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('a model upload interrupted by SIGKILL', () => {
  let server: Server;
  let url: string;
  let sent = 0;
  const ranges: (string | undefined)[] = [];
  let served: ServedGantry;

  before(async () => {
    // Serves the weights slowly (64 KiB every 40 ms: about 2.6 s in all), honouring Range.
    server = createServer(async (req, res) => {
      ranges.push(req.headers.range);
      const from = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
      const partial = from > 0 && req.headers['if-range'] === '"v1"';
      const start = partial ? from : 0;
      res.writeHead(partial ? 206 : 200, {
        etag: '"v1"',
        'content-length': String(SIZE - start),
        ...(partial ? { 'content-range': `bytes ${start}-${SIZE - 1}/${SIZE}` } : {}),
      });
      for (let at = start; at < SIZE && !res.destroyed; at += CHUNK) {
        res.write(weights.subarray(at, Math.min(at + CHUNK, SIZE)));
        sent += Math.min(CHUNK, SIZE - at);
        await new Promise((r) => setTimeout(r, 40));
      }
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/weights.bin`;
    served = await serveWithClient('gantry-upload-kill-', (d) => ['--data-dir', d, '--fetch-allow', '127.0.0.1']);
  });
  after(async () => {
    server.closeAllConnections();
    server.close();
    await stopServed(served);
  });

  test('resumes after a restart from the downloaded bytes and completes, the file intact', async () => {
    const upload = await served.client.models.upload({ model_name: 'big', model_source: url });
    const jobId = upload.data.job_id;
    while (sent < SIZE / 4) await new Promise((r) => setTimeout(r, 20));
    served.g.proc.kill('SIGKILL');
    await new Promise((r) => served.g.proc.once('exit', r));

    served.g = await startGantry(['--data-dir', served.dir, '--fetch-allow', '127.0.0.1']);
    const client = new Together({ apiKey: served.key, baseURL: `${served.g.url}/v1`, maxRetries: 0 });
    type Job = { status: string; status_updates: { message: string }[] };
    const job = await eventually(
      () => client.get<Job>(`/jobs/${jobId}`),
      (j) => j.status === 'Complete' || j.status === 'Failed',
      30_000,
    );
    assert.equal(job.status, 'Complete', JSON.stringify(job));
    assert.ok(
      job.status_updates.some((u) => /Resuming the fetch from .* \(attempt 2\) with the bytes already downloaded/.test(u.message)),
      JSON.stringify(job),
    );
    assert.equal(ranges.length, 2, `one request before the kill, one after: ${JSON.stringify(ranges)}`);
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(ranges[1] ?? '')?.[1]);
    assert.ok(resumedAt > 0 && resumedAt < SIZE, `the second request resumed from the kept bytes: ${ranges[1]}`);

    const stored = await fetch(`${served.g.url}/v1/storage/models/${jobId}/weights.bin`, { headers: { authorization: `Bearer ${served.key}` } });
    assert.equal(stored.status, 200);
    assert.equal(sha(Buffer.from(await stored.arrayBuffer())), sha(weights), 'the stored file is the source, byte for byte');
    assert.ok(
      (await client.models.list()).some((m) => m.id === 'default/big'),
      'the model is ready',
    );
  });
});
