import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engines } from '../helpers/engines.js';
import { startGantry, type GantryProcess } from '../helpers/gantry-process.js';

/**
 * A crash loses no acknowledged job: `gantry serve` is killed with SIGKILL in the middle of a
 * submit / claim / complete load and started again on the same store. Every job whose submit
 * was answered exists afterwards and ends done; no job is reported done twice.
 */
for (const engine of engines) {
  describe(`queue durability on ${engine.name}`, { skip: engine.skip }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'gantry-qd-'));
    let g: GantryProcess | undefined;
    after(async () => {
      await g?.stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });

    test('SIGKILL during load, restart: every acknowledged job ends exactly once', async () => {
      const db = await engine.create();
      const key = 'durability-key-0123456789abcdef0123456789';
      // Thousands of status checks at once from one key: per-key limits would answer some with 429.
      const args = ['--data-dir', dir, '--database', db.url, '--rate-limit', '0'];
      const env = { GANTRY_ADMIN_KEY: key };
      g = await startGantry(args, env);
      const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
      const post = (path: string, body: object) => fetch(`${g!.url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
      assert.equal((await post('/v1/deployments', { name: 'jobs', image: 'img:1', gpu_type: 'none', command: ['true'], min_replicas: 0 })).status, 200);

      const acknowledged = new Set<string>();
      const doneAcks = new Map<string, number>();
      let submitting = true;
      let working = true;
      const submitter = async () => {
        for (let i = 0; submitting; i++) {
          try {
            const res = await post('/v1/queue/submit', { model: 'jobs', payload: { i } });
            if (res.status === 200) acknowledged.add(((await res.json()) as { requestId: string }).requestId);
          } catch {
            await new Promise((r) => setTimeout(r, 20)); // Gantry is down: try again shortly
          }
        }
      };
      const worker = async () => {
        while (working) {
          try {
            const res = await fetch(`${g!.url}/internal/v1/queue/retrieve?model=jobs&timeout=200ms&hostname=w&claim_timeout=1`, { headers });
            const job = ((await res.json()) as { data: { request_id: string } | null }).data;
            if (!job) continue;
            const done = await post('/internal/v1/videos/status', { model: 'jobs', request_id: job.request_id, status: 'done', payload: { by: 'w' } });
            await done.arrayBuffer();
            if (done.status === 200) doneAcks.set(job.request_id, (doneAcks.get(job.request_id) ?? 0) + 1);
          } catch {
            await new Promise((r) => setTimeout(r, 20));
          }
        }
      };
      const load = [submitter(), submitter(), worker(), worker(), worker()];
      await new Promise((r) => setTimeout(r, 1500));
      const before = acknowledged.size;
      assert.equal(await g.stop('SIGKILL'), null, 'killed, not exited');
      g = await startGantry(args, env);
      await new Promise((r) => setTimeout(r, 1000));
      submitting = false;

      // Every acknowledged job reaches a terminal state (claims cut off by the kill lapse after 1 s and are retried).
      const statusOf = async (id: string) => {
        const res = await fetch(`${g!.url}/v1/queue/status?model=jobs&request_id=${id}`, { headers });
        return ((await res.json()) as { status: string }).status;
      };
      const deadline = Date.now() + 60_000;
      let open = [...acknowledged];
      while (open.length && Date.now() < deadline) {
        const states = await Promise.all(open.map(statusOf));
        open = open.filter((_, i) => !['done', 'failed', 'canceled'].includes(states[i]!));
        if (open.length) await new Promise((r) => setTimeout(r, 200));
      }
      working = false;
      await Promise.all(load);
      assert.ok(before > 0 && acknowledged.size > before, `jobs were submitted before (${before}) and after the kill (${acknowledged.size})`);
      assert.deepEqual(open, [], 'every acknowledged job ended');
      const states = await Promise.all([...acknowledged].map(statusOf));
      assert.deepEqual(new Set(states), new Set(['done']), 'every job ended done');
      const twice = [...doneAcks].filter(([, n]) => n > 1);
      assert.deepEqual(twice, [], 'no job was completed twice');
      await g.stop();
      g = undefined;
      await db.drop();
    });
  });
}
