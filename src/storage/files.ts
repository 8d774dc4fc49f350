import { errors } from '../contract/errors.js';
import type { BlobStore } from './blob-store.js';

/** The longest filename (a storage key within a project) Gantry accepts, as S3 does. */
const MAX_FILENAME_BYTES = 1024;
/** The longest segment: a segment is a file or folder name on the filesystem backend. */
const MAX_SEGMENT_BYTES = 255;
/** Half of a UTF-16 surrogate pair alone: no UTF-8 (nor URL, nor file name) can hold it. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * A filename is a relative path inside the project's storage, e.g. `weights/0/model.bin` or
 * `<request_id>-out.png`: non-empty segments, none `.` or `..`, no NUL or backslash.
 */
export function checkFilename(name: string, param: string) {
  const rule = `${param}: must be a relative path of non-empty segments separated by '/', without '.', '..', '\\', NUL or invalid Unicode, at most ${MAX_FILENAME_BYTES} bytes and ${MAX_SEGMENT_BYTES} bytes a segment`;
  if (name === '' || Buffer.byteLength(name) > MAX_FILENAME_BYTES || /[\0\\]/.test(name) || LONE_SURROGATE.test(name)) throw errors.invalid(param, rule);
  if (name.split('/').some((s) => s === '' || s === '.' || s === '..' || Buffer.byteLength(s) > MAX_SEGMENT_BYTES)) throw errors.invalid(param, rule);
}

/** Each project has its own storage namespace; keys are `<project id>/<filename>`. */
export const objectKey = (projectId: string, filename: string) => `${projectId}/${filename}`;
/** The filename a key was made from, as its owner named it (messages never show the project's id). */
export const filenameOf = (key: string) => key.slice(key.indexOf('/') + 1);

/** The files of a project under a folder, named relative to it (a volume version's content). */
export async function listFolder(blobs: BlobStore, projectId: string, folder: string) {
  const dir = objectKey(projectId, folder.replace(/\/+$/, ''));
  return (await blobs.list(dir)).map((f) => ({ ...f, name: f.key.slice(dir.length + 1) }));
}
