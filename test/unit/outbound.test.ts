import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fetch } from 'undici';
import { guardedDispatcher, outboundPolicy } from '../../src/endpoints/outbound.js';

describe('outbound fetches reach public addresses only', () => {
  test('loopback, private, link-local, metadata and their IPv6 forms are refused; an allowlist opens exactly what it names', () => {
    const strict = outboundPolicy([]);
    for (const a of [
      '127.0.0.1',
      '127.9.9.9',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      '::',
      'fe80::1',
      'fd00::1',
      '::ffff:127.0.0.1',
      '::ffff:10.0.0.1',
    ]) {
      assert.equal(strict(a), false, a);
    }
    for (const a of ['1.1.1.1', '8.8.8.8', '2606:4700:4700::1111', '::ffff:8.8.8.8']) assert.equal(strict(a), true, a);
    const open = outboundPolicy(['127.0.0.1', '10.0.0.0/8']);
    assert.equal(open('127.0.0.1'), true);
    assert.equal(open('127.0.0.2'), false, 'only the address named');
    assert.equal(open('10.200.0.1'), true);
    assert.equal(open('192.168.1.1'), false);
    for (const bad of ['localhost', '10.0.0.0/33', '::1/129', '1.2.3.4/8/9'])
      assert.throws(() => outboundPolicy([bad]), /is not an IP address or a CIDR range/, bad);
  });

  describe('through the guarded dispatcher (real connections on loopback)', () => {
    let server: Server;
    let port: number;
    before(async () => {
      // Answers /file, and /hop redirects to the same server under another loopback address.
      server = createServer((req, res) => {
        if (req.url === '/hop') return res.writeHead(302, { location: `http://127.0.0.2:${port}/file` }).end();
        res.end('weights');
      });
      await new Promise<void>((r) => server.listen(0, '0.0.0.0', r));
      port = (server.address() as AddressInfo).port;
    });
    after(() => server.close());

    const get = (url: string, allow: string[]) => fetch(url, { dispatcher: guardedDispatcher(outboundPolicy(allow)) });
    const refusal = (url: string, allow: string[]) =>
      get(url, allow).then(
        () => 'fetched',
        (err: Error) => ((err.cause as Error | undefined) ?? err).message,
      );

    test('a loopback address, literal or by name, is refused; allowed, it is fetched', async () => {
      assert.match(await refusal(`http://127.0.0.1:${port}/file`, []), /127\.0\.0\.1 is a private address/);
      assert.match(await refusal(`http://localhost:${port}/file`, []), /localhost is a private address \((127\.0\.0\.1|::1)\)/, 'judged after DNS resolution');
      assert.equal(await (await get(`http://127.0.0.1:${port}/file`, ['127.0.0.1'])).text(), 'weights');
    });

    test('a redirect to an address that is not allowed is refused at that hop', async () => {
      assert.match(await refusal(`http://127.0.0.1:${port}/hop`, ['127.0.0.1']), /127\.0\.0\.2 is a private address/);
      assert.equal(await (await get(`http://127.0.0.1:${port}/hop`, ['127.0.0.0/8'])).text(), 'weights');
    });
  });
});
