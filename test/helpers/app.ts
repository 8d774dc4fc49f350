import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp, type AppDeps } from '../../src/app.js';
import { wireApp, type WiringOptions } from '../../src/cli/wiring.js';
import { type CommandContext } from '../../src/commands/context.js';
import { createApiKey } from '../../src/commands/keys.js';
import { systemClock } from '../../src/domain/clock.js';
import { randomIds } from '../../src/domain/ids.js';
import { SecretBox } from '../../src/domain/secret-box.js';
import { openDatabase } from '../../src/store/database.js';
import { Store } from '../../src/store/store.js';
import { FsBlobStore } from '../../src/storage/fs-blob-store.js';
import type { Engine } from './engines.js';
import { NO_RUNTIME } from '../../src/contract/ports.js';

export interface TestApp {
  app: FastifyInstance;
  /** The server's base URL on loopback, e.g. http://127.0.0.1:41234 */
  url: string;
  store: Store;
  ctx: CommandContext;
  /** The app's parts as `gantry serve` wires them: routing table, queue, endpoints' environment, … */
  parts: AppDeps;
  adminKey: string;
  keyFor(project: string): Promise<{ id: string; key: string }>;
  /** A request with a bearer key and JSON body: inject() for API routes, loopback HTTP for the gateway's. */
  call(
    method: string,
    path: string,
    opts?: { key?: string | null; body?: unknown; raw?: string; headers?: Record<string, string> },
  ): Promise<{ status: number; body: any; headers: Headers }>;
  close(): Promise<void>;
}

/**
 * Routes that forward to replicas write into the client's socket themselves (the gateway's
 * dispatcher), so they are called over loopback; every other route through Fastify's inject().
 */
const VIA_SOCKET = /^\/v1\/(deployment-request\/|chat\/completions|completions|embeddings)/;

/**
 * The real app on a real loopback socket over a fresh database of the given engine, built by the
 * same wiring as `gantry serve` (cli/wiring.ts) with no runtime unless `wire` gives one.
 */
export async function startTestApp(
  engine: Engine,
  options: {
    /** Replaces parts of the context before the app is wired, e.g. a real runtime or a stepped clock. */
    wire?: (ctx: CommandContext) => void;
    /** What `gantry serve` takes from its settings: GPUs, endpoint settings, hold limits, body limit, downloads. */
    wiring?: Omit<WiringOptions, 'ctx' | 'publicUrl'>;
    gatewayTimeouts?: AppDeps['gatewayTimeouts'];
  } = {},
): Promise<TestApp> {
  const db = await engine.create();
  const store = new Store(await openDatabase(db.url));
  const blobDir = mkdtempSync(join(tmpdir(), 'gantry-blobs-'));
  const ctx: CommandContext = {
    store,
    clock: systemClock,
    ids: randomIds,
    secretBox: new SecretBox(randomBytes(32)),
    runtime: NO_RUNTIME,
    blobs: new FsBlobStore(blobDir),
  };
  options.wire?.(ctx);
  let url = '';
  const parts = wireApp({ ctx, publicUrl: () => url, ...options.wiring });
  const app = await buildApp({ ...parts, keyCacheMs: 100, ...(options.gatewayTimeouts ? { gatewayTimeouts: options.gatewayTimeouts } : {}) });
  url = await app.listen({ host: '127.0.0.1', port: 0 });
  const keyFor = (project: string) => createApiKey(ctx, project);
  const adminKey = (await keyFor('default')).key;
  return {
    app,
    url,
    store,
    ctx,
    parts,
    adminKey,
    keyFor,
    async call(method, path, opts = {}) {
      const headers: Record<string, string> = { ...opts.headers };
      const key = opts.key === undefined ? adminKey : opts.key;
      if (key) headers.authorization = `Bearer ${key}`;
      let body: string | undefined = opts.raw;
      if (opts.body !== undefined) {
        body = JSON.stringify(opts.body);
        headers['content-type'] ??= 'application/json';
      }
      let status: number;
      let text: string;
      let resHeaders: Headers;
      if (VIA_SOCKET.test(path)) {
        const res = await fetch(url + path, { method, headers, body });
        [status, text, resHeaders] = [res.status, await res.text(), res.headers];
      } else {
        const res = await app.inject({
          method: method as 'GET',
          url: path,
          headers,
          ...(body !== undefined ? { payload: body } : {}),
        });
        [status, text] = [res.statusCode, res.payload];
        resHeaders = new Headers(Object.entries(res.headers).flatMap(([k, v]) => (v === undefined ? [] : [[k, String(v)]])) as [string, string][]);
      }
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // Not JSON: the body stays text.
      }
      return { status, body: parsed, headers: resHeaders };
    },
    async close() {
      // A connection a test left open (a body it did not read) would hold close() until
      // Fastify's 72 s keep-alive timeout: the tests are over, so cut them.
      app.server.closeAllConnections();
      await app.close();
      await store.close();
      await db.drop();
      rmSync(blobDir, { recursive: true, force: true });
    },
  };
}

/** Retries `fn` until `done` accepts its result or 5 s pass; answers the last result. */
export async function eventually<T>(fn: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (done(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}
