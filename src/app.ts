import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { createFastify } from './api/fastify.js';
import swagger from '@fastify/swagger';
import type { CommandContext } from './commands/context.js';
import { KeyResolver, callerOf, requireApiKey } from './api/auth.js';
import { deploymentRoutes } from './api/routes/deployments.js';
import { deploymentRevisionRoutes } from './api/routes/deployment-revisions.js';
import { secretRoutes } from './api/routes/secrets.js';
import { volumeRoutes } from './api/routes/volumes.js';
import { queueRoutes, workerRoutes } from './api/routes/queue.js';
import { signedStorageRoutes, storageRoutes } from './api/routes/storage.js';
import { UrlSigner } from './storage/url-signer.js';
import { endpointRoutes } from './api/routes/endpoints.js';
import { modelRoutes } from './api/routes/models.js';
import { usageRoutes } from './api/routes/usage.js';
import { metricsRoute } from './api/metrics-endpoint.js';
import { ConcurrencyLimit, limitRequestRate, type RateLimits } from './api/rate-limits.js';
import { consoleRoutes } from './api/routes/console.js';
import { whoamiRoute } from './api/routes/whoami.js';
import { imageRepositoryRoutes, registryTokenRoute, type RegistryDeps } from './api/routes/registry.js';
import { listModels } from './commands/models.js';
import { checkStorageRead, checkStorageWrite } from './commands/worker-scope.js';
import type { Caller } from './contract/ports.js';
import type { ModelImporter } from './commands/model-import.js';
import type { EndpointEnv } from './endpoints/endpoint-env.js';
import type { JobQueue } from './queue/job-queue.js';
import { gatewayRoutes, type GatewayTimeouts } from './api/routes/gateway.js';
import type { RoutingTable } from './gateway/routing-table.js';
import type { Traffic } from './gateway/traffic.js';
import type { Metrics } from './metrics/http-metrics.js';
import { VERSION } from './version.js';

/** What the app is made of; `wireApp` (cli/wiring.ts) builds it the same way for serve and tests. */
export interface AppDeps {
  ctx: CommandContext;
  bodyLimit: number;
  logger: FastifyBaseLogger;
  metrics: Metrics;
  /** Where the gateway finds ready replicas (kept current by the deployment controller). */
  routes: RoutingTable;
  traffic: Traffic;
  /** The job queue (its sweep is started by whoever runs it). */
  queue: JobQueue;
  /** Dedicated endpoints' hardware, models and engine. */
  endpoints: EndpointEnv;
  /** Runs model uploads. */
  importer: ModelImporter;
  /** How long a resolved API key is trusted before it is looked up again. */
  keyCacheMs?: number;
  gatewayTimeouts?: Partial<GatewayTimeouts>;
  /** Serve HTTPS with this certificate and key. */
  https?: { cert: string; key: string };
  /** This server as clients and replicas reach it: the base of signed URLs (known once listening). */
  publicUrl: () => string;
  /** When set, /metrics answers only requests bearing it (`--metrics-token`). */
  metricsToken?: string;
  /** /metrics is served on an address of its own (`--metrics-listen`), not by this app. */
  metricsElsewhere?: boolean;
  /** Per-key limits (`--rate-limit`, `--max-long-polls`); none when not given. */
  rateLimits?: RateLimits;
  /** The built web console, served at /console/. */
  consoleDir: string;
  /** Gantry's image registry, when `gantry serve` runs one: base-path and the token endpoint. */
  registry?: RegistryDeps;
  /** Whether this instance leads (several instances on one database); /health reports it. Always, without one. */
  leading?: () => boolean;
}

/** Builds the HTTP app without listening, so tests can drive it with inject() or a real socket. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { bodyLimit, metrics, queue, importer } = deps;
  const endpointEnv = deps.endpoints;
  const app = createFastify(deps);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Gantry', version: VERSION, description: "Gantry's implementation of Together AI's Dedicated Containers API" },
      servers: [{ url: '/' }],
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearerAuth: [] }],
    },
  });

  app.get('/health', { schema: { hide: true } }, async () => ({ status: 'ok', leader: deps.leading?.() ?? true }));
  if (!deps.metricsElsewhere) metricsRoute(app, metrics, deps.metricsToken);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.register(async (c) => consoleRoutes(c, deps.consoleDir));

  const keys = new KeyResolver(deps.ctx.store, deps.keyCacheMs, deps.ctx.clock);
  app.addHook('onClose', () => importer.idle());
  const storage = {
    blobs: deps.ctx.blobs,
    signer: new UrlSigner(deps.ctx.secretBox.deriveKey('storage-urls'), deps.ctx.clock),
    publicUrl: deps.publicUrl,
    checkWrite: (caller: Caller, filename: string) => checkStorageWrite(deps.ctx, caller, filename),
    checkRead: (caller: Caller, filename: string) => checkStorageRead(deps.ctx, caller, filename),
  };
  await app.register(signedStorageRoutes, storage);
  await app.register(
    async (v1) => {
      requireApiKey(v1, keys);
      await limitRequestRate(v1, deps.rateLimits ?? { requestsPerSecond: 0, longPolls: 0 });
      deploymentRoutes(v1, deps.ctx);
      deploymentRevisionRoutes(v1, deps.ctx);
      secretRoutes(v1, deps.ctx);
      volumeRoutes(v1, deps.ctx);
      queueRoutes(v1, queue);
      storageRoutes(v1, storage);
      endpointRoutes(v1, deps.ctx, endpointEnv);
      modelRoutes(v1, deps.ctx, endpointEnv, importer);
      usageRoutes(v1, deps.ctx);
      imageRepositoryRoutes(v1, deps.registry);
      whoamiRoute(v1, 'v1');
      await v1.register(gatewayRoutes, {
        ctx: deps.ctx,
        table: deps.routes,
        traffic: deps.traffic,
        metrics,
        inference: { directory: endpointEnv.directory, bodyLimit },
        ...(deps.gatewayTimeouts ? { timeouts: deps.gatewayTimeouts } : {}),
      });
    },
    { prefix: '/v1' },
  );
  // Docker's clients authenticate to the registry with HTTP Basic here, not with a bearer key.
  const registry = deps.registry;
  if (registry) await app.register(async (r) => registryTokenRoute(r, deps.ctx, keys, registry.tokens), { prefix: '/v1' });
  await app.register(
    async (v3) => {
      requireApiKey(v3, keys);
      whoamiRoute(v3, 'v3');
    },
    { prefix: '/v3' },
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
      workerRoutes(internal, queue, new ConcurrencyLimit(deps.rateLimits?.longPolls ?? 0));
    },
    { prefix: '/internal/v1' },
  );
  return app;
}
