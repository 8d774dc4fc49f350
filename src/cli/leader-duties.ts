import type { FastifyBaseLogger } from 'fastify';
import type { AppDeps } from '../app.js';
import { Autoscaler } from '../autoscaler/autoscaler.js';
import { scrapeCustomMetric } from '../autoscaler/custom-metric.js';
import type { Observations } from '../cluster/observations.js';
import type { TrafficExchange } from '../cluster/traffic-exchange.js';
import type { CommandContext } from '../commands/context.js';
import { InactivityWatcher } from '../commands/endpoint-inactivity.js';
import type { Config } from '../config/config.js';
import type { RuntimeDriver } from '../contract/runtime.js';
import { MetricsHistory } from '../metrics/history.js';
import { keyOf } from '../queue/job-queue.js';
import { DeploymentController } from '../reconciler/deployment-controller.js';
import type { PlatformEnv } from '../reconciler/revision-spec.js';
import { VolumePreloader } from '../reconciler/volume-preload.js';
import type { GpuInventory } from '../runtime/gpus.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { SecretBox } from '../domain/secret-box.js';
import { UsageMeter } from '../usage/usage-meter.js';
import { openDriver } from './runtime-deps.js';
import { every } from '../domain/periodic.js';

export interface LeaderDutiesOptions {
  config: Config;
  ctx: CommandContext;
  parts: AppDeps;
  secretBox: SecretBox;
  blobs: BlobStore;
  gpus: GpuInventory;
  platform: PlatformEnv;
  observations: Observations;
  exchange: TrafficExchange | null;
  /** Whether this instance still holds the lease: every pass checks it before it acts. */
  holds: () => boolean;
  logger: FastifyBaseLogger;
}

/** What runs while this instance leads; built on election, torn down when the lease is lost. */
export interface Duties {
  driver: RuntimeDriver;
  controller: DeploymentController;
  autoscaler: Autoscaler;
  stop(): Promise<void>;
}

/**
 * Everything that decides, run by the leader only: the runtime driver and the deployment
 * controller over it, the autoscaler, the metrics history, the usage meter, the endpoints'
 * inactivity watcher and the queue's sweeps. The runtime is opened here, so a new leader
 * adopts what the previous one left running (containers, pods) or, on the process runtime,
 * stops the replica processes the previous leader left and starts its own.
 */
export async function startDuties(o: LeaderDutiesOptions): Promise<Duties> {
  const { ctx, parts, logger } = o;
  const { routes, traffic, metrics, queue, endpoints } = parts;
  const { observations } = o;
  // A ready replica about to stop leaves every gateway's routes first and finishes what it
  // serves (at most its grace period, 30 s at most): rolling updates and scale-downs drop no request.
  const driver = await openDriver(o.config, o.gpus, {
    beforeStop: async (deploymentId, replicaId, graceMs) => {
      await observations.leaving(deploymentId, replicaId).catch((err: Error) => logger.warn({ error: err.message }, 'could not tell other gateways'));
      await routes.drain(deploymentId, replicaId, Math.min(graceMs, 30_000));
    },
    mayStart: o.holds,
  });
  const preloader = new VolumePreloader({ store: ctx.store, blobs: o.blobs, volumesDir: o.platform.volumesDir, clock: ctx.clock });
  const controller = new DeploymentController({
    clock: ctx.clock,
    routes,
    store: ctx.store,
    driver,
    secretBox: o.secretBox,
    platform: o.platform,
    preloader,
    maxConcurrent: o.config.reconcileConcurrency,
    holds: o.holds,
    observed: (projectId, name, id, replicas, capacity) => observations.publish(projectId, name, id, replicas, capacity),
    log: (msg, fields) => logger.info(fields ?? {}, msg),
  });
  const history = new MetricsHistory({
    store: ctx.store,
    traffic,
    observe: (id) => driver.observe(id),
    clock: ctx.clock,
    log: (msg, fields) => logger.warn(fields, msg),
  });
  const unlisten = queue.onFinished((projectId, model, latencyMs) => history.jobFinished(projectId, model, latencyMs));
  const autoscaler = new Autoscaler({
    clock: ctx.clock,
    store: ctx.store,
    traffic,
    routes,
    holds: o.holds,
    observe: (id) => driver.observe(id),
    changed: (id) => controller.changed(id),
    customMetric: (id, name) => scrapeCustomMetric(driver.observe(id), name),
    queueDepths: async () => {
      const depths = await queue.depths();
      return (projectId, model) => depths.get(keyOf(projectId, model)) ?? 0;
    },
    stabilizationMs: o.config.scaleDownWindowSeconds * 1000,
    idleGraceMs: o.config.idleGraceSeconds * 1000,
    decisions: metrics.autoscalerDecisions,
    decided: (id, text) => history.decided(id, text),
    log: (msg, fields) => logger.info(fields, msg),
  });
  o.exchange?.resetMerged();
  try {
    // Rows of what the previous leader ran that this runtime does not are dropped before this
    // controller's first reconciles write their own.
    await observations.takeOver(driver.deployments());
    await controller.start();
  } catch (err) {
    await controller.stop();
    await driver.close();
    throw err;
  }
  autoscaler.start();
  history.start();
  const inactivity = new InactivityWatcher({ ctx, env: endpoints, traffic, clock: ctx.clock, log: (msg, fields) => logger.info(fields, msg) });
  inactivity.start();
  const meter = new UsageMeter({
    store: ctx.store,
    runtime: controller,
    hardware: endpoints.hardware,
    clock: ctx.clock,
    log: (msg, fields) => logger.warn(fields, msg),
  });
  meter.start();
  queue.start();
  let analyzing = false;
  const stopStatistics = every(
    ctx.clock,
    1000,
    async () => {
      if (analyzing) return;
      analyzing = true;
      try {
        const tables = await ctx.store.refreshStatistics();
        if (tables.length) logger.info({ tables }, 'table statistics refreshed: the tables outgrew them');
      } finally {
        analyzing = false;
      }
    },
    (err) => logger.warn({ error: err.message }, 'refreshing table statistics failed'),
  );
  return {
    driver,
    controller,
    autoscaler,
    async stop() {
      stopStatistics();
      inactivity.stop();
      meter.stop();
      await autoscaler.stop();
      await history.stop();
      await queue.stop();
      unlisten();
      await controller.stop();
      // Process replicas are this instance's children and stop with its leadership; containers
      // and pods keep running for the next leader to adopt.
      await driver.close();
    },
  };
}
