// Lint: type-aware rules for the whole tree, and a ban on I/O and Node builtins in workflow code.
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const ioPackages = [
  'pg', 'ioredis', 'undici', '@elastic/elasticsearch', 'prom-client', 'pino', 'nodemailer', 'yaml',
  '@temporalio/client', '@temporalio/worker', '@temporalio/activity', '@temporalio/testing', '@grpc/grpc-js',
];
const forbiddenInWorkflows = [...builtinModules, ...builtinModules.map((m) => `node:${m}`), ...ioPackages];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bin/**', 'scripts/**', '*.js', '*.mjs'] },
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    files: ['src/workflows/**/*.ts', 'test/workflow/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: forbiddenInWorkflows.map((name) => ({ name, message: 'Workflow code is deterministic: no I/O or Node builtins; use an activity.' })),
        patterns: [{ group: ['../activities/*', '!../activities/types'], allowTypeImports: true, message: 'Import activity types only (import type).' }],
      }],
    },
  },
);
