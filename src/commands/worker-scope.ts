import { errors } from '../contract/errors.js';
import type { Caller } from '../contract/ports.js';
import type { CommandContext } from './context.js';

/** How sprocket names a job's output: `<request id>-<file name>`, one segment. */
const OUTPUT_NAME = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-[^/]+$/;

/**
 * What a deployment's worker key may write in storage: outputs of its own jobs, named as
 * sprocket names them. A request id that is a job of the project must be a running job of the
 * worker's own deployment; an id no job has (sprocket's synchronous requests make a fresh uuid4)
 * is the worker's to use. Anything else, such as another model's weights, is a 403. Other keys
 * write anywhere in their project.
 */
export async function checkStorageWrite(ctx: CommandContext, caller: Caller, filename: string): Promise<void> {
  if (!caller.deploymentId) return;
  const m = OUTPUT_NAME.exec(filename);
  if (!m) throw errors.forbidden(`A worker key may only write job outputs, named <request id>-<file name>; '${filename}' is not one`);
  const job = await ctx.store.jobs.findById(caller.projectId, m[1]!);
  if (!job) return;
  const deployment = await ctx.store.findDeploymentById(caller.deploymentId);
  if (job.model !== deployment?.name || job.status !== 'running') {
    throw errors.forbidden(`A worker key may only write outputs of its own deployment's running jobs; request ${m[1]} is not one`);
  }
}

/**
 * What a deployment's worker key may read from storage: the volume versions its deployment
 * mounts, and outputs of its own deployment's jobs (or of requests no job has, as it may write
 * them). Another model's weights, another deployment's outputs or any other file is a 403.
 * Other keys read anything in their project.
 */
export async function checkStorageRead(ctx: CommandContext, caller: Caller, filename: string): Promise<void> {
  if (!caller.deploymentId) return;
  const deployment = await ctx.store.findDeploymentById(caller.deploymentId);
  const m = OUTPUT_NAME.exec(filename);
  if (deployment && m) {
    const job = await ctx.store.jobs.findById(caller.projectId, m[1]!);
    if (!job || job.model === deployment.name) return;
  }
  const prefixes = deployment ? await ctx.store.mountedPrefixes(deployment.id) : [];
  if (prefixes.some((p) => filename.startsWith(p.replace(/\/*$/, '/')))) return;
  throw errors.forbidden(`A worker key may only read its deployment's volumes and its own jobs' outputs; '${filename}' is neither`);
}
