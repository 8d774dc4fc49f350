import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { UrlSigner } from '../../src/storage/url-signer.js';
import { TestClock } from '../../src/domain/clock.js';

/** Signed storage URLs: valid for their method and path until they expire, and for nothing else. */
test('a signed URL is valid until it expires, for its method and path only', async () => {
  const clock = new TestClock(1_700_000_000_000);
  const key = randomBytes(32);
  const signer = new UrlSigner(key, clock);
  const q = new URLSearchParams(signer.sign('PUT', '/storage/objects/p/a.bin', 60));
  const check = (method: string, path: string, s = signer) => s.check(method, path, q.get('expires') ?? undefined, q.get('signature') ?? undefined);
  assert.equal(check('PUT', '/storage/objects/p/a.bin'), null);
  assert.match(check('GET', '/storage/objects/p/a.bin')!, /does not match/);
  assert.match(check('PUT', '/storage/objects/p/b.bin')!, /does not match/);
  assert.match(check('PUT', '/storage/objects/p/a.bin', new UrlSigner(randomBytes(32), clock))!, /does not match/, 'another key');
  await clock.advance(60_000);
  assert.equal(check('PUT', '/storage/objects/p/a.bin'), null, 'valid through its last second');
  await clock.advance(1_000);
  assert.match(check('PUT', '/storage/objects/p/a.bin')!, /expired/);
  assert.match(signer.check('PUT', '/x', undefined, undefined)!, /not signed/);
  assert.match(signer.check('PUT', '/x', 'soon', 'abc')!, /not signed/);
});
