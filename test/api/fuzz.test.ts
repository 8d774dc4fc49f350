import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { engines } from '../helpers/engines.js';
import { startTestApp, type TestApp } from '../helpers/app.js';

/**
 * Property: whatever malformed input reaches any route, the answer is a 4xx in Together's
 * error shape, the server stays up, and nothing already stored changes.
 */
/** Cases per property: 120 in `npm test`; `npm run fuzz:properties` sets GANTRY_FUZZ_RUNS for the long run. */
const RUNS = Number(process.env.GANTRY_FUZZ_RUNS ?? 120);

const validBodies: Record<string, Record<string, unknown>> = {
  'POST /v1/deployments': { name: 'fuzz-new', image: 'img:1', gpu_type: 'h100-80gb' },
  'PATCH /v1/deployments/seeded': { description: 'changed' },
  'POST /v1/deployments/secrets': { name: 'fuzz-secret', value: 'v' },
  'PATCH /v1/deployments/secrets/seeded-secret': { description: 'changed' },
  'POST /v1/deployments/storage/volumes': { name: 'fuzz-vol', type: 'readOnly', content: { type: 'files', source_prefix: 'p/0' } },
  'PATCH /v1/deployments/storage/volumes/seeded-vol': { name: 'renamed' },
};
const routes = Object.keys(validBodies);

/** A value of a JSON type other than the one `v` has. */
const wrongType = (v: unknown) =>
  fc
    .oneof(
      fc.constant(null),
      fc.integer(),
      fc.double({ noNaN: true }),
      fc.string(),
      fc.boolean(),
      fc.array(fc.integer(), { maxLength: 2 }),
      fc.object({ maxDepth: 1 }),
    )
    .filter((x) => typeof x !== typeof v || Array.isArray(x) !== Array.isArray(v) || (x === null) !== (v === null));

const oddText = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('../../etc/passwd', '..', '%2e%2e%2f', '\u0000', '\ud800', 'a/b', ' ', 'DROP TABLE deployments;--', '\u202e', 'x'.repeat(5000)),
);

/** Bodies that are each invalid by construction. */
const badBody = (route: string) => {
  const valid = validBodies[route]!;
  const keys = Object.keys(valid);
  return fc.oneof(
    // a known field with the wrong type
    fc.constantFrom(...keys).chain((k) => wrongType(valid[k]).map((v) => JSON.stringify({ ...valid, [k]: v }))),
    // an extra, unknown field
    fc
      .tuple(
        fc
          .string({ minLength: 1, maxLength: 20 })
          .filter(
            (k) => !['name', 'image', 'gpu_type', 'description', 'value', 'type', 'content', '__proto__', 'constructor'].includes(k) && !k.startsWith('__'),
          ),
        fc.jsonValue({ maxDepth: 1 }),
      )
      .map(([k, v]) => JSON.stringify({ ...valid, [k]: v })),
    // a name made too long or full of characters names do not allow
    oddText.filter((s) => !/^[A-Za-z0-9_\-/.]{1,100}$/.test(s)).map((s) => JSON.stringify({ ...valid, name: s })),
    // not JSON at all, or JSON that is not an object
    fc.oneof(
      fc.string({ maxLength: 30 }).filter((s) => {
        try {
          const v = JSON.parse(s);
          return typeof v !== 'object' || v === null || Array.isArray(v);
        } catch {
          return true;
        }
      }),
      fc.constant('{"a":'),
      fc.constant('[]'),
    ),
  );
};

/** Percent-encodes every UTF-8 byte (encodeURIComponent refuses lone surrogates; a client may still send their bytes). */
const percentEncode = (s: string) => [...Buffer.from(s)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');

for (const engine of engines) {
  describe(`malformed input on ${engine.name}`, { skip: engine.skip }, () => {
    let t: TestApp;
    let snapshot: () => Promise<string>;

    before(async () => {
      t = await startTestApp(engine);
      await t.call('POST', '/v1/deployments/secrets', { body: { name: 'seeded-secret', value: 'v' } });
      await t.call('POST', '/v1/deployments/storage/volumes', {
        body: { name: 'seeded-vol', type: 'readOnly', content: { type: 'files', source_prefix: 'seeded/0' } },
      });
      await t.call('POST', '/v1/deployments', {
        body: {
          name: 'seeded',
          image: 'img:1',
          gpu_type: 'h100-80gb',
          environment_variables: [{ name: 'S', value_from_secret: 'seeded-secret' }],
          volumes: [{ name: 'seeded-vol', mount_path: '/v' }],
        },
      });
      snapshot = async () =>
        JSON.stringify(
          await Promise.all(['/v1/deployments', '/v1/deployments/secrets', '/v1/deployments/storage/volumes'].map(async (p) => (await t.call('GET', p)).body)),
        );
    });
    after(async () => t?.close());

    const assertErrorShape = (r: { status: number; body: any }, what: string) => {
      assert.ok(r.status >= 400 && r.status < 500, `${what} answered ${r.status}: ${JSON.stringify(r.body)}`);
      assert.equal(typeof r.body?.error?.message, 'string', what);
      assert.equal(typeof r.body?.error?.type, 'string', what);
    };

    test('invalid bodies on every write route get a 4xx and change nothing', async () => {
      const before = await snapshot();
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...routes).chain((route) => badBody(route).map((body) => ({ route, body }))),
          async ({ route, body }) => {
            const [method, path] = route.split(' ') as [string, string];
            const r = await t.call(method, path, { raw: body, headers: { 'content-type': 'application/json' } });
            assertErrorShape(r, `${route} ${body.slice(0, 200)}`);
          },
        ),
        { numRuns: RUNS },
      );
      assert.equal(await snapshot(), before);
    });

    test('odd ids and path tricks on every id route get a 404 and change nothing', async () => {
      const before = await snapshot();
      const idRoutes = ['/v1/deployments/', '/v1/deployments/secrets/', '/v1/deployments/storage/volumes/'];
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...idRoutes),
          fc.constantFrom('GET', 'DELETE', 'PATCH'), // "." and ".." are dot segments: URL parsers (fetch's included) resolve them before sending.
          oddText.filter((s) => s.length > 0 && s !== '.' && s !== '..'),
          async (prefix, method, id) => {
            const r = await t.call(method, prefix + percentEncode(id), method === 'PATCH' ? { body: { description: 'x' } } : {});
            assertErrorShape(r, `${method} ${prefix}${JSON.stringify(id)}`);
          },
        ),
        { numRuns: RUNS },
      );
      assert.equal(await snapshot(), before);
    });

    test('requests without a valid key are 401 on every route', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...routes),
          fc.option(
            oddText.filter((s) => /^[\x21-\x7e]+$/.test(s)),
            { nil: undefined },
          ),
          async (route, key) => {
            const [method, path] = route.split(' ') as [string, string];
            const r = await t.call(method, path, { key: key ?? null, body: validBodies[route] });
            assert.equal(r.status, 401);
          },
        ),
        { numRuns: Math.ceil(RUNS / 3) },
      );
      assert.equal((await t.call('GET', '/health', { key: null })).status, 200);
    });
  });
}
