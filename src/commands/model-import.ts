import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, realpath, rm, stat } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { createVolume, updateVolume } from './volumes.js';
import type { CommandContext } from './context.js';
import { checkFilename, objectKey } from '../storage/files.js';
import { isArchive, unpack } from '../endpoints/archive.js';
import { every } from '../domain/periodic.js';
import { download, httpError, request, type DownloadOptions, type Expected } from '../endpoints/download.js';
import type { ImportOptions } from '../endpoints/settings.js';
import type { JobClaim, ModelJobRecord, ModelJobStatus, ModelRecord } from '../store/endpoint-store.js';
import type { Caller } from '../contract/ports.js';

/** A claim lasts this long and is renewed every HEARTBEAT_MS while its runner works. */
const LEASE_MS = 120_000;
const HEARTBEAT_MS = 30_000;
/** Claims after which an interrupted job is failed instead of run again. */
const MAX_ATTEMPTS = 5;

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
 * Runs model upload jobs as durable background work, on the queue's model: a job is a stored
 * row claimed with a lease (`claimJob`), renewed by a heartbeat while its runner works. A new
 * job is claimed and run at once by the instance that took the upload. A job whose Gantry
 * stopped is claimed again, by the same instance as soon as it restarts (its claims carry the
 * instance id kept in the data dir) or by any instance once the lease lapses, and resumes from
 * the bytes already downloaded. A runner that lost its claim can no longer write the job
 * (`attempt` fences it). Each job fetches the weights into the project's storage under its
 * folder (`models/<job id>/`) and makes them a read-only volume (named by the model id) that
 * endpoint engines mount, recording each step in the job's status_updates.
 */
export class ModelImporter {
  private readonly running = new Set<Promise<void>>();
  private stopClaims = () => {};

  constructor(
    private readonly ctx: CommandContext,
    private readonly o: ImportOptions,
    /** This Gantry instance, stable across its restarts (the data dir's instance id). */
    private readonly owner: string,
  ) {}

  private get downloads(): DownloadOptions {
    return { ...this.o, clock: this.ctx.clock };
  }

  /** A job was just stored: claim and run it here, now. */
  submitted(jobId: string) {
    this.track(this.claimAndRun({ id: jobId, mine: false }).then(() => undefined));
  }

  /**
   * Resumes the jobs this instance held when it stopped, then claims any whose runner went
   * away (another instance's lapsed lease) every HEARTBEAT_MS, until stop().
   */
  async start() {
    // Listed first: a job claimed below is this process's own and must not be claimed twice.
    for (const id of await this.ctx.store.endpoints.unfinishedJobsHeldBy(this.owner)) await this.claimAndRun({ id, mine: true });
    await this.claimAll();
    this.stopClaims = every(
      this.ctx.clock,
      HEARTBEAT_MS,
      () => this.claimAll(),
      () => undefined,
    );
  }

  stop() {
    this.stopClaims();
  }

  /** Claims and runs every job nobody holds (new, or its lease lapsed), one after another. */
  async claimAll() {
    while (await this.claimAndRun({ mine: false }));
  }

  /** Waits for running jobs (shutdown, tests). */
  async idle() {
    await Promise.all(this.running);
  }

  /** Claims one job (this one, or any) and starts it; false when there was none to claim. */
  private async claimAndRun(o: { id?: string; mine: boolean }): Promise<boolean> {
    const job = await this.ctx.store.endpoints.claimJob({ ...o, owner: this.owner, ...this.lease() });
    if (!job) return false;
    this.track(this.run(job));
    return true;
  }

  /** Now, and when a claim made now lapses. */
  private lease() {
    const now = this.ctx.clock.nowMs();
    return { nowIso: new Date(now).toISOString(), leaseUntilIso: new Date(now + LEASE_MS).toISOString() };
  }

  private track(p: Promise<void>) {
    const run = p.finally(() => this.running.delete(run));
    this.running.add(run);
  }

  private async run(job: ModelJobRecord) {
    const claim = { owner: this.owner, attempt: job.attempt };
    const model = await this.ctx.store.endpoints.findModelById(job.model_id);
    if (!model) return;
    const kind = sourceKind(model.source)!;
    if (job.attempt > MAX_ATTEMPTS) {
      await this.step(job, claim, 'Failed', `interrupted ${MAX_ATTEMPTS} times before it ended; upload the model again`).catch(() => undefined);
      return;
    }
    // A missed heartbeat is harmless: the lease outlasts several; a lost claim ends the run at its next write.
    const stopBeat = every(
      this.ctx.clock,
      HEARTBEAT_MS,
      () => {
        const { nowIso, leaseUntilIso } = this.lease();
        return this.ctx.store.endpoints.renewJob(job.id, claim, nowIso, leaseUntilIso);
      },
      () => undefined,
    );
    try {
      const from = kind === 'huggingface' ? `${this.o.hubUrl}/${model.source}` : model.source;
      await this.step(
        job,
        claim,
        'Running',
        job.attempt > 1 ? `Resuming the fetch from ${from} (attempt ${job.attempt}) with the bytes already downloaded` : `Fetching weights from ${from}`,
      );
      const hfToken = job.sealed_token ? this.ctx.secretBox.open(job.sealed_token, job.id) : undefined;
      const work = join(this.o.workDir, model.id);
      const files =
        kind === 'huggingface'
          ? await this.fromHub(model, hfToken, work)
          : kind === 'url'
            ? await this.fromUrl(model, work)
            : await this.fromLocal(model, work);
      await rm(work, { recursive: true, force: true });
      const size = files.reduce((n, f) => n + f, 0);
      // Volumes are the project's: act as the project (the model's name starts with it).
      const caller: Caller = { projectId: model.project_id, projectName: model.name.split('/')[0]!, keyId: 'model-import' };
      // The volume may be left from an attempt that stopped just after making it: point it here.
      const content = { type: 'files' as const, source_prefix: model.weights_prefix };
      if (await this.ctx.store.findVolume(model.project_id, model.id)) await updateVolume(this.ctx, caller, model.id, { content });
      else await createVolume(this.ctx, caller, { name: model.id, type: 'readOnly', content });
      await this.ctx.store.endpoints.modelReady(model.id, size);
      await this.step(job, claim, 'Complete', `Model weights stored: ${files.length} file(s), ${size} bytes`);
    } catch (err) {
      await this.step(job, claim, 'Failed', (err as Error).message).catch(() => undefined);
    } finally {
      stopBeat();
    }
  }

  /** Records a step under the runner's claim; a job that ended or was claimed again since is not moved. */
  private async step(job: ModelJobRecord, claim: JobClaim, status: ModelJobStatus, message: string) {
    const timestamp = this.ctx.clock.now().toISOString();
    const next = { ...job, status, status_updates: [...job.status_updates, { status, message, timestamp }], updated_at: timestamp };
    if (!(await this.ctx.store.endpoints.updateJob(next, claim))) throw new Error(`job ${job.id} has ended or is no longer this runner's`);
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
    // A root as written and as it really is (it may be a link); a path is judged against both.
    const roots = (await Promise.all(this.o.localRoots.map(async (r) => [resolve(r), await realpath(r).catch(() => resolve(r))]))).flat();
    const inside = (p: string) => roots.some((r) => p === r || p.startsWith(r + sep));
    const outside = () =>
      new Error(`${model.source} is outside the folders local models may come from (config local_model_dirs: ${this.o.localRoots.join(', ') || 'none set'})`);
    // Outside the folders, the file system is not even asked: whether such a path exists is nobody's business.
    const given = resolve(model.source.replace(/^file:\/\//, ''));
    if (!inside(given)) throw outside();
    const path = await realpath(given).catch(() => {
      throw new Error(`${model.source} does not exist in the folders local models may come from`);
    });
    if (!inside(path)) throw outside(); // a link that leads out of them
    if (!(await stat(path)).isFile()) return this.storeTree(model, path);
    return isArchive(path) ? this.storeArchive(model, path, basename(path), work) : [await this.store(model, basename(path), createReadStream(path))];
  }
}
