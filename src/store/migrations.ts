import type { Database } from './executor.js';

/**
 * Schema migrations, the same SQL on SQLite and PostgreSQL: TEXT timestamps (ISO 8601),
 * TEXT JSON, INTEGER versions. Append new steps; never edit a step that has shipped.
 */
const STEPS: string[][] = [
  [
    `CREATE TABLE projects (
       id TEXT PRIMARY KEY,
       name TEXT NOT NULL UNIQUE,
       created_at TEXT NOT NULL)`,
    `CREATE TABLE api_keys (
       id TEXT PRIMARY KEY,
       project_id TEXT NOT NULL REFERENCES projects(id),
       hash TEXT NOT NULL UNIQUE,
       prefix TEXT NOT NULL,
       label TEXT NOT NULL,
       created_at TEXT NOT NULL,
       revoked_at TEXT)`,
    `CREATE TABLE secrets (
       id TEXT PRIMARY KEY,
       project_id TEXT NOT NULL REFERENCES projects(id),
       name TEXT NOT NULL,
       description TEXT NOT NULL,
       ciphertext TEXT NOT NULL,
       created_by TEXT NOT NULL,
       last_updated_by TEXT NOT NULL,
       created_at TEXT NOT NULL,
       updated_at TEXT NOT NULL,
       version INTEGER NOT NULL,
       UNIQUE (project_id, name))`,
    `CREATE TABLE volumes (
       id TEXT PRIMARY KEY,
       project_id TEXT NOT NULL REFERENCES projects(id),
       name TEXT NOT NULL,
       type TEXT NOT NULL,
       current_version INTEGER NOT NULL,
       created_at TEXT NOT NULL,
       updated_at TEXT NOT NULL,
       version INTEGER NOT NULL,
       UNIQUE (project_id, name))`,
    `CREATE TABLE volume_versions (
       volume_id TEXT NOT NULL REFERENCES volumes(id) ON DELETE CASCADE,
       version INTEGER NOT NULL,
       source_prefix TEXT NOT NULL,
       created_at TEXT NOT NULL,
       PRIMARY KEY (volume_id, version))`,
    `CREATE TABLE deployments (
       id TEXT PRIMARY KEY,
       project_id TEXT NOT NULL REFERENCES projects(id),
       name TEXT NOT NULL,
       spec TEXT NOT NULL,
       revision_id TEXT NOT NULL,
       revision_hash TEXT NOT NULL,
       desired_replicas INTEGER NOT NULL,
       created_at TEXT NOT NULL,
       updated_at TEXT NOT NULL,
       version INTEGER NOT NULL,
       UNIQUE (project_id, name))`,
    // References are rows with foreign keys, so a secret or volume in use cannot be deleted
    // even by a request racing the deployment that starts using it.
    `CREATE TABLE deployment_secret_refs (
       deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
       secret_id TEXT NOT NULL REFERENCES secrets(id),
       PRIMARY KEY (deployment_id, secret_id))`,
    `CREATE TABLE deployment_volume_refs (
       deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
       volume_id TEXT NOT NULL REFERENCES volumes(id),
       version INTEGER NOT NULL,
       PRIMARY KEY (deployment_id, volume_id, version))`,
    `CREATE INDEX deployment_secret_refs_secret ON deployment_secret_refs (secret_id)`,
    `CREATE INDEX deployment_volume_refs_volume ON deployment_volume_refs (volume_id)`,
  ],
  [
    // The job queue. `id` is a UUIDv7, so ordering by it is submission order (FIFO within a
    // priority). `model` is the deployment's name, as Together's queue API keys jobs.
    // Claim deadlines are epoch milliseconds (BIGINT: past 2038 on both engines).
    `CREATE TABLE jobs (
       id TEXT PRIMARY KEY,
       project_id TEXT NOT NULL REFERENCES projects(id),
       model TEXT NOT NULL,
       status TEXT NOT NULL,
       priority INTEGER NOT NULL,
       payload TEXT NOT NULL,
       info TEXT NOT NULL,
       outputs TEXT,
       retries INTEGER NOT NULL,
       claimed_by TEXT,
       claim_timeout_s INTEGER,
       claim_expires_at BIGINT,
       created_at TEXT NOT NULL,
       claimed_at TEXT,
       done_at TEXT)`,
    `CREATE INDEX jobs_next ON jobs (project_id, model, status, priority, id)`,
    `CREATE INDEX jobs_claims ON jobs (status, claim_expires_at)`,
    // Worker keys: an API key bound to one deployment (it may only use that deployment's queue
    // and storage), and its sealed plaintext, injected into the replicas as TOGETHER_API_KEY.
    `ALTER TABLE api_keys ADD COLUMN deployment_id TEXT REFERENCES deployments(id) ON DELETE CASCADE`,
    `CREATE TABLE worker_keys (
       deployment_id TEXT PRIMARY KEY REFERENCES deployments(id) ON DELETE CASCADE,
       key_id TEXT NOT NULL,
       ciphertext TEXT NOT NULL)`,
  ],
  [
    // Dedicated endpoints: each runs as one deployment of its inference engine (deployment_id).
    // `state` is what the user asked for (STARTED or STOPPED); what is shown is derived from
    // the deployment's replicas. The settings the API echoes back are one JSON document.
    `CREATE TABLE endpoints (
       id TEXT PRIMARY KEY,
       project_id TEXT NOT NULL REFERENCES projects(id),
       name TEXT NOT NULL,
       deployment_id TEXT NOT NULL REFERENCES deployments(id),
       model TEXT NOT NULL,
       hardware TEXT NOT NULL,
       state TEXT NOT NULL,
       settings TEXT NOT NULL,
       created_at TEXT NOT NULL,
       updated_at TEXT NOT NULL,
       version INTEGER NOT NULL,
       UNIQUE (project_id, name))`,
    // Uploaded models; their weights are files in the project's storage under weights_prefix.
    `CREATE TABLE models (
       id TEXT PRIMARY KEY,
       project_id TEXT NOT NULL REFERENCES projects(id),
       name TEXT NOT NULL,
       model_type TEXT NOT NULL,
       source TEXT NOT NULL,
       description TEXT NOT NULL,
       weights_prefix TEXT NOT NULL,
       size_bytes BIGINT,
       ready INTEGER NOT NULL,
       created_at TEXT NOT NULL,
       UNIQUE (project_id, name))`,
    // Model upload jobs; status_updates is a JSON array, appended to as the job moves.
    `CREATE TABLE model_jobs (
       id TEXT PRIMARY KEY,
       project_id TEXT NOT NULL REFERENCES projects(id),
       model_id TEXT NOT NULL REFERENCES models(id),
       status TEXT NOT NULL,
       status_updates TEXT NOT NULL,
       args TEXT NOT NULL,
       created_at TEXT NOT NULL,
       updated_at TEXT NOT NULL)`,
  ],
  [
    // One row per replica per minute it ran, priced when metered. No foreign keys: what was
    // used stays billed after the deployment or endpoint is deleted.
    `CREATE TABLE usage_minutes (
       replica_id TEXT NOT NULL,
       minute TEXT NOT NULL,
       project_id TEXT NOT NULL,
       deployment_id TEXT NOT NULL,
       deployment_name TEXT NOT NULL,
       endpoint_id TEXT,
       endpoint_name TEXT,
       hardware TEXT NOT NULL,
       cents_per_minute DOUBLE PRECISION NOT NULL,
       PRIMARY KEY (replica_id, minute))`,
    'CREATE INDEX usage_minutes_by_project ON usage_minutes (project_id, minute)',
    // LoRA adapters: the base model an uploaded adapter was made for, and where each is bound.
    'ALTER TABLE models ADD COLUMN base_model TEXT',
    `CREATE TABLE endpoint_adapters (
       endpoint_id TEXT NOT NULL REFERENCES endpoints(id),
       project_id TEXT NOT NULL REFERENCES projects(id),
       adapter_name TEXT NOT NULL,
       model_id TEXT NOT NULL REFERENCES models(id),
       created_at TEXT NOT NULL,
       PRIMARY KEY (endpoint_id, adapter_name),
       UNIQUE (project_id, adapter_name))`,
  ],
  [
    // A revision that cannot become ready, stored with the deployment so every instance sees it.
    'ALTER TABLE deployments ADD COLUMN failed_revision_id TEXT',
    'ALTER TABLE deployments ADD COLUMN failure TEXT',
  ],
  [
    // Model upload jobs are claimed with a lease, like queue jobs: a job whose Gantry stopped is
    // claimed again (by the same instance at once after a restart, by another once the lease
    // lapses) and resumes from its downloaded bytes. `attempt` fences a runner that lost its claim.
    'ALTER TABLE model_jobs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0',
    'ALTER TABLE model_jobs ADD COLUMN claimed_by TEXT',
    'ALTER TABLE model_jobs ADD COLUMN lease_until TEXT',
    // The Hub token of the upload, sealed like a secret; dropped when the job ends.
    'ALTER TABLE model_jobs ADD COLUMN sealed_token TEXT',
  ],
  [
    // A deployment's metrics every 10 s, for the console's charts and later analyses. Only
    // deployments with something to show get a row; rows older than the retention are deleted.
    // No foreign key: points of a deleted deployment age out with the rest.
    `CREATE TABLE metric_points (
       deployment_id TEXT NOT NULL,
       at BIGINT NOT NULL,
       requests INTEGER NOT NULL,
       p50_ms DOUBLE PRECISION,
       p99_ms DOUBLE PRECISION,
       in_flight INTEGER NOT NULL,
       ready INTEGER NOT NULL,
       desired INTEGER NOT NULL,
       queue_pending INTEGER NOT NULL,
       queue_running INTEGER NOT NULL,
       jobs_done INTEGER NOT NULL,
       job_latency_ms DOUBLE PRECISION,
       decision TEXT,
       PRIMARY KEY (deployment_id, at))`,
    'CREATE INDEX metric_points_by_time ON metric_points (at)',
  ],
  [
    // Revision history (Together's /deployments/{id}/revisions and rollback): each revision's
    // spec, numbered per deployment, and each time one became active. Deployments that exist
    // already start with their current revision as number 1.
    `CREATE TABLE deployment_revisions (
       deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
       revision_id TEXT NOT NULL,
       revision_number INTEGER NOT NULL,
       spec TEXT NOT NULL,
       created_at TEXT NOT NULL,
       PRIMARY KEY (deployment_id, revision_id),
       UNIQUE (deployment_id, revision_number))`,
    `CREATE TABLE deployment_revision_events (
       deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
       event_number INTEGER NOT NULL,
       revision_id TEXT NOT NULL,
       action TEXT NOT NULL,
       activated_at TEXT NOT NULL,
       PRIMARY KEY (deployment_id, event_number))`,
    `INSERT INTO deployment_revisions (deployment_id, revision_id, revision_number, spec, created_at)
       SELECT id, revision_id, 1, spec, updated_at FROM deployments`,
    `INSERT INTO deployment_revision_events (deployment_id, event_number, revision_id, action, activated_at)
       SELECT id, 1, revision_id, 'create', updated_at FROM deployments`,
  ],
  [
    // Finished jobs are deleted after the retention period, oldest first, in batches.
    'CREATE INDEX jobs_finished ON jobs (status, done_at)',
  ],
  [
    // The autoscaler reads only autoscaled deployments that run or have work, not every
    // deployment every second. (Specs are stored as JSON.stringify writes them.)
    'ALTER TABLE deployments ADD COLUMN autoscaled INTEGER NOT NULL DEFAULT 0',
    `UPDATE deployments SET autoscaled = 1 WHERE spec NOT LIKE '%"autoscaling":null%'`,
    'CREATE INDEX deployments_desired ON deployments (desired_replicas)',
  ],
  [
    // Several instances on one database (docs/architecture.md, "Several instances"): the
    // leader's lease, the instances that serve, what the leader's runtime observes (for the
    // others' gateways and API), and every instance's traffic per second (for the autoscaler).
    `CREATE TABLE leader_lease (
       name TEXT PRIMARY KEY,
       holder TEXT,
       holder_url TEXT,
       term INTEGER NOT NULL,
       renewals INTEGER NOT NULL)`,
    `CREATE TABLE instances (
       id TEXT PRIMARY KEY,
       host TEXT NOT NULL,
       data_dir TEXT NOT NULL,
       runtime TEXT NOT NULL,
       url TEXT NOT NULL,
       pid INTEGER NOT NULL,
       seen_at BIGINT NOT NULL)`,
    `CREATE TABLE replica_observations (
       deployment_id TEXT PRIMARY KEY,
       project_id TEXT NOT NULL,
       name TEXT NOT NULL,
       replicas TEXT NOT NULL,
       capacity INTEGER)`,
    `CREATE TABLE traffic_reports (
       instance_id TEXT NOT NULL,
       deployment_id TEXT NOT NULL,
       second BIGINT NOT NULL,
       requests INTEGER NOT NULL,
       duration_ms DOUBLE PRECISION NOT NULL,
       in_flight INTEGER NOT NULL,
       held INTEGER NOT NULL,
       PRIMARY KEY (instance_id, deployment_id, second))`,
    'CREATE INDEX traffic_reports_by_second ON traffic_reports (second)',
  ],
  [
    // The queue's indexes, each holding only the jobs its reads look for (issue 16):
    // - jobs_pending: a claim takes the highest priority first, then the oldest; in that order
    //   it reads one entry. jobs_next was (…, status, priority, id): SQLite sorted the whole
    //   backlog of the queue on every claim. On PostgreSQL a claim planned while the table was
    //   nearly empty took jobs_finished (status, done_at) and sorted every pending job (50 ms
    //   a claim at 40,000 pending); the indexes below cannot be read for pending jobs except
    //   jobs_active, which stale statistics can still make look as cheap: the leader refreshes
    //   them (Store.refreshStatistics).
    // - jobs_active: queue depths and the deployments with work (the autoscaler's read).
    // - jobs_by_queue: a queue's latest jobs, newest first.
    // - jobs_claims and jobs_finished: the claim sweep's and the retention's.
    'DROP INDEX jobs_next',
    'DROP INDEX jobs_claims',
    'DROP INDEX jobs_finished',
    "CREATE INDEX jobs_pending ON jobs (project_id, model, priority DESC, id) WHERE status = 'pending'",
    "CREATE INDEX jobs_active ON jobs (project_id, model, status) WHERE status IN ('pending', 'running')",
    'CREATE INDEX jobs_by_queue ON jobs (project_id, model, id)',
    "CREATE INDEX jobs_claims ON jobs (claim_expires_at) WHERE status = 'running'",
    'CREATE INDEX jobs_finished ON jobs (done_at) WHERE done_at IS NOT NULL',
  ],
];

export const SCHEMA_VERSION = STEPS.length;

export async function migrate(db: Database): Promise<void> {
  await db.transaction(async (tx) => {
    // Several Gantry instances may start at once against one PostgreSQL: one migrates, the others wait.
    if (db.dialect === 'postgres') await tx.get('SELECT pg_advisory_xact_lock(727274)');
    await tx.run('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
    const row = await tx.get<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations');
    const current = Number(row?.v ?? 0);
    if (current > STEPS.length) {
      throw new Error(`database schema version ${current} is newer than this Gantry (${STEPS.length}); upgrade Gantry`);
    }
    for (let v = current + 1; v <= STEPS.length; v++) {
      for (const sql of STEPS[v - 1]!) await tx.run(sql);
      await tx.run('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, CURRENT_TIMESTAMP)', [v]);
    }
  });
}
