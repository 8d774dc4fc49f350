import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

/**
 * The clock and id guard in eslint.config.js fires where it should and only there (as pg-boss's
 * eslintClockGuardTest does): real time, timers and randomness outside the Clock and IdSource
 * seams are lint errors, so `npm test` fails on them.
 */
const cwd = fileURLToPath(new URL('../../', import.meta.url));
const eslint = new ESLint({ cwd });

async function problems(code: string, filePath: string) {
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.map((m) => m.ruleId);
}

const offenders: [string, string][] = [
  ['Date.now()', 'export const t = Date.now();'],
  ['new Date()', 'export const d = new Date();'],
  ['setTimeout', 'setTimeout(() => {}, 10);'],
  ['setInterval', 'setInterval(() => {}, 10);'],
  ['randomBytes', "import { randomBytes } from 'node:crypto';\nexport const b = randomBytes(4);"],
  ['randomUUID', "import { randomUUID } from 'node:crypto';\nexport const u = randomUUID();"],
  ['timers/promises', "import { setTimeout as sleep } from 'node:timers/promises';\nawait sleep(1);"],
];

for (const [what, code] of offenders) {
  test(`${what} outside the clock and id modules is a lint error`, async () => {
    const found = await problems(code, 'src/gateway/example.ts');
    assert.ok(
      found.some((r) => r?.startsWith('no-restricted')),
      `expected a no-restricted-* error, got ${JSON.stringify(found)}`,
    );
    assert.deepEqual(await problems(code, 'src/domain/clock.ts'), [], 'the clock module itself may use it');
  });
}

test('a date from a value and the injected clock are fine', async () => {
  assert.deepEqual(
    await problems("import type { Clock } from '../domain/clock.js';\nexport const f = (c: Clock) => [c.now(), new Date(0)];", 'src/gateway/example.ts'),
    [],
  );
});
