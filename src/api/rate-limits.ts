import type { FastifyInstance, FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { errors } from '../contract/errors.js';
import { callerOf } from './auth.js';

export interface RateLimits {
  /** Control-plane requests per second per API key; 0: unlimited. */
  requestsPerSecond: number;
  /** Queue long polls one key may hold open at once; 0: unlimited. */
  longPolls: number;
}

/**
 * The data plane (a deployment's gateway, OpenAI-compatible inference) carries a user's own
 * traffic to their own replicas: capacity there is the autoscaler's business, not a per-key cap.
 */
const DATA_PLANE = /^\/v1\/(deployment-request\/|chat\/completions|completions|embeddings)/;

/**
 * Per-key request rate on the API (@fastify/rate-limit, counted per API key once it is known):
 * over the limit a request is a 429 in Together's shape with Retry-After. Registered in a scope
 * whose auth hook has run (the limit keys on the caller's key id, never on an unchecked header).
 */
export async function limitRequestRate(app: FastifyInstance, limits: RateLimits) {
  if (limits.requestsPerSecond <= 0) return;
  await app.register(rateLimit, {
    hook: 'preHandler',
    max: limits.requestsPerSecond,
    timeWindow: 1000,
    keyGenerator: (req: FastifyRequest) => callerOf(req).keyId,
    allowList: (req: FastifyRequest) => DATA_PLANE.test(req.url),
    errorResponseBuilder: (_req, context) =>
      errors.rateLimited(
        `This API key made more than ${context.max} requests in a second; retry after ${context.after}`,
        Math.max(1, Math.ceil(context.ttl / 1000)),
      ),
  });
}

/** Counts what each key holds open at once (queue long polls) and refuses one over the limit with a 429. */
export class ConcurrencyLimit {
  private readonly held = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** Takes a slot for the key, or throws a 429; answers the function that gives it back. */
  take(key: string, what: string): () => void {
    const n = this.held.get(key) ?? 0;
    if (this.max > 0 && n >= this.max) throw errors.rateLimited(`This API key already holds ${this.max} ${what} open; retry when one ends`, 1);
    this.held.set(key, n + 1);
    let given = false;
    return () => {
      if (given) return;
      given = true;
      const left = (this.held.get(key) ?? 1) - 1;
      if (left > 0) this.held.set(key, left);
      else this.held.delete(key);
    };
  }
}
