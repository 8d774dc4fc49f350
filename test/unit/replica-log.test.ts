import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReplicaLog, readReplicaLog } from '../../src/runtime/replica-log.js';

describe('replica log', () => {
  test('keeps at most twice its cap, oldest lines dropped first, in order, in files only its owner reads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gantry-log-'));
    try {
      const log = new ReplicaLog(dir, 100);
      for (let i = 0; i < 20; i++) log.write(Buffer.from(`line ${String(i).padStart(2, '0')} ${'x'.repeat(20)}\n`));
      await log.close();
      const lines = await readReplicaLog(dir);
      // 29-byte lines, 100-byte cap: a file holds 3 lines; the last rotation came at line 18.
      assert.deepEqual(
        lines.map((l) => l.slice(5, 7)),
        ['15', '16', '17', '18', '19'],
      );
      assert.equal(statSync(join(dir, 'output.log')).mode & 0o777, 0o600);
      assert.deepEqual(await readReplicaLog(join(dir, 'none')), [], 'a replica that wrote nothing has no lines');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
