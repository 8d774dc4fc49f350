import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import type { CreateDeploymentBody, DeploymentRevisionView, DeploymentView, ReplicaEventView, UpdateDeploymentBody } from '../contract/schemas/deployment.js';
import { errors } from '../contract/errors.js';
import type { DeploymentRecord, DeploymentSpec } from '../contract/records.js';
import { normalizeAutoscaling } from './autoscaling.js';
import type { Observed, SpecDraft } from '../contract/ports.js';
import type { RuntimeDriver } from '../contract/runtime.js';

/**
 * The platform lists the revision id among a deployment's variables (as Together does). A
 * request that sends it back (a GET's body PATCHed again) does not store it: the replica always
 * sees its real revision. The platform's other variables a user may set, and the user's value
 * wins, as on Together (`jig deploy` sends its own TOGETHER_API_BASE_URL).
 */
export const LISTED_REVISION_ENV = 'TOGETHER_DEPLOYMENT_REVISION_ID';
const userEnv = (vars: DeploymentSpec['environment_variables']) => vars.filter((v) => v.name !== LISTED_REVISION_ENV);

export const DEPLOYMENT_DEFAULTS = {
  description: '',
  gpu_count: 0,
  cpu: 1,
  memory: 8,
  storage: 100,
  port: 8000,
  min_replicas: 1,
  command: [] as string[],
  args: [] as string[],
  health_check_path: '',
  termination_grace_period_seconds: 300,
};

/** A volume mount as the user wrote it; the version is resolved against the store by the command. */
export function draftFromCreate(body: CreateDeploymentBody): SpecDraft {
  refuseModelMounts(body.model_mounts);
  const min = body.min_replicas ?? DEPLOYMENT_DEFAULTS.min_replicas;
  return {
    description: body.description ?? DEPLOYMENT_DEFAULTS.description,
    image: body.image,
    gpu_type: body.gpu_type,
    gpu_count: body.gpu_count ?? DEPLOYMENT_DEFAULTS.gpu_count,
    cpu: body.cpu ?? DEPLOYMENT_DEFAULTS.cpu,
    memory: body.memory ?? DEPLOYMENT_DEFAULTS.memory,
    storage: body.storage ?? DEPLOYMENT_DEFAULTS.storage,
    port: body.port ?? DEPLOYMENT_DEFAULTS.port,
    min_replicas: min,
    max_replicas: body.max_replicas ?? min,
    command: body.command ?? DEPLOYMENT_DEFAULTS.command,
    args: body.args ?? DEPLOYMENT_DEFAULTS.args,
    environment_variables: userEnv(body.environment_variables ?? []),
    health_check_path: body.health_check_path ?? DEPLOYMENT_DEFAULTS.health_check_path,
    termination_grace_period_seconds: body.termination_grace_period_seconds ?? DEPLOYMENT_DEFAULTS.termination_grace_period_seconds,
    volumes: body.volumes ?? [],
    autoscaling: normalizeAutoscaling(body.autoscaling, body.name),
  };
}

/**
 * A PATCH is partial: absent fields keep their value; lists replace wholesale; `autoscaling: {}`
 * (or null) disables autoscaling; a mount without `version` keeps the version mounted now.
 * Raising min_replicas above an unchanged max_replicas raises max with it, as max defaults to min.
 */
export function draftFromPatch(current: DeploymentSpec, name: string, body: UpdateDeploymentBody): SpecDraft {
  const { name: _rename, autoscaling, volumes, model_mounts, ...rest } = body;
  refuseModelMounts(model_mounts);
  const merged: SpecDraft = { ...current, ...rest, volumes: current.volumes };
  if (rest.environment_variables !== undefined) merged.environment_variables = userEnv(rest.environment_variables);
  if (body.min_replicas !== undefined && body.max_replicas === undefined && merged.max_replicas < body.min_replicas) {
    merged.max_replicas = body.min_replicas;
  }
  if (autoscaling !== undefined) merged.autoscaling = normalizeAutoscaling(autoscaling, name);
  if (volumes !== undefined) {
    merged.volumes = volumes.map((v) => {
      if (v.version !== undefined) return v;
      const mounted = current.volumes.find((m) => m.name === v.name);
      return mounted ? { ...v, version: mounted.version } : v;
    });
  }
  return merged;
}

/**
 * Together mounts a registered model's weights at `mount_path`; Gantry has no model registry
 * to mount from yet, so only the empty list jig sends by default is accepted. Upload the files
 * as a volume and mount that instead.
 */
function refuseModelMounts(mounts: CreateDeploymentBody['model_mounts']) {
  if (mounts?.length) {
    throw errors.invalid('model_mounts', 'model_mounts are not supported by Gantry: upload the weights as a volume and mount it with volumes instead');
  }
}

/** The rules that JSON Schema cannot express. Each error names its field. */
export function checkDraft(d: SpecDraft): void {
  if (d.min_replicas > d.max_replicas) {
    throw errors.invalid('min_replicas', `min_replicas (${d.min_replicas}) must be less than or equal to max_replicas (${d.max_replicas})`);
  }
  if (d.gpu_type === 'none' && d.gpu_count > 0) {
    throw errors.invalid('gpu_count', `gpu_count must be 0 when gpu_type is "none" (got ${d.gpu_count})`);
  }
  const seen = new Set<string>();
  d.environment_variables.forEach((v, i) => {
    const param = `environment_variables[${i}]`;
    const hasValue = v.value !== undefined;
    const hasSecret = v.value_from_secret !== undefined;
    if (hasValue === hasSecret) {
      throw errors.invalid(param, `${param} (${v.name}) must set exactly one of value or value_from_secret`);
    }
    if (seen.has(v.name)) throw errors.invalid(`${param}.name`, `${param}.name: ${v.name} is defined more than once`);
    seen.add(v.name);
  });
  const paths = new Set<string>();
  d.volumes.forEach((v, i) => {
    const param = `volumes[${i}].mount_path`;
    if (v.mount_path.split('/').includes('..')) throw errors.invalid(param, `${param} must not contain '..'`);
    // Judged in normal form: `/.`, `//` and `/data/` are the paths they stand for.
    const normal = posix.normalize(v.mount_path).replace(/\/+$/, '') || '/';
    if (normal === '/') throw errors.invalid(param, `${param} must not be the root directory`);
    if (paths.has(normal)) throw errors.invalid(param, `${param}: ${v.mount_path} is mounted more than once`);
    paths.add(normal);
  });
}

/** The fields that decide what runs (the name is injected as TOGETHER_DEPLOYMENT_NAME): a change in any of them makes a new revision. */
export function revisionHash(name: string, spec: DeploymentSpec): string {
  const runtime = {
    name,
    image: spec.image,
    command: spec.command,
    args: spec.args,
    env: spec.environment_variables,
    gpu: [spec.gpu_type, spec.gpu_count],
    resources: [spec.cpu, spec.memory, spec.storage],
    port: spec.port,
    health: spec.health_check_path,
    grace: spec.termination_grace_period_seconds,
    volumes: spec.volumes,
  };
  return createHash('sha256').update(JSON.stringify(runtime)).digest('hex');
}

/** Why the deployment's current revision cannot become ready, as the controller stored it; else null. */
export function failureOf(d: DeploymentRecord): string | null {
  return d.failed_revision_id === d.revision_id ? d.failure : null;
}

export type DeploymentStatus = DeploymentView['status'];

/** Ready replicas of the deployment's current revision: what `ready_replicas` reports. */
function readyReplicas(d: DeploymentRecord, observed: Observed): number {
  return observed.replicas.filter((r) => r.revisionId === d.revision_id && r.readySince).length;
}

export function deriveStatus(d: DeploymentRecord, observed: Observed): DeploymentStatus {
  const others = observed.replicas.filter((r) => r.revisionId !== d.revision_id && r.status !== 'Terminated');
  const ready = readyReplicas(d, observed);
  if (failureOf(d)) return 'Failed';
  if (d.desired_replicas === 0 && others.length === 0 && ready === 0) return 'ScaledToZero';
  if (others.length > 0 || (ready === 0 && d.desired_replicas > 0)) return 'Updating';
  if (ready !== d.desired_replicas) return 'Scaling';
  return 'Ready';
}

/** The fields a deployment and a revision show alike, straight from the spec. */
function specFields(s: DeploymentSpec) {
  const { image, gpu_type, gpu_count, cpu, memory, storage, port, health_check_path, command, args, min_replicas, max_replicas, volumes } = s;
  return {
    image,
    gpu_type,
    gpu_count,
    cpu,
    memory,
    storage,
    port,
    health_check_path,
    command,
    args,
    min_replicas,
    max_replicas,
    volumes,
    termination_grace_period_seconds: s.termination_grace_period_seconds,
  };
}

export function renderDeployment(d: DeploymentRecord, observed: Observed): DeploymentView {
  const s = d.spec;
  const events: Record<string, ReplicaEventView> = {};
  for (const r of observed.replicas) {
    const e: ReplicaEventView = { image: r.image, revision_id: r.revisionId, replica_status: r.status };
    if (r.reason) e.replica_status_reason = r.reason;
    if (r.message) e.replica_status_message = r.message;
    if (r.readySince) e.replica_ready_since = r.readySince;
    const preload = observed.preloads?.[r.revisionId];
    if (preload) {
      e.volume_preload_status = preload.status;
      e.volume_preload_started_at = preload.startedAt;
      if (preload.completedAt) e.volume_preload_completed_at = preload.completedAt;
    }
    events[r.id] = e;
  }
  const view: DeploymentView = {
    object: 'deployment',
    id: d.id,
    name: d.name,
    description: s.description,
    status: deriveStatus(d, observed),
    ...specFields(s),
    desired_replicas: d.desired_replicas,
    ready_replicas: readyReplicas(d, observed),
    environment_variables: [...s.environment_variables, { name: LISTED_REVISION_ENV, value: d.revision_id }],
    replica_events: events,
    created_at: d.created_at,
    updated_at: d.updated_at,
  };
  if (s.autoscaling) view.autoscaling = s.autoscaling;
  return view;
}

/** A stored revision as Together's API shows it; Gantry serves HTTP on stable capacity only. */
export function renderRevision(r: { revision_id: string; revision_number: number; spec: DeploymentSpec; created_at: string }): DeploymentRevisionView {
  const s = r.spec;
  const view: DeploymentRevisionView = {
    object: 'revision',
    revision_id: r.revision_id,
    revision_number: r.revision_number,
    created_at: r.created_at,
    ...specFields(s),
    protocol: 'http',
    capacity_type: 'stable',
    environment_variables: s.environment_variables,
  };
  if (s.autoscaling) view.autoscaling = s.autoscaling;
  return view;
}

/** Without an autoscaler decision, a deployment runs min_replicas; an autoscaled one stays within its bounds. */
export function clampDesired(spec: DeploymentSpec, previous: number | undefined): number {
  if (!spec.autoscaling || previous === undefined) return spec.min_replicas;
  return Math.min(spec.max_replicas, Math.max(spec.min_replicas, previous));
}

/** Refuses (a 400) a deployment the runtime cannot run: the process runtime runs `command` itself. */
export function checkRunnable(runtime: Pick<RuntimeDriver, 'kind' | 'requiresCommand'>, draft: SpecDraft) {
  if (runtime.requiresCommand && draft.command.length === 0) {
    throw errors.invalid('command', `command is required with the ${runtime.kind} runtime: each replica runs command + args as a local process`);
  }
}
