import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '../helpers/app.js';
import { apiCaller, runGantry, startGantry, type GantryProcess, workerDeployment } from '../helpers/gantry-process.js';

const dir = mkdtempSync(join(tmpdir(), 'gantry-rotate-'));
const key = 'rotate-test-admin-key-0123456789abcdef0123';
let g: GantryProcess | undefined;
after(async () => {
  await g?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('gantry secrets rotate-key re-seals every value under a new key while the server runs; the old key is then not needed', async () => {
  g = await startGantry(['--data-dir', dir], { GANTRY_ADMIN_KEY: key });
  const call = apiCaller(() => g!.url, key);
  assert.equal((await call('POST', '/v1/deployments/secrets', { name: 'before', value: 'sealed-before-rotation' })).status, 200);
  const deploy = (name: string, secret: string) =>
    call(
      'POST',
      '/v1/deployments',
      workerDeployment(name, {
        environment_variables: [
          { name: 'WRITE_ENV_FILE', value: '1' },
          { name: 'TOKEN', value_from_secret: secret },
        ],
      }),
    );
  /** TOKEN as the deployment's newest replica saw it. */
  const tokenOf = async (name: string) => {
    const d = await eventually(
      () => call('GET', `/v1/deployments/${name}`),
      (r) => r.body.status === 'Ready',
      20_000,
    );
    const base = join(dir, 'replicas', d.body.id);
    const files = readdirSync(base)
      .map((r) => join(base, r, 'env.json'))
      .filter(existsSync);
    return (JSON.parse(readFileSync(files.at(-1)!, 'utf8')) as { env: Record<string, string> }).env.TOKEN;
  };
  assert.equal((await deploy('one', 'before')).status, 200);
  assert.equal(await tokenOf('one'), 'sealed-before-rotation');
  const oldKey = readFileSync(join(dir, 'secret.key'), 'utf8');

  const rotate = runGantry(['secrets', 'rotate-key', '--data-dir', dir]);
  assert.equal(await rotate.exited, 0, rotate.output());
  assert.match(rotate.output(), /[1-9]\d* value\(s\) re-sealed/, 'the secret and the worker key');
  assert.notEqual(readFileSync(join(dir, 'secret.key'), 'utf8'), oldKey);
  assert.equal(readFileSync(join(dir, 'secret.key.previous'), 'utf8'), oldKey, 'the old key is kept for values sealed meanwhile');

  // The running server opens the re-sealed values and, once it has seen the new key, seals under it.
  await new Promise((r) => setTimeout(r, 4000));
  assert.equal((await call('POST', '/v1/deployments/secrets', { name: 'after', value: 'sealed-after-rotation' })).status, 200);
  assert.equal((await deploy('two', 'before')).status, 200);
  assert.equal(await tokenOf('two'), 'sealed-before-rotation');

  // Without the old key at all, everything still opens: nothing is left under it.
  await g.stop();
  rmSync(join(dir, 'secret.key.previous'));
  g = await startGantry(['--data-dir', dir], { GANTRY_ADMIN_KEY: key });
  assert.equal((await deploy('three', 'after')).status, 200);
  assert.equal(await tokenOf('three'), 'sealed-after-rotation');
  assert.equal(await tokenOf('one'), 'sealed-before-rotation', 'a replica started after the restart, from the re-sealed secret and worker key');
  const rotateAgain = runGantry(['secrets', 'rotate-key', '--data-dir', join(dir, 'nowhere')]);
  assert.notEqual(await rotateAgain.exited, 0);
  assert.match(rotateAgain.output(), /no secret key at/);
});
