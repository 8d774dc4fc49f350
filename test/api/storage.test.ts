import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { sqlite } from '../helpers/engines.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

/**
 * Storage as jig and sprocket use it: ask for a signed URL, PUT the bytes there, download
 * through `/v1/storage/{name}` or `/v1/deployments/storage/{name}` (307 to a signed URL);
 * multipart for large files. Real HTTP on loopback, the filesystem backend in a temp dir.
 */
describe('storage', () => {
  let t: TestApp;
  before(async () => (t = await startTestApp(sqlite)));
  after(async () => t?.close());

  const uploadUrl = async (filename: string, key?: string) => {
    const r = await t.call('POST', '/v1/storage/upload-request', { body: { filename }, ...(key ? { key } : {}) });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.upload_url as { url: string; method: string; headers: Record<string, string> };
  };
  const put = async (filename: string, bytes: Buffer, key?: string) => {
    const u = await uploadUrl(filename, key);
    const res = await fetch(u.url, { method: u.method, headers: u.headers, body: new Uint8Array(bytes) });
    assert.equal(res.status, 200, await res.clone().text());
    return res;
  };
  /** GET with the key, following the 307 the way a client does. */
  const download = (path: string, key = t.adminKey) => fetch(t.url + path, { headers: { authorization: `Bearer ${key}` } });

  test('an uploaded file downloads through both paths, byte for byte, via a 307 to a signed URL', async () => {
    const bytes = randomBytes(300_000);
    const res = await put('req-1-out.bin', bytes);
    assert.equal(res.headers.get('etag'), `"${createHash('md5').update(bytes).digest('hex')}"`);
    for (const path of ['/v1/storage/req-1-out.bin', '/v1/deployments/storage/req-1-out.bin']) {
      const redirect = await fetch(t.url + path, { headers: { authorization: `Bearer ${t.adminKey}` }, redirect: 'manual' });
      assert.equal(redirect.status, 307);
      const location = redirect.headers.get('location')!;
      assert.match(location, /\/storage\/objects\/.+\/req-1-out\.bin\?expires=\d+&signature=/);
      const body = Buffer.from(await (await download(path)).arrayBuffer());
      assert.ok(body.equals(bytes), 'downloaded bytes differ from the upload');
    }
  });

  test('uploading again replaces the file; nested names keep their folders', async () => {
    await put('vol/0/a/b.txt', Buffer.from('first'));
    await put('vol/0/a/b.txt', Buffer.from('second'));
    assert.equal(await (await download('/v1/storage/vol/0/a/b.txt')).text(), 'second');
  });

  test('signed URLs are bound to their method and path and refuse tampering', async () => {
    const u = await uploadUrl('bound.txt');
    const other = u.url.replace('bound.txt', 'other.txt');
    assert.equal((await fetch(other, { method: 'PUT', body: 'x' })).status, 403);
    assert.equal((await fetch(u.url, { method: 'GET' })).status, 403, 'an upload URL does not download');
    const unsigned = u.url.split('?')[0]!;
    const r = await fetch(unsigned, { method: 'PUT', body: 'x' });
    assert.equal(r.status, 403);
    assert.match((await r.json()).error.message, /not signed/);
  });

  test('files are per project; without a key a download is a 401; a missing file is a 404', async () => {
    await put('private.txt', Buffer.from('mine'));
    const other = await t.keyFor('other-project');
    assert.equal((await download('/v1/storage/private.txt', other.key)).status, 404);
    assert.equal((await fetch(`${t.url}/v1/storage/private.txt`)).status, 401);
    const missing = await download('/v1/deployments/storage/nope.bin');
    assert.equal(missing.status, 404);
    assert.match((await missing.json()).error.message, /nope\.bin/);
  });

  test('bad filenames are 400s naming filename', async () => {
    for (const filename of ['../etc/passwd', 'a//b', '/abs', 'a/./b', '']) {
      const r = await t.call('POST', '/v1/storage/upload-request', { body: { filename } });
      assert.equal(r.status, 400, filename);
      assert.equal(r.body.error.param, 'filename', filename);
    }
  });

  test('multipart: parts upload to signed URLs and join in order; a wrong etag is refused; abort drops the upload', async () => {
    const parts = [randomBytes(100_000), randomBytes(100_000), randomBytes(1234)];
    const init = await t.call('POST', '/v1/storage/multipart/init', { body: { filename: 'big/model.bin', parts_count: 3 } });
    assert.equal(init.status, 200, JSON.stringify(init.body));
    assert.equal(init.body.part_upload_urls.length, 3);
    const etags: string[] = [];
    for (const [i, p] of init.body.part_upload_urls.entries()) {
      assert.equal(p.part_number, i + 1);
      const res = await fetch(p.url, { method: p.method, body: new Uint8Array(parts[i]!) });
      assert.equal(res.status, 200);
      etags.push(res.headers.get('etag')!.replace(/"/g, ''));
    }
    const bad = await t.call('POST', '/v1/storage/multipart/complete', {
      body: {
        filename: 'big/model.bin',
        upload_id: init.body.upload_id,
        parts: etags.map((etag, i) => ({ part_number: i + 1, etag: i === 1 ? 'f'.repeat(32) : etag })),
      },
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.param, 'parts');
    const done = await t.call('POST', '/v1/storage/multipart/complete', {
      body: { filename: 'big/model.bin', upload_id: init.body.upload_id, parts: etags.map((etag, i) => ({ part_number: i + 1, etag })) },
    });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(done.body.size, 201_234);
    const body = Buffer.from(await (await download('/v1/storage/big/model.bin')).arrayBuffer());
    assert.ok(body.equals(Buffer.concat(parts)));

    const second = await t.call('POST', '/v1/storage/multipart/init', { body: { filename: 'big/other.bin', parts_count: 1 } });
    assert.equal((await t.call('POST', '/v1/storage/multipart/abort', { body: { filename: 'big/other.bin', upload_id: second.body.upload_id } })).status, 200);
    const again = await t.call('POST', '/v1/storage/multipart/complete', {
      body: { filename: 'big/other.bin', upload_id: second.body.upload_id, parts: [{ part_number: 1, etag: 'x' }] },
    });
    assert.equal(again.status, 404);
    assert.equal((await download('/v1/storage/big/other.bin')).status, 404);
  });

  test("a volume lists the files under its version's prefix", async () => {
    const created = await t.call('POST', '/v1/deployments/storage/volumes', {
      body: { name: 'weights', type: 'readOnly', content: { type: 'files', source_prefix: 'weights/0' } },
    });
    assert.equal(created.status, 200);
    await put('weights/0/config.json', Buffer.from('{}'));
    await put('weights/0/shards/1.bin', randomBytes(10));
    await put('weights/1/ignored.bin', randomBytes(10));
    const v = await t.call('GET', '/v1/deployments/storage/volumes/weights');
    assert.deepEqual(
      v.body.content.files.map((f: { name: string; size: number }) => [f.name, f.size]),
      [
        ['config.json', 2],
        ['shards/1.bin', 10],
      ],
    );
  });

  test("a deployment's worker key may upload and download; it may not manage volumes", async () => {
    const d = await t.call('POST', '/v1/deployments', { body: { name: 'uploader', image: 'img:1', gpu_type: 'h100-80gb' } });
    assert.equal(d.status, 200);
    const worker = await t.ctx.store.findWorkerKey(d.body.id);
    const workerKey = t.ctx.secretBox.open(worker!.ciphertext, d.body.id);
    // Outputs are named as sprocket names them: <request id>-<file name>.
    const requestId = '01a233b3-8437-7094-ae8c-740e0c99ae60';
    await put(`${requestId}-result.txt`, Buffer.from('done'), workerKey);
    assert.equal(await (await download(`/v1/storage/${requestId}-result.txt`, workerKey)).text(), 'done');
    assert.equal((await t.call('GET', '/v1/deployments/storage/volumes', { key: workerKey })).status, 403);
  });

  test("a worker key writes only its own jobs' outputs: not other files of the project, nor another deployment's job", async () => {
    const mine = await t.call('POST', '/v1/deployments', { body: { name: 'mine', image: 'img:1', gpu_type: 'h100-80gb' } });
    await t.call('POST', '/v1/deployments', { body: { name: 'theirs', image: 'img:1', gpu_type: 'h100-80gb' } });
    const workerKey = t.ctx.secretBox.open((await t.ctx.store.findWorkerKey(mine.body.id))!.ciphertext, mine.body.id);
    const write = (filename: string) => t.call('POST', '/v1/storage/upload-request', { body: { filename }, key: workerKey });
    for (const filename of ['weights/0/model.bin', 'result.txt', '01a233b3-8437-7094-ae8c-740e0c99ae60-x/nested.bin']) {
      const r = await write(filename);
      assert.equal(r.status, 403, filename);
      assert.equal(r.body.error.type, 'permission_error');
    }
    const submit = async (model: string) => (await t.call('POST', '/v1/queue/submit', { body: { model, payload: {} } })).body.requestId as string;
    const theirs = await submit('theirs');
    assert.equal((await write(`${theirs}-out.png`)).status, 403, "another deployment's job");
    const own = await submit('mine');
    assert.equal((await write(`${own}-out.png`)).status, 403, 'a job not running yet');
    const claimed = await t.call('GET', '/internal/v1/queue/retrieve?model=mine&timeout=1s', { key: workerKey });
    assert.equal(claimed.body.data.request_id, own);
    assert.equal((await write(`${own}-out.png`)).status, 200, 'its running job');
    assert.equal(
      (await t.call('POST', '/v1/storage/upload-request', { body: { filename: 'weights/0/model.bin' } })).status,
      200,
      'an admin key writes anywhere',
    );
  });

  test("a worker key reads only its deployment's mounted volume version and its own jobs' outputs", async () => {
    await t.call('POST', '/v1/deployments/storage/volumes', { body: { name: 'rvol', type: 'readOnly', content: { type: 'files', source_prefix: 'rvol/0' } } });
    await put('rvol/0/config.json', Buffer.from('{"a":1}'));
    await put('rvol/1/newer.json', Buffer.from('{}'));
    await put('private/notes.txt', Buffer.from('admin only'));
    const reader = await t.call('POST', '/v1/deployments', {
      body: { name: 'reader', image: 'img:1', gpu_type: 'h100-80gb', volumes: [{ name: 'rvol', mount_path: '/models' }] },
    });
    assert.equal(reader.status, 200, JSON.stringify(reader.body));
    await t.call('POST', '/v1/deployments', { body: { name: 'other-reader', image: 'img:1', gpu_type: 'h100-80gb' } });
    const workerKey = t.ctx.secretBox.open((await t.ctx.store.findWorkerKey(reader.body.id))!.ciphertext, reader.body.id);
    const submit = async (model: string) => (await t.call('POST', '/v1/queue/submit', { body: { model, payload: {} } })).body.requestId as string;
    const theirs = await submit('other-reader');
    await put(`${theirs}-out.txt`, Buffer.from('theirs'));
    const own = await submit('reader');
    await put(`${own}-out.txt`, Buffer.from('mine'));

    assert.equal(await (await download('/v1/storage/rvol/0/config.json', workerKey)).text(), '{"a":1}', 'its mounted volume version');
    assert.equal(await (await download(`/v1/storage/${own}-out.txt`, workerKey)).text(), 'mine', "its own job's output");
    for (const filename of ['private/notes.txt', 'rvol/1/newer.json', `${theirs}-out.txt`, 'weights/0/config.json']) {
      const r = await t.call('GET', `/v1/storage/${filename}`, { key: workerKey });
      assert.equal(r.status, 403, filename);
      assert.equal(r.body.error.type, 'permission_error');
    }
    assert.equal((await download('/v1/storage/private/notes.txt')).status, 200, 'an admin key reads anything of its project');
  });
});
