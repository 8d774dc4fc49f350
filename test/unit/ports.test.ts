import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { PortRange } from '../../src/runtime/process/ports.js';

describe('replica ports', () => {
  test('come from the range, never twice while held, skip a port another program holds, and wrap around', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(24_101, '127.0.0.1', () => r()));
    try {
      const ports = new PortRange(24_100, 24_103);
      const a = await ports.take();
      const b = await ports.take();
      const c = await ports.take();
      assert.deepEqual([a, b, c], [24_100, 24_102, 24_103], '24101 is held by another program');
      await assert.rejects(ports.take(), /no free port left in 24100–24103/);
      ports.release(b);
      assert.equal(await ports.take(), 24_102, 'a released port is handed out again');
    } finally {
      blocker.close();
    }
  });
});
