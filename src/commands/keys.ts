import { createHash } from 'node:crypto';
import type { Clock } from '../domain/clock.js';
import type { IdSource } from '../domain/ids.js';
import type { SecretBox } from '../domain/secret-box.js';
import type { Store } from '../store/store.js';

export const DEFAULT_PROJECT = 'default';

/** Project names are shown in URLs, registry paths and metrics labels: keep them plain. */
export const PROJECT_NAME_RULE = '1–100 letters, digits, - and _';
export const validProjectName = (name: string) => /^[A-Za-z0-9_-]{1,100}$/.test(name);

/**
 * API keys are 256-bit random tokens, so a plain SHA-256 is the right stored form: it
 * cannot be reversed, and a slow password hash would only slow every request down.
 */
export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export async function createApiKey(
  deps: { store: Store; ids: IdSource; clock: Clock },
  projectName: string,
  options: { label?: string; key?: string } = {},
): Promise<{ id: string; key: string; project: string }> {
  const key = options.key ?? `gantry_${deps.ids.token(32)}`;
  const now = deps.clock.now().toISOString();
  const id = deps.ids.id('key');
  await deps.store.transaction(async (s) => {
    const project = await s.ensureProject({ id: deps.ids.id('proj'), name: projectName, created_at: now });
    await s.insertApiKey({ id, project_id: project.id, prefix: key.slice(0, 12), label: options.label ?? '', created_at: now }, hashKey(key));
  });
  return { id, key, project: projectName };
}

/**
 * A deployment's worker key, made with the deployment (inside its transaction): an API key
 * that acts only for that deployment, and its plaintext sealed for the replicas, which get it
 * as TOGETHER_API_KEY. Deleting the deployment deletes both.
 */
export async function createWorkerKey(
  s: Store,
  deps: { ids: IdSource; secretBox: SecretBox },
  d: { id: string; project_id: string; name: string; created_at: string },
): Promise<void> {
  const key = `gantry_w_${deps.ids.token(32)}`;
  const id = deps.ids.id('key');
  await s.insertApiKey(
    { id, project_id: d.project_id, prefix: key.slice(0, 12), label: `worker key of ${d.name}`, created_at: d.created_at, deployment_id: d.id },
    hashKey(key),
  );
  await s.insertWorkerKey(d.id, id, deps.secretBox.seal(key, d.id));
}

/**
 * On first start the `default` project gets an admin key: GANTRY_ADMIN_KEY when set (and
 * registered if it is not yet), else a random one that the caller writes to the data dir.
 */
export async function ensureAdminKey(
  deps: { store: Store; ids: IdSource; clock: Clock },
  configured: string | undefined,
): Promise<{ created: { id: string; key: string } | null }> {
  if (configured) {
    // Already registered (or registered and since revoked, which stays revoked): nothing to do.
    if (await deps.store.hasApiKey(hashKey(configured))) return { created: null };
    return { created: await createApiKey(deps, DEFAULT_PROJECT, { label: 'admin (GANTRY_ADMIN_KEY)', key: configured }) };
  }
  if ((await deps.store.countApiKeys()) > 0) return { created: null };
  return { created: await createApiKey(deps, DEFAULT_PROJECT, { label: 'admin' }) };
}
