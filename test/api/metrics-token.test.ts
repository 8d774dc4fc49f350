import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sqlite } from '../helpers/engines.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { startGantry, type GantryProcess } from '../helpers/gantry-process.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** With --metrics-token, /metrics (whose series name every project's deployments) answers only the operator's scraper. */
describe('/metrics behind the operator token', () => {
  let t: TestApp;
  const token = 'scrape-token-0123456789abcdef0123456789';
  before(async () => (t = await startTestApp(sqlite, { wiring: { metricsToken: token } })));
  after(() => t.close());

  test('without the token, or with a project key, it is a 401 in the API shape; with it, the metrics', async () => {
    for (const key of [null, t.adminKey, 'wrong']) {
      const r = await t.call('GET', '/metrics', { key });
      assert.equal(r.status, 401, String(key));
      assert.equal(r.body.error.type, 'authentication_error');
      assert.match(r.body.error.message, /--metrics-token/);
    }
    const ok = await t.call('GET', '/metrics', { key: token });
    assert.equal(ok.status, 200);
    assert.match(ok.body, /gantry_http_requests_total/);
  });
});

/** With --metrics-listen, /metrics lives on an address of its own (a private network the scraper reaches), not on the API's. */
describe('/metrics on its own address', () => {
  let g: GantryProcess;
  let dir: string;
  const token = 'scrape-token-0123456789abcdef0123456789';
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gantry-metrics-'));
    g = await startGantry(['--data-dir', dir, '--metrics-listen', '127.0.0.1:0', '--metrics-token', token]);
  });
  after(async () => {
    await g?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the metrics address serves only /metrics (with the token); the API address has none', async () => {
    const at = /^metrics on (\S+)\/metrics$/m.exec(g.output())![1]!;
    assert.notEqual(at, g.url);
    const scrape = await fetch(`${at}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(scrape.status, 200);
    assert.match(await scrape.text(), /gantry_http_requests_total/);
    const anonymous = await fetch(`${at}/metrics`);
    assert.equal(anonymous.status, 401);
    assert.equal(((await anonymous.json()) as { error: { type: string } }).error.type, 'authentication_error');
    assert.equal((await fetch(`${at}/v1/deployments`)).status, 404, 'no API there');
    assert.equal((await fetch(`${g.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).status, 404, 'no metrics on the API address');
  });
});
