import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { serveWithClient, stopServed, type ServedGantry } from '../helpers/gantry-process.js';

/**
 * The `together` CLI's commands (outside jig, which test/api/jig.test.ts drives) that concern
 * what Gantry serves, run against `gantry serve --demo`. `whoami` works (the CLI asks it before
 * every command). The `endpoints` and `models` commands of together 3.x call Together's newer
 * project-scoped v2 API, which Gantry does not serve: each must fail with Gantry's message
 * saying so, not a stack trace or a hang. The README's compatibility table lists the same.
 */
const sdkPython = process.env.GANTRY_TEST_PYTHON_SDK;
const skip = sdkPython ? undefined : (process.env.GANTRY_TEST_PYTHON_SDK_SKIP ?? 'GANTRY_TEST_PYTHON_SDK is not set (npm test sets it when the venv exists)');
const V2_REFUSAL = /Gantry serves Together's v1 API[\s\S]*not the v2 project-scoped API/;

describe("the together CLI's endpoint, model and identity commands against gantry serve", { ...(skip ? { skip } : {}) }, () => {
  let served: ServedGantry;
  let projectId = '';
  const together = (args: string[]) => {
    const r = spawnSync(join(dirname(sdkPython!), 'together'), [...args, '--no-json'], {
      encoding: 'utf8',
      timeout: 60_000,
      input: '',
      env: { ...process.env, HOME: served.dir, TOGETHER_API_KEY: served.key, TOGETHER_BASE_URL: served.g.url, NO_COLOR: '1', COLUMNS: '400' },
    });
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
  };
  before(async () => {
    served = await serveWithClient('gantry-together-cli-', (d) => ['--data-dir', d, '--demo']);
  });
  after(() => stopServed(served));

  test("whoami names the key's project, as the CLI needs before any command", () => {
    const r = together(['whoami']);
    assert.equal(r.status, 0, r.out);
    projectId = /Project: default \((proj_[0-9a-f]+)\)/.exec(r.out)?.[1] ?? '';
    assert.ok(projectId, r.out);
    assert.match(r.out, /Organization: Gantry/);
  });

  test('endpoints and models commands fail with a clear message: Gantry serves the v1 API, not v2', () => {
    const model = join(served.dir, 'model');
    mkdirSync(model);
    writeFileSync(join(model, 'config.json'), '{}');
    const commands = [
      ['endpoints', 'ls'],
      ['endpoints', 'get', '--id', 'ep_1'],
      ['endpoints', 'deploy', 'Qwen/Qwen2.5-7B-Instruct', '--endpoint', 'e1'],
      ['endpoints', 'update', '--id', 'ep_1', '--min-replicas', '1', '--max-replicas', '1'],
      ['endpoints', 'rm', '--id', 'ep_1', '--project', projectId, '--non-interactive'],
      ['endpoints', 'events', '--id', 'ep_1'],
      ['models', 'ls'],
      ['models', 'get', '--id', 'ml_1'],
      ['models', 'upload', '--model-id', 'ml_1', '--local-path', model, '--project', projectId, '--non-interactive'],
    ];
    for (const args of commands) {
      const r = together(args);
      assert.notEqual(r.status, 0, `together ${args.join(' ')} succeeded:\n${r.out}`);
      assert.match(r.out, V2_REFUSAL, `together ${args.join(' ')}:\n${r.out}`);
      assert.doesNotMatch(r.out, /Traceback/, `together ${args.join(' ')}:\n${r.out}`);
    }
  });
});
