import type { ReplicaState } from '../contract/runtime.js';
import type { Clock, Timer } from '../domain/clock.js';
import type { RoutingTable } from '../gateway/routing-table.js';
import type { ClusterStore } from '../store/cluster-store.js';
import type { Bus } from './bus.js';

/** How often an instance that does not lead re-reads every observation (messages only make it sooner). */
const REFRESH_MS = 1000;

/**
 * What the leader's runtime observes, shared with the instances that do not hold the runtime:
 * the leader writes each deployment's replicas to the store when they change and says so on
 * the bus; every other instance keeps a copy for its gateway's routes and its API's status.
 */
export class Observations {
  /** The leader's last write per deployment (to skip unchanged ones). */
  private readonly published = new Map<string, string>();
  /** The others' copy, by deployment. */
  private readonly copy = new Map<string, { projectId: string; name: string; replicas: ReplicaState[]; json: string }>();
  private timer: Timer | null = null;

  constructor(
    private readonly store: ClusterStore,
    private readonly bus: Bus,
    private readonly routes: RoutingTable,
    private readonly clock: Clock,
    private readonly log: (msg: string, fields: object) => void,
  ) {
    bus.subscribe('observed', (id) => {
      if (this.timer) void this.reloadOne(id).catch((err: Error) => this.log('observation reload failed', { error: err.message }));
    });
  }

  // The leader's side

  /** Records what runs of a deployment, when it changed; `[]` when nothing does or it is gone. */
  async publish(projectId: string, name: string, deploymentId: string, replicas: ReplicaState[]) {
    const json = JSON.stringify(replicas);
    if ((this.published.get(deploymentId) ?? '[]') === json) return;
    await this.store.putObservation({ deployment_id: deploymentId, project_id: projectId, name, replicas: json });
    if (json === '[]') this.published.delete(deploymentId);
    else this.published.set(deploymentId, json);
    this.bus.publish('observed', deploymentId);
  }

  /** A replica is about to stop: the other gateways stop sending it requests first. */
  async leaving(deploymentId: string, replicaId: string) {
    const row = await this.store.observation(deploymentId);
    if (!row) return;
    const replicas = (JSON.parse(row.replicas) as ReplicaState[]).map((r) => (r.id === replicaId ? { ...r, readySince: null } : r));
    await this.publish(row.project_id, row.name, deploymentId, replicas);
  }

  /** A new leader: rows of deployments its runtime does not run are stale. */
  async takeOver(running: string[]) {
    this.stopFollowing();
    this.published.clear();
    await this.store.retainObservations(running);
  }

  // The others' side

  /** Keeps the copy and the routes current until `stopFollowing`. */
  async follow() {
    if (this.timer) return;
    this.timer = this.clock.setInterval(
      () => void this.reload().catch((err: Error) => this.log('observation reload failed', { error: err.message })),
      REFRESH_MS,
    );
    await this.reload();
  }

  stopFollowing() {
    this.timer?.cancel();
    this.timer = null;
    this.copy.clear();
  }

  replicas(deploymentId: string): ReplicaState[] {
    return this.copy.get(deploymentId)?.replicas ?? [];
  }

  deployments(): string[] {
    return [...this.copy.keys()];
  }

  private async reload() {
    const rows = await this.store.observations();
    const seen = new Set<string>();
    for (const r of rows) {
      seen.add(r.deployment_id);
      this.apply(r.deployment_id, r.project_id, r.name, r.replicas);
    }
    for (const id of [...this.copy.keys()]) if (!seen.has(id)) this.apply(id, '', '', '[]');
  }

  private async reloadOne(id: string) {
    const r = await this.store.observation(id);
    this.apply(id, r?.project_id ?? '', r?.name ?? '', r?.replicas ?? '[]');
  }

  private apply(id: string, projectId: string, name: string, json: string) {
    if (!this.timer) return;
    const known = this.copy.get(id);
    if ((known?.json ?? '[]') === json) return;
    if (json === '[]') {
      this.copy.delete(id);
      if (known) this.routes.update(known.projectId, known.name, id, []);
      return;
    }
    const replicas = JSON.parse(json) as ReplicaState[];
    this.copy.set(id, { projectId, name, replicas, json });
    this.routes.update(projectId, name, id, replicas);
  }
}
