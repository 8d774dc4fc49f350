/**
 * The runtime boundary. A driver is told, per deployment, how many replicas of each revision
 * should exist, and converges; it reports each replica as it really is. The reconciler
 * decides the targets (rollouts, scaling); drivers only carry them out, so a Kubernetes driver
 * fits behind the same interface as the process and docker ones.
 */
export interface RevisionSpec {
  deploymentId: string;
  deploymentName: string;
  revisionId: string;
  image: string;
  command: string[];
  args: string[];
  /** The replica's full environment, secrets already resolved. Never logged. */
  env: Record<string, string>;
  cpu: number;
  memoryGiB: number;
  /** Ephemeral storage, GiB (the kubernetes runtime requests it; the others do not limit disk). */
  storageGiB: number;
  gpuType: string;
  gpuCount: number;
  /** The port the workload listens on inside its container. */
  port: number;
  /** "" when readiness is "started". */
  healthCheckPath: string;
  /**
   * `hostPath`: where the version was copied on this machine (runtimes whose volumesFrom is
   * 'host'); `source`: its files in Gantry's storage (runtimes that fetch them, 'storage').
   */
  volumes: { hostPath: string; mountPath: string; source?: { prefix: string; files: string[] } }[];
  terminationGracePeriodSeconds: number;
  /** Credentials for the image's registry when it is Gantry's own (the deployment's worker key). Never logged. */
  pullCredentials?: { username: string; password: string };
}

/**
 * How many replicas of one revision should exist. `revision` is needed to start replicas; a
 * target without it can only keep or stop replicas the driver already runs (an old revision
 * being rolled away).
 */
export interface RevisionTarget {
  revisionId: string;
  replicas: number;
  revision?: RevisionSpec;
}

export interface LogFilter {
  replicaId?: string;
  revisionId?: string;
}

export type ReplicaStatus = 'Running' | 'Waiting' | 'Terminated';

export interface ReplicaState {
  id: string;
  deploymentId: string;
  revisionId: string;
  image: string;
  status: ReplicaStatus;
  reason?: string;
  message?: string;
  /** ISO time since which the replica passes its health check; null while not ready. */
  readySince: string | null;
  /** host:port where the replica serves, once it runs. */
  address: string | null;
  restarts: number;
}

/** GPU capacity as the hardware catalog reads it: this machine's GPUs, or a cluster's nodes. */
export interface GpuCapacity {
  /** Each GPU type: the most GPUs one replica can get (one machine's or node's), and their memory. */
  types(): { type: string; perReplica: number; memoryGb: number }[];
  /** GPUs of the type one replica can get now. */
  free(type: string): number;
}

export interface RuntimeDriver {
  readonly kind: 'process' | 'docker' | 'kubernetes';
  /** The process runtime runs `command` + `args` itself, so a deployment without a command cannot run there. */
  readonly requiresCommand: boolean;
  /**
   * How replicas get volume versions: 'host', from a directory of this machine Gantry fills
   * before they start; 'storage', fetched by the replica's pod from Gantry's storage.
   */
  readonly volumesFrom: 'host' | 'storage';
  /** The GPUs replicas can get, when the runtime knows them itself (a cluster's nodes); else the machine's inventory serves. */
  readonly gpuCapacity?: GpuCapacity;
  /**
   * Converges the deployment to exactly these targets; revisions not listed go to zero. An
   * empty list means the deployment was deleted: the driver may drop what it kept of it.
   */
  apply(deploymentId: string, targets: RevisionTarget[]): Promise<void>;
  observe(deploymentId: string): ReplicaState[];
  /** Output lines of the deployment's replicas, past ones included while the driver keeps them. */
  logs(deploymentId: string, filter: LogFilter): Promise<string[]>;
  /** Streams new output lines as they come; answers a function that stops. */
  followLogs(deploymentId: string, filter: LogFilter, onLines: (lines: string[]) => void): () => void;
  /** Deployments the driver has replicas of, so deleted deployments can be cleaned up. */
  deployments(): string[];
  /** Called whenever a replica of the deployment changes state. */
  onChange(listener: (deploymentId: string) => void): void;
  /** Stops watching; the process driver also stops every replica. */
  close(): Promise<void>;
}
