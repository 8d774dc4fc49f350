import type { AutoscalingConfig, EnvVar } from './schemas/deployment.js';

/** Rows as the rest of Gantry sees them; every mutable one carries a version for optimistic concurrency. */
export interface ProjectRecord {
  id: string;
  name: string;
  created_at: string;
}

export interface ApiKeyRecord {
  id: string;
  project_id: string;
  project_name: string;
  prefix: string;
  label: string;
  created_at: string;
  revoked_at: string | null;
  /** Set for a deployment's worker key: the only deployment it may act for. */
  deployment_id: string | null;
}

export interface SecretRecord {
  id: string;
  project_id: string;
  name: string;
  description: string;
  ciphertext: string;
  created_by: string;
  last_updated_by: string;
  created_at: string;
  updated_at: string;
  version: number;
}

export interface VolumeRecord {
  id: string;
  project_id: string;
  name: string;
  type: 'readOnly';
  current_version: number;
  created_at: string;
  updated_at: string;
  version: number;
}

export interface VolumeVersionRecord {
  volume_id: string;
  version: number;
  source_prefix: string;
  created_at: string;
}

export interface VolumeMountRow {
  deployment_id: string;
  volume_id: string;
  version: number;
}

/** Everything a user configures on a deployment, with defaults applied. */
export interface DeploymentSpec {
  description: string;
  image: string;
  gpu_type: string;
  gpu_count: number;
  cpu: number;
  memory: number;
  storage: number;
  port: number;
  min_replicas: number;
  max_replicas: number;
  command: string[];
  args: string[];
  environment_variables: EnvVar[];
  health_check_path: string;
  termination_grace_period_seconds: number;
  volumes: { name: string; mount_path: string; version: number }[];
  autoscaling: AutoscalingConfig | null;
}

export interface DeploymentRecord {
  id: string;
  project_id: string;
  name: string;
  spec: DeploymentSpec;
  /** A UUIDv7 that changes whenever what runs changes (see revisionHash in domain/deployment.ts). */
  revision_id: string;
  revision_hash: string;
  desired_replicas: number;
  /** Why `failed_revision_id` cannot become ready; the deployment is Failed while that is its revision. */
  failure: string | null;
  failed_revision_id: string | null;
  created_at: string;
  updated_at: string;
  version: number;
}

export type JobStatus = 'pending' | 'running' | 'done' | 'failed' | 'canceled';

/** A queued job; `payload`, `info` and `outputs` are JSON text. */
export interface JobRecord {
  id: string;
  project_id: string;
  model: string;
  status: JobStatus;
  priority: number;
  payload: string;
  info: string;
  outputs: string | null;
  retries: number;
  claimed_by: string | null;
  claim_timeout_s: number | null;
  /** Epoch ms after which an unrefreshed claim goes back to the queue; null: held until reported. */
  claim_expires_at: number | string | null;
  created_at: string;
  claimed_at: string | null;
  done_at: string | null;
}
