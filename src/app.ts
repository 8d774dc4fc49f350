import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { pino } from 'pino';
import type { CommandContext } from './commands/context.js';
import { KeyResolver, callerOf, requireApiKey } from './api/auth.js';
import { clientErrorHandler, frameworkErrors, installErrorHandling, installJsonParser } from './api/error-handler.js';
import { validatorCompiler } from './api/validation.js';
import { deploymentRoutes } from './api/routes/deployments.js';
import { secretRoutes } from './api/routes/secrets.js';
import { volumeRoutes } from './api/routes/volumes.js';
import { queueRoutes, workerRoutes } from './api/routes/queue.js';
import { signedStorageRoutes, storageRoutes } from './api/routes/storage.js';
import { UrlSigner } from './storage/url-signer.js';
import { endpointRoutes } from './api/routes/endpoints.js';
import { modelRoutes } from './api/routes/models.js';
import { usageRoutes } from './api/routes/usage.js';
import { listModels } from './commands/models.js';
import { ModelImporter } from './commands/model-import.js';
import { makeEndpointEnv, type EndpointEnv } from './endpoints/endpoint-env.js';
import { GpuInventory } from './runtime/gpus.js';
import { JobQueue } from './queue/job-queue.js';
import { gatewayRoutes, type GatewayTimeouts } from './api/routes/gateway.js';
import { DEFAULT_HOLD, RoutingTable } from './gateway/routing-table.js';
import { Traffic } from './gateway/traffic.js';
import { createMetrics, instrumentHttp, type Metrics } from './metrics/http-metrics.js';
import { VERSION } from './version.js';

/** Ids and names are at most 100 characters; a little room for ids with prefixes. */
const MAX_PARAM_LENGTH = 200;

export interface AppDeps {
  ctx: CommandContext;
  bodyLimit?: number;
  /** Gantry's logger; silent when not given (tests). */
  logger?: FastifyBaseLogger;
  metrics?: Metrics;
  /** How long a resolved API key is trusted before it is looked up again. */
  keyCacheMs?: number;
  /** Where the gateway finds ready replicas (kept current by the deployment controller). */
  routes?: RoutingTable;
  traffic?: Traffic;
  gatewayTimeouts?: Partial<GatewayTimeouts>;
  /** Dedicated endpoints' hardware, models and engine; no GPUs and the built-in catalog when not given. */
  endpoints?: EndpointEnv;
  /** Runs model uploads; one without sweeps of lapsed jobs when not given. */
  importer?: ModelImporter;
  /** Serve HTTPS with this certificate and key. */
  https?: { cert: string; key: string };
  /** The job queue; one over the store (without its sweep) when not given. */
  queue?: JobQueue;
}

/** Builds the HTTP app without listening, so tests can drive it with inject() or a real socket. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const bodyLimit = deps.bodyLimit ?? 1024 * 1024;
  const options = {
    bodyLimit,
    loggerInstance: deps.logger ?? (pino({ level: 'silent' }) as FastifyBaseLogger),
    // Per-request log lines would cost more than the requests themselves; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: frameworkErrors(MAX_PARAM_LENGTH),
    clientErrorHandler,
  };
  // One app either way; only the server under it differs (Fastify types the two apart).
  const app = (deps.https ? Fastify({ ...options, https: deps.https }) : Fastify(options)) as unknown as FastifyInstance;
  app.decorateRequest('caller', null);
  app.setValidatorCompiler(validatorCompiler);
  // The API takes JSON only; any other body is a 415, not a string to be misread.
  app.removeContentTypeParser('text/plain');
  installJsonParser(app, bodyLimit);
  installErrorHandling(app, bodyLimit);

  const metrics = deps.metrics ?? createMetrics();
  instrumentHttp(app, metrics);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Gantry', version: VERSION, description: "Gantry's implementation of Together AI's Dedicated Containers API" },
      servers: [{ url: '/' }],
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearerAuth: [] }],
    },
  });

  app.get('/health', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const keys = new KeyResolver(deps.ctx.store, deps.keyCacheMs);
  const queue = deps.queue ?? new JobQueue({ store: deps.ctx.store, clock: deps.ctx.clock, ids: deps.ctx.ids });
  const endpointEnv = deps.endpoints ?? makeEndpointEnv(deps.ctx.store, { gpus: new GpuInventory([]), runtime: 'process' });
  const importer = deps.importer ?? new ModelImporter(deps.ctx, endpointEnv.imports);
  app.addHook('onClose', () => importer.idle());
  const storage = { blobs: deps.ctx.blobs, signer: new UrlSigner(deps.ctx.secretBox.deriveKey('storage-urls')) };
  await app.register(signedStorageRoutes, storage);
  await app.register(
    async (v1) => {
      requireApiKey(v1, keys);
      deploymentRoutes(v1, deps.ctx);
      secretRoutes(v1, deps.ctx);
      volumeRoutes(v1, deps.ctx);
      queueRoutes(v1, queue);
      storageRoutes(v1, storage);
      endpointRoutes(v1, deps.ctx, endpointEnv);
      modelRoutes(v1, deps.ctx, endpointEnv, importer);
      usageRoutes(v1, deps.ctx);
      await v1.register(gatewayRoutes, {
        ctx: deps.ctx,
        table: deps.routes ?? new RoutingTable(DEFAULT_HOLD),
        traffic: deps.traffic ?? new Traffic(),
        metrics,
        inference: { directory: endpointEnv.directory, bodyLimit },
        ...(deps.gatewayTimeouts ? { timeouts: deps.gatewayTimeouts } : {}),
      });
    },
    { prefix: '/v1' },
  );
  // The older guide's model list (seed 002).
  await app.register(
    async (v0) => {
      requireApiKey(v0, keys);
      v0.get('/models', { schema: { hide: true } }, async (req) => listModels(deps.ctx, endpointEnv, callerOf(req)));
    },
    { prefix: '/v0' },
  );
  await app.register(
    async (internal) => {
      requireApiKey(internal, keys);
      workerRoutes(internal, queue);
    },
    { prefix: '/internal/v1' },
  );
  return app;
}
