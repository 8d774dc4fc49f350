import type { SecretBox } from '../domain/secret-box.js';
import type { LogFilter, ReplicaState, RuntimeDriver } from '../contract/runtime.js';
import type { RoutingTable } from '../gateway/routing-table.js';
import type { Store } from '../store/store.js';
import { nextAvailability, planRollout } from './plan.js';
import { buildRevisionSpec, type PlatformEnv } from './revision-spec.js';
import { checkRunnable } from '../domain/deployment.js';
import { replicaCapacity } from '../domain/autoscaling.js';
import type { VolumePreloader } from './volume-preload.js';
import { TerminalError, WorkQueue, type Outcome } from './work-queue.js';
import type { Clock, Timer } from '../domain/clock.js';
import type { Observed, RuntimePort, SpecDraft } from '../contract/ports.js';

export interface ControllerOptions {
  store: Store;
  driver: RuntimeDriver;
  secretBox: SecretBox;
  platform: PlatformEnv;
  /** Copies mounted volume versions out of storage before a revision's replicas start. */
  preloader?: VolumePreloader;
  clock: Clock;
  /** The gateway's routing table, kept current with every deployment's ready replicas. */
  routes?: RoutingTable;
  /** How often every deployment is reconciled even without a change (missed events, restarts). */
  resyncMs?: number;
  /** Restarts after which a revision that was never ready counts as Failed. */
  failAfterRestarts?: number;
  /** How long a new replica must stay ready before old ones are stopped for it. */
  minReadyMs?: number;
  /** Deployments reconciled at once (default 4); the rest wait their turn. */
  maxConcurrent?: number;
  /**
   * Whether this instance may act (it holds the leader lease): checked before each reconcile
   * and again before the runtime is changed. Always, without one.
   */
  holds?: () => boolean;
  /** Told what runs of a deployment after each reconcile (`[]` once it is gone): other instances' gateways route by it. */
  observed?: (projectId: string, name: string, deploymentId: string, replicas: ReplicaState[], capacity?: number) => Promise<void>;
  log?: (msg: string, fields?: object) => void;
}

/**
 * Level-triggered deployment controller: on every change (API write, replica event) and on a
 * periodic resync it reads the deployment from the store, observes the runtime, and asks the
 * driver for the rollout plan's targets. Keys are deployment ids; the work queue runs a few at
 * once, never one twice at once, and retries failures with backoff. A revision that cannot
 * become ready is stored with the deployment (`failure`), so every instance reports it. It is
 * also the API's port to the runtime.
 */
export class DeploymentController implements RuntimePort {
  private readonly queue: WorkQueue;
  private resyncTimer: Timer | null = null;
  private stopped = false;

  constructor(private readonly o: ControllerOptions) {
    this.queue = new WorkQueue((id) => this.reconcile(id), {
      clock: o.clock,
      maxConcurrent: o.maxConcurrent ?? 4,
      onError: (id, err) =>
        o.log?.(err instanceof TerminalError ? 'reconcile failed for good' : 'reconcile failed; retrying', { deployment: id, error: (err as Error).message }),
    });
    o.driver.onChange((id) => this.queue.add(id));
  }

  /** Reconciles everything now, then on every resync. */
  async start() {
    await this.resync(false);
  }

  changed(deploymentId: string) {
    this.queue.add(deploymentId);
  }

  runningDeployments(): string[] {
    return this.o.driver.deployments();
  }

  observe(deploymentId: string): Observed {
    const replicas = this.o.driver.observe(deploymentId);
    const observed: Observed = { replicas };
    const preloads = this.o.preloader?.statesOf(deploymentId);
    if (preloads) observed.preloads = Object.fromEntries(preloads);
    return observed;
  }

  checkRunnable(draft: SpecDraft) {
    checkRunnable(this.o.driver, draft);
  }

  logs(deploymentId: string, filter: LogFilter) {
    return this.o.driver.logs(deploymentId, filter);
  }

  followLogs(deploymentId: string, filter: LogFilter, onLines: (lines: string[]) => void) {
    return this.o.driver.followLogs(deploymentId, filter, onLines);
  }

  async stop() {
    this.stopped = true;
    this.resyncTimer?.cancel();
    this.resyncTimer = null;
    await this.queue.stop();
  }

  /**
   * Queues deployments to reconcile. At start every one, at once (adoption); afterwards the busy
   * ones, spread over the resync interval a page a second, so thousands of deployments cost a
   * steady trickle of reconciles, not a burst that holds up the API every 30 seconds.
   */
  private async resync(spread = true) {
    const intervalMs = this.o.resyncMs ?? 30_000;
    let waitedMs = 0;
    try {
      // At start every deployment; afterwards those that want replicas or have work, and every
      // one the runtime runs replicas of: one at zero with nothing running has nothing to converge.
      const running = this.o.driver.deployments();
      const wanted = spread
        ? (await this.o.store.listBusyDeployments(running, { autoscaledOnly: false })).map((d) => d.id)
        : await this.o.store.listDeploymentIds();
      const ids = [...new Set([...wanted, ...running])];
      const pages = spread ? Math.max(1, Math.floor(intervalMs / 1000)) : 1;
      const size = Math.ceil(ids.length / pages);
      for (let i = 0; i < ids.length; i += size) {
        if (i > 0) {
          await this.o.clock.sleep(1000);
          waitedMs += 1000;
        }
        if (this.stopped) return;
        for (const id of ids.slice(i, i + size)) this.queue.add(id);
      }
    } finally {
      // Scheduled whatever happened: a store that failed once must not end resyncs for good.
      if (!this.stopped) {
        this.resyncTimer = this.o.clock.setTimeout(
          () => void this.resync().catch((err) => this.o.log?.('resync failed', { error: (err as Error).message })),
          // The next pass starts one interval after this one started.
          Math.max(0, intervalMs - waitedMs),
        );
      }
    }
  }

  async reconcile(id: string): Promise<Outcome> {
    if (!this.mayAct()) return;
    const d = await this.o.store.findDeploymentById(id);
    if (!d) {
      this.o.preloader?.forget(id);
      this.o.routes?.remove(id);
      if (!this.mayAct()) return;
      await this.o.driver.apply(id, []);
      await this.o.observed?.('', '', id, []);
      return;
    }
    const spec = await buildRevisionSpec(
      d,
      async (ref) => {
        const s = await this.o.store.findSecret(d.project_id, ref);
        return s && this.o.secretBox.open(s.ciphertext, s.id);
      },
      this.o.platform,
      async () => {
        const w = await this.o.store.findWorkerKey(d.id);
        return w && this.o.secretBox.open(w.ciphertext, d.id);
      },
    );
    try {
      // The container starts after its volumes are in place, as on Together: copied to this
      // machine first, or listed for the pod to fetch.
      if (this.o.driver.volumesFrom === 'host') await this.o.preloader?.ensure(d);
      else if (this.o.preloader && spec.volumes.length) {
        const sources = await this.o.preloader.sources(d);
        spec.volumes = spec.volumes.map((v, i) => ({ ...v, source: sources[i]! }));
      }
    } catch (err) {
      await this.o.store.setDeploymentFailure(id, d.revision_id, `volume preload failed: ${(err as Error).message}`);
      throw err;
    }
    const observed = this.o.driver.observe(id);
    const now = this.o.clock.nowMs();
    const minReadyMs = this.o.minReadyMs ?? 1000;
    // The store reads above take time: a lease lost meanwhile must not reach the runtime.
    if (!this.mayAct()) return;
    await this.o.driver.apply(id, planRollout(spec, d.desired_replicas, observed, now, minReadyMs));
    const after = this.o.driver.observe(id);
    const capacity = replicaCapacity(d.spec.autoscaling);
    this.o.routes?.update(d.project_id, d.name, id, after, capacity);
    await this.o.observed?.(d.project_id, d.name, id, after, capacity);

    const current = observed.filter((r) => r.revisionId === d.revision_id);
    // An image that cannot be pulled fails at once; a crash only after several restarts. Both keep retrying.
    const crashing = current.find((r) => r.reason === 'ErrImagePull' || (r.reason === 'CrashLoopBackOff' && r.restarts >= (this.o.failAfterRestarts ?? 5)));
    if (crashing && !current.some((r) => r.readySince)) {
      const msg = `revision ${d.revision_id} cannot become ready: replica ${crashing.id} ${crashing.message ?? 'keeps crashing'}`;
      if (d.failure !== msg) this.o.log?.('deployment failed', { deployment: d.name, reason: msg });
      await this.o.store.setDeploymentFailure(id, d.revision_id, msg);
    } else if (d.failure !== null && (current.some((r) => r.readySince) || current.length === 0)) {
      await this.o.store.setDeploymentFailure(id, d.revision_id, null);
    }
    // Time, not an event, makes a ready replica available: come back then.
    const wait = nextAvailability(d.revision_id, observed, now, minReadyMs);
    return wait === null ? undefined : { requeueAfterMs: wait };
  }

  private mayAct() {
    return !this.stopped && (this.o.holds?.() ?? true);
  }
}
