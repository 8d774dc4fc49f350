import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { eventually } from '../helpers/app.js';
import { postgres } from '../helpers/engines.js';
import { apiCaller, runGantry, startGantry, workerDeployment, type GantryProcess } from '../helpers/gantry-process.js';

/**
 * Several `gantry serve` processes on one PostgreSQL, the process runtime, one machine and one
 * data dir (the configuration that runtime supports): one leads, every one serves the API and
 * the gateway, and work put in through one reaches the others at once.
 */
describe('several instances on one PostgreSQL (process runtime)', { skip: postgres.skip }, () => {
  const key = 'cluster-test-key-0123456789abcdef0123456789';
  const dir = mkdtempSync(join(tmpdir(), 'gantry-cluster-'));
  let db: Awaited<ReturnType<typeof postgres.create>>;
  const instances: GantryProcess[] = [];
  const args = () => ['--data-dir', dir, '--database', db.url, '--leader-lease-seconds', '2', '--rate-limit', '0'];
  const env = { GANTRY_ADMIN_KEY: key };
  const health = async (g: GantryProcess) => (await (await fetch(`${g.url}/health`)).json()) as { status: string; leader: boolean };
  const callers = () => instances.map((g) => apiCaller(() => g.url, key));
  /** Replica processes of a deployment running on this machine, whoever started them: their working directories are its replicas' dirs. */
  const replicaProcesses = (deploymentId: string) => {
    const under = join(dir, 'replicas', deploymentId) + '/';
    const dirs = new Set<string>();
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      try {
        const cwd = readlinkSync(`/proc/${pid}/cwd`);
        if (cwd.startsWith(under)) dirs.add(cwd);
      } catch {
        // gone meanwhile, or not ours to read
      }
    }
    return dirs.size;
  };
  /** The instances other than `except` that lead now (-1: none yet). */
  const leaderIndexAmongRunning = (except: number) => async () =>
    (await Promise.all(instances.map(async (g, i) => (i === except ? false : (await health(g)).leader)))).indexOf(true);
  const leaderIndex = async () => (await Promise.all(instances.map(async (g) => (g.proc.exitCode === null ? (await health(g)).leader : false)))).indexOf(true);

  before(async () => {
    db = await postgres.create();
    // One after the other: the first leads (its data dir's files are made once).
    for (let i = 0; i < 3; i++) instances.push(await startGantry(args(), env));
  });
  after(async () => {
    if (instances[0]) await apiCaller(() => instances.find((g) => g.proc.exitCode === null)!.url, key)('DELETE', '/v1/deployments/web');
    for (const g of instances) await g.stop();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('one instance leads; /health and /metrics say which', async () => {
    const leaders = await Promise.all(instances.map(async (g) => (await health(g)).leader));
    assert.deepEqual(leaders, [true, false, false], 'the first to start leads');
    for (const [i, g] of instances.entries()) {
      const metrics = await (await fetch(`${g.url}/metrics`)).text();
      assert.match(metrics, new RegExp(`^gantry_leader ${i === 0 ? 1 : 0}$`, 'm'));
    }
  });

  test('a deployment made through a follower runs once and is served by every instance, logs included', async () => {
    const [, viaB, viaC] = callers();
    const created = await viaB!('POST', '/v1/deployments', workerDeployment('web', { min_replicas: 2, max_replicas: 2 }));
    assert.equal(created.status, 200, JSON.stringify(created.body));
    // The follower's API shows what the leader's runtime runs.
    const ready = await eventually(
      () => viaC!('GET', '/v1/deployments/web'),
      (r) => r.body.ready_replicas === 2,
      20000,
    );
    assert.equal(ready.body.ready_replicas, 2, JSON.stringify(ready.body));
    for (const g of instances) {
      const res = await fetch(`${g.url}/v1/deployment-request/web/hello`, { headers: { authorization: `Bearer ${key}` } });
      assert.equal(res.status, 200, `the gateway of ${g.url} reaches the replicas: ${await res.text()}`);
    }
    assert.equal(replicaProcesses(ready.body.id), 2, 'two replicas run, not one per instance');
    const logs = await viaC!('GET', '/v1/deployments/web/logs');
    assert.equal(logs.status, 200);
    assert.ok(logs.body.lines.length > 0, 'a follower answers logs from the leader');
  });

  test('a job submitted through one instance wakes a worker long-polling on another', async () => {
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const [a, b] = instances;
    assert.equal(
      (await callers()[0]!('POST', '/v1/deployments', { name: 'jobs', image: 'img:1', gpu_type: 'none', command: ['true'], min_replicas: 0 })).status,
      200,
    );
    // What the instances say to each other, heard as any PostgreSQL client would.
    const listener = new pg.Client(db.url);
    await listener.connect();
    const heard: string[] = [];
    listener.on('notification', (n) => heard.push(n.payload ?? ''));
    await listener.query('LISTEN gantry_jobs');
    try {
      const claim = fetch(`${b!.url}/internal/v1/queue/retrieve?model=jobs&timeout=20s&hostname=w`, { headers });
      await new Promise((r) => setTimeout(r, 300));
      const submitted = await fetch(`${a!.url}/v1/queue/submit`, { method: 'POST', headers, body: JSON.stringify({ model: 'jobs', payload: { n: 1 } }) });
      const { requestId } = (await submitted.json()) as { requestId: string };
      const job = ((await (await claim).json()) as { data: { request_id: string } | null }).data;
      assert.equal(job?.request_id, requestId, 'the worker waiting on B got the job submitted through A');
      assert.ok(
        heard.some((p) => p.endsWith('/jobs')),
        `the submit was announced to every instance (NOTIFY gantry_jobs), not left to their re-check of the queue: ${JSON.stringify(heard)}`,
      );
    } finally {
      await listener.end();
    }
  });

  test('a request held on a follower wakes a deployment at zero, though the leader is another instance', async () => {
    const [viaA] = callers();
    const created = await viaA!(
      'POST',
      '/v1/deployments',
      workerDeployment('sleepy', { min_replicas: 0, max_replicas: 1, autoscaling: { metric: 'HTTPTotalRequests', target: 100 } }),
    );
    assert.equal(created.status, 200);
    assert.equal(created.body.desired_replicas, 0);
    const follower = instances[(await leaderIndex()) === 0 ? 1 : 0]!;
    const res = await fetch(`${follower.url}/v1/deployment-request/sleepy/echo`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(res.status, 200, `held on the follower until the leader's autoscaler woke the deployment: ${await res.text()}`);
    await viaA!('DELETE', '/v1/deployments/sleepy');
  });

  test('the autoscaler sizes on the traffic of every instance: load on followers scales as the same load on the leader', async () => {
    const [viaA] = callers();
    const autoscaled = (name: string) =>
      workerDeployment(name, { min_replicas: 1, max_replicas: 8, autoscaling: { metric: 'HTTPTotalRequests', target: 2, time_interval_minutes: 1 } });
    /**
     * About 12 requests a second (6 replicas' worth at 2 each; fewer on a loaded machine) for
     * `seconds`, spread over `through`; answers the most replicas asked for meanwhile. Half the
     * load still asks for 3: that is the bound checked, so a slow machine does not fail it.
     */
    const load = async (name: string, through: GantryProcess[], seconds: number) => {
      assert.equal((await viaA!('POST', '/v1/deployments', autoscaled(name))).status, 200);
      await eventually(
        () => viaA!('GET', `/v1/deployments/${name}`),
        (r) => r.body.ready_replicas === 1,
        20000,
      );
      let most = 0;
      const sent: Promise<unknown>[] = [];
      for (let i = 0; i < seconds * 12; i++) {
        const g = through[i % through.length]!;
        sent.push(fetch(`${g.url}/v1/deployment-request/${name}/hello`, { headers: { authorization: `Bearer ${key}` } }).then((r) => r.arrayBuffer()));
        await new Promise((r) => setTimeout(r, 1000 / 12));
        if (i % 12 === 0) most = Math.max(most, (await viaA!('GET', `/v1/deployments/${name}`)).body.desired_replicas);
      }
      await Promise.all(sent);
      return Math.max(most, (await viaA!('GET', `/v1/deployments/${name}`)).body.desired_replicas);
    };
    const leader = instances[await leaderIndex()]!;
    const followers = instances.filter((g) => g !== leader);
    const onLeader = await load('on-leader', [leader], 8);
    const onFollowers = await load('on-followers', followers, 8);
    const split = await load('split', [leader, followers[0]!], 8);
    for (const name of ['on-leader', 'on-followers', 'split']) await viaA!('DELETE', `/v1/deployments/${name}`);
    assert.ok(onLeader >= 3, `load through the leader asks for 3 replicas or more (got ${onLeader})`);
    assert.ok(onFollowers >= 3, `the same load through the two followers only, which the leader never sees itself (got ${onFollowers})`);
    assert.ok(split >= 3, `the same load split between the leader and a follower (got ${split})`);
  });

  test('a leader that stalls past its lease is replaced, and stops acting before it acts again (fencing)', async () => {
    const id = (await callers()[1]!('GET', '/v1/deployments/web')).body.id as string;
    const stalled = await leaderIndex();
    const g = instances[stalled]!;
    g.proc.kill('SIGSTOP');
    try {
      // Another takes over once the lease (2 s) has passed without a renewal, and runs the replicas itself.
      const next = await eventually(leaderIndexAmongRunning(stalled), (i) => i >= 0, 20000);
      assert.ok(next >= 0 && next !== stalled, 'another instance leads');
      const served = await eventually(
        () => callers()[next]!('GET', '/v1/deployments/web'),
        (r) => r.body.ready_replicas === 2,
        20000,
      );
      assert.equal(served.body.ready_replicas, 2);
    } finally {
      g.proc.kill('SIGCONT');
    }
    // Back, it finds its lease gone the moment it runs again: it says it does not lead and starts nothing.
    const back = await eventually(
      () => health(g),
      (h) => !h.leader,
      5000,
    );
    assert.equal(back.leader, false);
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(replicaProcesses(id), 2, 'still two replicas: the stalled leader did not restart the ones the new leader replaced');
    assert.equal((await Promise.all(instances.map(async (i) => (await health(i)).leader))).filter(Boolean).length, 1, 'one leader');
  });

  test('an instance with the process runtime and another data dir is refused, saying why', async () => {
    const other = mkdtempSync(join(tmpdir(), 'gantry-cluster-other-'));
    const { output, exited } = runGantry(['serve', '--listen', '127.0.0.1:0', '--data-dir', other, '--database', db.url], env);
    assert.equal(await exited, 2, output());
    assert.match(output(), /several instances with the process runtime must run on one machine with one --data-dir/);
    rmSync(other, { recursive: true, force: true });
  });
});
