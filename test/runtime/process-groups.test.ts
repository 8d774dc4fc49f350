import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessDriver } from '../../src/runtime/process/process-driver.js';
import { killLeftoverGroups, recordGroup } from '../../src/runtime/process/process-group.js';
import { bwrapSkip, FAST_REPLICAS, revisionSpec, untilReplicas, untilTrue } from '../helpers/runtime.js';
import { apiCaller, startGantry, type GantryProcess } from '../helpers/gantry-process.js';

/** Pids of `sleep <marker>` processes (a unique duration marks a test's own). */
function running(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const [cmd, arg] = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (cmd?.endsWith('sleep') && arg === marker) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/**
 * Process replicas leave nothing behind: a wrapper's children stop with it (scale-down, delete,
 * shutdown, a crash), and a gantry serve killed outright has its replicas' groups stopped by the
 * next one before it starts anything.
 */
/** `gantry serve` running one replica whose command is a wrapper: a shell with two `sleep <marker>` children. */
async function serveWrapped(dir: string, key: string, marker: string, sandbox: 'none' | 'bwrap'): Promise<GantryProcess> {
  const g = await startGantry(['--data-dir', dir, '--sandbox', sandbox], { GANTRY_ADMIN_KEY: key });
  const created = await apiCaller(() => g.url, key)('POST', '/v1/deployments', {
    name: 'wrapped',
    image: 'local/sh',
    gpu_type: 'none',
    command: ['sh', '-c', `sleep ${marker} & sleep ${marker} & wait`],
  });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  await untilTrue(() => running(marker).length === 2, 'both sleeps of the replica');
  return g;
}

describe('process replicas as process groups', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  test("a wrapper's children stop with the replica", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gantry-pg-'));
    dirs.push(dir);
    const marker = '4321.25';
    const driver = new ProcessDriver({ dir, ...FAST_REPLICAS, baseEnv: { PATH: process.env.PATH ?? '' } });
    try {
      const spec = revisionSpec({ revisionId: 'rev-a', image: 'local/sh', command: ['sh', '-c', `sleep ${marker} & wait`], args: [], healthCheckPath: '' });
      await driver.apply('dep_1', [{ revisionId: 'rev-a', revision: spec, replicas: 1 }]);
      await untilReplicas(driver, (rs) => rs[0]?.status === 'Running', 'a running replica');
      await untilTrue(() => running(marker).length === 1, 'the wrapped sleep');
      await driver.apply('dep_1', []);
      await untilTrue(() => running(marker).length === 0, 'the wrapped sleep to stop with its replica');
    } finally {
      await driver.close();
    }
  });

  test('a recorded group is stopped only while its pid is the same process (same start time), never a reused pid', async () => {
    const root = mkdtempSync(join(tmpdir(), 'gantry-pg-rec-'));
    dirs.push(root);
    const marker = '4323.25';
    const child = spawn('sleep', [marker], { detached: true, stdio: 'ignore' });
    await untilTrue(() => running(marker).length === 1, 'the sleep');
    const dir = join(root, 'dep_1', 'rep_1');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'replica.pid'), JSON.stringify({ pid: child.pid, start: '1' }));
    assert.equal(killLeftoverGroups(root), 0, 'another start time: another process now');
    assert.deepEqual(running(marker), [child.pid]);
    recordGroup(dir, child.pid!);
    assert.equal(killLeftoverGroups(root), 1);
    await untilTrue(() => running(marker).length === 0, 'the recorded group to be killed');
    assert.equal(existsSync(join(dir, 'replica.pid')), false, 'the record is gone');
  });

  test('a gantry serve started after a SIGKILL stops the replicas the last one left', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gantry-pg-serve-'));
    dirs.push(dir);
    const key = 'process-groups-key-0123456789abcdef0123456789';
    const marker = '4322.25';
    // Unsandboxed: a sandboxed replica dies with Gantry (below), an unsandboxed one is left behind.
    let g = await serveWrapped(dir, key, marker, 'none');
    const orphans = running(marker);
    g.proc.kill('SIGKILL');
    await new Promise((r) => g.proc.once('exit', r));
    assert.deepEqual(running(marker).sort(), orphans.sort(), 'killed outright, Gantry left them running');

    g = await startGantry(['--data-dir', dir, '--sandbox', 'none'], { GANTRY_ADMIN_KEY: key });
    try {
      assert.match(g.output(), /stopped 1 replica process group\(s\) a previous gantry serve left running/);
      await untilTrue(() => running(marker).length === 2 && running(marker).every((p) => !orphans.includes(p)), 'one new replica, none of the old processes');
    } finally {
      await g.stop();
    }
    await untilTrue(() => running(marker).length === 0, 'nothing left after a clean shutdown');
  });

  test('a sandboxed replica dies with a SIGKILLed gantry serve', { skip: bwrapSkip() }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gantry-pg-sandbox-'));
    dirs.push(dir);
    const key = 'process-groups-key-0123456789abcdef0123456789';
    const marker = '4323.25';
    const g = await serveWrapped(dir, key, marker, 'bwrap');
    g.proc.kill('SIGKILL');
    await new Promise((r) => g.proc.once('exit', r));
    await untilTrue(() => running(marker).length === 0, 'the sandbox went with Gantry: nothing left running');
  });
});
