import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { engines } from '../helpers/engines.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

/** Sends raw bytes to the server and answers everything it writes back until it closes. */
function raw(url: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => socket.write(bytes));
    let out = '';
    socket.on('data', (d) => (out += d));
    socket.on('end', () => resolve(out));
    socket.on('error', reject);
    socket.setTimeout(5000, () => reject(new Error(`no answer; got so far: ${out}`)));
  });
}

const errorOf = (response: string) => JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)).error;

// The HTTP layer's own refusals are errors in Together's shape too; one engine is enough here.
describe('errors below the routes', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp(engines[0]!);
  });
  after(() => t.close());

  test("a request that is not HTTP is a 400 in the API shape, not Node's own body", async () => {
    const res = await raw(t.url, 'GARBAGE / HTTP/1.1\r\n\r\n');
    assert.match(res, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.deepEqual(errorOf(res), { message: 'The request is not valid HTTP/1.1', type: 'invalid_request_error', param: null, code: 'malformed_request' });
  });

  test('a client trickling its body is cut with a 408 in the API shape; a slow but steady upload is not', async () => {
    const { hostname, port } = new URL(t.url);
    /** Sends headers announcing `length` bytes, then `chunk` bytes every `everyMs`; answers what the server wrote back and when it closed. */
    const send = (length: number, chunk: number, everyMs: number) =>
      new Promise<{ response: string; sentBytes: number }>((resolve, reject) => {
        let sent = 0;
        let response = '';
        const socket = connect({ host: hostname, port: Number(port) }, () => {
          socket.write(`POST /nope HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`);
          const tick = setInterval(() => {
            const n = Math.min(chunk, length - sent);
            if (n <= 0 || socket.destroyed) return clearInterval(tick);
            socket.write(' '.repeat(n));
            sent += n;
          }, everyMs);
          socket.on('close', () => clearInterval(tick));
        });
        socket.on('data', (d) => (response += d));
        socket.on('close', () => resolve({ response, sentBytes: sent }));
        socket.on('error', reject);
      });
    const [trickle, steady] = await Promise.all([send(1000, 1, 1000), send(60 * 1024, 3 * 1024, 1000)]);
    assert.match(trickle.response, /^HTTP\/1\.1 408 /, trickle.response);
    assert.equal(errorOf(trickle.response).code, 'request_timeout');
    assert.ok(trickle.sentBytes < 1000, 'cut before the body arrived');
    // Sent whole at 3 KiB/s (above the 1 KiB/s floor): it reaches the router, which answers 404.
    assert.equal(steady.sentBytes, 60 * 1024);
    assert.doesNotMatch(steady.response, /^HTTP\/1\.1 408 /, steady.response);
  });

  test('a connection that never sends a request is closed, not held for good', async () => {
    const { hostname, port } = new URL(t.url);
    const closed = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: hostname, port: Number(port) });
      socket.on('close', () => resolve(true));
      socket.on('error', () => {});
      setTimeout(() => (socket.destroy(), resolve(false)), 40_000);
    });
    assert.ok(closed, 'the server closed the silent connection');
  });

  test('headers over the limit are a 431 in the API shape', async () => {
    const res = await raw(t.url, `GET /v1/deployments HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.match(res, /^HTTP\/1\.1 431 /);
    assert.equal(errorOf(res).type, 'request_header_fields_too_large');
  });

  test('a bad percent-encoding and an overlong id are 400 and 414 in the API shape', async () => {
    const bad = await t.call('GET', '/v1/deployments/%E0%A4%A');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'bad_url');
    const long = await t.call('GET', `/v1/deployments/${'x'.repeat(300)}`);
    assert.equal(long.status, 414);
    assert.equal(long.body.error.type, 'uri_too_long');
  });

  test('an empty body with a JSON content type is no body: DELETE works as the Python SDK sends it', async () => {
    const created = await t.call('POST', '/v1/deployments/secrets', { body: { name: 'tok', value: 'v' } });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const del = await t.call('DELETE', '/v1/deployments/secrets/tok', { raw: '', headers: { 'content-type': 'application/json' } });
    assert.equal(del.status, 200, JSON.stringify(del.body));
    // A route that needs a body still says so, naming it.
    const post = await t.call('POST', '/v1/deployments/secrets', { raw: '', headers: { 'content-type': 'application/json' } });
    assert.equal(post.status, 400);
    assert.equal(post.body.error.type, 'invalid_request_error');
    assert.match(post.body.error.message, /body/);
  });

  test('storage messages name the file as the user gave it, never the project id', async () => {
    const put = async (filename: string) => {
      const { body } = await t.call('POST', '/v1/storage/upload-request', { body: { filename } });
      return fetch(body.upload_url.url, { method: 'PUT', body: 'x' });
    };
    assert.equal((await put('a/b')).status, 200);
    const clash = await put('a');
    assert.equal(clash.status, 409);
    const text = await clash.text();
    assert.match(text, /'a' clashes/);
    assert.ok(!text.includes('proj_'), text);
    const missing = await t.call('GET', '/v1/storage/nope.txt');
    assert.equal(missing.status, 404);
    assert.ok(!JSON.stringify(missing.body).includes('proj_'), JSON.stringify(missing.body));
  });

  test('hostile bodies are 4xx, never 5xx: deep nesting, lone surrogates, overlong names, a root mount in disguise', async () => {
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    for (const path of ['/v1/queue/submit', '/v1/deployments', '/internal/v1/videos/status']) {
      const r = await t.call('POST', path, { raw: `{"model":"m","payload":${deep}}`, headers: { 'content-type': 'application/json' } });
      assert.equal(r.status, 400, `${path}: ${JSON.stringify(r.body)}`);
      assert.match(JSON.stringify(r.body), /nests deeper than 64 levels/);
    }
    const filename = async (name: string) => (await t.call('POST', '/v1/storage/upload-request', { body: { filename: name } })).status;
    assert.equal(await filename('x/\ud800'), 400, 'a lone surrogate');
    assert.equal(await filename(`dir/${'a'.repeat(256)}`), 400, 'a segment over 255 bytes');
    assert.equal(await filename(`dir/${'a'.repeat(255)}`), 200, 'a segment of 255 bytes is fine');
    const mount = await t.call('POST', '/v1/deployments', {
      body: { name: 'rootish', image: 'i', gpu_type: 'none', volumes: [{ name: 'v', mount_path: '/.' }] },
    });
    assert.equal(mount.status, 400);
    assert.match(mount.body.error.message, /must not be the root directory/);
  });

  test("signed URLs are built on the server's configured address, never on the request's Host", async () => {
    const r = await t.call('POST', '/v1/storage/upload-request', { body: { filename: 'a.bin' }, headers: { host: 'attacker.example' } });
    assert.equal(r.status, 200);
    assert.ok(r.body.upload_url.url.startsWith(`${t.url}/storage/objects/`), r.body.upload_url.url);
    assert.equal((await fetch(r.body.upload_url.url, { method: 'PUT', body: 'x' })).status, 200);
    const download = await t.call('GET', '/v1/storage/a.bin', { headers: { host: 'attacker.example' } });
    assert.equal(download.status, 307);
    assert.ok(download.headers.get('location')!.startsWith(`${t.url}/storage/objects/`), download.headers.get('location')!);
  });
});
