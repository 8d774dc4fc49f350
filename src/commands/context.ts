import type { Clock } from '../domain/clock.js';
import type { Observed, SpecDraft } from '../domain/deployment.js';
import type { IdSource } from '../domain/ids.js';
import type { LogFilter } from '../runtime/types.js';
import type { SecretBox } from '../domain/secret-box.js';
import type { Store } from '../store/store.js';
import type { BlobStore } from '../storage/blob-store.js';

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
  /** A deployment was created, changed or deleted: converge it. */
  changed(deploymentId: string): void;
  /** Refuses (with a 400) a deployment this runtime cannot run, e.g. no command on the process runtime. */
  checkRunnable(draft: SpecDraft): void;
  logs(deploymentId: string, filter: LogFilter): string[];
  followLogs(deploymentId: string, filter: LogFilter, onLines: (lines: string[]) => void): () => void;
}

/** For an API without a runtime (tests of the API alone): nothing runs, nothing is logged. */
export const NO_RUNTIME: RuntimePort = {
  observe: () => ({ replicas: [] }),
  changed: () => {},
  checkRunnable: () => {},
  logs: () => [],
  followLogs: () => () => {},
};

/** Everything a domain command needs, passed explicitly. */
export interface CommandContext {
  store: Store;
  clock: Clock;
  ids: IdSource;
  secretBox: SecretBox;
  runtime: RuntimePort;
  /** Uploaded files: volume contents, job outputs, model weights. */
  blobs: BlobStore;
}

/**
 * Runs a read-modify-write until it is not overtaken: each attempt re-reads, and a stale
 * write (an update whose version no longer matches) answers false and tries again.
 */
export async function retryOnConflict<T>(attempt: () => Promise<T | typeof STALE>): Promise<T> {
  for (let i = 0; i < 20; i++) {
    const result = await attempt();
    if (result !== STALE) return result;
  }
  throw new Error('too many concurrent updates to one resource');
}

export const STALE = Symbol('stale');
