import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, realpath, rm, stat } from 'node:fs/promises';
import { basename, join, relative, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { createVolume, updateVolume } from './volumes.js';
import type { CommandContext } from './context.js';
import { checkFilename, objectKey } from '../storage/files.js';
import { isArchive, unpack } from '../endpoints/archive.js';
import { every } from '../domain/periodic.js';
import { download, httpError, request, type DownloadOptions, type Expected } from '../endpoints/download.js';
import type { ImportOptions } from '../endpoints/settings.js';
import type { ModelJobRecord, ModelJobStatus, ModelRecord } from '../store/endpoint-store.js';
import type { Caller } from '../contract/ports.js';

/** A running job is touched this often; one untouched for LAPSE_MS is failed by a sweep. */
const HEARTBEAT_MS = 30_000;
const LAPSE_MS = 120_000;

export type SourceKind = 'huggingface' | 'url' | 'local';

/** Where a model_source points: a Hugging Face repo id, an http(s) URL, or a local path. */
export function sourceKind(source: string): SourceKind | null {
  if (/^https?:\/\//.test(source)) return 'url';
  if (source.startsWith('/') || source.startsWith('file://')) return 'local';
  if (/^[\w.-]+\/[\w.-]+$/.test(source)) return 'huggingface';
  return null;
}

/** A file of a Hub repo as `/api/models/<repo>?blobs=true` lists it. */
interface HubFile {
  rfilename: string;
  blobId?: string;
  size?: number;
  lfs?: { sha256: string; size: number };
}

/**
 * Runs model upload jobs: fetches the weights into the project's storage under the job's
 * folder (`models/<job id>/`), makes them a read-only volume (named by the model id) that
 * endpoint engines mount, and records each step in the job's status_updates. A job whose
 * Gantry stopped is failed by a sweep once it lapses; the model may then be uploaded again.
 */
export class ModelImporter {
  private readonly running = new Set<Promise<void>>();
  private stopSweeps = () => {};

  constructor(
    private readonly ctx: CommandContext,
    private readonly o: ImportOptions,
  ) {}

  private get downloads(): DownloadOptions {
    return { ...this.o, clock: this.ctx.clock };
  }

  /**
   * Fails jobs whose runner stopped: a running job is touched every HEARTBEAT_MS, so one not
   * touched for LAPSE_MS has no Gantry working on it, whichever instance started it.
   */
  async sweep() {
    const before = new Date(this.ctx.clock.now().getTime() - LAPSE_MS).toISOString();
    for (const job of await this.ctx.store.endpoints.lapsedJobs(before)) {
      await this.step(job, 'Failed', 'the Gantry running this job stopped before it ended; upload the model again').catch(() => undefined);
    }
  }

  /** Sweeps now and every minute, until stop(). */
  async startSweeps() {
    await this.sweep();
    this.stopSweeps = every(
      this.ctx.clock,
      60_000,
      () => this.sweep(),
      () => undefined,
    );
  }

  stop() {
    this.stopSweeps();
  }

  start(caller: Caller, model: ModelRecord, job: ModelJobRecord, hfToken: string | undefined) {
    const run = this.run(caller, model, job, hfToken).finally(() => this.running.delete(run));
    this.running.add(run);
  }

  /** Waits for running jobs (shutdown, tests). */
  async idle() {
    await Promise.all(this.running);
  }

  private async run(caller: Caller, model: ModelRecord, job: ModelJobRecord, hfToken: string | undefined) {
    const kind = sourceKind(model.source)!;
    // A missed heartbeat is harmless: the next one (or the lapse sweep) settles it.
    const stopBeat = every(
      this.ctx.clock,
      HEARTBEAT_MS,
      () => this.ctx.store.endpoints.touchJob(job.id, this.ctx.clock.now().toISOString()),
      () => undefined,
    );
    try {
      await this.step(job, 'Running', `Fetching weights from ${kind === 'huggingface' ? `${this.o.hubUrl}/${model.source}` : model.source}`);
      const work = join(this.o.workDir, model.id);
      const files =
        kind === 'huggingface'
          ? await this.fromHub(model, hfToken, work)
          : kind === 'url'
            ? await this.fromUrl(model, work)
            : await this.fromLocal(model, work);
      await rm(work, { recursive: true, force: true });
      const size = files.reduce((n, f) => n + f, 0);
      // The volume may be left from an attempt that stopped just after making it: point it here.
      const content = { type: 'files' as const, source_prefix: model.weights_prefix };
      if (await this.ctx.store.findVolume(model.project_id, model.id)) await updateVolume(this.ctx, caller, model.id, { content });
      else await createVolume(this.ctx, caller, { name: model.id, type: 'readOnly', content });
      await this.ctx.store.endpoints.modelReady(model.id, size);
      await this.step(job, 'Complete', `Model weights stored: ${files.length} file(s), ${size} bytes`);
    } catch (err) {
      await this.step(job, 'Failed', (err as Error).message).catch(() => undefined);
    } finally {
      stopBeat();
    }
  }

  /** Records a step; a job that has already ended (a sweep failed it) is not moved again. */
  private async step(job: ModelJobRecord, status: ModelJobStatus, message: string) {
    const timestamp = this.ctx.clock.now().toISOString();
    const next = { ...job, status, status_updates: [...job.status_updates, { status, message, timestamp }], updated_at: timestamp };
    if (!(await this.ctx.store.endpoints.updateJob(next))) throw new Error(`job ${job.id} has already ended`);
    Object.assign(job, next);
  }

  private async store(model: ModelRecord, name: string, body: Readable): Promise<number> {
    // Names come from archives and Hub listings: none may leave the model's folder.
    checkFilename(name, 'model_source');
    const written = await this.ctx.blobs.put(objectKey(model.project_id, `${model.weights_prefix}/${name}`), body);
    return written.size;
  }

  /** Stores every file under `dir`, named relative to it. */
  private async storeTree(model: ModelRecord, dir: string): Promise<number[]> {
    const sizes: number[] = [];
    for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
      if (!e.isFile()) continue;
      const file = join(e.parentPath, e.name);
      sizes.push(await this.store(model, relative(dir, file).split(sep).join('/'), createReadStream(file)));
    }
    return sizes;
  }

  /** Unpacks an archive beside the job's downloads and stores what it holds. */
  private async storeArchive(model: ModelRecord, file: string, label: string, work: string): Promise<number[]> {
    const dir = join(work, 'unpacked');
    await rm(dir, { recursive: true, force: true });
    try {
      await unpack(file, dir, label);
      const sizes = await this.storeTree(model, dir);
      if (sizes.length === 0) throw new Error(`${label} holds no files`);
      return sizes;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * Every file of the repo, each resumable and checked against the Hub's listing: a Git LFS
   * file by its SHA-256, a small one by its Git blob id, both by size.
   */
  private async fromHub(model: ModelRecord, token: string | undefined, work: string): Promise<number[]> {
    const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    const infoUrl = `${this.o.hubUrl}/api/models/${model.source}?blobs=true`;
    const { res } = await request(infoUrl, auth, this.downloads);
    if (!res.ok) {
      await res.body?.cancel();
      throw httpError(infoUrl, res.status);
    }
    const files = ((await res.json()) as { siblings?: HubFile[] }).siblings ?? [];
    if (files.length === 0) throw new Error(`${model.source} has no files on the Hub`);
    const sizes: number[] = [];
    for (const f of files) {
      const expected: Expected = f.lfs ? { size: f.lfs.size, sha256: f.lfs.sha256 } : { size: f.size, gitBlob: f.blobId };
      // Partial downloads are named by content, so a later attempt resumes exactly this file.
      const id = [f.lfs?.sha256, f.blobId].find((h) => h && /^[0-9a-f]{40,64}$/.test(h)) ?? createHash('sha256').update(f.rfilename).digest('hex');
      const local = join(work, id);
      const url = `${this.o.hubUrl}/${model.source}/resolve/main/${f.rfilename.split('/').map(encodeURIComponent).join('/')}`;
      await download(url, local, auth, expected, this.downloads);
      sizes.push(await this.store(model, f.rfilename, createReadStream(local)));
      await rm(local);
    }
    return sizes;
  }

  /** A file, or a tar archive (.tar, .tar.gz, .tgz) that is unpacked. */
  private async fromUrl(model: ModelRecord, work: string): Promise<number[]> {
    const name = basename(new URL(model.source).pathname) || 'model';
    const local = join(work, 'download');
    await download(model.source, local, {}, {}, this.downloads);
    return isArchive(name) ? this.storeArchive(model, local, name, work) : [await this.store(model, name, createReadStream(local))];
  }

  private async fromLocal(model: ModelRecord, work: string): Promise<number[]> {
    const path = await realpath(model.source.replace(/^file:\/\//, '')).catch(() => {
      throw new Error(`${model.source} does not exist on the Gantry host`);
    });
    const roots = await Promise.all(this.o.localRoots.map((r) => realpath(r).catch(() => r)));
    if (!roots.some((r) => path === r || path.startsWith(r + sep))) {
      throw new Error(`${model.source} is outside the folders local models may come from (config local_model_dirs: ${roots.join(', ') || 'none set'})`);
    }
    if (!(await stat(path)).isFile()) return this.storeTree(model, path);
    return isArchive(path) ? this.storeArchive(model, path, basename(path), work) : [await this.store(model, basename(path), createReadStream(path))];
  }
}
