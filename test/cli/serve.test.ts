import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import pg from 'pg';
import { join } from 'node:path';
import { eventually } from '../helpers/app.js';
import { runGantry, startGantry } from '../helpers/gantry-process.js';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'gantry-cli-'));
  dirs.push(d);
  return d;
};
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const get = (url: string, key?: string) => fetch(url, { headers: key ? { authorization: `Bearer ${key}` } : {} });

describe('gantry serve', () => {
  test('port 0 picks a free port, prints it, writes the admin key once with mode 0600, and exits cleanly on SIGTERM', async () => {
    const dir = tempDir();
    const first = await startGantry(['--data-dir', dir]);
    assert.match(first.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const keyPath = join(dir, 'admin.key');
    assert.equal(statSync(keyPath).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'secret.key')).mode & 0o777, 0o600);
    assert.equal(statSync(dir).mode & 0o777, 0o700, "only Gantry's user enters the data dir");
    for (const f of ['gantry.db', 'gantry.db-wal']) if (existsSync(join(dir, f))) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
    const key = readFileSync(keyPath, 'utf8').trim();
    assert.ok(first.output().includes(key), 'the new admin key is printed');
    assert.equal((await get(`${first.url}/v1/deployments`, key)).status, 200);
    assert.equal(await first.stop('SIGTERM'), 0);

    const second = await startGantry(['--data-dir', dir]);
    assert.ok(!second.output().includes(key), 'the key is printed only on first start');
    assert.equal((await get(`${second.url}/v1/deployments`, key)).status, 200, 'data and keys survive a restart');
    assert.equal(await second.stop('SIGINT'), 0);
  });

  test('GANTRY_ADMIN_KEY becomes the admin key; flags win over environment, environment over the config file', async () => {
    const dir = tempDir();
    const config = join(dir, 'gantry.json');
    writeFileSync(config, JSON.stringify({ listen: '127.0.0.1:1', data_dir: join(dir, 'from-file'), log_level: 'warn' }));
    const g = await startGantry(['--config', config, '--listen', '127.0.0.1:0'], {
      GANTRY_ADMIN_KEY: 'my-admin-key-123-0123456789abcdef0123456789',
      GANTRY_DATA_DIR: join(dir, 'from-env'),
    });
    assert.equal((await get(`${g.url}/v1/deployments`, 'my-admin-key-123-0123456789abcdef0123456789')).status, 200);
    assert.ok(statSync(join(dir, 'from-env', 'gantry.db')).isFile(), 'the environment beat the config file');
    assert.throws(() => statSync(join(dir, 'from-env', 'admin.key')), 'no key file when the key comes from the environment');
    await g.stop();
  });

  test('invalid configuration fails at start with a message naming the setting', async () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['serve', '--listen', 'nonsense'], {}, /--listen: 'nonsense' is not HOST:PORT/],
      [['serve'], { GANTRY_LISTEN: '127.0.0.1:99999' }, /GANTRY_LISTEN/],
      [['serve', '--database', 'mysql://x'], {}, /--database: 'mysql:\/\/x' is not a database URL/],
      [['serve'], { GANTRY_LOG_LEVEL: 'loud' }, /GANTRY_LOG_LEVEL: log level 'loud'/],
      [['serve'], { GANTRY_SECRET_KEY: 'short' }, /GANTRY_SECRET_KEY/],
      [
        ['serve', '--runtime', 'docker', '--docker-host', 'unix:///nonexistent.sock'],
        {},
        /docker runtime needs the Docker Engine API .*cannot reach the container engine at unix:\/\/\/nonexistent\.sock/,
      ],
      [['serve', '--runtime', 'docker'], { DOCKER_HOST: 'ssh://box' }, /DOCKER_HOST: 'ssh:\/\/box' is not unix:\/\/\/PATH or tcp:\/\/HOST:PORT/],
      [['serve', '--runtime', 'lxc'], {}, /--runtime: runtime 'lxc' is not one of process, docker/],
      [
        ['serve', '--runtime', 'docker', '--registry-auth', '/nonexistent/config.json'],
        {},
        /registry credentials \/nonexistent\/config\.json \(--registry-auth\): ENOENT/,
      ],
      [['serve'], { GANTRY_HOLD_MAX: '-1' }, /GANTRY_HOLD_MAX: must be a whole number, at least 0/],
      [['serve', '--hold-timeout', '0'], {}, /--hold-timeout: must be a whole number, at least 1/],
      [['serve', '--idle-grace', 'soon'], {}, /--idle-grace: must be a whole number/],
      [['serve'], { GANTRY_RECONCILE_CONCURRENCY: '0' }, /GANTRY_RECONCILE_CONCURRENCY: must be a whole number, at least 1/],
      [['serve', '--fetch-allow', '10.0.0.0/33'], {}, /--fetch-allow: '10\.0\.0\.0\/33' is not an IP address or a CIDR range/],
      [['serve'], { GANTRY_GPUS: 'h100' }, /GANTRY_GPUS: 'h100' is not TYPE:COUNT/],
      [['serve', '--gpus', 'h100:2'], {}, /--gpus: 'h100' is not a GPU type a deployment can ask for \(one of h100-80gb, /],
      [['serve'], { GANTRY_ADMIN_KEY: 'short' }, /GANTRY_ADMIN_KEY: an admin key must be at least 32 characters \(got 5\)/],
      [['serve', '--admin-key', 'x'.repeat(31)], {}, /--admin-key: an admin key must be at least 32 characters/],
      [['serve', '--demo', '--runtime', 'docker'], {}, /--demo .* use it with --runtime process/],
      [['serve', '--demo', 'maybe'], {}, /--demo: 'maybe' is not on or off/],
      [['serve', '--public-url', 'ftp://x'], {}, /--public-url: 'ftp:\/\/x' is not a base URL/],
      [['serve', '--tls', 'yes'], {}, /--tls: 'yes' is not self-signed or off/],
      [['serve', '--tls-cert', '/nonexistent.pem'], {}, /--tls-cert and --tls-key .* go together/],
      [['serve'], { GANTRY_TLS_CERT: '/nonexistent.pem', GANTRY_TLS_KEY: '/nonexistent.key' }, /--tls-cert \/nonexistent\.pem: ENOENT/],
      [['serve', '--sandbox', 'chroot'], {}, /--sandbox: sandbox 'chroot' is not one of auto, bwrap, none/],
      // Without bwrap on the PATH, --sandbox bwrap refuses to run replicas unsandboxed.
      [['serve', '--sandbox', 'bwrap'], { PATH: '/nonexistent' }, /--sandbox bwrap \(GANTRY_SANDBOX\): cannot sandbox replicas here: bwrap is not installed/],
      [['serve', '--rate-limit', '-5'], {}, /--rate-limit: must be a whole number, at least 0/],
      [['serve'], { GANTRY_METRICS_LISTEN: 'everywhere' }, /GANTRY_METRICS_LISTEN: 'everywhere' is not HOST:PORT/],
      [['secrets', 'rotate-key'], { GANTRY_SECRET_KEY: 'a'.repeat(64) }, /this command rotates the data dir's secret\.key only/],
      [['serve', '--registry', '127.0.0.1:0'], {}, /--registry: the registry needs a fixed port \(images are named by it\), not 0/],
      [['serve', '--registry', 'nowhere'], {}, /--registry: 'nowhere' is not HOST:PORT/],
      // An explicit registry that cannot run stops Gantry (the default would carry on without one).
      [['serve', '--registry', '127.0.0.1:5999'], { PATH: '/nonexistent' }, /--registry \(GANTRY_REGISTRY\): docker-registry is not installed/],
      [['serve', '--runtime', 'kubernetes', '--namespace', 'Team_A'], {}, /--namespace: 'Team_A' is not a Kubernetes namespace name/],
      [['serve', '--runtime', 'kubernetes', '--kubeconfig', '/nonexistent/kubeconfig'], {}, /the kubernetes runtime cannot reach its cluster \(--kubeconfig/],
      [['serve', '--job-retention-days', '-1'], {}, /--job-retention-days: must be a whole number, at least 0/],
    ];
    const configFile = (content: object) => {
      const path = join(tempDir(), 'gantry.json');
      writeFileSync(path, JSON.stringify(content));
      return path;
    };
    cases.push(
      [['serve', '--config', configFile({ lisen: '127.0.0.1:1' })], {}, /config file .*: unknown setting 'lisen' \(known: data_dir, database_url, listen, /],
      [['serve', '--config', configFile({ models: [{ id: 'x', type: 'chat' }] })], {}, /config file .*: models\.0 must have required property 'memory_gb'/],
      [['serve', '--config', configFile({ engine: { comand: ['x'] } })], {}, /config file .*: unknown setting 'engine\.comand'/],
      [['serve', '--config', configFile({ gpu_prices: { 'h100-80gb': -1 } })], {}, /config file .*: gpu_prices\.h100-80gb must be >= 0/],
    );
    // Four at a time: each is a process start, and none depends on another.
    const check = async ([args, env, message]: (typeof cases)[number]) => {
      const run = runGantry([...args, '--data-dir', tempDir()], env);
      assert.equal(await run.exited, 2, run.output());
      assert.match(run.output(), message);
    };
    for (let i = 0; i < cases.length; i += 4) await Promise.all(cases.slice(i, i + 4).map(check));
  });

  test('--admin-key and --secret-key are flags like every setting the README names', async () => {
    const dir = tempDir();
    const key = 'flag-admin-key-0123456789abcdef0123456789';
    const g = await startGantry(['--data-dir', dir, '--admin-key', key, '--secret-key', 'ab'.repeat(32)], {
      GANTRY_ADMIN_KEY: 'env-admin-key-0123456789abcdef0123456789',
    });
    assert.equal((await get(`${g.url}/v1/deployments`, key)).status, 200, 'the flag beat the environment');
    assert.throws(() => statSync(join(dir, 'secret.key')), 'no generated secret key when one is given');
    await g.stop();
    const help = runGantry(['serve', '--help']);
    await help.exited;
    for (const flag of ['--admin-key', '--secret-key', '--demo', '--gpus', '--tls-cert']) assert.ok(help.output().includes(flag), `serve --help lists ${flag}`);
  });

  test('a busy port says so and suggests --listen', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const { port } = blocker.address() as AddressInfo;
    const run = runGantry(['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', tempDir()]);
    assert.equal(await run.exited, 2, run.output());
    assert.match(run.output(), new RegExp(`127\\.0\\.0\\.1:${port} is already in use .*--listen`));
    assert.ok(!run.output().includes('setupListenHandle'), 'no stack trace');
    blocker.close();
  });

  test('gantry keys refuses a data dir without a database and project names that are not names', async () => {
    const list = runGantry(['keys', 'list', '--data-dir', join(tempDir(), 'typo')]);
    assert.equal(await list.exited, 2);
    assert.match(list.output(), /no Gantry database at .*typo\/gantry\.db: run `gantry serve` once/);
    assert.throws(() => statSync(join(tempDir(), 'typo')), 'nothing was created');
    for (const project of ['', '../../etc', 'x y']) {
      const create = runGantry(['keys', 'create', '--project', project, '--data-dir', tempDir()]);
      assert.equal(await create.exited, 2, create.output());
      assert.match(create.output(), /--project: '.*' is not a project name \(1–100 letters, digits, - and _\)/);
    }
  });

  test('gantry doctor says what each runtime needs; a check asked for that fails is exit 1', async () => {
    const run = runGantry(['doctor']);
    assert.equal(await run.exited, 0, run.output());
    for (const section of ['process runtime', 'GPUs:', 'docker runtime', 'PostgreSQL', 'image registry'])
      assert.ok(run.output().includes(section), run.output());
    const asked = runGantry(['doctor', '--docker-host', 'unix:///nonexistent.sock']);
    assert.equal(await asked.exited, 1, asked.output());
    assert.match(asked.output(), /FAIL {2}no Docker Engine API at unix:\/\/\/nonexistent\.sock/);
    const unreachable = runGantry(['doctor', '--database', 'postgres://nobody@127.0.0.1:9/none']);
    assert.equal(await unreachable.exited, 1, unreachable.output());
    assert.match(unreachable.output(), /FAIL {2}cannot open postgres:\/\/…@127\.0\.0\.1:9\/none/, 'the user is not shown');
    const pgUrl = process.env.GANTRY_TEST_POSTGRES_URL;
    if (pgUrl) {
      const reachable = runGantry(['doctor', '--database', pgUrl]);
      assert.equal(await reachable.exited, 0, reachable.output());
      assert.match(reachable.output(), /ok {4}postgres:\/\/…@.* reachable/);
      const client = new pg.Client({ connectionString: pgUrl });
      await client.connect();
      const { rows } = await client.query("SELECT to_regclass('schema_migrations') AS t");
      await client.end();
      assert.equal(rows[0].t, null, 'doctor made no schema in the database it checked');
    }
  });

  test('gantry keys create, list and revoke work on the same data dir as a running server', async () => {
    const dir = tempDir();
    const g = await startGantry(['--data-dir', dir]);
    const create = runGantry(['keys', 'create', '--project', 'team-b', '--label', 'ci', '--data-dir', dir]);
    assert.equal(await create.exited, 0, create.output());
    const [, id, key] = /created key (\S+) for project team-b:\n(\S+)/.exec(create.output())!;
    assert.equal((await get(`${g.url}/v1/deployments`, key)).status, 200);

    const list = runGantry(['keys', 'list', '--data-dir', dir]);
    assert.equal(await list.exited, 0);
    assert.match(list.output(), /^ID\tPROJECT\tPREFIX\tSTATE\tLABEL$/m);
    assert.match(list.output(), new RegExp(`${id}\\tteam-b\\t`));
    assert.ok(!list.output().includes(key!), 'key values are never listed');

    const revoke = runGantry(['keys', 'revoke', id!, '--data-dir', dir]);
    assert.equal(await revoke.exited, 0);
    const refused = await eventually(
      () => get(`${g.url}/v1/deployments`, key),
      (r) => r.status === 401,
    );
    assert.equal(refused.status, 401, 'the running server refuses the revoked key once its key cache (1 s) expires');
    const again = runGantry(['keys', 'revoke', id!, '--data-dir', dir]);
    assert.equal(await again.exited, 1);
    await g.stop();
  });
});
