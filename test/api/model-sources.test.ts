import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { create as createTar } from 'tar';
import Together from 'together-ai';
import { sqlite } from '../helpers/engines.js';
import { eventually, startTestApp, type TestApp } from '../helpers/app.js';
import { tempDirs } from '../helpers/runtime.js';
import { DEFAULT_ENDPOINTS } from '../../src/endpoints/settings.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const gitBlob = (b: Buffer) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

interface RepoFile {
  name: string;
  content: Buffer;
  lfs?: boolean;
  /** Bytes the Hub sends before dropping the connection, on the first `drops` requests. */
  dropAfter?: number;
  drops?: number;
  /** What the Hub sends instead of `content` (same length): a corrupted mirror. */
  served?: Buffer;
}

/**
 * A stand-in for the Hugging Face Hub on loopback (the real one is unreachable here), speaking
 * the two routes Gantry uses: the repo listing with `?blobs=true` and `resolve/main/<file>`
 * with Range. It can drop connections mid-file and serve corrupt bytes.
 */
function fakeHub(repos: Record<string, RepoFile[]>) {
  const seen: { path: string; range: string | undefined; auth: string | undefined }[] = [];
  const served = new Map<string, number>();
  const server = createServer((req: IncomingMessage, res) => {
    const url = new URL(req.url!, 'http://hub');
    seen.push({ path: url.pathname, range: req.headers.range, auth: req.headers.authorization });
    const listing = /^\/api\/models\/(.+)$/.exec(url.pathname);
    if (listing) {
      // A gated repo: its listing needs a token.
      if (listing[1] === 'acme/gated' && !req.headers.authorization) return res.writeHead(401).end();
      const files = repos[listing[1]!];
      if (!files || url.searchParams.get('blobs') !== 'true') return res.writeHead(404).end();
      const siblings = files.map((f) =>
        f.lfs
          ? {
              rfilename: f.name,
              blobId: randomBytes(20).toString('hex'),
              size: f.content.length,
              lfs: { sha256: sha256(f.content), size: f.content.length, pointerSize: 134 },
            }
          : { rfilename: f.name, blobId: gitBlob(f.content), size: f.content.length },
      );
      return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: listing[1], siblings }));
    }
    const resolve = /^\/(.+?\/.+?)\/resolve\/main\/(.+)$/.exec(url.pathname);
    const file = resolve && repos[resolve[1]!]?.find((f) => f.name === decodeURIComponent(resolve[2]!));
    if (!file) return res.writeHead(404).end();
    const body = file.served ?? file.content;
    const from = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
    const rest = body.subarray(from);
    res.writeHead(from > 0 ? 206 : 200, {
      'content-length': rest.length,
      ...(from > 0 ? { 'content-range': `bytes ${from}-${body.length - 1}/${body.length}` } : {}),
    });
    const n = (served.get(url.pathname) ?? 0) + 1;
    served.set(url.pathname, n);
    if (file.dropAfter !== undefined && n <= (file.drops ?? 1) && rest.length > file.dropAfter) {
      res.write(rest.subarray(0, file.dropAfter), () => res.socket?.destroy());
      return;
    }
    res.end(rest);
  });
  return { server, seen };
}

describe('model sources: resumable, checked Hub downloads and archives', () => {
  const temp = tempDirs('gantry-sources-');
  const downloads = temp();
  const local = temp();
  let t: TestApp;
  let client: Together;
  let hubUrl = '';
  let filesUrl = '';

  const config = Buffer.from('{"architectures": ["Tiny"]}');
  const weights = randomBytes(300_000);
  const flaky = randomBytes(150_000);
  const hub = fakeHub({
    'acme/resumable': [
      { name: 'config.json', content: config },
      { name: 'weights/model.safetensors', content: weights, lfs: true, dropAfter: 100_000 },
    ],
    'acme/corrupt': [
      {
        name: 'model.safetensors',
        content: weights,
        lfs: true,
        served: Buffer.concat([weights.subarray(0, 1000), Buffer.from([weights[1000]! ^ 0xff]), weights.subarray(1001)]),
      },
    ],
    'acme/flaky': [{ name: 'model.safetensors', content: flaky, lfs: true, dropAfter: 30_000, drops: 3 }],
  });
  const archives = new Map<string, Buffer>();
  const files = createServer((req, res) => {
    const body = archives.get(req.url!.slice('/files/'.length));
    return body ? res.end(body) : res.writeHead(404).end();
  });

  before(async () => {
    for (const s of [hub.server, files]) await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    hubUrl = `http://127.0.0.1:${(hub.server.address() as AddressInfo).port}`;
    filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}/files`;
    t = await startTestApp(sqlite, {
      wiring: {
        // The Hub and file servers of this test listen on loopback, which only an allowlist opens.
        endpoints: { ...DEFAULT_ENDPOINTS, hubUrl, localModelDirs: [local], fetchAllow: ['127.0.0.1'] },
        downloadsDir: downloads,
        downloads: { timeoutMs: 3000, attempts: 3, retryDelayMs: 10 },
      },
    });
    client = new Together({ apiKey: t.adminKey, baseURL: `${t.url}/v1`, maxRetries: 0 });

    // A model folder packed as .tar.gz, served by URL and placed among the local model folders.
    const src = temp();
    mkdirSync(join(src, 'shards'));
    writeFileSync(join(src, 'config.json'), config);
    writeFileSync(join(src, 'shards', 'w.bin'), weights.subarray(0, 5000));
    const tgz = join(local, 'packed.tar.gz');
    await createTar({ gzip: true, file: tgz, cwd: src }, ['config.json', 'shards']);
    archives.set('model.tar.gz', readFileSync(tgz));
    archives.set('broken.tar.gz', randomBytes(2000));
  });
  after(async () => {
    await t?.close();
    hub.server.close();
    files.close();
  });

  type Job = { status: string; status_updates: { status: string; message: string }[] };
  const finished = (id: string) =>
    eventually(
      () => client.get<Job>(`/jobs/${id}`),
      (j) => j.status === 'Complete' || j.status === 'Failed',
      15_000,
    );
  const upload = (model_name: string, model_source: string, hf_token?: string) =>
    client.models.upload({ model_name, model_source, ...(hf_token ? { hf_token } : {}) });
  /** A stored weights file, read back through the storage API as a user would. */
  const stored = async (jobId: string, name: string) => {
    const res = await fetch(`${t.url}/v1/storage/models/${jobId}/${name}`, { headers: { authorization: `Bearer ${t.adminKey}` } });
    assert.equal(res.status, 200, name);
    return Buffer.from(await res.arrayBuffer());
  };
  const volumeFiles = async (modelId: string) =>
    (await t.call('GET', `/v1/deployments/storage/volumes/${modelId}`)).body.content.files.map((f: { name: string; size: number }) => [f.name, f.size]);

  test('a Hub repo is fetched file by file with the token, resumed with Range after a dropped connection, and checked', async () => {
    const up = await upload('resumable', 'acme/resumable', 'hf_test_token');
    const job = await finished(up.data.job_id);
    assert.equal(job.status, 'Complete', JSON.stringify(job.status_updates));
    assert.match(job.status_updates.at(-1)!.message, /2 file\(s\), 300027 bytes/);
    const requests = hub.seen.filter((s) => s.path.startsWith('/acme/resumable/resolve/main/weights/'));
    assert.equal(requests.length, 2, 'one drop, one resume');
    assert.equal(requests[0]!.range, undefined);
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(requests[1]!.range ?? '')?.[1]);
    assert.ok(resumedAt > 0 && resumedAt <= 100_000, `resumed from what had arrived, not from 0: ${requests[1]!.range}`);
    assert.ok(
      hub.seen.filter((s) => s.path.includes('acme/resumable')).every((s) => s.auth === 'Bearer hf_test_token'),
      'hf_token goes to the Hub',
    );
    assert.ok(!JSON.stringify(job).includes('hf_test_token'));
    assert.ok((await stored(up.data.job_id, 'weights/model.safetensors')).equals(weights), 'byte for byte');
    assert.ok((await stored(up.data.job_id, 'config.json')).equals(config));
    assert.deepEqual(await volumeFiles(up.data.model_id), [
      ['config.json', config.length],
      ['weights/model.safetensors', weights.length],
    ]);
    assert.ok(!existsSync(join(downloads, up.data.model_id)), 'nothing left behind once stored');
  });

  test('a file whose checksum does not match fails the job and is discarded; a gated repo without hf_token fails saying so', async () => {
    const up = await upload('corrupt', 'acme/corrupt');
    const job = await finished(up.data.job_id);
    assert.equal(job.status, 'Failed');
    assert.match(
      job.status_updates.at(-1)!.message,
      new RegExp(`sha256 [0-9a-f]{64} does not match the expected ${sha256(weights)}; the download was discarded`),
    );
    assert.deepEqual(readdirSync(join(downloads, up.data.model_id)), [], 'no partial file to resume from');
    assert.ok(!(await client.models.list()).some((m) => m.id === 'default/corrupt'));

    const gated = await finished((await upload('gated', 'acme/gated')).data.job_id);
    assert.equal(gated.status, 'Failed');
    assert.match(gated.status_updates.at(-1)!.message, /answered 401 \(refused without credentials: a gated or private Hugging Face repo needs hf_token\)/);
  });

  test('a download that keeps dropping fails saying so, and uploading again resumes it', async () => {
    const first = await upload('flaky', 'acme/flaky');
    const failed = await finished(first.data.job_id);
    assert.equal(failed.status, 'Failed');
    assert.match(failed.status_updates.at(-1)!.message, /got \d+ of 150000 bytes in 3 attempts .*upload the model again to resume/);
    const partial = statSync(join(downloads, first.data.model_id, `${sha256(flaky)}.incomplete`)).size;
    assert.ok(partial > 0 && partial < flaky.length, String(partial));

    const before = hub.seen.length;
    const again = await upload('flaky', 'acme/flaky');
    const done = await finished(again.data.job_id);
    assert.equal(done.status, 'Complete', JSON.stringify(done.status_updates));
    const resumed = hub.seen.slice(before).find((s) => s.path.endsWith('/resolve/main/model.safetensors'));
    assert.equal(resumed?.range, `bytes=${partial}-`, 'the second job starts where the first stopped');
    assert.ok((await stored(again.data.job_id, 'model.safetensors')).equals(flaky));
  });

  test('a source on a private address that is not allowed fails the job, and fetches nothing', async () => {
    // 127.0.0.2 is loopback too, but only 127.0.0.1 is allowed here.
    const up = await client.models.upload({ model_name: 'ssrf', model_source: filesUrl.replace('127.0.0.1', '127.0.0.2') + '/model.tar.gz' });
    const job = await finished(up.data.job_id);
    assert.equal(job.status, 'Failed');
    assert.match(job.status_updates.at(-1)!.message, /127\.0\.0\.2 is a private address .* unless --fetch-allow names it/);
  });

  test('a tar.gz archive by URL or local path is unpacked into the model folder; a broken one fails', async () => {
    for (const [name, source] of [
      ['by-url', `${filesUrl}/model.tar.gz`],
      ['by-path', join(local, 'packed.tar.gz')],
    ] as const) {
      const up = await upload(name, source);
      const job = await finished(up.data.job_id);
      assert.equal(job.status, 'Complete', JSON.stringify(job.status_updates));
      assert.deepEqual(
        await volumeFiles(up.data.model_id),
        [
          ['config.json', config.length],
          ['shards/w.bin', 5000],
        ],
        name,
      );
    }
    const broken = await finished((await upload('broken', `${filesUrl}/broken.tar.gz`)).data.job_id);
    assert.equal(broken.status, 'Failed');
    assert.match(broken.status_updates.at(-1)!.message, /broken\.tar\.gz is not a readable tar archive/);
  });
});
