import type { Executor } from './executor.js';

/** What the user set on an endpoint, echoed back by the API. */
export interface EndpointSettings {
  display_name: string;
  autoscaling: { min_replicas: number; max_replicas: number };
  inactive_timeout: number | null;
  disable_prompt_cache: boolean;
  disable_speculative_decoding: boolean;
  availability_zone: string | null;
}

export interface EndpointRecord {
  id: string;
  project_id: string;
  /** `<owner>/<model>-<8 hex>`: what inference requests name as `model`. */
  name: string;
  deployment_id: string;
  model: string;
  hardware: string;
  /** What the user asked for; the state shown is derived from the engine's replicas. */
  state: 'STARTED' | 'STOPPED';
  settings: EndpointSettings;
  created_at: string;
  updated_at: string;
  version: number;
}

export interface ModelRecord {
  id: string;
  project_id: string;
  name: string;
  model_type: 'model' | 'adapter';
  /** An adapter's base model (`base_model` or `lora_model` at upload); null for models. */
  base_model: string | null;
  source: string;
  description: string;
  weights_prefix: string;
  size_bytes: number | null;
  ready: boolean;
  created_at: string;
}

/** A LoRA adapter bound to an endpoint: requests naming `adapter_name` go to its engine. */
export interface AdapterBinding {
  endpoint_id: string;
  project_id: string;
  /** The adapter's model name, e.g. `<project>/my-adapter`. */
  adapter_name: string;
  model_id: string;
  created_at: string;
}

export type ModelJobStatus = 'Queued' | 'Running' | 'Complete' | 'Failed';

export interface ModelJobRecord {
  id: string;
  project_id: string;
  model_id: string;
  status: ModelJobStatus;
  status_updates: { status: ModelJobStatus; message: string; timestamp: string }[];
  args: { description: string; modelName: string; modelSource: string };
  created_at: string;
  updated_at: string;
  /** Claims so far; a runner's writes count only while the attempt is still its own. */
  attempt: number;
  /** The Gantry instance running it, until `lease_until`. */
  claimed_by: string | null;
  lease_until: string | null;
  /** The Hub token, sealed (SecretBox, bound to the job id); null once the job ends. */
  sealed_token: string | null;
}

/** Whose claim a job's write is made under: the instance and the attempt it claimed. */
export interface JobClaim {
  owner: string;
  attempt: number;
}

type Row<T, K extends keyof T> = Omit<T, K> & { [P in K]: string };

/** The SQL of dedicated endpoints, uploaded models and their upload jobs. */
export class EndpointStore {
  constructor(private readonly ex: Executor) {}

  async insert(e: EndpointRecord): Promise<void> {
    await this.ex.run(
      `INSERT INTO endpoints (id, project_id, name, deployment_id, model, hardware, state, settings, created_at, updated_at, version)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [e.id, e.project_id, e.name, e.deployment_id, e.model, e.hardware, e.state, JSON.stringify(e.settings), e.created_at, e.updated_at, e.version],
    );
  }

  /** By id or by name, in the project. */
  async find(projectId: string, idOrName: string): Promise<EndpointRecord | undefined> {
    const row = await this.ex.get<Row<EndpointRecord, 'settings'>>('SELECT * FROM endpoints WHERE project_id = $1 AND (id = $2 OR name = $2) LIMIT 1', [
      projectId,
      idOrName,
    ]);
    return row && endpointOf(row);
  }

  /**
   * The endpoint a model name is served by, with its engine deployment's name, in one query
   * (the inference path): the endpoint of that name, or the one a LoRA adapter of that name is bound to.
   */
  findRoute(projectId: string, name: string): Promise<{ id: string; name: string; state: EndpointRecord['state']; engine: string } | undefined> {
    return this.ex.get(
      `SELECT e.id, e.name, e.state, d.name AS engine FROM endpoints e JOIN deployments d ON d.id = e.deployment_id
        WHERE e.project_id = $1
          AND (e.name = $2 OR e.id IN (SELECT endpoint_id FROM endpoint_adapters WHERE project_id = $1 AND adapter_name = $2))
        LIMIT 1`,
      [projectId, name],
    );
  }

  async list(projectId: string): Promise<EndpointRecord[]> {
    const rows = await this.ex.all<Row<EndpointRecord, 'settings'>>('SELECT * FROM endpoints WHERE project_id = $1 ORDER BY created_at, id', [projectId]);
    return rows.map(endpointOf);
  }

  /** Every endpoint of every project (the inactivity sweep and usage). */
  async all(): Promise<EndpointRecord[]> {
    const rows = await this.ex.all<Row<EndpointRecord, 'settings'>>('SELECT * FROM endpoints ORDER BY created_at, id');
    return rows.map(endpointOf);
  }

  /** Writes `e` if the stored version is still `expectedVersion`. */
  async update(e: EndpointRecord, expectedVersion: number): Promise<boolean> {
    const r = await this.ex.run('UPDATE endpoints SET state = $3, settings = $4, updated_at = $5, version = $6 WHERE id = $1 AND version = $2', [
      e.id,
      expectedVersion,
      e.state,
      JSON.stringify(e.settings),
      e.updated_at,
      e.version,
    ]);
    return r === 1;
  }

  async delete(id: string): Promise<void> {
    await this.ex.run('DELETE FROM endpoint_adapters WHERE endpoint_id = $1', [id]);
    await this.ex.run('DELETE FROM endpoints WHERE id = $1', [id]);
  }

  // LoRA adapters bound to endpoints

  adapters(endpointId: string): Promise<AdapterBinding[]> {
    return this.ex.all<AdapterBinding>('SELECT * FROM endpoint_adapters WHERE endpoint_id = $1 ORDER BY created_at, adapter_name', [endpointId]);
  }

  /** Where an adapter is bound in the project, if anywhere. */
  findBinding(projectId: string, adapterName: string): Promise<AdapterBinding | undefined> {
    return this.ex.get<AdapterBinding>('SELECT * FROM endpoint_adapters WHERE project_id = $1 AND adapter_name = $2', [projectId, adapterName]);
  }

  async bindAdapter(b: AdapterBinding): Promise<void> {
    await this.ex.run('INSERT INTO endpoint_adapters (endpoint_id, project_id, adapter_name, model_id, created_at) VALUES ($1, $2, $3, $4, $5)', [
      b.endpoint_id,
      b.project_id,
      b.adapter_name,
      b.model_id,
      b.created_at,
    ]);
  }

  async unbindAdapter(endpointId: string, adapterName: string): Promise<boolean> {
    return (await this.ex.run('DELETE FROM endpoint_adapters WHERE endpoint_id = $1 AND adapter_name = $2', [endpointId, adapterName])) > 0;
  }

  // Models

  async insertModel(m: ModelRecord): Promise<void> {
    await this.ex.run(
      `INSERT INTO models (id, project_id, name, model_type, base_model, source, description, weights_prefix, size_bytes, ready, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [m.id, m.project_id, m.name, m.model_type, m.base_model, m.source, m.description, m.weights_prefix, m.size_bytes, m.ready ? 1 : 0, m.created_at],
    );
  }

  async findModel(projectId: string, name: string): Promise<ModelRecord | undefined> {
    const row = await this.ex.get<ModelRow>('SELECT * FROM models WHERE project_id = $1 AND name = $2', [projectId, name]);
    return row && modelOf(row);
  }

  async findModelById(id: string): Promise<ModelRecord | undefined> {
    const row = await this.ex.get<ModelRow>('SELECT * FROM models WHERE id = $1', [id]);
    return row && modelOf(row);
  }

  async listModels(projectId: string): Promise<ModelRecord[]> {
    return (await this.ex.all<ModelRow>('SELECT * FROM models WHERE project_id = $1 ORDER BY created_at, id', [projectId])).map(modelOf);
  }

  /** A new upload of a model whose last one failed: its source and folder change. */
  async retryModel(m: ModelRecord): Promise<void> {
    await this.ex.run(
      'UPDATE models SET model_type = $2, base_model = $3, source = $4, description = $5, weights_prefix = $6, size_bytes = NULL, ready = 0 WHERE id = $1',
      [m.id, m.model_type, m.base_model, m.source, m.description, m.weights_prefix],
    );
  }

  async hasUnfinishedJob(modelId: string): Promise<boolean> {
    return (await this.ex.get("SELECT 1 AS x FROM model_jobs WHERE model_id = $1 AND status IN ('Queued', 'Running')", [modelId])) !== undefined;
  }

  async modelReady(id: string, sizeBytes: number): Promise<void> {
    await this.ex.run('UPDATE models SET ready = 1, size_bytes = $2 WHERE id = $1', [id, sizeBytes]);
  }

  // Model upload jobs

  async insertJob(j: ModelJobRecord): Promise<void> {
    await this.ex.run(
      `INSERT INTO model_jobs (id, project_id, model_id, status, status_updates, args, created_at, updated_at, attempt, claimed_by, lease_until, sealed_token)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [
        j.id,
        j.project_id,
        j.model_id,
        j.status,
        JSON.stringify(j.status_updates),
        JSON.stringify(j.args),
        j.created_at,
        j.updated_at,
        j.attempt,
        j.claimed_by,
        j.lease_until,
        j.sealed_token,
      ],
    );
  }

  async findJob(projectId: string, id: string): Promise<ModelJobRecord | undefined> {
    const row = await this.ex.get<JobRow>('SELECT * FROM model_jobs WHERE project_id = $1 AND id = $2', [projectId, id]);
    return row && jobOf(row);
  }

  async listJobs(projectId: string): Promise<ModelJobRecord[]> {
    return (await this.ex.all<JobRow>('SELECT * FROM model_jobs WHERE project_id = $1 ORDER BY created_at DESC, id DESC', [projectId])).map(jobOf);
  }

  /**
   * Claims an unfinished job nobody holds (never claimed, or its lease lapsed), or, with
   * `mine`, one this owner held before it restarted. `id` narrows it to one job. Answers the
   * job with its new attempt, or undefined when there is none to claim (or another won it).
   */
  async claimJob(o: { id?: string; owner: string; mine: boolean; nowIso: string; leaseUntilIso: string }): Promise<ModelJobRecord | undefined> {
    const found = await this.ex.get<JobRow>(
      `SELECT * FROM model_jobs
        WHERE status IN ('Queued', 'Running') AND ($1 = '' OR id = $1)
          AND (lease_until IS NULL OR lease_until < $2 OR ($3 = 1 AND claimed_by = $4))
        ORDER BY created_at, id LIMIT 1`,
      [o.id ?? '', o.nowIso, o.mine ? 1 : 0, o.owner],
    );
    if (!found) return undefined;
    const job = jobOf(found);
    const won = await this.ex.run(
      'UPDATE model_jobs SET attempt = attempt + 1, claimed_by = $3, lease_until = $4, updated_at = $5 WHERE id = $1 AND attempt = $2',
      [job.id, job.attempt, o.owner, o.leaseUntilIso, o.nowIso],
    );
    return won === 1 ? { ...job, attempt: job.attempt + 1, claimed_by: o.owner, lease_until: o.leaseUntilIso, updated_at: o.nowIso } : undefined;
  }

  /** Unfinished jobs `owner` holds a claim on (after a restart: what it was running when it stopped). */
  async unfinishedJobsHeldBy(owner: string): Promise<string[]> {
    const rows = await this.ex.all<{ id: string }>("SELECT id FROM model_jobs WHERE claimed_by = $1 AND status IN ('Queued', 'Running') ORDER BY created_at", [
      owner,
    ]);
    return rows.map((r) => r.id);
  }

  /** A runner's heartbeat: extends its lease; false once the claim is no longer its own. */
  async renewJob(id: string, claim: JobClaim, nowIso: string, leaseUntilIso: string): Promise<boolean> {
    const changed = await this.ex.run(
      "UPDATE model_jobs SET lease_until = $4, updated_at = $5 WHERE id = $1 AND claimed_by = $2 AND attempt = $3 AND status IN ('Queued', 'Running')",
      [id, claim.owner, claim.attempt, leaseUntilIso, nowIso],
    );
    return changed === 1;
  }

  /**
   * Writes a step of an unfinished job under the claim it was made with; false if the job has
   * ended or was claimed again since (exactly one end, and a runner that lost its claim is fenced
   * off). An ended job drops its sealed token.
   */
  async updateJob(j: ModelJobRecord, claim: JobClaim): Promise<boolean> {
    const ended = j.status === 'Complete' || j.status === 'Failed';
    const changed = await this.ex.run(
      `UPDATE model_jobs SET status = $2, status_updates = $3, updated_at = $4, sealed_token = CASE WHEN $7 = 1 THEN NULL ELSE sealed_token END
        WHERE id = $1 AND claimed_by = $5 AND attempt = $6 AND status IN ('Queued', 'Running')`,
      [j.id, j.status, JSON.stringify(j.status_updates), j.updated_at, claim.owner, claim.attempt, ended ? 1 : 0],
    );
    return changed === 1;
  }
}

type ModelRow = Omit<ModelRecord, 'ready' | 'size_bytes'> & { ready: number; size_bytes: number | string | null };
type JobRow = Row<ModelJobRecord, 'status_updates' | 'args'>;

const endpointOf = (row: Row<EndpointRecord, 'settings'>): EndpointRecord => ({ ...row, settings: JSON.parse(row.settings) });
// PostgreSQL answers BIGINT as a string.
const modelOf = (row: ModelRow): ModelRecord => ({
  ...row,
  ready: Number(row.ready) === 1,
  size_bytes: row.size_bytes === null ? null : Number(row.size_bytes),
});
const jobOf = (row: JobRow): ModelJobRecord => ({
  ...row,
  attempt: Number(row.attempt),
  status_updates: JSON.parse(row.status_updates),
  args: JSON.parse(row.args),
});
