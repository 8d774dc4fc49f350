import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { once } from 'node:events';
import type { Clock } from '../domain/clock.js';
import { fetch, type Dispatcher } from 'undici';

export interface DownloadOptions {
  /** Wait for a response head, and between body chunks: an unreachable or stalled source fails, it never hangs. */
  timeoutMs: number;
  /** Tries per download; each after the first resumes where the last stopped. */
  attempts: number;
  /** Pause before the n-th retry: n × this. */
  retryDelayMs: number;
  clock: Clock;
  /** Where connections may go (outbound.ts: public addresses, and what the operator allows). */
  dispatcher: Dispatcher;
}

/** What a downloaded file must be; checked before it is used. */
export interface Expected {
  size?: number;
  /** Hex SHA-256 of the content (a Git LFS file's oid on the Hub). */
  sha256?: string;
  /** Hex Git blob id (SHA-1 of "blob <size>\0" + content): a small file's id on the Hub. */
  gitBlob?: string;
}

/**
 * GET with a bounded wait for the response head. A network failure names the origin and asks
 * whether the network is reachable; an HTTP error is for the caller.
 */
export async function request(
  url: string,
  headers: Record<string, string>,
  { timeoutMs, clock, dispatcher }: Pick<DownloadOptions, 'timeoutMs' | 'clock' | 'dispatcher'>,
): Promise<{ res: Response; abort: AbortController }> {
  const abort = new AbortController();
  const timer = clock.setTimeout(() => abort.abort(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  try {
    return { res: (await fetch(url, { headers, signal: abort.signal, dispatcher })) as unknown as Response, abort };
  } catch (err) {
    const cause = (err as { cause?: Error }).cause ?? (abort.signal.reason as Error | undefined);
    throw new Error(`cannot reach ${new URL(url).origin}: ${cause?.message ?? (err as Error).message} (is the network reachable from Gantry?)`);
  } finally {
    timer.cancel();
  }
}

export function httpError(url: string, status: number): Error {
  return new Error(
    `${url} answered ${status}${status === 401 || status === 403 ? ' (refused without credentials: a gated or private Hugging Face repo needs hf_token)' : ''}`,
  );
}

/**
 * Downloads `url` into `path`, resumably: bytes arrive in `path.incomplete`, and a dropped or
 * stalled connection is retried with `Range` from what is there. A partial file survives the
 * job, so uploading the model again resumes it too: with a checksum the content is fixed; else
 * the server's validator (ETag or Last-Modified) is kept beside it and sent as `If-Range`, so
 * a changed file is fetched whole. The result is checked against `expected` (a mismatch is
 * deleted, never used). Answers the size.
 */
export async function download(url: string, path: string, headers: Record<string, string>, expected: Expected, o: DownloadOptions): Promise<number> {
  const part = `${path}.incomplete`;
  const validatorFile = `${part}.validator`;
  await mkdir(dirname(path), { recursive: true });
  const fixed = expected.sha256 !== undefined || expected.gitBlob !== undefined;
  let validator = fixed ? undefined : await readFile(validatorFile, 'utf8').catch(() => undefined);
  let have = fixed || validator ? await sizeOf(part) : 0;
  if (expected.size !== undefined && have > expected.size) have = 0;
  let complete = expected.size !== undefined && have === expected.size;
  let lastError = '';
  for (let attempt = 1; attempt <= o.attempts && !complete; attempt++) {
    if (attempt > 1) await o.clock.sleep(o.retryDelayMs * (attempt - 1));
    // Without a checksum or a validator, bytes already here may be of another version: start over.
    if (!fixed && !validator) have = 0;
    const range: Record<string, string> = have > 0 ? { range: `bytes=${have}-`, ...(validator ? { 'if-range': validator } : {}) } : {};
    let answer: Awaited<ReturnType<typeof request>>;
    try {
      answer = await request(url, { ...headers, ...range }, o);
    } catch (err) {
      // Unreachable at first: fail now. Unreachable while resuming: the next attempt may get through.
      if (attempt === 1) throw err;
      lastError = (err as Error).message;
      continue;
    }
    const { res, abort } = answer;
    if (res.status === 416 && have > 0) {
      // Nothing past what is here: complete (or replaced by a shorter file, which the check below catches).
      await res.body?.cancel();
      complete = true;
      break;
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      throw httpError(url, res.status);
    }
    if (res.status !== 206) have = 0; // sent whole: start over
    if (!fixed && have === 0) {
      validator = res.headers.get('etag') ?? res.headers.get('last-modified') ?? undefined;
      await (validator ? writeFile(validatorFile, validator) : rm(validatorFile, { force: true }));
    }
    const length = res.headers.get('content-length');
    const total = expected.size ?? (length ? have + Number(length) : undefined);
    lastError = (await append(res.body, part, have > 0, abort, o)) ?? '';
    have = await sizeOf(part);
    complete = total === undefined ? lastError === '' : have >= total;
    if (!complete && !lastError) lastError = `the connection ended after ${have} of ${total} bytes`;
  }
  if (!complete || (expected.size !== undefined && have !== expected.size)) {
    throw new Error(
      `${url}: got ${have}${expected.size !== undefined ? ` of ${expected.size}` : ''} bytes in ${o.attempts} attempts (${lastError || 'too many bytes'})${fixed || validator ? '; upload the model again to resume' : ''}`,
    );
  }
  const mismatch = await verify(part, have, expected);
  if (mismatch) {
    await rm(part, { force: true });
    throw new Error(`${url}: ${mismatch}; the download was discarded`);
  }
  await rm(validatorFile, { force: true });
  await rename(part, path);
  return have;
}

/**
 * Writes the body to `path` chunk by chunk until it ends or fails, keeping every byte that
 * arrived (a failed pipeline would drop what was still buffered, and the resume would refetch
 * it). A body with no chunk for `stallMs` is aborted. Answers why it failed, if it did.
 */
async function append(
  body: ReadableStream<Uint8Array>,
  path: string,
  resume: boolean,
  abort: AbortController,
  o: DownloadOptions,
): Promise<string | undefined> {
  const stallMs = o.timeoutMs;
  const out = createWriteStream(path, { flags: resume ? 'a' : 'w' });
  // A write that fails (disk full) stops the download; end() below reports it.
  out.on('error', (err) => abort.abort(err));
  const stalled = () => abort.abort(new Error(`no data for ${stallMs} ms`));
  let stall = o.clock.setTimeout(stalled, stallMs);
  let failure: string | undefined;
  try {
    for await (const chunk of body) {
      stall.cancel();
      stall = o.clock.setTimeout(stalled, stallMs);
      if (!out.write(chunk)) await once(out, 'drain');
    }
  } catch (err) {
    failure = ((err as { cause?: Error }).cause ?? (err as Error)).message;
  } finally {
    stall.cancel();
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
  return failure;
}

async function verify(path: string, size: number, expected: Expected): Promise<string | undefined> {
  if (expected.sha256) {
    const got = await hashFile(path, 'sha256');
    if (got !== expected.sha256) return `sha256 ${got} does not match the expected ${expected.sha256}`;
  } else if (expected.gitBlob) {
    const got = await hashFile(path, 'sha1', `blob ${size}\0`);
    if (got !== expected.gitBlob) return `git blob id ${got} does not match the expected ${expected.gitBlob}`;
  }
  return undefined;
}

async function hashFile(path: string, algorithm: string, prefix = ''): Promise<string> {
  const hash = createHash(algorithm).update(prefix);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

const sizeOf = (path: string) =>
  stat(path).then(
    (s) => s.size,
    () => 0,
  );
