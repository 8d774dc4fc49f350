import type { RuntimePort } from '../contract/ports.js';
import type { Clock } from '../domain/clock.js';
import type { IdSource } from '../domain/ids.js';
import type { SecretBox } from '../domain/secret-box.js';
import type { Store } from '../store/store.js';
import type { BlobStore } from '../storage/blob-store.js';
import { errors, type GantryError } from '../contract/errors.js';
import { StoreConstraintError } from '../store/executor.js';

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
  throw errors.tooManyUpdates();
}

export const STALE = Symbol('stale');

/** What a store constraint violation means for the request that met it. */
export interface ConstraintMeaning {
  /** A unique key is taken (usually the name). */
  unique?: () => GantryError;
  /** A reference blocks the write: something uses what is being deleted, or a referenced row was just deleted. */
  foreignKey?: () => GantryError | Promise<GantryError>;
}

/**
 * The one place store constraint violations become API errors. A kind the command gives no
 * meaning to is still a 409 (a conflict with stored state), never a 500.
 */
export async function withConstraints<T>(work: () => Promise<T>, meaning: ConstraintMeaning): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (!(err instanceof StoreConstraintError)) throw err;
    const mapped = err.kind === 'unique' ? meaning.unique : meaning.foreignKey;
    throw mapped ? await mapped() : errors.constraint(err.kind);
  }
}

/**
 * Deletes a resource deployments may refer to (a secret, a volume): refused with `inUse` while
 * any does, also when one starts referring to it while the delete runs (its reference row wins).
 */
export async function deleteUnlessUsed(
  ctx: CommandContext,
  o: { usersOf: (s: Store) => Promise<string[]>; remove: (s: Store) => Promise<boolean>; inUse: (names: string[]) => GantryError; notFound: () => GantryError },
): Promise<void> {
  await withConstraints(
    () =>
      ctx.store.transaction(async (s) => {
        const users = await o.usersOf(s);
        if (users.length > 0) throw o.inUse(users);
        if (!(await o.remove(s))) throw o.notFound();
      }),
    { foreignKey: async () => o.inUse(await o.usersOf(ctx.store)) },
  );
}
