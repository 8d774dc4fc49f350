import type { Readable } from 'node:stream';

/** One stored file. */
export interface BlobInfo {
  key: string;
  size: number;
  lastModified: string;
}

/** A file just written; `etag` is the hex MD5 of its bytes (for multipart, of its parts' MD5s, as S3 does). */
export type Written = BlobInfo & { etag: string };

/**
 * Where uploaded files live. Keys are `/`-separated paths; callers (api/routes/storage.ts)
 * scope them by project. The filesystem backend keeps them under the data dir; an
 * S3-compatible backend implements the same calls (multipart maps one to one).
 */
export interface BlobStore {
  /** Stores the stream's bytes under `key`, replacing any file there only once all arrived. */
  put(key: string, body: Readable): Promise<Written>;
  /** The file, or null. */
  stat(key: string): Promise<BlobInfo | null>;
  /** The file and a stream of its bytes, or null. */
  open(key: string): Promise<{ info: BlobInfo; body: Readable } | null>;
  /** Files under the folder `dir` (keys starting with `dir/`), in key order. */
  list(dir: string): Promise<BlobInfo[]>;
  /** Copies the file to a local path (a hard link where the backend can). */
  copyTo(key: string, path: string): Promise<void>;

  /** Starts a multipart upload of `key`; answers its id. */
  createMultipart(key: string): Promise<string>;
  /** Stores part `n` (1-based) of an upload; answers the part's etag. */
  putPart(uploadId: string, n: number, body: Readable): Promise<string>;
  /**
   * Joins the listed parts, in order, into the file; each etag must match the part stored.
   * Throws BlobError for an unknown upload, a missing part or a wrong etag.
   * (`put` throws a 'conflict' BlobError when a key is both a file and a folder.)
   */
  completeMultipart(uploadId: string, key: string, parts: { partNumber: number; etag: string }[]): Promise<Written>;
  /** Drops an upload and its parts; false if there was none. */
  abortMultipart(uploadId: string, key: string): Promise<boolean>;
}

/** A request the store refuses (unknown upload, missing part, wrong etag); the API turns it into a 400/404. */
export class BlobError extends Error {
  constructor(
    readonly kind: 'no_upload' | 'bad_part' | 'conflict',
    message: string,
  ) {
    super(message);
  }
}
