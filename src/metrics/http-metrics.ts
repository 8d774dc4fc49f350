import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RoutingTable } from '../gateway/routing-table.js';
import type { RuntimePort } from '../contract/ports.js';

/** Gantry's own Prometheus metrics; one registry per app so tests can run several apps side by side. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'gantry_process_' });
  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new Counter({ name: 'gantry_http_requests_total', help: 'HTTP requests answered, by route and status', labelNames, registers: [registry] });
  const duration = new Histogram({
    name: 'gantry_http_request_duration_seconds',
    help: 'Time to answer HTTP requests, by route and status',
    labelNames,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const gatewayRequests = new Counter({
    name: 'gantry_gateway_requests_total',
    help: 'Requests forwarded to deployments, by project, deployment and status',
    labelNames: ['project', 'deployment', 'status'] as const,
    registers: [registry],
  });
  const gatewayDuration = new Histogram({
    name: 'gantry_gateway_request_duration_seconds',
    help: 'Time from a request reaching the gateway to the end of its response, by project and deployment',
    labelNames: ['project', 'deployment'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const autoscalerDecisions = new Counter({
    name: 'gantry_autoscaler_decisions_total',
    help: 'Changes of desired_replicas made by the autoscaler',
    labelNames: ['direction'] as const,
    registers: [registry],
  });
  return {
    registry,
    requests,
    duration,
    gatewayRequests,
    gatewayDuration,
    autoscalerDecisions,
    /** The exposition /metrics serves: this registry's, or with gateway workers every process's summed (cli/gateway-workers.ts). */
    text: (): Promise<string> => registry.metrics(),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

export function instrumentHttp(app: FastifyInstance, metrics: Metrics) {
  app.addHook('onResponse', async (request, reply) => {
    // The route pattern, never the raw URL: names and ids must not explode label cardinality.
    const labels = { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) };
    metrics.requests.inc(labels);
    metrics.duration.observe(labels, reply.elapsedTime / 1000);
  });
}

/** Gauges read when scraped: requests held by the gateway, and replicas by state. */
/** Requests held by this process's gateway for a ready replica (each gateway worker has its own). */
export function registerHeldGauge(metrics: Metrics, routes: RoutingTable) {
  new Gauge({
    name: 'gantry_gateway_held_requests',
    help: 'Requests waiting for a ready replica',
    registers: [metrics.registry],
    collect() {
      this.set(routes.heldTotal());
    },
  });
}

export function registerRuntimeGauges(
  metrics: Metrics,
  routes: RoutingTable,
  runtime: Pick<RuntimePort, 'runningDeployments' | 'observe'>,
  leading: () => boolean,
) {
  new Gauge({
    name: 'gantry_leader',
    help: 'Whether this instance leads (runs the controller, autoscaler and sweeps): 1 or 0',
    registers: [metrics.registry],
    collect() {
      this.set(leading() ? 1 : 0);
    },
  });
  registerHeldGauge(metrics, routes);
  new Gauge({
    name: 'gantry_replicas',
    help: 'Replicas by state: ready, starting (running, not ready yet), waiting',
    labelNames: ['state'] as const,
    registers: [metrics.registry],
    collect() {
      const counts = { ready: 0, starting: 0, waiting: 0 };
      for (const id of runtime.runningDeployments()) {
        for (const r of runtime.observe(id).replicas) {
          if (r.readySince) counts.ready++;
          else if (r.status === 'Running') counts.starting++;
          else counts.waiting++;
        }
      }
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });
}
