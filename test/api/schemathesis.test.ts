import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * A sample of the schemathesis run (`npm run fuzz:schemathesis`; the full one makes over 100,000
 * requests): every operation of /openapi.json with generated and boundary inputs, no response
 * a 5xx, and the server still up afterwards.
 */
const st = process.env.GANTRY_SCHEMATHESIS ?? join(homedir(), '.cache', 'gantry-schemathesis-venv', 'bin', 'st');
const skip = existsSync(st)
  ? false
  : `no schemathesis at ${st} (.ci/run installs it: python3 -m venv ~/.cache/gantry-schemathesis-venv, pip install schemathesis)`;

test('schemathesis finds no 5xx on any operation, and gantry stays up', { skip }, () => {
  const r = spawnSync(process.execPath, ['scripts/schemathesis.mjs', '3'], { encoding: 'utf8', timeout: 240_000 });
  const out = r.stdout + r.stderr;
  assert.equal(r.status, 0, out.slice(-4000));
  const m = /schemathesis: (\d+) requests, exit 0; gantry afterwards: up/.exec(out);
  assert.ok(m && Number(m[1]) > 1000, out.slice(-2000));
});
