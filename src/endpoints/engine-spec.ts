import type { CreateDeploymentBody } from '../contract/schemas/deployment.js';
import type { EndpointRecord, EndpointSettings } from '../store/endpoint-store.js';
import { engineCommand, type EngineTemplate } from './engine.js';
import type { HardwareConfig } from './hardware.js';

/**
 * An endpoint's engine as a deployment, computed purely from the endpoint, its hardware, its
 * model and bound adapters: the engine template filled in, volumes for uploaded weights.
 */

/** Where engines run: the template, and the runtime (the process runtime mounts relative paths). */
export interface EngineSite {
  engine: EngineTemplate;
  runtime: 'process' | 'docker' | 'kubernetes';
}

/** A model an endpoint can serve: from the catalog, or uploaded to the project. */
export interface ServableModel {
  id: string;
  memoryGb: number;
  /** What the engine loads: a Hugging Face id or a path inside the replica. */
  weights: string;
  /** The read-only volume holding uploaded weights. */
  volume?: { name: string; mountPath: string };
}

/** The process runtime mounts volumes relative to the replica's working directory. */
export const pathInReplica = (env: EngineSite, mountPath: string) => (env.runtime === 'process' ? `.${mountPath}` : mountPath);

/** A bound LoRA adapter as the engine sees it: its name and its weights, a volume of their own. */
export interface EngineAdapter {
  name: string;
  volume: { name: string; mountPath: string };
}

export const engineAdapter = (b: { adapter_name: string; model_id: string }): EngineAdapter => ({
  name: b.adapter_name,
  volume: { name: b.model_id, mountPath: `/adapters/${b.model_id}` },
});

/** What runs the engine: its command, args and volumes (the model's weights and each adapter's). */
export function engineWorkload(
  env: EngineSite,
  e: { name: string; settings: EndpointSettings },
  hw: HardwareConfig,
  model: ServableModel,
  adapters: EngineAdapter[],
) {
  const { command, args } = engineCommand(env.engine, {
    model: model.weights,
    servedModelName: e.name,
    gpuCount: hw.gpuCount,
    disablePromptCache: e.settings.disable_prompt_cache,
    disableSpeculativeDecoding: e.settings.disable_speculative_decoding,
    adapters: adapters.map((a) => ({ name: a.name, path: pathInReplica(env, a.volume.mountPath) })),
  });
  const volumes = [...(model.volume ? [model.volume] : []), ...adapters.map((a) => a.volume)].map((v) => ({ name: v.name, mount_path: v.mountPath }));
  return { command, args, volumes };
}

/** The engine's deployment for a new endpoint in the given desired state. */
export function engineDeployment(
  env: EngineSite,
  e: { name: string; engine: string; state: EndpointRecord['state']; settings: EndpointSettings },
  hw: HardwareConfig,
  model: ServableModel,
): CreateDeploymentBody {
  const s = e.settings;
  const { command, args, volumes } = engineWorkload(env, e, hw, model, []);
  return {
    name: e.engine,
    description: `inference engine of endpoint ${e.name}`,
    image: env.engine.image,
    command,
    args,
    gpu_type: hw.gpuType as CreateDeploymentBody['gpu_type'],
    gpu_count: hw.gpuCount,
    port: env.engine.port,
    health_check_path: env.engine.health_check_path,
    termination_grace_period_seconds: 30,
    ...(volumes.length > 0 ? { volumes } : {}),
    ...replicasFor(e.state, s),
  };
}

/** Started: the endpoint's autoscaling bounds (autoscaled on request rate between them). Stopped: none. */
export function replicasFor(state: EndpointRecord['state'], s: EndpointSettings) {
  if (state === 'STOPPED') return { min_replicas: 0, max_replicas: s.autoscaling.max_replicas, autoscaling: null };
  const { min_replicas, max_replicas } = s.autoscaling;
  return { min_replicas, max_replicas, autoscaling: min_replicas < max_replicas ? { metric: 'HTTPTotalRequests' as const } : null };
}
