import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { assertMatchesContract } from '../helpers/contract.js';
import { serveWithClient, stopServed, type ServedGantry } from '../helpers/gantry-process.js';

/**
 * Together's official Python SDK (`together` from PyPI, in the virtual environment `.ci/run`
 * makes) drives a real `gantry serve --demo`: secrets, volumes, a deployment with its logs and
 * queue, hardware, an endpoint and chat completions (plain and streamed). Every response the
 * contract describes is checked against it.
 */
const python = process.env.GANTRY_TEST_PYTHON_SDK;
const skip = python ? undefined : (process.env.GANTRY_TEST_PYTHON_SDK_SKIP ?? 'GANTRY_TEST_PYTHON_SDK is not set (npm test sets it when the venv exists)');
const script = fileURLToPath(new URL('../fixtures/python_sdk_calls.py', import.meta.url));
const worker = fileURLToPath(new URL('../../examples/hello-worker/server.js', import.meta.url));

describe("Together's Python SDK against gantry serve", { ...(skip ? { skip } : {}) }, () => {
  let served: ServedGantry;
  before(async () => {
    served = await serveWithClient('gantry-py-sdk-', (d) => ['--data-dir', d, '--demo']);
  });
  after(() => stopServed(served));

  test('every call succeeds, and each response the contract describes matches it', () => {
    // This SDK (3.x) takes the server's root as its base URL and adds /v1 itself.
    const r = spawnSync(python!, [script, served.g.url, served.key, worker], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    const calls = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { call: string; contract: [string, string] | null; body: any });
    const byCall = new Map(calls.map((c) => [c.call, c.body]));
    for (const c of calls) if (c.contract) assertMatchesContract(c.contract[0], c.contract[1], c.body);

    assert.ok(!JSON.stringify(byCall.get('secrets.create')).includes('py-secret-value'), 'a secret value never comes back');
    assert.equal(byCall.get('jig.retrieve').status, 'Ready');
    assert.equal(byCall.get('jig.update').description, 'changed from python');
    assert.deepEqual(
      byCall.get('jig.list_revisions').data.map((e: { action: string; revision_number: number }) => [e.action, e.revision_number]),
      [['create', 1]],
    );
    assert.equal(byCall.get('jig.retrieve_revision').image, 'local/hello:1');
    assert.equal(byCall.get('jig.rollback').status, 'Ready');
    assert.ok(
      byCall.get('jig.retrieve_logs').lines.some((l: string) => /py-hello .* listening on \d+/.test(l)),
      JSON.stringify(byCall.get('jig.retrieve_logs')),
    );
    assert.ok(
      byCall.get('jig.with_streaming_response.retrieve_logs').lines.some((l: string) => /py-hello .* listening on \d+/.test(l)),
      JSON.stringify(byCall.get('jig.with_streaming_response.retrieve_logs')),
    );
    assert.ok(byCall.get('get /models').some((m: { id: string }) => m.id === 'Qwen/Qwen2.5-7B-Instruct'));
    assert.ok(Array.isArray(byCall.get('get /jobs').data));
    assert.equal(byCall.get('queue.retrieve').status, 'pending');
    assert.equal(byCall.get('queue.cancel').status, 'canceled');
    assert.ok(byCall.has('secrets.delete') && byCall.has('volumes.delete') && byCall.has('jig.destroy'), 'DELETE with the SDK works');
    assert.match(byCall.get('chat.completions.create').choices[0].message.content, /^Hello from default\/Qwen/);
    assert.match(byCall.get('chat.completions.create(stream)').text, /^Hello from default\/Qwen/);
  });
});
