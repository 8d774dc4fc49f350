import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Caller } from '../commands/context.js';
import { hashKey } from '../commands/keys.js';
import type { Store } from '../store/store.js';
import { ApiError, errors } from './errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | null;
  }
}

/**
 * Resolves bearer keys to callers. A key that resolved is remembered for `ttlMs`, so a burst
 * of requests costs one store lookup, not one each; a revocation therefore takes effect
 * within `ttlMs`.
 * Unknown keys are never remembered, so a new key works immediately.
 */
export class KeyResolver {
  private readonly cache = new Map<string, { caller: Caller; until: number }>();

  constructor(
    private readonly store: Store,
    private readonly ttlMs = 1000,
    private readonly now: () => number = Date.now,
    private readonly maxEntries = 10_000,
  ) {}

  /**
   * The key's caller, or null for an unknown or revoked key. A key resolved less than `ttlMs`
   * ago answers at once, without a promise (the hot path); otherwise the store is asked.
   */
  resolve(key: string): Caller | Promise<Caller | null> {
    const hash = hashKey(key);
    const hit = this.cache.get(hash);
    if (hit && hit.until > this.now()) return hit.caller;
    return this.lookup(hash);
  }

  private async lookup(hash: string): Promise<Caller | null> {
    const now = this.now();
    const row = await this.store.findActiveKeyByHash(hash);
    if (!row) {
      this.cache.delete(hash);
      return null;
    }
    const caller: Caller = { projectId: row.project_id, projectName: row.project_name, keyId: row.id, ...(row.deployment_id ? { deploymentId: row.deployment_id } : {}) };
    if (this.cache.size >= this.maxEntries) this.cache.clear();
    this.cache.set(hash, { caller, until: now + this.ttlMs });
    return caller;
  }
}

/** Requires `Authorization: Bearer <key>` on every route of the plugin it is installed in. */
export function requireApiKey(app: FastifyInstance, keys: KeyResolver) {
  app.addHook('onRequest', (request: FastifyRequest, _reply, done) => {
    const header = request.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) return done(errors.unauthenticated());
    const admit = (caller: Caller | null) => {
      if (!caller) return done(errors.unauthenticated('Invalid or revoked API key'));
      request.caller = caller;
      done(scopeError(request, caller));
    };
    const found = keys.resolve(match[1]!);
    if (found instanceof Promise) found.then(admit, done);
    else admit(found);
  });
}

/** A worker key may only call the routes a worker needs (marked `workerRoute` in their config). */
function scopeError(request: FastifyRequest, caller: Caller): ApiError | undefined {
  if (!caller.deploymentId || request.routeOptions.config?.workerRoute) return undefined;
  return errors.forbidden("This is a deployment's worker key: it may only use that deployment's queue and storage");
}

export function callerOf(request: FastifyRequest): Caller {
  if (!request.caller) throw errors.unauthenticated();
  return request.caller;
}
