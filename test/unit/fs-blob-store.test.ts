import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { FsBlobStore } from '../../src/storage/fs-blob-store.js';

test("stored files are readable by Gantry's user only (0600)", async () => {
  const root = mkdtempSync(join(tmpdir(), 'gantry-blobs-'));
  try {
    const blobs = new FsBlobStore(root);
    await blobs.put('proj_1/weights/model.bin', Readable.from([Buffer.from('weights')]));
    const dir = join(root, 'objects', 'proj_1', 'weights');
    const [file] = readdirSync(dir);
    assert.equal(statSync(join(dir, file!)).mode & 0o777, 0o600);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
