import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BlobStore } from '../storage/blob-store.js';
import { listFolder } from '../storage/files.js';
import type { DeploymentRecord } from '../contract/records.js';
import type { Store } from '../store/store.js';
import type { VolumePreload } from '../contract/ports.js';
import type { Clock } from '../domain/clock.js';

/**
 * Copies a volume version's files (`<source_prefix>/…` in storage) into
 * `<volumesDir>/<project>/<volume>/<version>/`, before a revision mounting it starts, as
 * Together preloads volumes before the container starts. A version is copied once and then
 * kept as it was: a new upload is a new version (as jig does it), so every replica of a
 * revision sees exactly the files of the version it mounts. A marker beside the folder records
 * which volume (by id) it holds, so a volume deleted and made again under the same name is
 * copied afresh.
 */
export class VolumePreloader {
  /** Preloads by deployment, then revision. */
  private readonly preloads = new Map<string, Map<string, VolumePreload>>();
  private readonly copying = new Map<string, Promise<void>>();

  constructor(private readonly o: { store: Store; blobs: BlobStore; volumesDir: string; clock: Clock }) {}

  /** The preload of each revision of the deployment that needed one. */
  statesOf(deploymentId: string): ReadonlyMap<string, VolumePreload> | undefined {
    return this.preloads.get(deploymentId);
  }

  /** Resolves once every volume the revision mounts is in place; throws (and records why) if one cannot be. */
  async ensure(d: DeploymentRecord): Promise<void> {
    if (d.spec.volumes.length === 0) return;
    let revisions = this.preloads.get(d.id);
    if (!revisions) this.preloads.set(d.id, (revisions = new Map()));
    if (revisions.get(d.revision_id)?.status === 'Completed') return;
    const now = () => this.o.clock.now().toISOString();
    const state: VolumePreload = { status: 'InProgress', startedAt: now() };
    revisions.set(d.revision_id, state);
    try {
      for (const mount of d.spec.volumes) await this.once(d.project_id, mount.name, mount.version);
      Object.assign(state, { status: 'Completed', completedAt: now() });
    } catch (err) {
      Object.assign(state, { status: 'Failed', completedAt: now(), message: (err as Error).message });
      throw err;
    }
  }

  /** Each mounted volume version's folder in storage and its files, for runtimes whose replicas fetch them. */
  async sources(d: DeploymentRecord): Promise<{ prefix: string; files: string[] }[]> {
    const out = [];
    for (const mount of d.spec.volumes) {
      const record = await this.version(d.project_id, mount.name, mount.version);
      const files = await listFolder(this.o.blobs, d.project_id, record.source_prefix);
      out.push({ prefix: record.source_prefix, files: files.map((f) => f.name) });
    }
    return out;
  }

  /** Drops what is remembered of a deleted deployment. */
  forget(deploymentId: string) {
    this.preloads.delete(deploymentId);
  }

  private once(projectId: string, volume: string, version: number) {
    const dir = join(this.o.volumesDir, projectId, volume, String(version));
    let copy = this.copying.get(dir);
    if (!copy) {
      copy = this.copy(projectId, volume, version, dir).finally(() => this.copying.delete(dir));
      this.copying.set(dir, copy);
    }
    return copy;
  }

  private async copy(projectId: string, volumeName: string, version: number, dir: string) {
    const record = await this.version(projectId, volumeName, version);
    const marker = `${dir}.preloaded`;
    if (existsSync(marker) && (await readFile(marker, 'utf8')) === record.volume_id) return;
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    for (const f of await listFolder(this.o.blobs, projectId, record.source_prefix)) {
      await this.o.blobs.copyTo(f.key, join(dir, ...f.name.split('/')));
    }
    await writeFile(marker, record.volume_id);
  }

  private async version(projectId: string, volumeName: string, version: number) {
    const volume = await this.o.store.findVolume(projectId, volumeName);
    if (!volume) throw new Error(`volume '${volumeName}' no longer exists`);
    const record = (await this.o.store.volumeVersions([volume.id])).find((v) => v.version === version);
    if (!record) throw new Error(`volume '${volumeName}' has no version ${version}`);
    return record;
  }
}
