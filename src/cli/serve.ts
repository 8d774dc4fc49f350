import { unwatchFile, watchFile, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildApp } from '../app.js';
import { Autoscaler } from '../autoscaler/autoscaler.js';
import { scrapeCustomMetric } from '../autoscaler/custom-metric.js';
import type { CommandContext } from '../commands/context.js';
import { InactivityWatcher } from '../commands/endpoint-inactivity.js';
import { ensureAdminKey } from '../commands/keys.js';
import { ConfigError, type Config } from '../config/config.js';
import { NO_RUNTIME } from '../contract/ports.js';
import { registerRuntimeGauges } from '../metrics/http-metrics.js';
import { MetricsHistory } from '../metrics/history.js';
import { listenForMetrics } from '../api/metrics-endpoint.js';
import { keyOf } from '../queue/job-queue.js';
import { DeploymentController } from '../reconciler/deployment-controller.js';
import type { PlatformEnv } from '../reconciler/revision-spec.js';
import { VolumePreloader } from '../reconciler/volume-preload.js';
import { detectGpus, GpuInventory } from '../runtime/gpus.js';
import { FsBlobStore } from '../storage/fs-blob-store.js';
import { UsageMeter } from '../usage/usage-meter.js';
import { loadInstanceId, loadSecretBox, openDriver, openStore } from './runtime-deps.js';
import { GantryRegistry } from './registry.js';
import { loadTls } from './tls.js';
import { wireApp } from './wiring.js';

export async function serve(config: Config) {
  const logger = pino({ level: config.logLevel, redact: ['req.headers.authorization'] });
  const deps = await openStore(config);
  const secretBox = loadSecretBox(config);
  // A rotation (`gantry secrets rotate-key`) replaces secret.key: new values are sealed under the new key from then on.
  const keyFile = join(config.dataDir, 'secret.key');
  if (config.secretKey === undefined) watchFile(keyFile, { interval: 2000, persistent: false }, () => secretBox.refresh());
  const admin = await ensureAdminKey(deps, config.adminKey);
  if (admin.created && !config.adminKey) {
    const path = join(config.dataDir, 'admin.key');
    writeFileSync(path, admin.created.key + '\n', { mode: 0o600 });
    process.stdout.write(`admin key for project "default" (shown once, also saved to ${path}): ${admin.created.key}\n`);
  }

  const tls = await loadTls(config, deps.clock);
  const gpus = new GpuInventory(config.gpus ?? detectGpus());
  // TOGETHER_API_BASE_URL: the public URL, else the address bound below (known after listen).
  const platform: PlatformEnv = { apiBaseUrl: config.publicUrl ?? '', volumesDir: join(config.dataDir, 'volumes') };
  // Process replicas run on this machine, so they can be pointed at the self-signed certificate.
  if (tls?.selfSignedFile && config.runtime === 'process') {
    platform.trustEnv = { SSL_CERT_FILE: tls.selfSignedFile, NODE_EXTRA_CA_CERTS: tls.selfSignedFile };
  }
  const blobs = new FsBlobStore(join(config.dataDir, 'storage'), deps.ids);
  // The controller is the runtime port of the commands; it is made from the wired routing table.
  const ctx: CommandContext = { ...deps, secretBox, runtime: NO_RUNTIME, blobs };
  // A ready replica about to stop leaves the routing table first and finishes what it serves
  // (at most its grace period, 30 s at most): rolling updates and scale-downs drop no request.
  // (The driver is opened first: the hardware catalog wired below reads its GPUs when it knows them.)
  const driver = await openDriver(config, gpus, (deploymentId, replicaId, graceMs) => parts.routes.drain(deploymentId, replicaId, Math.min(graceMs, 30_000)));
  const parts = wireApp({
    ctx,
    // A cluster's nodes when the runtime knows them, else this machine's GPUs.
    gpus: driver.gpuCapacity ?? gpus,
    runtime: config.runtime,
    endpoints: config.endpoints,
    downloadsDir: join(config.dataDir, 'downloads'),
    hold: { maxHeld: config.holdMax, maxWaitMs: config.holdTimeoutSeconds * 1000 },
    jobRetentionMs: config.jobRetentionDays * 24 * 3600 * 1000,
    instanceId: loadInstanceId(config, deps.ids),
    publicUrl: () => platform.apiBaseUrl,
    ...(config.metricsToken !== undefined ? { metricsToken: config.metricsToken } : {}),
    bodyLimit: config.bodyLimit,
    logger,
  });
  const { routes, traffic, metrics, queue, endpoints, importer } = parts;
  const preloader = new VolumePreloader({ store: deps.store, blobs, volumesDir: platform.volumesDir, clock: deps.clock });
  const controller = new DeploymentController({
    clock: deps.clock,
    routes,
    store: deps.store,
    driver,
    secretBox,
    platform,
    preloader,
    maxConcurrent: config.reconcileConcurrency,
    log: (msg, fields) => logger.info(fields ?? {}, msg),
  });
  ctx.runtime = controller;
  registerRuntimeGauges(metrics, routes, driver);
  const history = new MetricsHistory({
    store: deps.store,
    traffic,
    observe: (id) => driver.observe(id),
    clock: deps.clock,
    log: (msg, fields) => logger.warn(fields, msg),
  });
  queue.onFinished((projectId, model, latencyMs) => history.jobFinished(projectId, model, latencyMs));
  const autoscaler = new Autoscaler({
    clock: deps.clock,
    store: deps.store,
    traffic,
    routes,
    observe: (id) => driver.observe(id),
    changed: (id) => controller.changed(id),
    customMetric: (id, name) => scrapeCustomMetric(driver.observe(id), name),
    queueDepths: async () => {
      const depths = await queue.depths();
      return (projectId, model) => depths.get(keyOf(projectId, model)) ?? 0;
    },
    stabilizationMs: config.scaleDownWindowSeconds * 1000,
    idleGraceMs: config.idleGraceSeconds * 1000,
    decisions: metrics.autoscalerDecisions,
    decided: (id, text) => history.decided(id, text),
    log: (msg, fields) => logger.info(fields, msg),
  });
  // Upload jobs this instance ran before it stopped resume now; another instance's, once its lease lapses.
  await importer.start();
  const registry = await GantryRegistry.open(config, deps.clock, deps.ids);
  const app = await buildApp({
    ...parts,
    ...(tls ? { https: tls } : {}),
    ...(registry ? { registry: registry.deps(() => platform.apiBaseUrl) } : {}),
    metricsElsewhere: config.metricsListen !== undefined,
    rateLimits: config.rateLimits,
  });
  const metricsServer = config.metricsListen ? await listenForMetrics(metrics, config.metricsToken, config.metricsListen) : null;
  if (metricsServer) process.stdout.write(`metrics on ${metricsServer.url}/metrics\n`);
  const address = await listenOn(app, config);
  platform.apiBaseUrl ||= address.replace('://0.0.0.0', '://127.0.0.1').replace('://[::]', '://127.0.0.1');
  const registryHost = await registry?.start(platform.apiBaseUrl, deps.clock, deps.ids, (msg) => logger.warn(msg));
  if (registryHost) platform.registryHost = registryHost;
  logger.info({ runtime: driver.kind, gpus: (driver.gpuCapacity ?? gpus).types() }, 'runtime ready');
  await controller.start();
  autoscaler.start();
  history.start();
  const inactivity = new InactivityWatcher({ ctx, env: endpoints, traffic, clock: deps.clock, log: (msg, fields) => logger.info(fields, msg) });
  inactivity.start();
  const meter = new UsageMeter({
    store: deps.store,
    runtime: controller,
    hardware: endpoints.hardware,
    clock: deps.clock,
    log: (msg, fields) => logger.warn(fields, msg),
  });
  meter.start();
  // A job submitted to a deployment at zero wakes it at once.
  queue.onSubmit((id) => autoscaler.wake(id));
  queue.start();
  if (tls?.selfSignedFile) {
    process.stdout.write(
      `serving HTTPS with a self-signed certificate for localhost and 127.0.0.1: ${tls.selfSignedFile}\n` +
        `  trust it with curl --cacert ${tls.selfSignedFile}, SSL_CERT_FILE=${tls.selfSignedFile} (Python) or NODE_EXTRA_CA_CERTS=${tls.selfSignedFile} (Node.js)\n`,
    );
  }
  process.stdout.write(`listening on ${address}\n`);
  process.stdout.write(`web console: ${platform.apiBaseUrl}/console (sign in with an API key)\n`);

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down');
    unwatchFile(keyFile);
    inactivity.stop();
    meter.stop();
    importer.stop();
    await autoscaler.stop();
    await history.stop();
    await queue.stop();
    await app.close();
    metricsServer?.server.close();
    await controller.stop();
    await registry?.stop();
    // Process replicas are Gantry's children and stop with it; containers keep running and
    // are adopted on the next start.
    await driver.close();
    await deps.store.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

/** Listens, turning the common failures into a message that says what to do. */
async function listenOn(app: FastifyInstance, config: Config): Promise<string> {
  const { host, port } = config.listen;
  try {
    return await app.listen({ host, port });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE')
      throw new ConfigError(
        `--listen (GANTRY_LISTEN): ${host}:${port} is already in use (another gantry serve?); choose another port with --listen ${host}:PORT, or port 0 for a free one`,
      );
    if (code === 'EADDRNOTAVAIL') throw new ConfigError(`--listen (GANTRY_LISTEN): ${host} is not an address of this machine`);
    if (code === 'EACCES')
      throw new ConfigError(`--listen (GANTRY_LISTEN): not allowed to listen on port ${port} (ports below 1024 need root); choose another with --listen`);
    throw err;
  }
}
