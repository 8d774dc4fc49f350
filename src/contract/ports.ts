/**
 * The seams between layers, as types: who calls (the API's auth resolves it), and what the
 * API and the usage meter ask of the runtime side (the deployment controller implements it).
 */
import type { DeploymentSpec } from './records.js';
import type { LogFilter, ReplicaState } from './runtime.js';

/** A deployment's mounts as a request gives them: a mount without `version` takes the current one. */
export type MountInput = { name: string; mount_path: string; version?: number };
export type SpecDraft = Omit<DeploymentSpec, 'volumes'> & { volumes: MountInput[] };

/** The replica event's `volume_preload_*` fields, per revision (its replicas share one copy). */
export interface VolumePreload {
  status: 'InProgress' | 'Completed' | 'Failed';
  startedAt: string;
  completedAt?: string;
  message?: string;
}

/** What runs for a deployment, as the runtime reports it. */
export interface Observed {
  replicas: ReplicaState[];
  /** Volume preloads by revision id, for revisions that mount volumes. */
  preloads?: Record<string, VolumePreload>;
}

/** Who is calling: resolved from the bearer key by api/auth.ts. */
export interface Caller {
  projectId: string;
  projectName: string;
  keyId: string;
  /** A deployment's worker key acts for that deployment only (its queue and storage). */
  deploymentId?: string;
}

/** What the API asks of the runtime side (the deployment controller implements it). */
export interface RuntimePort {
  /** What really runs for a deployment. */
  observe(deploymentId: string): Observed;
  /** The deployments the runtime runs replicas of now. */
  runningDeployments(): string[];
  /** A deployment was created, changed or deleted: converge it. */
  changed(deploymentId: string): void;
  /** Refuses (with a 400) a deployment this runtime cannot run, e.g. no command on the process runtime. */
  checkRunnable(draft: SpecDraft): void;
  logs(deploymentId: string, filter: LogFilter): Promise<string[]>;
  followLogs(deploymentId: string, filter: LogFilter, onLines: (lines: string[]) => void): () => void;
  /** The URL of the instance that holds the runtime when it is another one (several instances): logs are read there. */
  elsewhere?(): string | undefined;
}

/** For an API without a runtime (tests of the API alone): nothing runs, nothing is logged. */
export const NO_RUNTIME: RuntimePort = {
  observe: () => ({ replicas: [] }),
  runningDeployments: () => [],
  changed: () => {},
  checkRunnable: () => {},
  logs: async () => [],
  followLogs: () => () => {},
};
