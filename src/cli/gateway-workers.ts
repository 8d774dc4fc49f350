import cluster, { type Worker } from 'node:cluster';
import { join } from 'node:path';
import { pino } from 'pino';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { Pool } from 'undici';
import type { FastifyBaseLogger } from 'fastify';
import type { Bus } from '../cluster/bus.js';
import { IpcBus, relayToWorkers } from '../cluster/ipc-bus.js';
import { Observations } from '../cluster/observations.js';
import { TrafficExchange } from '../cluster/traffic-exchange.js';
import type { CommandContext } from '../commands/context.js';
import { ConfigError, type Config } from '../config/config.js';
import { NO_RUNTIME } from '../contract/ports.js';
import { systemClock } from '../domain/clock.js';
import { every } from '../domain/periodic.js';
import { buildGatewayApp } from '../gateway-app.js';
import { registerHeldGauge, type Metrics } from '../metrics/http-metrics.js';
import { FsBlobStore } from '../storage/fs-blob-store.js';
import { listenOn } from './listen.js';
import { loadInstanceId, loadSecretBox, openStore } from './runtime-deps.js';
import { loadTls } from './tls.js';
import { wireApp } from './wiring.js';

type MetricJson = MetricObjectWithValues<MetricValue<string>>;

/** Set in a gateway worker's environment: its number, and where the main process's HTTP server is. */
const WORKER_ENV = 'GANTRY_GATEWAY_WORKER';
const MAIN_SOCKET_ENV = 'GANTRY_MAIN_SOCKET';

/** Messages between the main process and its workers besides the bus's. */
type Control =
  | { listening: string }
  | { listenError: string }
  | { metricsRequest: number }
  | { metricsReply: number; json: MetricJson[] }
  | { bus: string; payload: string };

export const isGatewayWorker = () => cluster.isWorker && process.env[WORKER_ENV] !== undefined;

export interface GatewayWorkers {
  /** The address the workers listen on. */
  address: string;
  stop(): Promise<void>;
}

/**
 * `gantry serve --gateway-workers N` in the main process: forks N workers (node:cluster) that
 * share the listen socket and serve the data plane, each fed what the gateway needs the way
 * another instance is (the leader's observations from the store, messages relayed here, its
 * traffic reported through the store); everything else they pass to this process's server on
 * `mainSocket`. /metrics sums every process's. A worker that dies is started again.
 */
export async function startGatewayWorkers(o: {
  count: number;
  mainSocket: string;
  bus: Bus;
  metrics: Metrics;
  log: FastifyBaseLogger;
}): Promise<GatewayWorkers> {
  let stopping = false;
  const workers = new Set<Worker>();
  const relay = relayToWorkers(o.bus, () => workers);
  let nextRequest = 0;
  const pending = new Map<number, (json: MetricJson[]) => void>();
  const fork = (index: number) => {
    const w = cluster.fork({ [WORKER_ENV]: String(index), [MAIN_SOCKET_ENV]: o.mainSocket });
    workers.add(w);
    w.on('message', (m: Control) => {
      if ('bus' in m) relay(w, m);
      else if ('metricsReply' in m) pending.get(m.metricsReply)?.(m.json);
    });
    w.on('exit', (code, signal) => {
      workers.delete(w);
      if (stopping) return;
      o.log.error({ worker: index, code, signal }, 'gateway worker exited; starting another');
      systemClock.setTimeout(() => {
        if (!stopping) fork(index);
      }, 1000);
    });
    return w;
  };
  const first = [...Array(o.count).keys()].map((i) => fork(i + 1));
  const addresses = await Promise.all(
    first.map(
      (w) =>
        new Promise<string>((resolve, reject) => {
          w.on('message', (m: Control) => {
            if ('listening' in m) resolve(m.listening);
            if ('listenError' in m) reject(new ConfigError(m.listenError));
          });
          w.once('exit', (code) => reject(new Error(`a gateway worker exited with ${code} before it listened`)));
        }),
    ),
  ).catch(async (err: Error) => {
    stopping = true;
    for (const w of workers) w.kill('SIGKILL');
    throw err;
  });

  // /metrics: this process's series and every worker's, summed as prom-client's cluster mode does.
  const ask = (w: Worker) =>
    new Promise<MetricJson[]>((resolve) => {
      const id = nextRequest++;
      const timer = systemClock.setTimeout(() => (pending.delete(id), resolve([])), 1000);
      pending.set(id, (json) => (timer.cancel(), pending.delete(id), resolve(json)));
      w.send({ metricsRequest: id } satisfies Control);
    });
  o.metrics.text = async () => {
    const all = await Promise.all([o.metrics.registry.getMetricsAsJSON(), ...[...workers].map(ask)]);
    return AggregatorRegistry.aggregate(all).metrics();
  };

  return {
    address: addresses[0]!,
    async stop() {
      stopping = true;
      await Promise.all(
        [...workers].map(
          (w) =>
            new Promise<void>((resolve) => {
              w.once('exit', () => resolve());
              w.kill('SIGTERM');
            }),
        ),
      );
    },
  };
}

/**
 * A gateway worker: the data plane's routes on the shared listen socket, the rest passed to the
 * main process. It opens the store for API keys and deployments it meets first, follows the
 * leader's observations for its routes, reports its traffic, and ends with the main process.
 */
export async function serveGatewayWorker(config: Config) {
  const index = Number(process.env[WORKER_ENV]);
  const logger = pino({ level: config.logLevel, redact: ['req.headers.authorization'] }).child({ gatewayWorker: index }) as FastifyBaseLogger;
  // The main process's channel closing means it is gone: so is this worker. Ctrl-C in a
  // terminal reaches every process of the group: the main process stops the workers itself.
  process.on('disconnect', () => process.exit(0));
  process.on('SIGINT', () => {});
  const deps = await openStore(config);
  const ctx: CommandContext = {
    ...deps,
    secretBox: loadSecretBox(config),
    runtime: NO_RUNTIME,
    blobs: new FsBlobStore(join(config.dataDir, 'storage'), deps.ids),
  };
  const bus = new IpcBus();
  const member = `${loadInstanceId(config, deps.ids)}-w${index}-${deps.ids.hex(4)}`;
  const parts = wireApp({
    ctx,
    runtime: config.runtime,
    endpoints: config.endpoints,
    hold: { maxHeld: config.holdMax, maxWaitMs: config.holdTimeoutSeconds * 1000 },
    publicUrl: () => '',
    bodyLimit: config.bodyLimit,
    logger,
    bus,
  });
  const { routes, traffic, metrics } = parts;
  registerHeldGauge(metrics, routes);
  const warn = (msg: string, fields: object) => logger.warn(fields, msg);
  const observations = new Observations(deps.store.cluster, bus, routes, deps.clock, warn);
  await observations.follow();
  routes.onHold((id) => bus.publish('wake', `${id} ${routes.held(id)} ${member}`));
  const exchange = new TrafficExchange({ store: deps.store.cluster, traffic, routes, clock: deps.clock, instanceId: member });
  const stopReports = every(
    deps.clock,
    1000,
    () => exchange.report(),
    (err) => warn('traffic report failed', { error: err.message }),
  );
  process.on('message', (m: Control) => {
    if ('metricsRequest' in m)
      void metrics.registry.getMetricsAsJSON().then((json) => process.send?.({ metricsReply: m.metricsRequest, json } satisfies Control));
  });
  const tls = await loadTls(config, deps.clock);
  const main = new Pool('http://gantry-main', {
    socketPath: process.env[MAIN_SOCKET_ENV]!,
    connections: 128,
    keepAliveTimeout: 30_000,
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  const app = await buildGatewayApp({ ...parts, ...(tls ? { https: tls } : {}), main });
  try {
    process.send?.({ listening: await listenOn(app, config) } satisfies Control);
  } catch (err) {
    process.send?.({ listenError: (err as Error).message } satisfies Control);
    process.exit(2);
  }
  process.on('SIGTERM', () => {
    stopReports();
    observations.stopFollowing();
    void app.close().finally(() => process.exit(0));
  });
}
