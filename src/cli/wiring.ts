import type { FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import type { AppDeps } from '../app.js';
import type { CommandContext } from '../commands/context.js';
import { ModelImporter } from '../commands/model-import.js';
import { makeEndpointEnv } from '../endpoints/endpoint-env.js';
import type { EndpointsConfig, ImportOptions } from '../endpoints/settings.js';
import { DEFAULT_HOLD, RoutingTable, type HoldLimits } from '../gateway/routing-table.js';
import { Traffic } from '../gateway/traffic.js';
import { createMetrics } from '../metrics/http-metrics.js';
import { JobQueue } from '../queue/job-queue.js';
import type { Bus } from '../cluster/bus.js';
import { GpuInventory, type GpuCapacity } from '../runtime/gpus.js';
import { fileURLToPath } from 'node:url';

/** Where `npm run build` puts the console: dist/console, from src/cli as from dist/cli. */
const CONSOLE_DIR = fileURLToPath(new URL('../../dist/console', import.meta.url));

export interface WiringOptions {
  ctx: CommandContext;
  gpus?: GpuCapacity;
  runtime?: 'process' | 'docker' | 'kubernetes';
  /** Dedicated endpoints' settings (the config file's); the defaults when not given. */
  endpoints?: EndpointsConfig;
  /** Where model downloads land before storage. */
  downloadsDir?: string;
  /** Download timeouts and retries (tests shorten them). */
  downloads?: Partial<Pick<ImportOptions, 'timeoutMs' | 'attempts' | 'retryDelayMs'>>;
  hold?: HoldLimits;
  /** How long finished queue jobs are kept (the queue's default when not given). */
  jobRetentionMs?: number;
  /** This server as clients and replicas reach it (signed URLs point there); read when needed, since the bound port is known only after listening. */
  publicUrl: () => string;
  /** The bearer token /metrics requires (`--metrics-token`); open when not given. */
  metricsToken?: string;
  /** This Gantry instance, stable across restarts (its claims on background work carry it); one per process when not given. */
  instanceId?: string;
  bodyLimit?: number;
  logger?: FastifyBaseLogger;
  /** How instances tell each other things (a queue's new job wakes every instance's workers); this process alone without one. */
  bus?: Bus;
}

/**
 * The parts of the HTTP app, built one way for `gantry serve` and for the tests: the routing
 * table, traffic record and metrics the gateway and autoscaler share, the job queue, the
 * endpoints' environment and the model importer. Callers start what runs in the background
 * (sweeps, the controller) themselves.
 */
export function wireApp(o: WiringOptions): AppDeps {
  const { ctx } = o;
  const logger = o.logger ?? (pino({ level: 'silent' }) as FastifyBaseLogger);
  const routes = new RoutingTable(o.hold ?? DEFAULT_HOLD, ctx.clock);
  const endpoints = makeEndpointEnv(ctx.store, {
    gpus: o.gpus ?? new GpuInventory([]),
    runtime: o.runtime ?? 'process',
    ...(o.endpoints ? { settings: o.endpoints } : {}),
    ...(o.downloadsDir ? { downloadsDir: o.downloadsDir } : {}),
    ...(o.downloads ? { downloads: o.downloads } : {}),
  });
  const queue = new JobQueue({
    store: ctx.store,
    clock: ctx.clock,
    ids: ctx.ids,
    // The routing table knows every deployment the controller has seen; the store, the rest.
    deploymentOf: async (projectId, name) => routes.lookup(projectId, name)?.deploymentId ?? ctx.store.findDeploymentIdByName(projectId, name),
    ...(o.jobRetentionMs !== undefined ? { retentionMs: o.jobRetentionMs } : {}),
    ...(o.bus ? { announce: (key: string) => o.bus!.publish('jobs', key) } : {}),
    log: (msg, fields) => logger.info(fields, msg),
  });
  o.bus?.subscribe('jobs', (key) => queue.wakeWaiters(key));
  return {
    ctx,
    logger,
    bodyLimit: o.bodyLimit ?? 1024 * 1024,
    routes,
    traffic: new Traffic(ctx.clock),
    metrics: createMetrics(),
    queue,
    endpoints,
    importer: new ModelImporter(ctx, endpoints.imports, o.instanceId ?? ctx.ids.id('instance')),
    publicUrl: o.publicUrl,
    consoleDir: CONSOLE_DIR,
    ...(o.metricsToken !== undefined ? { metricsToken: o.metricsToken } : {}),
  };
}
