import type { AutoscalingConfig } from '../contract/schemas/deployment.js';
import type { DeploymentRecord, DeploymentSpec } from '../contract/records.js';
import type { ReplicaState } from '../contract/runtime.js';
import { TestClock, type Timer } from '../domain/clock.js';
import { RoutingTable, type HoldLimits, type Upstream } from '../gateway/routing-table.js';
import { Traffic } from '../gateway/traffic.js';
import { Autoscaler } from './autoscaler.js';
import { replicaCapacity } from '../domain/autoscaling.js';

/** One request of a trace: when it arrives (ms from the start) and how long a replica works on it. */
export interface SimRequest {
  atMs: number;
  serviceMs: number;
}

/** How a deployment is sized: Gantry's autoscaler with this config, or a fixed number of replicas. */
export type SimPolicy = { name: string; autoscaling: AutoscalingConfig } | { name: string; fixed: number };

export interface SimSetup {
  minReplicas: number;
  maxReplicas: number;
  /** Requests one replica works on at once; more wait in its queue (a model server's batch limit). */
  concurrency: number;
  /** From a replica asked for to its first ready probe (image pull, model load). */
  startupMs: number;
  hold: HoldLimits;
  stabilizationMs: number;
  idleGraceMs: number;
}

export interface SimResult {
  policy: string;
  requests: number;
  /** From arrival to a replica starting to work on it, over the requests served. */
  p50WaitMs: number;
  p99WaitMs: number;
  /** Refused by the gateway (held past --hold-timeout or beyond --hold-max): 503s. */
  rejected: number;
  /** Replicas running (starting or ready) integrated over time. */
  replicaSeconds: number;
  /** The most replicas at once. */
  peakReplicas: number;
}

interface SimReplica {
  id: string;
  startedAt: number;
  readyAt: number | null;
  stopping: boolean;
  stoppedAt: number | null;
  busy: number;
  queue: (() => void)[];
}

const ID = 'sim';

/**
 * Replays a trace against Gantry's own autoscaler, routing table and traffic record (the real
 * classes, not copies) on a simulated clock: requests arrive as recorded, the gateway holds
 * them while no replica is ready and sends each to the least busy ready replica, a replica
 * works on `concurrency` at once (the rest queue), replicas start `startupMs` after the
 * autoscaler asks for them and stop once their requests are done. An hour of traffic takes
 * seconds. A fixed policy runs that many replicas, ready from the start.
 */
export async function simulate(trace: SimRequest[], setup: SimSetup, policy: SimPolicy): Promise<SimResult> {
  const clock = new TestClock(0);
  const traffic = new Traffic(clock);
  const routes = new RoutingTable(setup.hold, clock);
  const route = routes.ensure(ID, ID, ID);
  const replicas = new Map<string, SimReplica>();
  const waits: number[] = [];
  let rejected = 0;
  let finished = 0;
  let nextReplica = 0;
  let peakReplicas = 0;

  const live = () => [...replicas.values()].filter((r) => !r.stopping);
  const observe = (): ReplicaState[] =>
    live().map((r) => ({
      id: r.id,
      deploymentId: ID,
      revisionId: ID,
      image: ID,
      status: 'Running',
      readySince: r.readyAt === null ? null : new Date(r.readyAt).toISOString(),
      address: r.id,
      restarts: 0,
    }));
  const publish = () => routes.update(ID, ID, ID, observe(), replicaCapacity(deployment.spec.autoscaling));
  const stopIfIdle = (r: SimReplica) => {
    if (r.stopping && r.busy === 0 && r.queue.length === 0 && r.stoppedAt === null) r.stoppedAt = clock.nowMs();
  };
  const startReplica = (ready: boolean) => {
    const r: SimReplica = {
      id: `r${nextReplica++}`,
      startedAt: clock.nowMs(),
      readyAt: ready ? 0 : null,
      stopping: false,
      stoppedAt: null,
      busy: 0,
      queue: [],
    };
    replicas.set(r.id, r);
    if (!ready)
      clock.setTimeout(() => {
        if (r.stopping) return;
        r.readyAt = clock.nowMs();
        publish();
      }, setup.startupMs);
  };

  let deployment: DeploymentRecord = {
    id: ID,
    project_id: ID,
    name: ID,
    spec: {
      min_replicas: setup.minReplicas,
      max_replicas: setup.maxReplicas,
      autoscaling: 'autoscaling' in policy ? policy.autoscaling : null,
    } as DeploymentSpec,
    revision_id: ID,
    revision_hash: ID,
    desired_replicas: 'fixed' in policy ? policy.fixed : setup.minReplicas,
    failure: null,
    failed_revision_id: null,
    created_at: new Date(0).toISOString(),
    updated_at: new Date(0).toISOString(),
    version: 1,
  };
  /** The controller's part: as many replicas as desired; surplus ones stop taking requests, finish theirs and stop (those not ready yet first). */
  const reconcile = () => {
    const running = live();
    for (let n = running.length; n < deployment.desired_replicas; n++) startReplica(false);
    const surplus = running.length - deployment.desired_replicas;
    if (surplus > 0) {
      const order = running.sort((a, b) => Number(a.readyAt !== null) - Number(b.readyAt !== null) || a.busy - b.busy);
      for (const r of order.slice(0, surplus)) {
        r.stopping = true;
        stopIfIdle(r);
      }
    }
    peakReplicas = Math.max(peakReplicas, live().length);
    publish();
  };

  let autoscaler: Autoscaler | null = null;
  if ('fixed' in policy) {
    for (let i = 0; i < policy.fixed; i++) startReplica(true);
    peakReplicas = policy.fixed;
    publish();
  } else {
    autoscaler = new Autoscaler({
      clock,
      store: {
        listBusyDeployments: async () => [deployment],
        findDeploymentById: async () => deployment,
        listDeploymentIds: async () => [ID],
        setDesiredReplicas: async (_id, version, desired) => {
          if (version !== deployment.version) return false;
          deployment = { ...deployment, desired_replicas: desired, version: version + 1 };
          return true;
        },
      },
      traffic,
      routes,
      observe,
      changed: reconcile,
      stabilizationMs: setup.stabilizationMs,
      idleGraceMs: setup.idleGraceMs,
    });
    routes.onHold((id) => autoscaler!.wake(id, true));
    reconcile();
    autoscaler.start();
  }

  /** A request from arrival to its end: held or sent at once, then queued at its replica or worked on. */
  const arrive = (req: SimRequest) => {
    const arrivedAt = clock.nowMs();
    routes.acquire(route, new AbortController().signal).then(
      (u: Upstream) => {
        const r = replicas.get(u.replicaId)!;
        traffic.started(ID);
        const sentAt = clock.nowMs();
        const work = () => {
          r.busy++;
          waits.push(clock.nowMs() - arrivedAt);
          clock.setTimeout(() => {
            r.busy--;
            routes.release(u);
            traffic.finished(ID, clock.nowMs() - sentAt);
            finished++;
            r.queue.shift()?.();
            stopIfIdle(r);
          }, req.serviceMs);
        };
        if (r.busy < setup.concurrency) work();
        else r.queue.push(work);
      },
      () => rejected++,
    );
  };
  // Arrivals are scheduled one at a time, so the clock's queue stays short.
  let i = 0;
  let arrival = null as Timer | null;
  const scheduleNext = () => {
    const req = trace[i++];
    if (!req) return;
    arrival = clock.setTimeout(
      () => {
        arrive(req);
        scheduleNext();
      },
      Math.max(0, req.atMs - clock.nowMs()),
    );
  };
  scheduleNext();
  const lastArrival = trace.at(-1)?.atMs ?? 0;
  // A bound only (a spread over the trace would overflow the stack on a long one).
  const endMs = lastArrival + setup.hold.maxWaitMs + trace.reduce((m, r) => Math.max(m, r.serviceMs), 0) + 1000;
  // Every timer runs at its time in order (the autoscaler's tick among the requests); the loop ends once every request has.
  while (clock.nowMs() < endMs && finished + rejected < trace.length) await clock.advance(1000);
  arrival?.cancel();
  await autoscaler?.stop();
  const end = clock.nowMs();
  let replicaMs = 0;
  for (const r of replicas.values()) replicaMs += (r.stoppedAt ?? end) - r.startedAt;
  return {
    policy: policy.name,
    requests: trace.length,
    p50WaitMs: percentile(waits, 50),
    p99WaitMs: percentile(waits, 99),
    rejected,
    replicaSeconds: replicaMs / 1000,
    peakReplicas,
  };
}

function percentile(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/**
 * A fixed fleet sized for the trace's busiest window (a minute of the original trace, so
 * `60_000 / compress`) at `utilization` of its capacity: what one would provision by hand.
 */
export function peakFleet(trace: SimRequest[], concurrency: number, windowMs: number, utilization = 0.7): number {
  const work = new Map<number, number>();
  for (const r of trace) work.set(Math.floor(r.atMs / windowMs), (work.get(Math.floor(r.atMs / windowMs)) ?? 0) + r.serviceMs);
  const busiest = [...work.values()].reduce((m, v) => Math.max(m, v), 0);
  return Math.max(1, Math.ceil(busiest / windowMs / concurrency / utilization));
}
