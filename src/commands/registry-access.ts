import type { Caller } from '../contract/ports.js';
import { repositoryOf } from '../domain/image-ref.js';
import type { RegistryAccess } from '../registry/registry-tokens.js';
import type { CommandContext } from './context.js';

/** Where a project's images live in the registry: `<registry host>/<project id>/<name>`. */
export function projectRegistryPath(caller: Caller): string {
  return caller.projectId;
}

/**
 * What a key may do in the image registry, of what it asked: a project key pulls and pushes
 * repositories under its project's path, nothing else; a deployment's worker key only pulls its
 * own deployment's image, and only under its project's path (so the runtime can pull it with that key). Grants with no action left
 * are dropped, which the registry answers with 401/403.
 */
export async function grantRegistryAccess(ctx: CommandContext, caller: Caller, requested: RegistryAccess[]): Promise<RegistryAccess[]> {
  const prefix = projectRegistryPath(caller) + '/';
  let allowed: (a: RegistryAccess) => string[];
  if (caller.deploymentId) {
    const deployment = await ctx.store.findDeploymentById(caller.deploymentId);
    const own = deployment && repositoryOf(deployment.spec.image);
    allowed = (a) => (a.name === own && a.name.startsWith(prefix) ? ['pull'] : []);
  } else {
    allowed = (a) => (a.name.startsWith(prefix) ? ['pull', 'push'] : []);
  }
  return requested
    .filter((a) => a.type === 'repository')
    .map((a) => ({ ...a, actions: a.actions.filter((action) => allowed(a).includes(action)) }))
    .filter((a) => a.actions.length > 0);
}
