import type { CreateVolumeBody, UpdateVolumeBody, VolumeView } from '../contract/schemas/volume.js';
import { errors } from '../contract/errors.js';
import type { VolumeRecord } from '../contract/records.js';
import { listFolder } from '../storage/files.js';
import { retryOnConflict, STALE, type CommandContext, withConstraints, deleteUnlessUsed } from './context.js';
import type { Caller } from '../contract/ports.js';

const KIND = 'Volume';

/** A source prefix names a place in Gantry's storage: relative, and never climbing out of it. */
function checkSourcePrefix(prefix: string, param: string) {
  if (prefix.startsWith('/')) throw errors.invalid(param, `${param} must be a relative storage prefix, not an absolute path`);
  if (prefix.split('/').some((seg) => seg === '..' || seg === '.')) {
    throw errors.invalid(param, `${param} must not contain '.' or '..' segments`);
  }
}

async function renderVolumes(ctx: CommandContext, volumes: VolumeRecord[], version?: number): Promise<VolumeView[]> {
  const ids = volumes.map((v) => v.id);
  const [versions, mounts] = await Promise.all([ctx.store.volumeVersions(ids), ctx.store.volumeMounts(ids)]);
  return Promise.all(
    volumes.map(async (v) => {
      const own = versions.filter((x) => x.volume_id === v.id);
      const shown = version ?? v.current_version;
      const selected = own.find((x) => x.version === shown);
      if (!selected) throw errors.notFound(`Version ${shown} of volume`, v.name);
      const mountedBy = (n: number) => mounts.filter((m) => m.volume_id === v.id && m.version === n).map((m) => m.deployment_id);
      return {
        object: 'volume',
        id: v.id,
        name: v.name,
        type: v.type,
        current_version: v.current_version,
        content: { type: 'files', source_prefix: selected.source_prefix, files: await filesOf(ctx, v.project_id, selected.source_prefix) },
        mounted_by: mountedBy(shown),
        version_history: Object.fromEntries(
          own.map((x) => [
            String(x.version),
            { version: x.version, content: { type: 'files' as const, source_prefix: x.source_prefix }, mounted_by: mountedBy(x.version) },
          ]),
        ),
        created_at: v.created_at,
        updated_at: v.updated_at,
      };
    }),
  );
}

/** What storage holds under a version's prefix: the files its replicas will get. */
async function filesOf(ctx: CommandContext, projectId: string, prefix: string) {
  const files = await listFolder(ctx.blobs, projectId, prefix);
  return files.map((f) => ({ name: f.name, size: f.size, last_modified: f.lastModified }));
}

export async function createVolume(ctx: CommandContext, caller: Caller, body: CreateVolumeBody): Promise<VolumeView> {
  checkSourcePrefix(body.content.source_prefix, 'content.source_prefix');
  const now = ctx.clock.now().toISOString();
  const record: VolumeRecord = {
    id: ctx.ids.id('vol'),
    project_id: caller.projectId,
    name: body.name,
    type: body.type,
    current_version: 0,
    created_at: now,
    updated_at: now,
    version: 1,
  };
  await withConstraints(
    () =>
      ctx.store.transaction(async (s) => {
        await s.insertVolume(record);
        await s.insertVolumeVersion({ volume_id: record.id, version: 0, source_prefix: body.content.source_prefix, created_at: now });
      }),
    { unique: () => errors.alreadyExists(KIND, body.name) },
  );
  return (await renderVolumes(ctx, [record]))[0]!;
}

export async function findVolume(ctx: CommandContext, caller: Caller, idOrName: string): Promise<VolumeRecord> {
  const found = await ctx.store.findVolume(caller.projectId, idOrName);
  if (!found) throw errors.notFound(KIND, idOrName);
  return found;
}

export async function getVolume(ctx: CommandContext, caller: Caller, idOrName: string, version?: number) {
  return (await renderVolumes(ctx, [await findVolume(ctx, caller, idOrName)], version))[0]!;
}

export async function listVolumes(ctx: CommandContext, caller: Caller) {
  return renderVolumes(ctx, await ctx.store.listVolumes(caller.projectId));
}

/** A content change (a different source prefix) makes a new version; renames and no-ops do not. */
export async function updateVolume(ctx: CommandContext, caller: Caller, idOrName: string, body: UpdateVolumeBody) {
  if (body.content) checkSourcePrefix(body.content.source_prefix, 'content.source_prefix');
  const updated = await retryOnConflict(async () => {
    const current = await findVolume(ctx, caller, idOrName);
    const now = ctx.clock.now().toISOString();
    return withConstraints(
      () =>
        ctx.store.transaction(async (s) => {
          const [latest] = (await s.volumeVersions([current.id])).filter((v) => v.version === current.current_version);
          const newContent = body.content !== undefined && body.content.source_prefix !== latest?.source_prefix;
          const next: VolumeRecord = {
            ...current,
            name: body.name ?? current.name,
            type: body.type ?? current.type,
            current_version: newContent ? current.current_version + 1 : current.current_version,
            updated_at: now,
            version: current.version + 1,
          };
          if (!(await s.updateVolume(next, current.version))) return STALE;
          if (newContent) {
            await s.insertVolumeVersion({ volume_id: next.id, version: next.current_version, source_prefix: body.content!.source_prefix, created_at: now });
          }
          return next;
        }),
      { unique: () => errors.alreadyExists(KIND, body.name ?? current.name) },
    );
  });
  return (await renderVolumes(ctx, [updated]))[0]!;
}

export async function deleteVolume(ctx: CommandContext, caller: Caller, idOrName: string) {
  const volume = await findVolume(ctx, caller, idOrName);
  const inUse = (names: string[]) =>
    errors.conflict(`Volume '${volume.name}' is mounted by deployment(s) ${names.join(', ')}; unmount it first`, 'volume_in_use');
  await deleteUnlessUsed(ctx, {
    usersOf: (s) => s.deploymentNamesUsingVolume(volume.id),
    remove: (s) => s.deleteVolume(volume.id),
    inUse,
    notFound: () => errors.notFound(KIND, idOrName),
  });
  return { id: volume.id, object: 'volume', deleted: true };
}
