import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '../helpers/app.js';
import { apiCaller, runGantry, startGantry, type GantryProcess, workerDeployment } from '../helpers/gantry-process.js';
import { bwrapSkip } from '../helpers/runtime.js';

/**
 * The attack reported in issue 14, rerun: a replica of project team-b tries to read Gantry's
 * data dir (admin key, secret key, database), list other replicas' folders and read another
 * project's replica's environment (its decrypted secret) through /proc. In bubblewrap it reads
 * nothing of it.
 */
const VICTIM_TOKEN = 'hf_victim_token_9d8c7b6a5f4e3d2c1b0a';

describe('tenant isolation on the process runtime (bubblewrap)', { skip: bwrapSkip() }, () => {
  let dir: string;
  let g: GantryProcess;
  const adminKey = 'sandbox-test-admin-key-0123456789abcdef0123';
  const admin = apiCaller(() => g.url, adminKey);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gantry-sandbox-'));
    g = await startGantry(['--data-dir', dir, '--sandbox', 'bwrap'], { GANTRY_ADMIN_KEY: adminKey });
  });
  after(async () => {
    await g?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Host pids of processes whose environment holds the victim's token (the test runs as Gantry's user and can see them). */
  const victimPids = () =>
    readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          return readFileSync(`/proc/${p}/environ`, 'latin1').includes(VICTIM_TOKEN);
        } catch {
          return false;
        }
      });

  test("another project's replica reads none of Gantry's files, keys or database, nor the victim's environment", async () => {
    assert.equal((await admin('POST', '/v1/deployments/secrets', { name: 'hf', value: VICTIM_TOKEN })).status, 200);
    const victim = await admin('POST', '/v1/deployments', {
      ...workerDeployment('victim'),
      environment_variables: [{ name: 'HF_TOKEN', value_from_secret: 'hf' }],
    });
    assert.equal(victim.status, 200, JSON.stringify(victim.body));
    await eventually(
      () => admin('GET', '/v1/deployments/victim'),
      (r) => r.body.status === 'Ready',
      20_000,
    );
    const pids = victimPids();
    assert.ok(pids.length > 0, 'the victim runs with its token in its environment');

    const create = runGantry(['keys', 'create', '--project', 'team-b', '--data-dir', dir]);
    assert.equal(await create.exited, 0, create.output());
    const teamB = apiCaller(() => g.url, /created key \S+ for project team-b:\n(\S+)/.exec(create.output())![1]!);
    const attack = [
      'id',
      `cat ${dir}/admin.key ${dir}/secret.key`,
      `head -c 200 ${dir}/gantry.db`,
      `ls -R ${dir}`,
      ...pids.map((p) => `tr '\\0' '\\n' < /proc/${p}/environ`),
      'ps -e -o pid,args',
      'echo attack-done',
      'sleep 600',
    ].join('; ');
    const created = await teamB('POST', '/v1/deployments', { name: 'attack', image: 'local/sh', gpu_type: 'none', command: ['sh', '-c', attack] });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const logs = await eventually(
      () => teamB('GET', '/v1/deployments/attack/logs'),
      (r) => (r.body.lines ?? []).includes('attack-done'),
      20_000,
    );
    const out = (logs.body.lines as string[]).join('\n');
    assert.match(out, /uid=65534\(nobody\)/, 'not root, not Gantry’s user');
    assert.ok(!out.includes(adminKey), 'the admin key stays hidden');
    assert.ok(!out.includes(readFileSync(join(dir, 'secret.key'), 'utf8').trim()), 'the secret key stays hidden');
    assert.ok(!out.includes('SQLite format'), 'the database stays hidden');
    assert.ok(!out.includes(VICTIM_TOKEN), "the other project's secret stays hidden");
    assert.ok(!out.includes(victim.body.id), "the other project's replica folder stays hidden");
    assert.doesNotMatch(out, /worker\.js/, "the other project's processes are not even listed");
    assert.match(out, /No such file or directory/);
  });
});
