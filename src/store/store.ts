import type { Database, Executor } from './executor.js';
import { EndpointStore } from './endpoint-store.js';
import { JobStore } from './job-store.js';
import { UsageStore } from './usage-store.js';
import { MetricStore } from './metric-store.js';
import { RevisionStore } from './revision-store.js';
import { ClusterStore } from './cluster-store.js';
import { ownedBy } from './owned-by.js';
import type { ApiKeyRecord, DeploymentRecord, ProjectRecord, SecretRecord, VolumeMountRow, VolumeRecord, VolumeVersionRecord } from '../contract/records.js';

/** The columns that hold sealed values, each bound to its row's id (SecretBox's additional data). */
const SEALED = [
  { table: 'secrets', id: 'id', column: 'ciphertext' },
  { table: 'worker_keys', id: 'deployment_id', column: 'ciphertext' },
  { table: 'model_jobs', id: 'id', column: 'sealed_token' },
] as const;

export interface SealedValue {
  where: (typeof SEALED)[number];
  /** The id it is bound to. */
  id: string;
  sealed: string;
}

/**
 * The store's named operations: all of Gantry's SQL lives here. A Store bound to a
 * transaction (see `transaction`) runs the same operations inside it. Updates take the
 * version the caller read and answer false when someone else wrote first.
 */
export class Store {
  /** The job queue's operations, in this store's transaction if it has one. */
  readonly jobs: JobStore;
  /** Dedicated endpoints, uploaded models and their upload jobs. */
  readonly endpoints: EndpointStore;
  /** Replicas' metered minutes. */
  readonly usage: UsageStore;
  /** Deployments' metrics history (10 s points). */
  readonly metrics: MetricStore;
  /** Deployments' revision history. */
  readonly revisions: RevisionStore;
  /** What several instances on one database share: the leader lease, heartbeats, observations, traffic. */
  readonly cluster: ClusterStore;

  constructor(
    readonly db: Database,
    private readonly ex: Executor = db,
  ) {
    this.jobs = new JobStore(ex, db.dialect);
    this.endpoints = new EndpointStore(ex);
    this.usage = new UsageStore(ex);
    this.metrics = new MetricStore(ex);
    this.revisions = new RevisionStore(ex);
    this.cluster = new ClusterStore(ex);
  }

  /**
   * PostgreSQL plans from each table's statistics, which autovacuum refreshes at most once a
   * minute. A table that grew from nearly empty in seconds was planned as if still empty: claims
   * read an index of every active job and sorted it (10–50 ms a claim until autovacuum came).
   * This analyzes each of Gantry's tables (those its user owns) that holds over twice the rows
   * its statistics counted, and over a thousand; steady churn never qualifies. Answers the
   * tables analyzed. SQLite plans without statistics: nothing to do.
   */
  async refreshStatistics(): Promise<string[]> {
    if (this.db.dialect !== 'postgres') return [];
    const grown = await this.ex.all<{ name: string }>(
      `SELECT c.relname AS name FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
        WHERE s.schemaname = current_schema() AND pg_get_userbyid(c.relowner) = current_user
          AND s.n_live_tup > 1000 AND s.n_live_tup > 2 * GREATEST(c.reltuples, 0)`,
    );
    for (const t of grown) await this.ex.run(`ANALYZE "${t.name.replace(/"/g, '""')}"`);
    return grown.map((t) => t.name);
  }

  transaction<T>(fn: (store: Store) => Promise<T>): Promise<T> {
    return this.db.transaction((tx) => fn(new Store(this.db, tx)));
  }

  close() {
    return this.db.close();
  }

  // Sealed values (secrets, worker keys, upload tokens), for re-sealing under a new key

  /** Every sealed value: where it is, the id it is bound to, and the sealed text. */
  async sealedValues(): Promise<SealedValue[]> {
    const rows = await Promise.all(
      SEALED.map(async (where) =>
        (
          await this.ex.all<{ id: string; sealed: string }>(
            `SELECT ${where.id} AS id, ${where.column} AS sealed FROM ${where.table} WHERE ${where.column} IS NOT NULL`,
          )
        ).map((r) => ({ where, ...r })),
      ),
    );
    return rows.flat();
  }

  /** Replaces a sealed value if it is still what was read (a concurrent write wins); answers whether it did. */
  async replaceSealed(v: SealedValue, sealed: string): Promise<boolean> {
    const { table, id, column } = v.where;
    return (await this.ex.run(`UPDATE ${table} SET ${column} = $1 WHERE ${id} = $2 AND ${column} = $3`, [sealed, v.id, v.sealed])) > 0;
  }

  // Projects and keys

  async ensureProject(project: ProjectRecord): Promise<ProjectRecord> {
    const found = await this.ex.get<ProjectRecord>('SELECT * FROM projects WHERE name = $1', [project.name]);
    if (found) return found;
    await this.ex.run('INSERT INTO projects (id, name, created_at) VALUES ($1, $2, $3)', [project.id, project.name, project.created_at]);
    return project;
  }

  async insertApiKey(key: Omit<ApiKeyRecord, 'project_name' | 'revoked_at' | 'deployment_id'> & { deployment_id?: string }, hash: string): Promise<void> {
    await this.ex.run('INSERT INTO api_keys (id, project_id, hash, prefix, label, created_at, deployment_id) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
      key.id,
      key.project_id,
      hash,
      key.prefix,
      key.label,
      key.created_at,
      key.deployment_id ?? null,
    ]);
  }

  async insertWorkerKey(deploymentId: string, keyId: string, ciphertext: string): Promise<void> {
    await this.ex.run('INSERT INTO worker_keys (deployment_id, key_id, ciphertext) VALUES ($1, $2, $3)', [deploymentId, keyId, ciphertext]);
  }

  findWorkerKey(deploymentId: string): Promise<{ key_id: string; ciphertext: string } | undefined> {
    return this.ex.get('SELECT key_id, ciphertext FROM worker_keys WHERE deployment_id = $1', [deploymentId]);
  }

  findActiveKeyByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    return this.ex.get<ApiKeyRecord>(
      `SELECT k.id, k.project_id, p.name AS project_name, k.prefix, k.label, k.created_at, k.revoked_at, k.deployment_id
         FROM api_keys k JOIN projects p ON p.id = k.project_id
        WHERE k.hash = $1 AND k.revoked_at IS NULL`,
      [hash],
    );
  }

  listApiKeys(): Promise<ApiKeyRecord[]> {
    return this.ex.all<ApiKeyRecord>(
      `SELECT k.id, k.project_id, p.name AS project_name, k.prefix, k.label, k.created_at, k.revoked_at, k.deployment_id
         FROM api_keys k JOIN projects p ON p.id = k.project_id ORDER BY k.created_at, k.id`,
    );
  }

  async revokeApiKey(id: string, at: string): Promise<boolean> {
    return (await this.ex.run('UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL', [id, at])) > 0;
  }

  async hasApiKey(hash: string): Promise<boolean> {
    return (await this.ex.get('SELECT 1 AS one FROM api_keys WHERE hash = $1', [hash])) !== undefined;
  }

  async countApiKeys(): Promise<number> {
    const row = await this.ex.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM api_keys');
    return Number(row?.n ?? 0);
  }

  // Secrets

  async insertSecret(s: SecretRecord): Promise<void> {
    await this.ex.run(
      `INSERT INTO secrets (id, project_id, name, description, ciphertext, created_by, last_updated_by, created_at, updated_at, version)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [s.id, s.project_id, s.name, s.description, s.ciphertext, s.created_by, s.last_updated_by, s.created_at, s.updated_at, s.version],
    );
  }

  async findSecret(projectId: string, idOrName: string): Promise<SecretRecord | undefined> {
    if (!lookupable(idOrName)) return undefined;
    return this.ex.get<SecretRecord>(
      'SELECT * FROM secrets WHERE project_id = $1 AND (id = $2 OR name = $2) ORDER BY CASE WHEN id = $2 THEN 0 ELSE 1 END LIMIT 1',
      [projectId, idOrName],
    );
  }

  listSecrets(projectId: string): Promise<SecretRecord[]> {
    return this.ex.all<SecretRecord>('SELECT * FROM secrets WHERE project_id = $1 ORDER BY created_at, id', [projectId]);
  }

  async updateSecret(s: SecretRecord, expectedVersion: number): Promise<boolean> {
    const n = await this.ex.run(
      `UPDATE secrets SET name = $3, description = $4, ciphertext = $5, last_updated_by = $6, updated_at = $7, version = $8
        WHERE id = $1 AND version = $2`,
      [s.id, expectedVersion, s.name, s.description, s.ciphertext, s.last_updated_by, s.updated_at, s.version],
    );
    return n > 0;
  }

  async deleteSecret(id: string): Promise<boolean> {
    return (await this.ex.run('DELETE FROM secrets WHERE id = $1', [id])) > 0;
  }

  async deploymentNamesUsingSecret(secretId: string): Promise<string[]> {
    const rows = await this.ex.all<{ name: string }>(
      `SELECT d.name FROM deployment_secret_refs r JOIN deployments d ON d.id = r.deployment_id
        WHERE r.secret_id = $1 ORDER BY d.name`,
      [secretId],
    );
    return rows.map((r) => r.name);
  }

  // Volumes

  async insertVolume(v: VolumeRecord): Promise<void> {
    await this.ex.run(
      `INSERT INTO volumes (id, project_id, name, type, current_version, created_at, updated_at, version)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [v.id, v.project_id, v.name, v.type, v.current_version, v.created_at, v.updated_at, v.version],
    );
  }

  async insertVolumeVersion(v: VolumeVersionRecord): Promise<void> {
    await this.ex.run('INSERT INTO volume_versions (volume_id, version, source_prefix, created_at) VALUES ($1, $2, $3, $4)', [
      v.volume_id,
      v.version,
      v.source_prefix,
      v.created_at,
    ]);
  }

  async findVolume(projectId: string, idOrName: string): Promise<VolumeRecord | undefined> {
    if (!lookupable(idOrName)) return undefined;
    return this.ex.get<VolumeRecord>(
      'SELECT * FROM volumes WHERE project_id = $1 AND (id = $2 OR name = $2) ORDER BY CASE WHEN id = $2 THEN 0 ELSE 1 END LIMIT 1',
      [projectId, idOrName],
    );
  }

  listVolumes(projectId: string): Promise<VolumeRecord[]> {
    return this.ex.all<VolumeRecord>('SELECT * FROM volumes WHERE project_id = $1 ORDER BY created_at, id', [projectId]);
  }

  volumeVersions(volumeIds: readonly string[]): Promise<VolumeVersionRecord[]> {
    if (volumeIds.length === 0) return Promise.resolve([]);
    const list = volumeIds.map((_, i) => `$${i + 1}`).join(', ');
    return this.ex.all<VolumeVersionRecord>(`SELECT * FROM volume_versions WHERE volume_id IN (${list}) ORDER BY volume_id, version`, volumeIds);
  }

  volumeMounts(volumeIds: readonly string[]): Promise<VolumeMountRow[]> {
    if (volumeIds.length === 0) return Promise.resolve([]);
    const list = volumeIds.map((_, i) => `$${i + 1}`).join(', ');
    return this.ex.all<VolumeMountRow>(
      `SELECT deployment_id, volume_id, version FROM deployment_volume_refs WHERE volume_id IN (${list})
        ORDER BY deployment_id`,
      volumeIds,
    );
  }

  /** The source prefixes of the volume versions a deployment mounts. */
  async mountedPrefixes(deploymentId: string): Promise<string[]> {
    const rows = await this.ex.all<{ source_prefix: string }>(
      `SELECT vv.source_prefix FROM deployment_volume_refs r
         JOIN volume_versions vv ON vv.volume_id = r.volume_id AND vv.version = r.version
        WHERE r.deployment_id = $1`,
      [deploymentId],
    );
    return rows.map((r) => r.source_prefix);
  }

  async updateVolume(v: VolumeRecord, expectedVersion: number): Promise<boolean> {
    const n = await this.ex.run(
      `UPDATE volumes SET name = $3, type = $4, current_version = $5, updated_at = $6, version = $7
        WHERE id = $1 AND version = $2`,
      [v.id, expectedVersion, v.name, v.type, v.current_version, v.updated_at, v.version],
    );
    return n > 0;
  }

  async deleteVolume(id: string): Promise<boolean> {
    return (await this.ex.run('DELETE FROM volumes WHERE id = $1', [id])) > 0;
  }

  async deploymentNamesUsingVolume(volumeId: string): Promise<string[]> {
    const rows = await this.ex.all<{ name: string }>(
      `SELECT DISTINCT d.name FROM deployment_volume_refs r JOIN deployments d ON d.id = r.deployment_id
        WHERE r.volume_id = $1 ORDER BY d.name`,
      [volumeId],
    );
    return rows.map((r) => r.name);
  }

  // Deployments

  async insertDeployment(d: DeploymentRecord): Promise<void> {
    await this.ex.run(
      `INSERT INTO deployments (id, project_id, name, spec, revision_id, revision_hash, desired_replicas, created_at, updated_at, version, autoscaled)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [
        d.id,
        d.project_id,
        d.name,
        JSON.stringify(d.spec),
        d.revision_id,
        d.revision_hash,
        d.desired_replicas,
        d.created_at,
        d.updated_at,
        d.version,
        d.spec.autoscaling ? 1 : 0,
      ],
    );
  }

  async findDeployment(projectId: string, idOrName: string): Promise<DeploymentRecord | undefined> {
    if (!lookupable(idOrName)) return undefined;
    // An id wins over a name that happens to equal it. Two plain index reads cost less than one
    // `id = $2 OR name = $2` (SQLite answers that with two index searches and a sort).
    const byId = idOrName.startsWith('dep_') ? ownedBy(projectId, await this.findDeploymentRow(idOrName)) : undefined;
    const row = byId ?? (await this.ex.get<DeploymentRow>('SELECT * FROM deployments WHERE project_id = $1 AND name = $2', [projectId, idOrName]));
    return row && toDeployment(row);
  }

  /** For the reconciler, which works across projects. */
  /** The id of the deployment with exactly this name (not an id), as the gateway and the queue address deployments. */
  async findDeploymentIdByName(projectId: string, name: string): Promise<string | undefined> {
    return (await this.ex.get<{ id: string }>('SELECT id FROM deployments WHERE project_id = $1 AND name = $2', [projectId, name]))?.id;
  }

  async findDeploymentById(id: string): Promise<DeploymentRecord | undefined> {
    const row = await this.findDeploymentRow(id);
    return row && toDeployment(row);
  }

  private findDeploymentRow(id: string) {
    return this.ex.get<DeploymentRow>('SELECT * FROM deployments WHERE id = $1', [id]);
  }

  async listDeploymentIds(): Promise<string[]> {
    return (await this.ex.all<{ id: string }>('SELECT id FROM deployments ORDER BY id')).map((r) => r.id);
  }

  /**
   * The deployments with something going on: replicas wanted, queued or running jobs, or in
   * `active` (traffic); only autoscaled ones if asked. The periodic passes (the autoscaler's,
   * the metrics history's) read these, so a deployment at zero with nothing to do costs them
   * nothing, however many there are.
   */
  async listBusyDeployments(active: readonly string[], o: { autoscaledOnly: boolean }): Promise<DeploymentRecord[]> {
    // Index reads only, never a scan of every deployment: those wanting replicas (by
    // desired_replicas), the few with active jobs (found from the jobs side), and `active` by id.
    const where = (...conditions: string[]) => {
      const all = o.autoscaledOnly ? [...conditions, 'd.autoscaled = 1'] : conditions;
      return all.length ? `WHERE ${all.join(' AND ')}` : '';
    };
    const ids = [...new Set(active)];
    const branches = [
      `SELECT d.* FROM deployments d ${where('d.desired_replicas > 0')}`,
      `SELECT d.* FROM deployments d
         JOIN (SELECT DISTINCT project_id, model FROM jobs WHERE status IN ('pending', 'running')) j ON j.project_id = d.project_id AND j.model = d.name
       ${where()}`,
      ...(ids.length ? [`SELECT d.* FROM deployments d ${where(`d.id IN (${ids.map((_, i) => `$${i + 1}`).join(', ')})`)}`] : []),
    ];
    const rows = await this.ex.all<DeploymentRow>(branches.join(' UNION '), ids);
    return rows.map(toDeployment);
  }

  async listDeployments(projectId: string): Promise<DeploymentRecord[]> {
    const rows = await this.ex.all<DeploymentRow>('SELECT * FROM deployments WHERE project_id = $1 ORDER BY created_at, id', [projectId]);
    return rows.map(toDeployment);
  }

  async updateDeployment(d: DeploymentRecord, expectedVersion: number): Promise<boolean> {
    const n = await this.ex.run(
      `UPDATE deployments SET name = $3, spec = $4, revision_id = $5, revision_hash = $6, desired_replicas = $7,
              updated_at = $8, version = $9, autoscaled = $10
        WHERE id = $1 AND version = $2`,
      [
        d.id,
        expectedVersion,
        d.name,
        JSON.stringify(d.spec),
        d.revision_id,
        d.revision_hash,
        d.desired_replicas,
        d.updated_at,
        d.version,
        d.spec.autoscaling ? 1 : 0,
      ],
    );
    return n > 0;
  }

  /**
   * The autoscaler's decision, written only over the version it read (a racing PATCH wins and
   * the autoscaler decides again on its next tick). Bumps the version so a PATCH that read the
   * old count retries.
   */
  async setDesiredReplicas(id: string, expectedVersion: number, desired: number): Promise<boolean> {
    const n = await this.ex.run('UPDATE deployments SET desired_replicas = $3, version = version + 1 WHERE id = $1 AND version = $2', [
      id,
      expectedVersion,
      desired,
    ]);
    return n > 0;
  }

  /**
   * The controller's verdict on a revision: `failure` says why it cannot become ready, null
   * that it can. Written (and the version bumped) only when it changes.
   */
  async setDeploymentFailure(id: string, revisionId: string, failure: string | null): Promise<void> {
    const revision = failure === null ? null : revisionId;
    await this.ex.run(
      `UPDATE deployments SET failure = $3, failed_revision_id = $2, version = version + 1
        WHERE id = $1 AND (failure IS DISTINCT FROM $3 OR failed_revision_id IS DISTINCT FROM $2)`,
      [id, revision, failure],
    );
  }

  async deleteDeployment(id: string): Promise<boolean> {
    return (await this.ex.run('DELETE FROM deployments WHERE id = $1', [id])) > 0;
  }

  /** Replaces the rows that pin the secrets and volume versions a deployment uses. */
  async setDeploymentRefs(deploymentId: string, secretIds: readonly string[], volumes: readonly { volume_id: string; version: number }[]) {
    await this.ex.run('DELETE FROM deployment_secret_refs WHERE deployment_id = $1', [deploymentId]);
    await this.ex.run('DELETE FROM deployment_volume_refs WHERE deployment_id = $1', [deploymentId]);
    for (const id of new Set(secretIds)) {
      await this.ex.run('INSERT INTO deployment_secret_refs (deployment_id, secret_id) VALUES ($1, $2)', [deploymentId, id]);
    }
    const seen = new Set<string>();
    for (const v of volumes) {
      const key = `${v.volume_id}@${v.version}`;
      if (seen.has(key)) continue;
      seen.add(key);
      await this.ex.run('INSERT INTO deployment_volume_refs (deployment_id, volume_id, version) VALUES ($1, $2, $3)', [deploymentId, v.volume_id, v.version]);
    }
  }
}

/**
 * Whether a caller's id-or-name could name anything at all. PostgreSQL refuses NUL in text,
 * so such a lookup must not reach it: nothing can be named that way, so it is simply not found.
 */
function lookupable(idOrName: string): boolean {
  return !idOrName.includes('\u0000');
}

type DeploymentRow = Omit<DeploymentRecord, 'spec'> & { spec: string; autoscaled?: number };

function toDeployment({ autoscaled: _autoscaled, ...row }: DeploymentRow): DeploymentRecord {
  return {
    ...row,
    spec: JSON.parse(row.spec),
    desired_replicas: Number(row.desired_replicas),
    version: Number(row.version),
  };
}
