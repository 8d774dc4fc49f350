import type { Executor } from './executor.js';

/** The lease row as a candidate reads it: who holds it, and how far it has been renewed. */
export interface LeaseRecord {
  holder: string | null;
  holder_url: string | null;
  term: number;
  renewals: number;
}

/** A Gantry instance serving this database, as it last reported itself. */
export interface InstanceRecord {
  id: string;
  host: string;
  data_dir: string;
  runtime: string;
  url: string;
  /** Its process id on `host`. */
  pid: number;
  /** Epoch ms of its last heartbeat. */
  seen_at: number;
}

/** What the leader's runtime observes of one deployment's replicas (ReplicaState[] as JSON). */
export interface ObservationRecord {
  deployment_id: string;
  project_id: string;
  name: string;
  replicas: string;
  /** The most requests a replica is sent at once (the routing table's capacity); null: no limit. */
  capacity: number | null;
}

/** One instance's traffic for one deployment in one second. */
export interface TrafficReport {
  instance_id: string;
  deployment_id: string;
  second: number;
  requests: number;
  duration_ms: number;
  in_flight: number;
  held: number;
}

const TRAFFIC_COLUMNS = ['instance_id', 'deployment_id', 'second', 'requests', 'duration_ms', 'in_flight', 'held'] as const;
/** Rows per INSERT: well under SQLite's bound-parameter limit. */
const TRAFFIC_BATCH = 500;

/**
 * What several Gantry instances on one database share beyond the API's records: the leader
 * lease (compare-and-set on term and renewals, so no clock is compared across machines), the
 * instances' heartbeats, the leader's runtime observations and each instance's traffic.
 */
export class ClusterStore {
  constructor(private readonly ex: Executor) {}

  /** Sends PostgreSQL notifications (LISTEN/NOTIFY), a batch in one statement. PostgreSQL only. */
  async notify(messages: { channel: string; payload: string }[]): Promise<void> {
    await this.ex.all('SELECT pg_notify(m.channel, m.payload) FROM json_to_recordset($1::json) AS m(channel text, payload text)', [JSON.stringify(messages)]);
  }

  async lease(name: string): Promise<LeaseRecord | undefined> {
    const row = await this.ex.get<LeaseRecord>('SELECT holder, holder_url, term, renewals FROM leader_lease WHERE name = $1', [name]);
    return row && { ...row, term: Number(row.term), renewals: Number(row.renewals) };
  }

  /** Makes the lease row once (unheld); a row that exists already is left as it is. */
  async createLease(name: string): Promise<void> {
    await this.ex.run('INSERT INTO leader_lease (name, holder, holder_url, term, renewals) VALUES ($1, NULL, NULL, 0, 0) ON CONFLICT (name) DO NOTHING', [
      name,
    ]);
  }

  /** Takes the lease if it is still exactly as `seen` (nobody renewed or took it since); answers whether it did. */
  async takeLease(name: string, seen: LeaseRecord, holder: string, url: string): Promise<boolean> {
    return (
      (await this.ex.run(
        'UPDATE leader_lease SET holder = $1, holder_url = $2, term = term + 1, renewals = 0 WHERE name = $3 AND term = $4 AND renewals = $5',
        [holder, url, name, seen.term, seen.renewals],
      )) > 0
    );
  }

  /** Renews a lease this holder still holds in this term; answers false when it has lost it. */
  async renewLease(name: string, holder: string, term: number): Promise<boolean> {
    return (await this.ex.run('UPDATE leader_lease SET renewals = renewals + 1 WHERE name = $1 AND holder = $2 AND term = $3', [name, holder, term])) > 0;
  }

  /** Gives the lease up (a clean stop), so another instance takes it at once instead of after the lease. */
  async releaseLease(name: string, holder: string, term: number): Promise<void> {
    await this.ex.run('UPDATE leader_lease SET holder = NULL, holder_url = NULL, renewals = renewals + 1 WHERE name = $1 AND holder = $2 AND term = $3', [
      name,
      holder,
      term,
    ]);
  }

  async heartbeat(i: InstanceRecord): Promise<void> {
    await this.ex.run(
      `INSERT INTO instances (id, host, data_dir, runtime, url, pid, seen_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (id) DO UPDATE SET host = $2, data_dir = $3, runtime = $4, url = $5, pid = $6, seen_at = $7`,
      [i.id, i.host, i.data_dir, i.runtime, i.url, i.pid, i.seen_at],
    );
  }

  /** Instances heard from since `sinceMs`; older rows are deleted on the way. */
  async liveInstances(sinceMs: number): Promise<InstanceRecord[]> {
    await this.ex.run('DELETE FROM instances WHERE seen_at < $1', [sinceMs - 3600_000]);
    const rows = await this.ex.all<InstanceRecord>('SELECT * FROM instances WHERE seen_at >= $1 ORDER BY id', [sinceMs]);
    return rows.map((r) => ({ ...r, pid: Number(r.pid), seen_at: Number(r.seen_at) }));
  }

  async instance(id: string): Promise<InstanceRecord | undefined> {
    const row = await this.ex.get<InstanceRecord>('SELECT * FROM instances WHERE id = $1', [id]);
    return row && { ...row, pid: Number(row.pid), seen_at: Number(row.seen_at) };
  }

  async removeInstance(id: string): Promise<void> {
    await this.ex.run('DELETE FROM instances WHERE id = $1', [id]);
  }

  /** Records what runs of a deployment; no replicas deletes the row, so only deployments that run have one. */
  async putObservation(o: ObservationRecord): Promise<void> {
    if (o.replicas === '[]') {
      await this.ex.run('DELETE FROM replica_observations WHERE deployment_id = $1', [o.deployment_id]);
      return;
    }
    await this.ex.run(
      `INSERT INTO replica_observations (deployment_id, project_id, name, replicas, capacity) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (deployment_id) DO UPDATE SET project_id = $2, name = $3, replicas = $4, capacity = $5`,
      [o.deployment_id, o.project_id, o.name, o.replicas, o.capacity],
    );
  }

  async observation(deploymentId: string): Promise<ObservationRecord | undefined> {
    return this.ex.get<ObservationRecord>('SELECT * FROM replica_observations WHERE deployment_id = $1', [deploymentId]);
  }

  observations(): Promise<ObservationRecord[]> {
    return this.ex.all<ObservationRecord>('SELECT * FROM replica_observations');
  }

  /** Deletes the rows of deployments not in `keep` (a new leader's runtime no longer runs them). */
  async retainObservations(keep: string[]): Promise<void> {
    for (const o of await this.observations()) if (!keep.includes(o.deployment_id)) await this.putObservation({ ...o, replicas: '[]' });
  }

  async addTraffic(rows: TrafficReport[]): Promise<void> {
    for (let i = 0; i < rows.length; i += TRAFFIC_BATCH) {
      const batch = rows.slice(i, i + TRAFFIC_BATCH);
      const params: (string | number)[] = [];
      const values = batch.map((r) => {
        const start = params.length;
        for (const c of TRAFFIC_COLUMNS) params.push(r[c]);
        return `(${TRAFFIC_COLUMNS.map((_, j) => `$${start + j + 1}`).join(', ')})`;
      });
      await this.ex.run(
        `INSERT INTO traffic_reports (${TRAFFIC_COLUMNS.join(', ')}) VALUES ${values.join(', ')}
         ON CONFLICT (instance_id, deployment_id, second) DO NOTHING`,
        params,
      );
    }
  }

  /** Other instances' reports from `fromSecond` on. */
  async trafficSince(fromSecond: number, exceptInstance: string): Promise<TrafficReport[]> {
    const rows = await this.ex.all<TrafficReport>('SELECT * FROM traffic_reports WHERE second >= $1 AND instance_id <> $2 ORDER BY second', [
      fromSecond,
      exceptInstance,
    ]);
    return rows.map((r) => ({ ...r, second: Number(r.second), duration_ms: Number(r.duration_ms) }));
  }

  dropTrafficBefore(second: number): Promise<number> {
    return this.ex.run('DELETE FROM traffic_reports WHERE second < $1', [second]);
  }
}
