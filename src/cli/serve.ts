import { mkdtempSync, rmSync, unwatchFile, watchFile, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { buildApp } from '../app.js';
import { LocalBus, PostgresBus } from '../cluster/bus.js';
import { ClusterRuntime } from '../cluster/cluster-runtime.js';
import { cannotJoin, goneFromHost, INSTANCE_LIVE_MS } from '../cluster/instances.js';
import { LeaderLease } from '../cluster/leader-lease.js';
import { Observations } from '../cluster/observations.js';
import { TrafficExchange } from '../cluster/traffic-exchange.js';
import type { CommandContext } from '../commands/context.js';
import { ensureAdminKey } from '../commands/keys.js';
import { ConfigError, type Config } from '../config/config.js';
import { NO_RUNTIME } from '../contract/ports.js';
import { registerRuntimeGauges } from '../metrics/http-metrics.js';
import { listenForMetrics } from '../api/metrics-endpoint.js';
import { every } from '../domain/periodic.js';
import type { PlatformEnv } from '../reconciler/revision-spec.js';
import { detectGpus, GpuInventory, type GpuCapacity } from '../runtime/gpus.js';
import { FsBlobStore } from '../storage/fs-blob-store.js';
import { isGatewayWorker, serveGatewayWorker, startGatewayWorkers, type GatewayWorkers } from './gateway-workers.js';
import { startDuties, type Duties } from './leader-duties.js';
import { listenOn } from './listen.js';
import { loadInstanceId, loadSecretBox, openStore } from './runtime-deps.js';
import { GantryRegistry } from './registry.js';
import { loadTls } from './tls.js';
import { wireApp } from './wiring.js';

export async function serve(config: Config) {
  if (isGatewayWorker()) return serveGatewayWorker(config);
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
  // The API's port to the runtime is set below: the leader's controller, or what it shares.
  const ctx: CommandContext = { ...deps, secretBox, runtime: NO_RUNTIME, blobs };
  // This process among the instances serving the database (two sharing a data dir are two).
  const instanceId = loadInstanceId(config, deps.ids);
  const member = `${instanceId}-${deps.ids.hex(4)}`;
  const clusterLog = (msg: string, fields: object) => logger.warn(fields, msg);
  const bus =
    deps.store.db.dialect === 'postgres'
      ? await PostgresBus.open(config.databaseUrl, member, (messages) => deps.store.cluster.notify(messages), deps.clock, clusterLog)
      : new LocalBus();
  // The hardware catalog reads the leader's runtime's GPUs (a cluster's nodes) once it has them, else this machine's.
  let runtimeGpus: GpuCapacity | null = null;
  const capacity: GpuCapacity = { types: () => (runtimeGpus ?? gpus).types(), free: (type) => (runtimeGpus ?? gpus).free(type) };
  const parts = wireApp({
    ctx,
    gpus: capacity,
    runtime: config.runtime,
    endpoints: config.endpoints,
    downloadsDir: join(config.dataDir, 'downloads'),
    hold: { maxHeld: config.holdMax, maxWaitMs: config.holdTimeoutSeconds * 1000 },
    jobRetentionMs: config.jobRetentionDays * 24 * 3600 * 1000,
    instanceId,
    publicUrl: () => platform.apiBaseUrl,
    ...(config.metricsToken !== undefined ? { metricsToken: config.metricsToken } : {}),
    bodyLimit: config.bodyLimit,
    logger,
    bus,
  });
  const { routes, traffic, metrics, queue, importer } = parts;
  const lease = new LeaderLease({
    store: deps.store.cluster,
    clock: deps.clock,
    holder: member,
    url: () => platform.apiBaseUrl,
    leaseMs: config.leaderLeaseSeconds * 1000,
    holderGone: async (holder) => goneFromHost(await deps.store.cluster.instance(holder), hostname()),
    log: (msg, fields) => logger.info(fields, msg),
  });
  const observations = new Observations(deps.store.cluster, bus, routes, deps.clock, clusterLog);
  const runtime = new ClusterRuntime(observations, bus, { kind: config.runtime, requiresCommand: config.runtime === 'process' }, () => lease.leaderUrl());
  ctx.runtime = runtime;
  registerRuntimeGauges(metrics, routes, runtime, () => lease.holds());
  // Traffic goes to the leader through the store, where other instances (PostgreSQL) or this one's gateway workers report it.
  const exchange =
    deps.store.db.dialect === 'postgres' || config.gatewayWorkers > 1
      ? new TrafficExchange({ store: deps.store.cluster, traffic, routes, clock: deps.clock, instanceId: member })
      : null;
  let duties: Duties | null = null;
  // Work for a deployment (a held request, a submitted job) on any instance wakes the leader's autoscaler.
  routes.onHold((id) => bus.publish('wake', `${id} ${routes.held(id)} ${member}`));
  queue.onSubmit((id) => bus.publish('wake', `${id} 0 ${member}`));
  bus.subscribe('wake', (payload) => {
    const [id, held, from] = payload.split(' ');
    if (from !== member && Number(held) > 0) traffic.noteRemoteHeld(id!, Number(held));
    duties?.autoscaler.wake(id!, Number(held) > 0);
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
    leading: () => lease.holds(),
  });
  const me = { id: member, host: hostname(), data_dir: config.dataDir, runtime: config.runtime, pid: process.pid };
  const refusal = cannotJoin(me, await deps.store.cluster.liveInstances(deps.clock.nowMs() - INSTANCE_LIVE_MS));
  if (refusal) throw new ConfigError(refusal);
  const metricsServer = config.metricsListen ? await listenForMetrics(metrics, config.metricsToken, config.metricsListen) : null;
  if (metricsServer) process.stdout.write(`metrics on ${metricsServer.url}/metrics\n`);
  // With gateway workers, they hold the listen socket and this process answers what they pass on.
  let workers: GatewayWorkers | null = null;
  const runDir = config.gatewayWorkers > 1 ? mkdtempSync(join(tmpdir(), 'gantry-main-')) : null;
  let address: string;
  if (runDir) {
    const mainSocket = join(runDir, 'api.sock');
    await app.listen({ path: mainSocket });
    workers = await startGatewayWorkers({ count: config.gatewayWorkers, mainSocket, bus, metrics, log: logger });
    address = workers.address;
  } else address = await listenOn(app, config);
  platform.apiBaseUrl ||= address.replace('://0.0.0.0', '://127.0.0.1').replace('://[::]', '://127.0.0.1');
  const registryHost = await registry?.start(platform.apiBaseUrl, deps.clock, deps.ids, (msg) => logger.warn(msg));
  if (registryHost) platform.registryHost = registryHost;

  let closing = false;
  let started = false;
  let startError: Error | null = null;
  // Leading and following take turns in order, however fast the lease changes hands.
  let turn: Promise<void> = Promise.resolve();
  const lead = async () => {
    duties = await startDuties({ config, ctx, parts, secretBox, blobs, gpus, platform, observations, exchange, holds: () => lease.holds(), logger });
    runtimeGpus = duties.driver.gpuCapacity ?? null;
    runtime.lead(duties.controller);
    logger.info({ runtime: duties.driver.kind, gpus: capacity.types() }, 'leading: runtime ready');
  };
  const follow = async () => {
    runtime.lead(null);
    const stopping = duties;
    duties = null;
    runtimeGpus = null;
    await stopping?.stop();
    if (!closing) await observations.follow();
  };
  lease.onChange((leading) => {
    turn = turn
      .then(() => (leading ? lead() : follow()))
      .catch((err: Error) => {
        // A runtime that cannot be opened is a configuration error: at start it fails the start
        // (below); later it ends this instance as it would have at start.
        if (!started) return void (startError = err);
        logger.fatal({ error: err.message }, leading ? 'could not take up the lead' : 'could not step down');
        process.stderr.write(`${err.message}\n`);
        process.exit(1);
      });
  });
  const heartbeat = async () => {
    await deps.store.cluster.heartbeat({ ...me, url: platform.apiBaseUrl, seen_at: deps.clock.nowMs() });
    await exchange?.report();
    if (lease.holds()) await exchange?.merge();
  };
  await heartbeat();
  const stopHeartbeat = every(deps.clock, 1000, heartbeat, (err) => clusterLog('cluster heartbeat failed', { error: err.message }));
  await lease.start();
  await turn;
  if (startError) {
    await lease.stop();
    throw startError;
  }
  started = true;
  if (!lease.holds()) await observations.follow();
  if (tls?.selfSignedFile) {
    process.stdout.write(
      `serving HTTPS with a self-signed certificate for localhost and 127.0.0.1: ${tls.selfSignedFile}\n` +
        `  trust it with curl --cacert ${tls.selfSignedFile}, SSL_CERT_FILE=${tls.selfSignedFile} (Python) or NODE_EXTRA_CA_CERTS=${tls.selfSignedFile} (Node.js)\n`,
    );
  }
  process.stdout.write(`listening on ${address}\n`);
  process.stdout.write(`web console: ${platform.apiBaseUrl}/console (sign in with an API key)\n`);

  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down');
    unwatchFile(keyFile);
    stopHeartbeat();
    importer.stop();
    await workers?.stop();
    await app.close();
    if (runDir) rmSync(runDir, { recursive: true, force: true });
    metricsServer?.server.close();
    // The duties stop before the lease is given up: a process-runtime leader's replicas end
    // gracefully before the next leader starts its own. Containers and pods keep running and
    // are adopted by the next leader (or the next start).
    runtime.lead(null);
    await turn;
    await duties?.stop();
    await lease.stop();
    await deps.store.cluster.removeInstance(member).catch(() => {});
    await registry?.stop();
    await bus.close();
    await deps.store.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}
