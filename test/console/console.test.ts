import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { apiCaller, startGantry, type GantryProcess } from '../helpers/gantry-process.js';
import { eventually } from '../helpers/app.js';

/**
 * The web console in a real browser (Debian's chromium through playwright-core) against a real
 * `gantry serve --demo` with process replicas: what a user does on their first visit.
 * Screenshots land in test-output/console/.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(root, 'test-output', 'console');
const skip = existsSync(CHROMIUM) ? false : `no browser at ${CHROMIUM} (install Debian's chromium; .ci/run does)`;
const UI_WAIT = { timeout: 30_000 };
const AXE = readFileSync(join(root, 'node_modules/axe-core/axe.min.js'), 'utf8');

describe('web console', { skip }, () => {
  let g: GantryProcess;
  let dir: string;
  let key: string;
  let browser: Browser;
  let page: Page;
  let call: ReturnType<typeof apiCaller>;
  /** The revision the deployment runs, as its environment lists it. */
  const currentRevision = async () =>
    ((await call('GET', '/v1/deployments/hello')).body.environment_variables as { name: string; value: string }[]).find(
      (v) => v.name === 'TOGETHER_DEPLOYMENT_REVISION_ID',
    )!.value;
  /** Saves a screenshot, and checks the page with axe-core: no serious or critical accessibility violation. */
  const shot = async (name: string) => {
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
    // Evaluated through the DevTools protocol, so the console's CSP (scripts from its own origin only) stays on.
    await page.evaluate(AXE);
    const violations = await page.evaluate(async () => {
      const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } }).axe;
      const result = await axe.run();
      return result.violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    });
    assert.deepEqual(violations, [], `accessibility of the ${name} page`);
  };

  before(async () => {
    // The console as `npm run build` makes it (the server serves dist/console).
    execFileSync(process.execPath, [join(root, 'node_modules/vite/bin/vite.js'), 'build', '-c', 'console/vite.config.ts', '--logLevel', 'warn'], { cwd: root });
    mkdirSync(SHOTS, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), 'gantry-console-'));
    g = await startGantry(['--demo', '--data-dir', dir]);
    key = readFileSync(join(dir, 'admin.key'), 'utf8').trim();
    call = apiCaller(() => g.url, key);
    const created = await call('POST', '/v1/deployments', {
      name: 'hello',
      image: 'local/hello:1',
      gpu_type: 'none',
      command: ['node', join(root, 'examples/hello-worker/server.js')],
      health_check_path: '/health',
      environment_variables: [{ name: 'GREETING', value: 'hej' }],
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  });

  after(async () => {
    await browser?.close();
    await g?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a wrong key is refused with the API’s message; the right one signs in', async () => {
    await page.goto(`${g.url}/console`);
    await page.getByLabel('API key').fill('not-a-key-of-this-gantry');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').getByText('Invalid or revoked API key').waitFor(UI_WAIT);
    await shot('sign-in-refused');
    // By keyboard: the key field has the focus, Enter submits.
    await page.getByLabel('API key').fill('');
    await page.keyboard.type(key);
    await page.keyboard.press('Enter');
    await page.getByRole('table', { name: 'Deployments' }).waitFor(UI_WAIT);
  });

  test('the deployment becomes Ready in the list without a reload', async () => {
    const row = page.getByRole('row').filter({ hasText: 'hello' });
    await row.getByText('Ready', { exact: true }).waitFor(UI_WAIT);
    assert.match((await row.textContent()) ?? '', /1 \/ 1/);
    await shot('deployments');
  });

  test('its page shows replicas, follows its logs live and restarts it', async () => {
    await page.getByRole('link', { name: 'hello' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('table', { name: 'Replica events' }).getByText('Running').waitFor(UI_WAIT);
    const logs = page.getByLabel('Log lines');
    await logs.getByText(/hello \(.*\) listening on \d+/).waitFor(UI_WAIT);
    const revision = await currentRevision();
    // A restart rolls out a new revision; its replica's first line arrives through the followed stream.
    await page.getByRole('button', { name: 'Restart' }).click();
    await page.waitForFunction(
      (old) =>
        /listening on/.test(
          (document.querySelector('pre.logs')?.textContent ?? '')
            .split('\n')
            .filter((l) => !l.includes(old))
            .join('\n'),
        ),
      revision,
      UI_WAIT,
    );
    assert.notEqual(await currentRevision(), revision);
    await page.getByLabel('Search logs').fill('no line says this');
    await logs.getByText('No line contains "no line says this".').waitFor(UI_WAIT);
    await page.getByLabel('Search logs').fill('');
    await page.getByTestId('replica-count').getByText('1 / 1 ready').waitFor(UI_WAIT);
  });

  test('traffic through the gateway shows up as chart points', async () => {
    for (let i = 0; i < 30; i++) {
      const res = await fetch(`${g.url}/v1/deployment-request/hello/`, { headers: { authorization: `Bearer ${key}` } });
      assert.equal(res.status, 200);
    }
    // Points are kept every 10 s: the interval with these requests is recorded within 20 s.
    const history = await eventually(
      () => call('GET', '/v1/deployments/hello/metrics?minutes=5'),
      (h) => h.body.data.some((p: { requests: number }) => p.requests > 0),
      30_000,
    );
    const point = history.body.data.find((p: { requests: number }) => p.requests > 0);
    assert.ok(point.p50_ms > 0 && point.p99_ms >= point.p50_ms, `latency recorded: ${JSON.stringify(point)}`);
    // The page refreshes its history every 5 s and charts every point the API has.
    await page.waitForFunction(
      (n) => {
        const fig = [...document.querySelectorAll('figure.chart')].find((f) => f.textContent?.includes('Requests per second'));
        return Number(fig?.getAttribute('data-points')) >= n;
      },
      history.body.data.length,
      UI_WAIT,
    );
    await shot('deployment');
  });

  test('scaling in the page changes the replica count', async () => {
    const scale = page.getByRole('form', { name: 'Scale' });
    await scale.getByLabel('Max replicas').fill('2');
    await scale.getByLabel('Min replicas').fill('2');
    await scale.getByRole('button', { name: 'Apply scale' }).click();
    await page.getByTestId('replica-count').getByText('2 / 2 ready').waitFor(UI_WAIT);
    const d = await call('GET', '/v1/deployments/hello');
    assert.equal(d.body.min_replicas, 2);
    assert.equal(d.body.ready_replicas, 2);
  });

  test("a submitted job shows in the deployment's queue with its detail", async () => {
    const submitted = await call('POST', '/v1/queue/submit', { model: 'hello', payload: { prompt: 'hi' }, priority: 3 });
    assert.equal(submitted.status, 200);
    await page.getByTestId('queue-depth').getByText('1 pending').waitFor(UI_WAIT);
    const job = page.getByRole('button', { name: submitted.body.requestId });
    await job.click();
    const detail = page.getByLabel(`Job ${submitted.body.requestId}`);
    await detail.getByText('submitted').waitFor(UI_WAIT);
    assert.match((await page.getByRole('table', { name: 'Jobs' }).textContent()) ?? '', /pending/);
  });

  test('an endpoint is stopped and started from the console', async () => {
    const created = await call('POST', '/v1/endpoints', {
      model: 'Qwen/Qwen2.5-7B-Instruct',
      hardware: '1x_nvidia_h100_80gb_sxm',
      autoscaling: { min_replicas: 1, max_replicas: 1 },
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    await page.getByRole('link', { name: 'Endpoints & models' }).click();
    const row = page.getByRole('row').filter({ hasText: created.body.name });
    await row.getByText('STARTED').waitFor({ timeout: 60_000 });
    await row.getByRole('button', { name: 'Stop' }).click();
    await row.getByText('STOPPED').waitFor(UI_WAIT);
    assert.equal((await call('GET', `/v1/endpoints/${created.body.id}`)).body.state, 'STOPPED');
    await row.getByRole('button', { name: 'Start' }).click();
    await row.getByText('STARTED').waitFor({ timeout: 60_000 });
    await shot('endpoints');
  });

  test('usage shows what ran, per hardware', async () => {
    await page.getByRole('link', { name: 'Usage & cost' }).click();
    const table = page.getByRole('table', { name: 'Usage by hardware' });
    await table.getByText('1x_nvidia_h100_80gb_sxm').waitFor(UI_WAIT);
    await table.getByText('hello').waitFor(UI_WAIT);
    const report = await call('GET', '/v1/usage');
    assert.equal(await page.getByTestId('total-cost').textContent(), `$${(report.body.cost_cents / 100).toFixed(2)}`);
    await shot('usage');
  });

  test('at phone width the pages still read', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${g.url}/console/#/deployments/hello`);
    await page.getByTestId('replica-count').waitFor(UI_WAIT);
    // Nothing wider than the screen but the tables and logs, which scroll inside themselves.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px`);
    await shot('deployment-phone');
  });
});
