// ESLint for Gantry (`npm run lint`, part of `npm test`): typescript-eslint's recommended rules,
// and the clock and id guard: time, timers and randomness come only through the injected
// Clock (src/domain/clock.ts) and IdSource (src/domain/ids.ts), so tests can step time instead
// of sleeping and make ids predictable. test/unit/lint-guards.test.ts proves the guard fires.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/**
 * The modules that may touch the real clock, timers and randomness: the seams themselves, and
 * secret-box.ts, whose IVs and keys are cryptographic randomness rather than ids.
 */
export const CLOCK_AND_ID_SOURCES = ['src/domain/clock.ts', 'src/domain/ids.ts', 'src/domain/secret-box.ts'];

const why = 'use the injected Clock (src/domain/clock.ts) or IdSource (src/domain/ids.ts), so tests can control it';

export const clockGuard = {
  'no-restricted-properties': [
    'error',
    { object: 'Date', property: 'now', message: `Date.now(): ${why}` },
    { object: 'crypto', property: 'randomUUID', message: `crypto.randomUUID(): ${why}` },
  ],
  'no-restricted-globals': ['error', ...['setTimeout', 'setInterval', 'clearTimeout', 'clearInterval'].map((name) => ({ name, message: `${name}: ${why}` }))],
  'no-restricted-syntax': ['error', { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: `new Date() without arguments: ${why}` }],
  'no-restricted-imports': [
    'error',
    {
      paths: [
        { name: 'node:crypto', importNames: ['randomBytes', 'randomUUID', 'randomInt'], message: why },
        { name: 'node:timers', message: why },
        { name: 'node:timers/promises', message: why },
      ],
    },
  ],
};

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'contract/', 'test-output/', '.hypothesis/', '.schemathesis/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  { files: ['src/**/*.ts'], ignores: CLOCK_AND_ID_SOURCES, rules: clockGuard },
);
