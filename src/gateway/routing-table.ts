import { errors } from '../contract/errors.js';
import type { ReplicaState } from '../contract/runtime.js';
import { systemClock, type Clock } from '../domain/clock.js';

/** A ready replica as the gateway sees it. */
export interface Upstream {
  deploymentId: string;
  replicaId: string;
  address: string;
  /** Requests forwarded to it and not finished yet. */
  inFlight: number;
}

interface Waiter {
  resolve(u: Upstream): void;
  reject(err: Error): void;
  exclude?: string;
}

export interface Route {
  deploymentId: string;
  key: string;
  upstreams: Upstream[];
  /** Requests held until a replica is ready, oldest first. */
  waiters: Waiter[];
  /** Where the next search starts, so equally loaded replicas take turns. */
  turn: number;
  /**
   * The most requests a replica is sent at once; more wait here (held) for the first replica
   * with room, as Knative's activator queues for a container concurrency. None: no limit.
   */
  capacity?: number;
}

export interface HoldLimits {
  /** Requests held per deployment at most; more are refused at once. */
  maxHeld: number;
  /** How long a request is held at most. */
  maxWaitMs: number;
}

/** The defaults of --hold-max and --hold-timeout. */
export const DEFAULT_HOLD: HoldLimits = { maxHeld: 256, maxWaitMs: 120_000 };

/**
 * The gateway's in-memory view of where each deployment can be reached: its ready replicas
 * with their requests in flight, keyed by project and name. The deployment controller keeps it
 * current after every reconcile, so the request path never reads the store. A request for a
 * deployment without a ready replica is held (bounded in count and time) and handed the first
 * replica that becomes ready.
 */
export class RoutingTable {
  private readonly byKey = new Map<string, Route>();
  private readonly byId = new Map<string, Route>();
  private readonly holdListeners: ((deploymentId: string) => void)[] = [];
  /** Replicas being stopped: kept out of their routes until the controller no longer observes them. */
  private readonly leaving = new Set<string>();
  /** What to call when a leaving replica's last request through this gateway ends. */
  private readonly drained = new Map<string, () => void>();

  constructor(
    private readonly limits: HoldLimits,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Records what the controller observed of a deployment (and how many requests a replica takes at once); wakes held requests. */
  update(projectId: string, name: string, deploymentId: string, replicas: ReplicaState[], capacity?: number) {
    const route = this.ensure(projectId, name, deploymentId);
    if (capacity === undefined) delete route.capacity;
    else route.capacity = capacity;
    for (const id of this.leaving) if (!replicas.some((r) => r.id === id && r.status !== 'Terminated')) this.leaving.delete(id);
    const ready = replicas.filter((r) => r.readySince && r.address && !this.leaving.has(r.id));
    // Counters of replicas that stay are kept, so balancing survives updates.
    route.upstreams = ready.map(
      (r) =>
        route.upstreams.find((u) => u.replicaId === r.id && u.address === r.address) ?? { deploymentId, replicaId: r.id, address: r.address!, inFlight: 0 },
    );
    this.wake(route);
  }

  /** The route of a deployment, made empty when the gateway meets it before the controller did. */
  ensure(projectId: string, name: string, deploymentId: string): Route {
    const key = `${projectId}/${name}`;
    let route = this.byId.get(deploymentId);
    if (!route) {
      route = { deploymentId, key, upstreams: [], waiters: [], turn: 0 };
      this.byId.set(deploymentId, route);
    }
    if (route.key !== key) {
      // Renamed: the old name no longer routes here.
      if (this.byKey.get(route.key) === route) this.byKey.delete(route.key);
      route.key = key;
    }
    this.byKey.set(key, route);
    return route;
  }

  remove(deploymentId: string) {
    const route = this.byId.get(deploymentId);
    if (!route) return;
    this.byId.delete(deploymentId);
    if (this.byKey.get(route.key) === route) this.byKey.delete(route.key);
    for (const w of route.waiters.splice(0)) w.reject(errors.notFound('Deployment', route.key.split('/')[1]!));
  }

  lookup(projectId: string, name: string): Route | undefined {
    return this.byKey.get(`${projectId}/${name}`);
  }

  /** Requests held for the deployment right now (the autoscaler wakes a deployment at zero on these). */
  held(deploymentId: string): number {
    return this.byId.get(deploymentId)?.waiters.length ?? 0;
  }

  heldTotal(): number {
    let n = 0;
    for (const r of this.byId.values()) n += r.waiters.length;
    return n;
  }

  /** Called whenever a request starts waiting for a deployment without a ready replica. */
  onHold(listener: (deploymentId: string) => void) {
    this.holdListeners.push(listener);
  }

  /**
   * The ready replica with the fewest requests in flight (not `exclude`), counted as taken;
   * or, when there is none, waits for one within the hold limits. `signal` gives up the place.
   */
  acquire(route: Route, signal: AbortSignal, exclude?: string): Promise<Upstream> {
    const now = pick(route, exclude);
    if (now) return Promise.resolve(take(now));
    if (route.waiters.length >= this.limits.maxHeld) {
      return Promise.reject(errors.unavailable(`deployment has no ready replica with room and ${this.limits.maxHeld} requests are already waiting for one`, 1));
    }
    return new Promise<Upstream>((resolve, reject) => {
      const leave = () => {
        timer.cancel();
        signal.removeEventListener('abort', onAbort);
        const i = route.waiters.indexOf(waiter);
        if (i >= 0) route.waiters.splice(i, 1);
      };
      const waiter: Waiter = {
        resolve: (u) => (leave(), resolve(u)),
        reject: (err) => (leave(), reject(err)),
        ...(exclude ? { exclude } : {}),
      };
      const onAbort = () => waiter.reject(new Error('the client went away'));
      const timer = this.clock.setTimeout(
        () =>
          waiter.reject(
            errors.unavailable(
              `no replica of the deployment became ready${route.capacity ? ' or had room' : ''} within ${this.limits.maxWaitMs / 1000} s`,
              Math.ceil(this.limits.maxWaitMs / 1000),
            ),
          ),
        this.limits.maxWaitMs,
      );
      signal.addEventListener('abort', onAbort, { once: true });
      route.waiters.push(waiter);
      for (const l of this.holdListeners) l(route.deploymentId);
    });
  }

  release(u: Upstream) {
    u.inFlight--;
    if (u.inFlight === 0) this.drained.get(u.replicaId)?.();
    // A request held for room takes the place this one leaves.
    const route = this.byId.get(u.deploymentId);
    if (route?.waiters.length) this.wake(route);
  }

  /**
   * Takes a replica out of its deployment's route before it is stopped (no new request goes to
   * it) and resolves once the requests it is serving have ended, or after `maxMs`: the replica
   * then gets SIGTERM with nothing in flight through this gateway.
   */
  drain(deploymentId: string, replicaId: string, maxMs: number): Promise<void> {
    const route = this.byId.get(deploymentId);
    const upstream = route?.upstreams.find((u) => u.replicaId === replicaId);
    if (route) route.upstreams = route.upstreams.filter((u) => u.replicaId !== replicaId);
    this.leaving.add(replicaId);
    if (!upstream || upstream.inFlight === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        timer.cancel();
        this.drained.delete(replicaId);
        resolve();
      };
      const timer = this.clock.setTimeout(done, maxMs);
      this.drained.set(replicaId, done);
    });
  }

  private wake(route: Route) {
    for (const w of [...route.waiters]) {
      const u = pick(route, w.exclude);
      // No room for this one: none for those after it either (unless it excluded the one with room).
      if (!u && !w.exclude) break;
      if (u) w.resolve(take(u));
    }
  }
}

function take(u: Upstream) {
  u.inFlight++;
  return u;
}

/** Least outstanding requests, below the route's capacity; among equals, replicas take turns. */
function pick(route: Route, exclude?: string): Upstream | undefined {
  const { upstreams } = route;
  const capacity = route.capacity ?? Infinity;
  let best: Upstream | undefined;
  for (let i = 0; i < upstreams.length; i++) {
    const u = upstreams[(route.turn + i) % upstreams.length]!;
    if (u.replicaId !== exclude && u.inFlight < capacity && (!best || u.inFlight < best.inFlight)) best = u;
  }
  route.turn++;
  return best;
}
