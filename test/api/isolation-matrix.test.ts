import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sqlite } from '../helpers/engines.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

/**
 * Every route of `/openapi.json` (and the worker protocol) × every kind of wrong key: no key, a
 * key that is not one, a revoked key, another project's key, another deployment's worker key,
 * and a worker key on a route that is not a worker's. The expected answer is in the table below,
 * and no answer of any of them carries project A's data (its ids, names or secret's value) in a
 * body or a header.
 */
const A_SECRET_VALUE = 'matrix-secret-value-7f3a9c';

/** Routes a deployment's worker key may call (its queue, the worker protocol, storage). */
const WORKER_ROUTES = [
  /^POST \/v1\/queue\/(submit|cancel|clear)$/,
  /^GET \/v1\/queue\/(status|metrics)$/,
  /^(GET|POST) \/internal\/v1\//,
  /^POST \/v1\/storage\/(upload-request|multipart\/)/,
  /^GET \/v1\/(deployments\/)?storage\/\*/,
];

describe('isolation matrix: every route × every wrong key', () => {
  let t: TestApp;
  const a: Record<string, string> = {};
  const keys: Record<string, string | null> = {};

  before(async () => {
    t = await startTestApp(sqlite);
    const call = (method: string, path: string, body?: unknown) => t.call(method, path, { body });
    a.secret = (await call('POST', '/v1/deployments/secrets', { name: 'matrix-secret', value: A_SECRET_VALUE })).body.id;
    a.volume = (
      await call('POST', '/v1/deployments/storage/volumes', { name: 'matrix-vol', type: 'readOnly', content: { type: 'files', source_prefix: 'mv/0' } })
    ).body.id;
    const dep = (
      await call('POST', '/v1/deployments', {
        name: 'matrix-dep',
        image: 'img:1',
        gpu_type: 'none',
        environment_variables: [{ name: 'S', value_from_secret: 'matrix-secret' }],
      })
    ).body;
    a.deployment = dep.id;
    const sibling = (await call('POST', '/v1/deployments', { name: 'matrix-sibling', image: 'img:1', gpu_type: 'none' })).body;
    a.job = (await call('POST', '/v1/queue/submit', { model: 'matrix-dep', payload: { p: 1 } })).body.requestId;
    const workerOf = async (id: string) => t.ctx.secretBox.open((await t.ctx.store.findWorkerKey(id))!.ciphertext, id);
    const revoked = await t.keyFor('default');
    await t.ctx.store.revokeApiKey(revoked.id, new Date().toISOString());
    keys['no key'] = null;
    keys['not a key'] = 'gantry_not-a-real-key-000000000000000000000000';
    keys['revoked key'] = revoked.key;
    keys["another project's key"] = (await t.keyFor('matrix-b')).key;
    keys["another deployment's worker key"] = await workerOf(sibling.id);
  });
  after(() => t?.close());
  before(() => {
    for (const b of Object.values(BODIES)) if ('request_id' in b) (b as { request_id: string }).request_id = a.job!;
  });

  /** Every operation: the contract's routes from /openapi.json, with A's ids in their parameters. */
  async function operations(): Promise<{ method: string; path: string; route: string }[]> {
    const spec = (await t.call('GET', '/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
    const ops = Object.entries(spec.paths).flatMap(([path, methods]) =>
      Object.keys(methods)
        .filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
        .map((m) => ({ method: m.toUpperCase(), path, route: `${m.toUpperCase()} ${path.replace(/\{\*\}|\{wildcard\}/, '*')}` })),
    );
    // The worker protocol (hidden from the contract) belongs in the matrix too.
    ops.push({ method: 'GET', path: '/internal/v1/queue/retrieve', route: 'GET /internal/v1/queue/retrieve' });
    ops.push({ method: 'POST', path: '/internal/v1/videos/status', route: 'POST /internal/v1/videos/status' });
    return ops.map((o) => ({
      ...o,
      path: o.path
        .replace('/deployments/secrets/{id}', `/deployments/secrets/${a.secret}`)
        .replace('/deployments/storage/volumes/{id}', `/deployments/storage/volumes/${a.volume}`)
        .replace(/\{id\}/, a.deployment!)
        .replace(/\{[A-Za-z*]+\}/g, 'x')
        .replace(/\/\*$/, '/mv/0/file.bin'),
    }));
  }

  /** Bodies that pass validation, so that the key, not the body, decides the answer. */
  const BODIES: Record<string, object> = {
    'POST /v1/queue/submit': { model: 'matrix-dep', payload: {} },
    'POST /v1/queue/cancel': { model: 'matrix-dep', request_id: '' },
    'POST /v1/queue/clear': { model: 'matrix-dep' },
    'POST /internal/v1/videos/status': { model: 'matrix-dep', request_id: '', status: 'running' },
  };

  /** A's data that must never reach another caller. */
  const leaks = () => [A_SECRET_VALUE, a.secret!, a.volume!, a.deployment!, a.job!, 'matrix-secret', 'matrix-vol'];

  test('each route answers each wrong key as the table says, with none of project A’s data', async () => {
    const ops = await operations();
    assert.ok(ops.length >= 40, `${ops.length} operations`);
    const failures: string[] = [];
    for (const op of ops) {
      const query =
        op.route === 'GET /v1/queue/status'
          ? `?model=matrix-dep&request_id=${a.job}`
          : /queue\/(metrics|retrieve|jobs)$/.test(op.path)
            ? '?model=matrix-dep'
            : '';
      const body = op.method === 'GET' || op.method === 'DELETE' ? undefined : (BODIES[op.route] ?? { name: 'x' });
      for (const [kind, key] of Object.entries(keys)) {
        const r = await t.call(op.method, op.path + query, { key, body });
        const text = JSON.stringify(r.body ?? '') + JSON.stringify([...r.headers.entries()]);
        // What the caller sent may come back (a 404 names the id it was asked for); nothing else of A's may.
        const sent = op.path + query + JSON.stringify(body ?? '');
        const leaked = leaks().filter((l) => text.includes(l) && !sent.includes(l));
        const worker = kind.includes('worker');
        const allowed = ((): boolean => {
          if (r.status >= 500) return false;
          if (kind === 'no key' || kind === 'not a key' || kind === 'revoked key') return r.status === 401;
          if (worker && !WORKER_ROUTES.some((w) => w.test(op.route))) return r.status === 403;
          if (worker && op.route.includes('queue')) return r.status === 403 || r.status === 404;
          // Another project's key (or a worker key on its own kind of route): never A's resources.
          return r.status !== 200 || !op.path.includes(a.deployment!) || op.method === 'POST';
        })();
        if (!allowed || leaked.length) failures.push(`${kind}: ${op.method} ${op.path} → ${r.status}${leaked.length ? ` leaking ${leaked.join(', ')}` : ''}`);
      }
    }
    assert.deepEqual(failures, []);
  });

  test('a worker key on a route that is not a worker’s is a 403 naming why', async () => {
    const worker = await t.ctx.secretBox.open((await t.ctx.store.findWorkerKey(a.deployment!))!.ciphertext, a.deployment!);
    for (const [method, path] of [
      ['GET', '/v1/deployments'],
      ['GET', '/v1/deployments/secrets'],
      ['POST', '/v1/deployments'],
      ['GET', '/v1/usage'],
      ['GET', '/v1/endpoints'],
      ['GET', `/v1/deployments/${a.deployment}/metrics`],
      ['GET', '/v1/queue/jobs?model=matrix-dep'],
    ] as const) {
      const r = await t.call(method, path, { key: worker, body: method === 'POST' ? {} : undefined });
      assert.equal(r.status, 403, `${method} ${path}`);
      assert.match(JSON.stringify(r.body), /worker key/);
    }
  });
});
