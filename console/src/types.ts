/** The API's shapes the console reads (see /openapi.json; only the fields shown here). */
export interface ReplicaEvent {
  revision_id?: string;
  replica_status?: string;
  replica_status_reason?: string;
  replica_status_message?: string;
  replica_ready_since?: string;
  volume_preload_status?: string;
}

export interface EnvVar {
  name: string;
  value?: string;
  value_from_secret?: string;
}

export interface Deployment {
  id: string;
  name: string;
  status: string;
  image: string;
  gpu_type: string;
  gpu_count: number;
  min_replicas: number;
  max_replicas: number;
  desired_replicas: number;
  ready_replicas: number;
  environment_variables?: EnvVar[];
  autoscaling?: Record<string, unknown>;
  replica_events: Record<string, ReplicaEvent>;
  created_at: string;
  updated_at: string;
  [field: string]: unknown;
}

export interface MetricPoint {
  time: string;
  requests: number;
  p50_ms: number | null;
  p99_ms: number | null;
  in_flight: number;
  ready_replicas: number;
  desired_replicas: number;
  queue_pending: number;
  queue_running: number;
  jobs_done: number;
  job_latency_ms: number | null;
  decision: string | null;
}

export interface Job {
  request_id: string;
  status: string;
  priority: number;
  retries: number;
  created_at: string;
  claimed_at?: string;
  done_at?: string;
  inputs: Record<string, unknown>;
  outputs?: Record<string, unknown>;
  info: Record<string, unknown>;
}

export interface Endpoint {
  id: string;
  name: string;
  model: string;
  hardware: string;
  state: string;
  state_reason?: string;
  created_at: string;
}

export interface Hardware {
  id: string;
  pricing: { cents_per_minute: number };
  specs: { gpu_type: string; gpu_count: number; gpu_memory: number };
  availability?: { status: string };
}

export interface Model {
  id: string;
  type: string;
  display_name?: string;
  organization?: string;
}

export interface UploadJob {
  job_id: string;
  status: string;
  status_updates: { status: string; message: string; timestamp: string }[];
  args: { modelName: string; modelSource: string };
  created_at: string;
  updated_at: string;
}

export interface Secret {
  id: string;
  name: string;
  description?: string;
  created_at: string;
  updated_at: string;
}

export interface Volume {
  id: string;
  name: string;
  current_version: number;
  content: { source_prefix: string; files: { name: string; size: number; last_modified?: string }[] };
  mounted_by: string[];
  version_history: Record<string, { version: number; content: { source_prefix: string }; mounted_by: string[] }>;
  created_at: string;
  updated_at: string;
}

export interface Metered {
  replica_minutes: number;
  cost_cents: number;
}

export interface UsageItem extends Metered {
  id: string;
  name: string;
  deleted: boolean;
  hardware: ({ hardware: string } & Metered)[];
}

export interface Usage extends Metered {
  start_time: string;
  end_time: string;
  endpoints: UsageItem[];
  deployments: UsageItem[];
  series?: ({ start_time: string; items: ({ id: string } & Metered)[] } & Metered)[];
}

export interface List<T> {
  data: T[];
}
