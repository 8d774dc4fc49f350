import type { RuntimePort } from '../contract/ports.js';
import type { Clock } from '../domain/clock.js';
import type { IdSource } from '../domain/ids.js';
import type { SecretBox } from '../domain/secret-box.js';
import type { Store } from '../store/store.js';
import type { BlobStore } from '../storage/blob-store.js';

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
