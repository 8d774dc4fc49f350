import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { CommandContext } from '../../commands/context.js';
import { grantRegistryAccess, projectRegistryPath } from '../../commands/registry-access.js';
import { errors } from '../../contract/errors.js';
import { errorResponses } from '../../contract/schemas/common.js';
import { parseScopes, REGISTRY_SERVICE, type RegistryTokens } from '../../registry/registry-tokens.js';
import { callerOf, type KeyResolver } from '../auth.js';

/** Gantry's image registry as the API knows it: the signer of its tokens, and its address. */
export interface RegistryDeps {
  tokens: RegistryTokens;
  /** `host:port`, as image references name it; undefined while no registry runs (it starts after the API listens). */
  host: () => string | undefined;
}

/** `GET /v1/image-repositories/base-path`: where the caller's project pushes images (jig reads it first). */
export function imageRepositoryRoutes(app: FastifyInstance, registry: RegistryDeps | undefined) {
  app.get(
    '/image-repositories/base-path',
    {
      schema: {
        tags: ['Images'],
        summary: "The registry path of the project's images: docker login to its host with an API key, push under it",
        response: { 200: Type.Object({ 'base-path': Type.String() }), ...errorResponses },
      },
    },
    async (req) => {
      const caller = callerOf(req);
      const host = registry?.host();
      if (!host) throw errors.registryOff();
      return { 'base-path': `http://${host}/${projectRegistryPath(caller)}` };
    },
  );
}

/**
 * The token endpoint of distribution's token authentication (the registry's challenge names it
 * as realm): Docker's clients send HTTP Basic with any username and an API key as password and
 * get a JWT granting what that key may do of the scopes they asked for (`grantRegistryAccess`).
 * Without valid credentials the answer is a 401, so `docker login` with a wrong key fails.
 */
export function registryTokenRoute(app: FastifyInstance, ctx: CommandContext, keys: KeyResolver, tokens: RegistryTokens) {
  app.get<{ Querystring: { service?: string; scope?: string | string[]; account?: string } }>(
    '/registry/token',
    { schema: { hide: true } },
    async (req, reply) => {
      const basic = /^Basic\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
      const password = basic ? Buffer.from(basic[1]!, 'base64').toString('utf8').split(':').slice(1).join(':') : '';
      const caller = password ? await keys.resolve(password) : undefined;
      if (!caller) {
        void reply.header('www-authenticate', 'Basic realm="Gantry image registry"');
        throw errors.unauthenticated('Log in to the registry with an API key as the password (any username)');
      }
      const { service, scope } = req.query;
      if (service !== undefined && service !== REGISTRY_SERVICE) {
        throw errors.invalid('service', `service must be '${REGISTRY_SERVICE}' (got '${service}')`);
      }
      const requested = parseScopes(scope === undefined ? [] : Array.isArray(scope) ? scope : [scope]);
      return tokens.issue(caller.keyId, await grantRegistryAccess(ctx, caller, requested));
    },
  );
}
