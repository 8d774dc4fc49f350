import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SETTINGS } from '../../src/config/settings-table.js';
import { startGantry, type GantryProcess } from '../helpers/gantry-process.js';

/**
 * The README's examples, run as written: every fenced block marked `test` (```sh test, or
 * ```js test file=NAME, saved under that name as the README says) runs in order against a
 * fresh `gantry serve --demo`, from a folder laid out like the repository (its examples and
 * node_modules). The one change: the README's address 127.0.0.1:8080 becomes this server's.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
const README_ADDRESS = 'http://127.0.0.1:8080';

interface Block {
  lang: string;
  file: string | undefined;
  code: string;
}

function readmeBlocks(): Block[] {
  const text = readFileSync(join(root, 'README.md'), 'utf8');
  return [...text.matchAll(/^```(\w+) test(?: file=(\S+))?\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1]!, file: m[2], code: m[3]! }));
}

describe('README examples', () => {
  let g: GantryProcess;
  let work: string;
  const blocks = readmeBlocks();
  const run = (script: string) =>
    spawnSync('bash', ['-euo', 'pipefail', '-c', script.replaceAll(README_ADDRESS, g.url)], {
      cwd: work,
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}` },
    });

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'gantry-readme-'));
    for (const link of ['examples', 'node_modules']) symlinkSync(join(root, link), join(work, link));
    mkdirSync(join(work, '.gantry'));
    g = await startGantry(['--demo', '--data-dir', join(work, '.gantry')]);
  });
  after(async () => {
    await g?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test('the quick start, the SDK example and the endpoint example run as written', () => {
    assert.ok(blocks.filter((b) => b.lang === 'sh').length >= 4 && blocks.some((b) => b.file), 'the README marks its examples');
    for (const b of blocks) if (b.file) writeFileSync(join(work, b.file), b.code.replaceAll(README_ADDRESS, g.url));
    const r = run(
      blocks
        .filter((b) => b.lang === 'sh')
        .map((b) => b.code)
        .join('\n'),
    );
    const out = r.stdout + r.stderr;
    assert.equal(r.status, 0, out);
    assert.match(out, /"greeting":"hej"/, 'the curl deployment answers through the gateway');
    assert.match(out, /"lines":\["hello \([0-9a-f-]+\) listening on \d+"/, 'its logs');
    assert.match(out, /hello-sdk Ready/, 'the SDK deployment became ready');
    assert.match(out, /"id":"1x_nvidia_h100_80gb_sxm"/, 'the demo hardware is listed');
    assert.match(
      out,
      /Hello from default\/Qwen\/Qwen2\.5-7B-Instruct-[0-9a-f]+ .*tp 1, gpus \d\)/,
      'the streamed chat completion came from the example engine',
    );
  });

  test('the SDK and endpoint examples run again without failing on names they made', () => {
    const env = blocks.find((b) => b.code.includes('export TOGETHER_API_KEY'))!;
    const r = run(`${env.code}\nnode try-sdk.mjs && node try-endpoint.mjs`);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /hello-sdk Ready/);
    assert.match(r.stdout, /Hello from/);
  });
});

test("the README's configuration table lists exactly the settings gantry has, with their variables and keys", () => {
  const text = readFileSync(join(root, 'README.md'), 'utf8');
  const table = text.slice(text.indexOf('## Configuration'), text.indexOf('## API keys'));
  const rows = [...table.matchAll(/^\| (`--.*?) \| (.*?) \| (.*?) \|/gm)];
  const documented = new Map<string, { env: string; file: string }>();
  for (const [, flags, envs, files] of rows) {
    const names = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!.split(' ')[0]!);
    names(flags!).forEach((flag, i) => documented.set(flag, { env: names(envs!)[i]!, file: names(files!)[i]! }));
  }
  const declared = new Map(Object.values(SETTINGS).map((s) => [s.flag, { env: s.env, file: s.file }]));
  assert.deepEqual([...documented.keys()].sort(), [...declared.keys()].sort());
  for (const [flag, d] of declared) assert.deepEqual(documented.get(flag), d, flag);
});
