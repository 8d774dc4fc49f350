import { join } from 'node:path';
import type { DeploymentRecord } from '../contract/records.js';
import type { RevisionSpec } from '../contract/runtime.js';
import { registryOf } from '../domain/image-ref.js';
import { TerminalError } from './work-queue.js';

export interface PlatformEnv {
  /** This server as replicas reach it, e.g. http://127.0.0.1:8080 */
  apiBaseUrl: string;
  /**
   * Where volume versions live on this machine: `<volumesDir>/<project>/<volume>/<version>/`,
   * one directory per version, mounted read-only into the replicas that use it.
   */
  volumesDir: string;
  /**
   * Variables that make replicas trust Gantry's self-signed certificate (SSL_CERT_FILE,
   * NODE_EXTRA_CA_CERTS), unless the user sets them.
   */
  trustEnv?: Record<string, string>;
  /** Gantry's image registry (`host:port`), when it runs one: its images are pulled with the deployment's worker key. */
  registryHost?: string;
}

/**
 * The runtime's view of a deployment revision: what the platform injects (as Together does):
 * TOGETHER_DEPLOYMENT_NAME, TOGETHER_DEPLOYMENT_REVISION_ID, TOGETHER_API_BASE_URL,
 * TERMINATION_GRACE_PERIOD_SECONDS and TOGETHER_API_KEY (the deployment's worker key), with the
 * user's variables over it, secrets resolved: a variable the user sets is the user's value.
 */
export async function buildRevisionSpec(
  d: DeploymentRecord,
  resolveSecret: (ref: string) => Promise<string | undefined>,
  platform: PlatformEnv,
  workerKey: () => Promise<string | undefined> = async () => undefined,
): Promise<RevisionSpec> {
  const s = d.spec;
  const env: Record<string, string> = {
    ...platform.trustEnv,
    TOGETHER_DEPLOYMENT_NAME: d.name,
    TOGETHER_API_BASE_URL: platform.apiBaseUrl,
    TERMINATION_GRACE_PERIOD_SECONDS: String(s.termination_grace_period_seconds),
  };
  for (const v of s.environment_variables) {
    if (v.value !== undefined) env[v.name] = v.value;
    else {
      const value = await resolveSecret(v.value_from_secret!);
      // Deleting a referenced secret is refused, so this only happens on a broken store.
      // Retrying cannot bring it back; the next change to the deployment reconciles it again.
      if (value === undefined) throw new TerminalError(`secret referenced by ${v.name} is missing`);
      env[v.name] = value;
    }
  }
  // Never stored from a request (see LISTED_REVISION_ENV): always the real revision.
  env.TOGETHER_DEPLOYMENT_REVISION_ID = d.revision_id;
  // The deployment's own worker key, unless the user gives one (jig maps its own through a secret).
  const key = await workerKey();
  if (key && env.TOGETHER_API_KEY === undefined) env.TOGETHER_API_KEY = key;
  // An image in Gantry's registry is pulled with the worker key, which may pull only this deployment's image.
  const pullCredentials = key && platform.registryHost && registryOf(s.image) === platform.registryHost ? { username: 'worker', password: key } : undefined;
  return {
    deploymentId: d.id,
    deploymentName: d.name,
    revisionId: d.revision_id,
    image: s.image,
    command: s.command,
    args: s.args,
    env,
    cpu: s.cpu,
    memoryGiB: s.memory,
    storageGiB: s.storage,
    gpuType: s.gpu_type,
    gpuCount: s.gpu_count,
    port: s.port,
    healthCheckPath: s.health_check_path,
    volumes: s.volumes.map((v) => ({ hostPath: join(platform.volumesDir, d.project_id, v.name, String(v.version)), mountPath: v.mount_path })),
    terminationGracePeriodSeconds: s.termination_grace_period_seconds,
    ...(pullCredentials ? { pullCredentials } : {}),
  };
}
