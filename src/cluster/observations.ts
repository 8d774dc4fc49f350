import type { ReplicaState } from '../contract/runtime.js';
import type { Clock, Timer } from '../domain/clock.js';
import type { RoutingTable } from '../gateway/routing-table.js';
import type { ClusterStore, ObservationRecord } from '../store/cluster-store.js';
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
  private readonly copy = new Map<string, { projectId: string; name: string; replicas: ReplicaState[]; capacity: number | null; json: string }>();
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

  /** Records what runs of a deployment and how many requests a replica takes at once, when it changed; `[]` when nothing runs or it is gone. */
  async publish(projectId: string, name: string, deploymentId: string, replicas: ReplicaState[], capacity?: number) {
    const json = JSON.stringify(replicas);
    const known = json === '[]' ? '[]' : `${capacity ?? ''} ${json}`;
    if ((this.published.get(deploymentId) ?? '[]') === known) return;
    await this.store.putObservation({ deployment_id: deploymentId, project_id: projectId, name, replicas: json, capacity: capacity ?? null });
    if (json === '[]') this.published.delete(deploymentId);
    else this.published.set(deploymentId, known);
    this.bus.publish('observed', deploymentId);
  }

  /** A replica is about to stop: the other gateways stop sending it requests first. */
  async leaving(deploymentId: string, replicaId: string) {
    const row = await this.store.observation(deploymentId);
    if (!row) return;
    const replicas = (JSON.parse(row.replicas) as ReplicaState[]).map((r) => (r.id === replicaId ? { ...r, readySince: null } : r));
    await this.publish(row.project_id, row.name, deploymentId, replicas, row.capacity ?? undefined);
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
      this.apply(r);
    }
    for (const id of [...this.copy.keys()]) if (!seen.has(id)) this.apply({ deployment_id: id, project_id: '', name: '', replicas: '[]', capacity: null });
  }

  private async reloadOne(id: string) {
    this.apply((await this.store.observation(id)) ?? { deployment_id: id, project_id: '', name: '', replicas: '[]', capacity: null });
  }

  private apply(row: ObservationRecord) {
    if (!this.timer) return;
    const id = row.deployment_id;
    const known = this.copy.get(id);
    const json = row.replicas === '[]' ? '[]' : `${row.capacity ?? ''} ${row.replicas}`;
    if ((known?.json ?? '[]') === json) return;
    if (json === '[]') {
      this.copy.delete(id);
      if (known) this.routes.update(known.projectId, known.name, id, []);
      return;
    }
    const replicas = JSON.parse(row.replicas) as ReplicaState[];
    const capacity = row.capacity === null ? null : Number(row.capacity);
    this.copy.set(id, { projectId: row.project_id, name: row.name, replicas, capacity, json });
    this.routes.update(row.project_id, row.name, id, replicas, capacity ?? undefined);
  }
}
