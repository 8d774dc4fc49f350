import { findBwrap, probeBwrap } from '../../src/runtime/process/sandbox.js';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import type { ReplicaState, RevisionSpec, RuntimeDriver } from '../../src/contract/runtime.js';

/** Replica timings for tests: probes and backoff fast enough that a test waits milliseconds, not seconds. */
export const FAST_REPLICAS = { probeIntervalMs: 50, probeTimeoutMs: 500, baseBackoffMs: 100, maxBackoffMs: 400 };

/** A revision of the fixture worker with small resources; tests override what they exercise. */
export function revisionSpec(extra: Partial<RevisionSpec> & Pick<RevisionSpec, 'revisionId' | 'image'>): RevisionSpec {
  return {
    deploymentId: 'dep_1',
    deploymentName: 'echo',
    command: [],
    args: [],
    env: { GREETING: 'hi' },
    cpu: 0.5,
    memoryGiB: 0.25,
    storageGiB: 1,
    gpuType: 'none',
    gpuCount: 0,
    port: 8000,
    healthCheckPath: '/health',
    volumes: [],
    terminationGracePeriodSeconds: 2,
    ...extra,
  };
}

/** Waits until the driver's view of a deployment satisfies `ok`; fails naming `what` and the last view. */
export async function untilReplicas(
  driver: RuntimeDriver,
  ok: (rs: ReplicaState[]) => boolean,
  what: string,
  deploymentId = 'dep_1',
  ms = 15000,
): Promise<ReplicaState[]> {
  const end = Date.now() + ms;
  for (;;) {
    const rs = driver.observe(deploymentId);
    if (ok(rs)) return rs;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}: ${JSON.stringify(rs)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits until `ok` holds (a process to appear or go, output to reach a log); fails naming `what`. */
export async function untilTrue(ok: () => boolean | Promise<boolean>, what: string, ms = 10_000) {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A maker of temporary directories named `prefix…`, all removed when the calling test file ends. */
export function tempDirs(prefix: string): () => string {
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  return () => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };
}

/** Why process replicas cannot be sandboxed here (bwrap missing or refused its namespaces), or false when they can. */
export function bwrapSkip(): string | false {
  const bwrap = findBwrap();
  if (!bwrap) return "bwrap is not installed (Debian's bubblewrap; .ci/run installs it)";
  const why = probeBwrap(bwrap);
  return why === null ? false : `bubblewrap cannot make its namespaces here: ${why}`;
}
