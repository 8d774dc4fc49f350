import { mkdir } from 'node:fs/promises';
import { x as extract } from 'tar';

/** Names of the archives a model source may be: unpacked into the weights folder, not stored whole. */
export const isArchive = (name: string) => /\.(tar|tar\.gz|tgz)$/i.test(name);

/**
 * Unpacks a tar archive (gzip-compressed or not) into `dir`. node-tar keeps every entry inside
 * `dir` (no absolute paths, no `..`, no writing through links), and a corrupt archive is an error
 * naming the file, not a partial model.
 */
export async function unpack(file: string, dir: string, label: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  try {
    await extract({ file, cwd: dir, strict: true, preserveOwner: false });
  } catch (err) {
    throw new Error(`${label} is not a readable tar archive: ${(err as Error).message}`);
  }
}
