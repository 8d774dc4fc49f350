import { Type, type Static } from '@sinclair/typebox';
import { NO_NUL_PATTERN, StringEnum } from './common.js';

/**
 * Deployment schemas: the single source of truth for request validation, response
 * serialisation and /openapi.json. Field names and limits follow Together's contract
 * (CreateDeploymentRequest, UpdateDeploymentRequest, DeploymentResponseItem).
 */

export const GPU_TYPES = ['h100-80gb', 'h100-40gb-mig', 'b200-192gb', 'h200-140gb', 'a100-80gb', 'none'] as const;
export const AUTOSCALING_METRICS = [
  'HTTPTotalRequests',
  'HTTPAvgRequestDuration',
  'QueueBacklogPerWorker',
  'CustomMetric',
  // Gantry's own: requests in flight per replica, as Knative's KPA scales (README, Autoscaling).
  'ConcurrentRequests',
] as const;
export const DEPLOYMENT_STATUSES = ['Updating', 'Scaling', 'Ready', 'Failed', 'ScaledToZero'] as const;

export const ENV_NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_]*$';
export const DEPLOYMENT_NAME_PATTERN = '^[A-Za-z0-9_-]+$';
export const CUSTOM_METRIC_PATTERN = '^[a-zA-Z_:][a-zA-Z0-9_:]*$';

export const EnvironmentVariable = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 256, pattern: ENV_NAME_PATTERN }),
    value: Type.Optional(Type.String({ maxLength: 32768, pattern: NO_NUL_PATTERN })),
    value_from_secret: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  },
  { additionalProperties: false },
);

export const VolumeMount = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    mount_path: Type.String({ minLength: 1, maxLength: 1024, pattern: '^/[^\\u0000-\\u001f]*$' }),
    version: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);

/**
 * One object type for the contract's three autoscaling configs. Which fields belong to
 * which metric is checked in domain/autoscaling.ts, where the error can say so plainly
 * (a JSON Schema oneOf would only say "must match exactly one schema").
 */
export const Autoscaling = Type.Object(
  {
    metric: Type.Optional(StringEnum(AUTOSCALING_METRICS)),
    target: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1e9 })),
    time_interval_minutes: Type.Optional(Type.Integer({ minimum: 1, maximum: 1440 })),
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    custom_metric_name: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: CUSTOM_METRIC_PATTERN })),
  },
  { additionalProperties: false },
);

const fields = {
  name: Type.String({ minLength: 1, maxLength: 100, pattern: DEPLOYMENT_NAME_PATTERN }),
  description: Type.String({ maxLength: 1000 }),
  image: Type.String({ minLength: 1, maxLength: 1024, pattern: '^\\S+$' }),
  gpu_type: StringEnum(GPU_TYPES),
  gpu_count: Type.Integer({ minimum: 0, maximum: 16 }),
  cpu: Type.Number({ minimum: 0.1, maximum: 1000 }),
  memory: Type.Number({ exclusiveMinimum: 0, maximum: 1000 }),
  storage: Type.Integer({ minimum: 1, maximum: 400 }),
  port: Type.Integer({ minimum: 1, maximum: 65535 }),
  min_replicas: Type.Integer({ minimum: 0, maximum: 1000 }),
  max_replicas: Type.Integer({ minimum: 0, maximum: 1000 }),
  command: Type.Array(Type.String({ maxLength: 4096, pattern: '^[^\\u0000]*$' }), { maxItems: 256 }),
  args: Type.Array(Type.String({ maxLength: 4096, pattern: '^[^\\u0000]*$' }), { maxItems: 256 }),
  environment_variables: Type.Array(EnvironmentVariable, { maxItems: 1000 }),
  // "" disables health checks; otherwise an absolute path without control characters.
  health_check_path: Type.String({ maxLength: 1024, pattern: '^(/[^\\u0000-\\u001f]*)?$' }),
  termination_grace_period_seconds: Type.Integer({ minimum: 0, maximum: 86400 }),
  volumes: Type.Array(VolumeMount, { maxItems: 64 }),
  // Together's newer field (jig 3.x always sends it, usually empty); Gantry refuses a non-empty one (domain/deployment.ts).
  model_mounts: Type.Array(
    Type.Object(
      { model_id: Type.String({ minLength: 1, maxLength: 200 }), mount_path: Type.String({ minLength: 1, maxLength: 1024 }), revision_id: Type.Optional(Type.String({ maxLength: 200 })) },
      { additionalProperties: false },
    ),
    { maxItems: 64 },
  ),
};

export const CreateDeploymentRequest = Type.Object(
  {
    name: fields.name,
    image: fields.image,
    gpu_type: fields.gpu_type,
    description: Type.Optional(fields.description),
    gpu_count: Type.Optional(fields.gpu_count),
    cpu: Type.Optional(fields.cpu),
    memory: Type.Optional(fields.memory),
    storage: Type.Optional(fields.storage),
    port: Type.Optional(fields.port),
    min_replicas: Type.Optional(fields.min_replicas),
    max_replicas: Type.Optional(fields.max_replicas),
    command: Type.Optional(fields.command),
    args: Type.Optional(fields.args),
    environment_variables: Type.Optional(fields.environment_variables),
    health_check_path: Type.Optional(fields.health_check_path),
    termination_grace_period_seconds: Type.Optional(fields.termination_grace_period_seconds),
    volumes: Type.Optional(fields.volumes),
    model_mounts: Type.Optional(fields.model_mounts),
    autoscaling: Type.Optional(Type.Union([Autoscaling, Type.Null()])),
  },
  { additionalProperties: false },
);

/** A PATCH: any field of a create, none required. */
export const UpdateDeploymentRequest = Type.Partial(CreateDeploymentRequest, { additionalProperties: false });

export const ReplicaEvent = Type.Object({
  image: Type.Optional(Type.String()),
  revision_id: Type.Optional(Type.String()),
  replica_status: Type.Optional(Type.String()),
  replica_status_reason: Type.Optional(Type.String()),
  replica_status_message: Type.Optional(Type.String()),
  replica_ready_since: Type.Optional(Type.String()),
  volume_preload_status: Type.Optional(Type.String()),
  volume_preload_started_at: Type.Optional(Type.String()),
  volume_preload_completed_at: Type.Optional(Type.String()),
});

/** How a deployment and each of its revisions show their spec (domain/deployment.ts renders both). */
const SpecView = {
  image: Type.String(),
  gpu_type: Type.String(),
  gpu_count: Type.Integer(),
  cpu: Type.Number(),
  memory: Type.Number(),
  storage: Type.Integer(),
  port: Type.Integer(),
  health_check_path: Type.String(),
  command: Type.Array(Type.String()),
  args: Type.Array(Type.String()),
  min_replicas: Type.Integer(),
  max_replicas: Type.Integer(),
  autoscaling: Type.Optional(Autoscaling),
  environment_variables: Type.Array(EnvironmentVariable),
  volumes: Type.Array(VolumeMount),
  termination_grace_period_seconds: Type.Integer(),
};

export const DeploymentResponseItem = Type.Object(
  {
    object: Type.Literal('deployment'),
    id: Type.String(),
    name: Type.String(),
    description: Type.String(),
    status: StringEnum(DEPLOYMENT_STATUSES),
    ...SpecView,
    desired_replicas: Type.Integer(),
    ready_replicas: Type.Integer(),
    replica_events: Type.Record(Type.String(), ReplicaEvent),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  {},
);

export type CreateDeploymentBody = Static<typeof CreateDeploymentRequest>;
export type UpdateDeploymentBody = Static<typeof UpdateDeploymentRequest>;
export type AutoscalingConfig = Static<typeof Autoscaling>;
export type EnvVar = Static<typeof EnvironmentVariable>;
export type VolumeMountSpec = Static<typeof VolumeMount>;
export type DeploymentView = Static<typeof DeploymentResponseItem>;
export type ReplicaEventView = Static<typeof ReplicaEvent>;

export const LogsQuery = Type.Object(
  {
    replica_id: Type.Optional(Type.String({ maxLength: 200 })),
    revision: Type.Optional(Type.String({ maxLength: 100 })),
    /** Accepted for Together's SDK; Gantry filters by revision instead. */
    version: Type.Optional(Type.String({ maxLength: 100 })),
    follow: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export const DeploymentLogs = Type.Object({ lines: Type.Array(Type.String()) });

/** `GET /v1/deployments/{id}/metrics` (Gantry's, for the console): the deployment's metrics history. */
export const MetricsQuery = Type.Object(
  { minutes: Type.Optional(Type.Integer({ minimum: 1, maximum: 1440, default: 60, description: 'How far back, in minutes (at most a day, what is kept)' })) },
  { additionalProperties: false },
);

const Ms = (description: string) => Type.Union([Type.Number(), Type.Null()], { description });
export const MetricPoint = Type.Object({
  time: Type.String({ format: 'date-time', description: 'Start of the 10-second interval' }),
  requests: Type.Integer({ description: 'Requests the gateway finished in the interval' }),
  p50_ms: Ms('Median request latency; null without requests'),
  p99_ms: Ms('99th percentile request latency; null without requests'),
  in_flight: Type.Integer({ description: 'The most requests in flight at once' }),
  ready_replicas: Type.Integer(),
  desired_replicas: Type.Integer(),
  queue_pending: Type.Integer(),
  queue_running: Type.Integer(),
  jobs_done: Type.Integer({ description: 'Jobs that ended (done or failed) in the interval' }),
  job_latency_ms: Ms('Mean time from submit to end of those jobs'),
  decision: Type.Union([Type.String(), Type.Null()], { description: "The autoscaler's change of desired replicas in the interval" }),
});
export const DeploymentMetrics = Type.Object({
  object: Type.Literal('list'),
  deployment_id: Type.String(),
  interval_seconds: Type.Integer(),
  data: Type.Array(MetricPoint, { description: 'Intervals with activity, oldest first; an interval without a point had none' }),
});
export type DeploymentMetricsView = Static<typeof DeploymentMetrics>;

/** One deployment revision's configuration (`GET /deployments/{id}/revisions/{revision}`), as Together's SDK types it. */
export const DeploymentRevision = Type.Object({
  object: Type.Literal('revision'),
  revision_id: Type.String(),
  revision_number: Type.Integer(),
  created_at: Type.String(),
  ...SpecView,
  protocol: Type.String(),
  capacity_type: StringEnum(['stable', 'preemptible'] as const),
});
export type DeploymentRevisionView = Static<typeof DeploymentRevision>;

export const RevisionEventList = Type.Object({
  object: Type.Literal('list'),
  data: Type.Array(
    Type.Object({
      object: Type.Literal('revision_event'),
      event_number: Type.Integer(),
      revision_id: Type.String(),
      revision_number: Type.Integer(),
      action: StringEnum(['create', 'update', 'system', 'rollback'] as const),
      activated_at: Type.String(),
      image: Type.String(),
    }),
  ),
});

export const RevisionsQuery = Type.Object(
  { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })), before: Type.Optional(Type.Integer({ minimum: 1 })) },
  { additionalProperties: false },
);

export const RollbackRequest = Type.Object({ revision_identifier: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false });
