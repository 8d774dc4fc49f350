import type { FastifyInstance, FastifyRequest } from 'fastify';
import { hashKey } from '../commands/keys.js';
import type { Store } from '../store/store.js';
import { GantryError, errors } from '../contract/errors.js';
import { TtlCache } from '../domain/ttl-cache.js';
import type { Caller } from '../contract/ports.js';
import { systemClock, type Clock } from '../domain/clock.js';

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | null;
  }
}

/**
 * Resolves bearer keys to callers. A key that resolved is remembered for `ttlMs`, so a burst
 * of requests costs one store lookup, not one each; a revocation therefore takes effect
 * within `ttlMs`. Unknown keys are never remembered, so a new key works immediately.
 */
export class KeyResolver {
  private readonly cache: TtlCache<string, Caller>;

  constructor(
    private readonly store: Store,
    ttlMs = 1000,
    clock: Clock = systemClock,
  ) {
    this.cache = new TtlCache(ttlMs, clock);
  }

  /** The key's caller, or undefined for an unknown or revoked key; at once while remembered. */
  resolve(key: string): Caller | Promise<Caller | undefined> {
    const hash = hashKey(key);
    return this.cache.get(hash, async () => {
      const row = await this.store.findActiveKeyByHash(hash);
      return (
        row && { projectId: row.project_id, projectName: row.project_name, keyId: row.id, ...(row.deployment_id ? { deploymentId: row.deployment_id } : {}) }
      );
    });
  }
}

/** Requires `Authorization: Bearer <key>` on every route of the plugin it is installed in. */
export function requireApiKey(app: FastifyInstance, keys: KeyResolver) {
  app.addHook('onRequest', (request: FastifyRequest, _reply, done) => {
    const header = request.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) return done(errors.unauthenticated());
    const admit = (caller: Caller | undefined) => {
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
function scopeError(request: FastifyRequest, caller: Caller): GantryError | undefined {
  if (!caller.deploymentId || request.routeOptions.config?.workerRoute) return undefined;
  return errors.forbidden("This is a deployment's worker key: it may only use that deployment's queue and storage");
}

export function callerOf(request: FastifyRequest): Caller {
  if (!request.caller) throw errors.unauthenticated();
  return request.caller;
}
