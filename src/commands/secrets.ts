import type { CreateSecretBody, SecretView, UpdateSecretBody } from '../contract/schemas/secret.js';
import { errors } from '../contract/errors.js';
import type { SecretRecord } from '../contract/records.js';
import { retryOnConflict, STALE, type CommandContext, withConstraints, deleteUnlessUsed } from './context.js';
import type { Caller } from '../contract/ports.js';
import type { Store } from '../store/store.js';
import type { SecretBox } from '../domain/secret-box.js';

const KIND = 'Secret';

export function renderSecret(s: SecretRecord): SecretView {
  return {
    object: 'secret',
    id: s.id,
    name: s.name,
    description: s.description,
    created_at: s.created_at,
    updated_at: s.updated_at,
    created_by: s.created_by,
    last_updated_by: s.last_updated_by,
  };
}

export async function createSecret(ctx: CommandContext, caller: Caller, body: CreateSecretBody): Promise<SecretView> {
  const now = ctx.clock.now().toISOString();
  const id = ctx.ids.id('sec');
  const record: SecretRecord = {
    id,
    project_id: caller.projectId,
    name: body.name,
    description: body.description ?? '',
    ciphertext: ctx.secretBox.seal(body.value, id),
    created_by: caller.keyId,
    last_updated_by: caller.keyId,
    created_at: now,
    updated_at: now,
    version: 1,
  };
  await withConstraints(() => ctx.store.transaction((s) => s.insertSecret(record)), { unique: () => errors.alreadyExists(KIND, body.name) });
  return renderSecret(record);
}

export async function getSecret(ctx: CommandContext, caller: Caller, idOrName: string): Promise<SecretRecord> {
  const found = await ctx.store.findSecret(caller.projectId, idOrName);
  if (!found) throw errors.notFound(KIND, idOrName);
  return found;
}

export async function listSecrets(ctx: CommandContext, caller: Caller): Promise<SecretView[]> {
  return (await ctx.store.listSecrets(caller.projectId)).map(renderSecret);
}

export async function updateSecret(ctx: CommandContext, caller: Caller, idOrName: string, body: UpdateSecretBody): Promise<SecretView> {
  return retryOnConflict(async () => {
    const current = await getSecret(ctx, caller, idOrName);
    const next: SecretRecord = {
      ...current,
      name: body.name ?? current.name,
      description: body.description ?? current.description,
      ciphertext: body.value !== undefined ? ctx.secretBox.seal(body.value, current.id) : current.ciphertext,
      last_updated_by: caller.keyId,
      updated_at: ctx.clock.now().toISOString(),
      version: current.version + 1,
    };
    const ok = await withConstraints(() => ctx.store.transaction((s) => s.updateSecret(next, current.version)), {
      unique: () => errors.alreadyExists(KIND, next.name),
    });
    return ok ? renderSecret(next) : STALE;
  });
}

export async function deleteSecret(ctx: CommandContext, caller: Caller, idOrName: string) {
  const secret = await getSecret(ctx, caller, idOrName);
  const inUse = (names: string[]) =>
    errors.conflict(`Secret '${secret.name}' is used by deployment(s) ${names.join(', ')}; remove the reference first`, 'secret_in_use');
  await deleteUnlessUsed(ctx, {
    usersOf: (s) => s.deploymentNamesUsingSecret(secret.id),
    remove: (s) => s.deleteSecret(secret.id),
    inUse,
    notFound: () => errors.notFound(KIND, idOrName),
  });
  return { id: secret.id, object: 'secret', deleted: true };
}

/**
 * Re-seals every sealed value (secrets, worker keys, upload tokens) under the box's primary key,
 * row by row, each only if it is still what was read (a value written meanwhile is already under
 * a key the box opens). Answers how many were re-sealed and how many already were current.
 */
export async function resealAll(store: Store, box: SecretBox): Promise<{ resealed: number; current: number }> {
  let resealed = 0;
  let current = 0;
  for (const v of await store.sealedValues()) {
    if (box.isCurrent(v.sealed, v.id)) current++;
    else if (await store.replaceSealed(v, box.seal(box.open(v.sealed, v.id), v.id))) resealed++;
  }
  return { resealed, current };
}
