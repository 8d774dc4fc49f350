import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, link, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { filenameOf } from './files.js';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BlobError, type BlobInfo, type BlobStore, type Written } from './blob-store.js';
import { randomIds, type IdSource } from '../domain/ids.js';

/**
 * The embedded storage backend: files under `<root>/objects/<key>`. A file is written to
 * `<root>/tmp`, synced, then renamed into place, so a reader sees the old file or the whole new
 * one, never a part, and a crash leaves no half-written file under its key. Multipart uploads
 * keep their parts in `<root>/uploads/<id>/` until completed or aborted.
 */
export class FsBlobStore implements BlobStore {
  private readonly objects: string;
  private readonly uploads: string;
  private readonly tmp: string;

  constructor(
    root: string,
    private readonly ids: IdSource = randomIds,
  ) {
    this.objects = join(root, 'objects');
    this.uploads = join(root, 'uploads');
    this.tmp = join(root, 'tmp');
  }

  async put(key: string, body: Readable): Promise<Written> {
    const { path, etag } = await this.receive(body);
    return this.place(path, key, etag);
  }

  async stat(key: string): Promise<BlobInfo | null> {
    const s = await stat(this.pathOf(key)).catch(() => null);
    return s?.isFile() ? { key, size: s.size, lastModified: s.mtime.toISOString() } : null;
  }

  async open(key: string) {
    const info = await this.stat(key);
    // Opened before answering, so a file replaced meanwhile is read whole (old or new).
    return info && { info, body: createReadStream(this.pathOf(key)) };
  }

  async list(dir: string): Promise<BlobInfo[]> {
    const base = this.pathOf(dir);
    const entries = await readdir(base, { recursive: true, withFileTypes: true }).catch(() => []);
    const files: BlobInfo[] = [];
    for (const e of entries) {
      if (!e.isFile()) continue;
      const path = join(e.parentPath, e.name);
      const s = await stat(path);
      files.push({ key: relative(this.objects, path).split(sep).join('/'), size: s.size, lastModified: s.mtime.toISOString() });
    }
    return files.sort((a, b) => (a.key < b.key ? -1 : 1));
  }

  async copyTo(key: string, path: string) {
    await mkdir(dirname(path), { recursive: true });
    // A hard link costs no copy; objects are never written in place, so the link keeps this version.
    await link(this.pathOf(key), path).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EXDEV' && err.code !== 'EPERM') throw err;
      await copyFile(this.pathOf(key), path);
    });
  }

  async createMultipart(key: string) {
    const id = this.ids.uuidv7();
    await mkdir(join(this.uploads, id), { recursive: true });
    await writeFile(join(this.uploads, id, 'key'), key);
    return id;
  }

  async putPart(uploadId: string, n: number, body: Readable) {
    await this.uploadOf(uploadId);
    const { path, etag } = await this.receive(body);
    await rename(path, join(this.uploads, uploadId, `part-${n}`));
    await writeFile(join(this.uploads, uploadId, `part-${n}.etag`), etag);
    return etag;
  }

  async completeMultipart(uploadId: string, key: string, parts: { partNumber: number; etag: string }[]): Promise<Written> {
    await this.uploadOf(uploadId, key);
    const dir = join(this.uploads, uploadId);
    const md5s: Buffer[] = [];
    for (const p of parts) {
      const stored = await readFile(join(dir, `part-${p.partNumber}.etag`), 'utf8').catch(() => null);
      if (stored === null) throw new BlobError('bad_part', `part ${p.partNumber} was not uploaded`);
      if (stored !== p.etag) throw new BlobError('bad_part', `part ${p.partNumber}: etag '${p.etag}' does not match the part uploaded`);
      md5s.push(Buffer.from(stored, 'hex'));
    }
    const joined = join(this.tmp, this.ids.uuidv7());
    const out = createWriteStream(joined, { flags: 'wx', mode: 0o600 });
    for (const p of parts) await pipeline(createReadStream(join(dir, `part-${p.partNumber}`)), out, { end: false });
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    await syncFile(joined);
    const written = await this.place(joined, key, `${createHash('md5').update(Buffer.concat(md5s)).digest('hex')}-${parts.length}`);
    await rm(dir, { recursive: true, force: true });
    return written;
  }

  async abortMultipart(uploadId: string, key: string) {
    try {
      await this.uploadOf(uploadId, key);
    } catch {
      return false;
    }
    await rm(join(this.uploads, uploadId), { recursive: true, force: true });
    return true;
  }

  /** Writes a stream to a synced temporary file, hashing it on the way. */
  private async receive(body: Readable) {
    await mkdir(this.tmp, { recursive: true });
    const path = join(this.tmp, this.ids.uuidv7());
    const hash = createHash('md5');
    try {
      await pipeline(
        body,
        async function* (chunks: AsyncIterable<Buffer>) {
          for await (const c of chunks) {
            hash.update(c);
            yield c;
          }
        },
        createWriteStream(path, { flags: 'wx', mode: 0o600 }),
      );
      await syncFile(path);
    } catch (err) {
      await rm(path, { force: true });
      throw err;
    }
    return { path, etag: hash.digest('hex') };
  }

  /** Moves a finished temporary file under its key. */
  private async place(tmpPath: string, key: string, etag: string): Promise<Written> {
    const path = this.pathOf(key);
    try {
      await mkdir(dirname(path), { recursive: true });
      await rename(tmpPath, path);
    } catch (err) {
      await rm(tmpPath, { force: true });
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR' || code === 'EISDIR' || code === 'EEXIST') {
        throw new BlobError('conflict', `'${filenameOf(key)}' clashes with a stored file or folder of the same name`);
      }
      throw err;
    }
    const s = await stat(path);
    return { key, size: s.size, lastModified: s.mtime.toISOString(), etag };
  }

  private async uploadOf(uploadId: string, key?: string) {
    const stored = /^[0-9a-f-]{36}$/.test(uploadId) ? await readFile(join(this.uploads, uploadId, 'key'), 'utf8').catch(() => null) : null;
    if (stored === null || (key !== undefined && stored !== key)) {
      throw new BlobError('no_upload', `no multipart upload '${uploadId}'${key !== undefined ? ` for '${filenameOf(key)}'` : ''}`);
    }
  }

  private pathOf(key: string) {
    // Keys are checked by the API; this is the last line against leaving the store's folder.
    if (key.split('/').some((s) => s === '..' || s === '.')) throw new Error(`unsafe storage key '${key}'`);
    return join(this.objects, ...key.split('/'));
  }
}

async function syncFile(path: string) {
  const fh = await open(path, 'r+');
  try {
    await fh.datasync();
  } finally {
    await fh.close();
  }
}
