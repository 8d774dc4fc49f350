import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Caller } from '../commands/context.js';
import { hashKey } from '../commands/keys.js';
import type { Store } from '../store/store.js';
import { errors } from './errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | null;
  }
}

/** Requires `Authorization: Bearer <key>` on every route of the plugin it is installed in. */
export function requireApiKey(app: FastifyInstance, store: Store) {
  app.addHook('onRequest', async (request: FastifyRequest) => {
    const header = request.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) throw errors.unauthenticated();
    const key = await store.findActiveKeyByHash(hashKey(match[1]!));
    if (!key) throw errors.unauthenticated('Invalid or revoked API key');
    request.caller = { projectId: key.project_id, projectName: key.project_name, keyId: key.id };
  });
}

export function callerOf(request: FastifyRequest): Caller {
  if (!request.caller) throw errors.unauthenticated();
  return request.caller;
}
