import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Dispatcher } from 'undici';
import { KeyResolver, requireApiKey } from './api/auth.js';
import { gatewayRoutes } from './api/routes/gateway.js';
import type { AppDeps } from './app.js';
import { createFastify } from './api/fastify.js';
import { errors } from './contract/errors.js';
import { forward } from './gateway/forward.js';

export interface GatewayAppDeps extends Pick<
  AppDeps,
  'ctx' | 'bodyLimit' | 'logger' | 'metrics' | 'https' | 'routes' | 'traffic' | 'endpoints' | 'keyCacheMs'
> {
  /** The main process's own HTTP server (on a local socket): everything but the data plane is answered there. */
  main: Dispatcher;
}

/** Headers of one connection, not of the request; the caller's key and host go on to the main process. */
const CONNECTION_HEADERS = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/**
 * A gateway worker's HTTP app (`gantry serve --gateway-workers N`): the data plane itself
 * (`/v1/deployment-request/…`, inference, WebSocket upgrades), the same routes as the main app's
 * with the same auth, holding and errors; every other request goes on to the main process as it
 * came, so the API and its limits are the main process's alone.
 */
export async function buildGatewayApp(deps: GatewayAppDeps): Promise<FastifyInstance> {
  const app = createFastify(deps);
  const keys = new KeyResolver(deps.ctx.store, deps.keyCacheMs, deps.ctx.clock);
  await app.register(
    async (v1) => {
      requireApiKey(v1, keys);
      await v1.register(gatewayRoutes, {
        ctx: deps.ctx,
        table: deps.routes,
        traffic: deps.traffic,
        metrics: deps.metrics,
        inference: { directory: deps.endpoints.directory, bodyLimit: deps.bodyLimit },
      });
    },
    { prefix: '/v1' },
  );
  await app.register(async (rest) => {
    // Bodies are not parsed here: the request stream itself goes to the main process.
    rest.removeAllContentTypeParsers();
    rest.addContentTypeParser('*', (_req, _payload, done) => done(null));
    const handler = (req: FastifyRequest, reply: FastifyReply) => toMain(deps.main, req, reply);
    rest.all('/', { schema: { hide: true } }, handler);
    rest.all('/*', { schema: { hide: true } }, handler);
  });
  app.addHook('onClose', () => deps.main.close());
  return app;
}

async function toMain(main: Dispatcher, req: FastifyRequest, reply: FastifyReply) {
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !CONNECTION_HEADERS.has(k)) headers[k] = v;
  headers['x-forwarded-for'] = req.ip;
  const sized = req.headers['content-length'] !== undefined;
  const hasBody = sized ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
  const gone = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) gone.abort();
  });
  try {
    await forward(main, { method: req.method, path: req.raw.url ?? '/', headers, body: hasBody ? req.raw : null, signal: gone.signal }, reply.raw, () =>
      reply.hijack(),
    );
  } catch (err) {
    throw errors.badGateway(`this gateway worker could not reach Gantry's main process: ${(err as Error).message}`);
  }
}
