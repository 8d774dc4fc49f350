import type { Observed } from '../contract/ports.js';
import type { DeploymentRecord } from '../contract/records.js';
import type { EndpointView } from '../contract/schemas/endpoint.js';
import { failureOf } from '../domain/deployment.js';
import type { EndpointRecord } from '../store/endpoint-store.js';

/**
 * An endpoint as the API shows it, derived (purely) from what the user asked for, its engine's
 * deployment, and what the engine's replicas are doing: STOPPED/STOPPING when asked to stop,
 * ERROR when the engine cannot become ready, STARTED when a replica is ready (or it is scaled to
 * zero: a request wakes it), PENDING while every replica waits for GPUs, else STARTING.
 */
export function endpointView(e: EndpointRecord, owner: string, engine: DeploymentRecord | undefined, observed: Observed): EndpointView {
  const live = observed.replicas.filter((r) => r.status !== 'Terminated');
  let state: EndpointView['state'];
  let reason: string | undefined;
  if (e.state === 'STOPPED') state = live.length > 0 ? 'STOPPING' : 'STOPPED';
  else if (!engine) [state, reason] = ['ERROR', 'the engine deployment is missing'];
  else if (failureOf(engine)) [state, reason] = ['ERROR', failureOf(engine)!];
  else if (engine.desired_replicas === 0 || live.some((r) => r.readySince)) state = 'STARTED';
  else if (live.length > 0 && live.every((r) => r.reason === 'Unschedulable')) [state, reason] = ['PENDING', live[0]!.message ?? 'waiting for GPUs'];
  else state = 'STARTING';
  const s = e.settings;
  return {
    object: 'endpoint',
    id: e.id,
    name: e.name,
    display_name: s.display_name,
    model: e.model,
    hardware: e.hardware,
    type: 'dedicated',
    owner,
    state,
    autoscaling: s.autoscaling,
    created_at: e.created_at,
    inactive_timeout: s.inactive_timeout,
    disable_prompt_cache: s.disable_prompt_cache,
    disable_speculative_decoding: s.disable_speculative_decoding,
    availability_zone: s.availability_zone,
    ...(reason ? { state_reason: reason } : {}),
    deployment: engine?.name ?? e.deployment_id,
  };
}
