import { createReadStream } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { basename, join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { createVolume, updateVolume } from '../commands/volumes.js';
import type { Caller, CommandContext } from '../commands/context.js';
import { objectKey } from '../storage/files.js';
import type { ModelJobRecord, ModelJobStatus, ModelRecord } from '../store/endpoint-store.js';

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

export interface ImportOptions {
  /** The Hugging Face Hub (HF_ENDPOINT), https://huggingface.co by default. */
  hubUrl: string;
  /** Folders local model_source paths may come from; none: local paths are refused. */
  localRoots: string[];
  /** Connect and first-byte timeout for downloads: an unreachable source fails, it never hangs. */
  timeoutMs: number;
}

/**
 * Runs model upload jobs: fetches the weights into the project's storage under the job's
 * folder (`models/<job id>/`), makes them a read-only volume (named by the model id) that
 * endpoint engines mount, and records each step in the job's status_updates. A job whose
 * Gantry stopped is failed by a sweep once it lapses; the model may then be uploaded again.
 */
export class ModelImporter {
  private readonly running = new Set<Promise<void>>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly ctx: CommandContext,
    private readonly o: ImportOptions,
  ) {}

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
    this.sweeper = setInterval(() => void this.sweep().catch(() => undefined), 60_000);
    this.sweeper.unref();
  }

  stop() {
    if (this.sweeper) clearInterval(this.sweeper);
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
    const beat = setInterval(() => void this.ctx.store.endpoints.touchJob(job.id, this.ctx.clock.now().toISOString()).catch(() => undefined), HEARTBEAT_MS);
    beat.unref();
    try {
      await this.step(job, 'Running', `Fetching weights from ${kind === 'huggingface' ? `${this.o.hubUrl}/${model.source}` : model.source}`);
      const files = kind === 'huggingface' ? await this.fromHub(model, hfToken) : kind === 'url' ? await this.fromUrl(model) : await this.fromLocal(model);
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
      clearInterval(beat);
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
    const written = await this.ctx.blobs.put(objectKey(model.project_id, `${model.weights_prefix}/${name}`), body);
    return written.size;
  }

  /** GET (following redirects) with a bounded wait for the response head; a network failure names the source. */
  private async get(url: string, headers: Record<string, string> = {}): Promise<Response> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error(`no answer within ${this.o.timeoutMs} ms`)), this.o.timeoutMs);
    let res: Response;
    try {
      res = await fetch(url, { headers, signal: abort.signal });
    } catch (err) {
      const cause = (err as { cause?: Error }).cause ?? (abort.signal.reason as Error | undefined);
      throw new Error(`cannot reach ${new URL(url).origin}: ${cause?.message ?? (err as Error).message} (is the network reachable from Gantry?)`);
    } finally {
      clearTimeout(timer);
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      throw new Error(`${url} answered ${res.status}${res.status === 401 || res.status === 403 ? ' (a gated or private repo needs hf_token)' : ''}`);
    }
    return res;
  }

  private async fromHub(model: ModelRecord, token: string | undefined): Promise<number[]> {
    const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    const info = (await (await this.get(`${this.o.hubUrl}/api/models/${model.source}`, auth)).json()) as { siblings?: { rfilename: string }[] };
    const names = (info.siblings ?? []).map((s) => s.rfilename);
    if (names.length === 0) throw new Error(`${model.source} has no files on the Hub`);
    const sizes: number[] = [];
    for (const name of names) {
      const res = await this.get(`${this.o.hubUrl}/${model.source}/resolve/main/${name.split('/').map(encodeURIComponent).join('/')}`, auth);
      const expected = Number(res.headers.get('content-length') ?? NaN);
      const size = await this.store(model, name, bodyOf(res));
      // A short read (a dropped connection) must not pass for the file.
      if (Number.isFinite(expected) && size !== expected) throw new Error(`${name}: got ${size} of ${expected} bytes`);
      sizes.push(size);
    }
    return sizes;
  }

  private async fromUrl(model: ModelRecord): Promise<number[]> {
    const res = await this.get(model.source);
    const name = basename(new URL(model.source).pathname) || 'model';
    return [await this.store(model, name, bodyOf(res))];
  }

  private async fromLocal(model: ModelRecord): Promise<number[]> {
    const path = await realpath(model.source.replace(/^file:\/\//, '')).catch(() => {
      throw new Error(`${model.source} does not exist on the Gantry host`);
    });
    const roots = await Promise.all(this.o.localRoots.map((r) => realpath(r).catch(() => r)));
    if (!roots.some((r) => path === r || path.startsWith(r + sep))) {
      throw new Error(`${model.source} is outside the folders local models may come from (config local_model_dirs: ${roots.join(', ') || 'none set'})`);
    }
    const s = await stat(path);
    if (s.isFile()) return [await this.store(model, basename(path), createReadStream(path))];
    const sizes: number[] = [];
    for (const e of await readdir(path, { recursive: true, withFileTypes: true })) {
      if (!e.isFile()) continue;
      const file = join(e.parentPath, e.name);
      sizes.push(await this.store(model, relative(path, file).split(sep).join('/'), createReadStream(file)));
    }
    return sizes;
  }
}

const bodyOf = (res: Response) => Readable.fromWeb(res.body as import('node:stream/web').ReadableStream);
