import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sqlite } from '../helpers/engines.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

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
