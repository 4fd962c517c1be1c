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
    // Workflows and activities never import each other: both import the contract (src/contract/).
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: forbiddenInWorkflows.map((name) => ({ name, message: 'Workflow code is deterministic: no I/O or Node builtins; use an activity.' })),
        patterns: [{ group: ['../activities', '../activities/*'], message: 'Workflows import the contract (../contract), never the activities.' }],
      }],
    },
  },
  {
    files: ['test/workflow/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: forbiddenInWorkflows.map((name) => ({ name, message: 'Workflow code is deterministic: no I/O or Node builtins; use an activity.' })),
        patterns: [{ group: ['../activities/*'], allowTypeImports: true, message: 'Import activity types only (import type).' }],
      }],
    },
  },
  {
    // The contract is imported by workflow code: types and constants only, no I/O, and only type
    // imports from modules that are not workflow-safe (the config schema, for z.infer).
    files: ['src/contract/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: forbiddenInWorkflows.map((name) => ({ name, message: 'The contract is workflow code: no I/O or Node builtins.' })),
        patterns: [
          { group: ['../config', '../config/*', '../events/*', '!../events/types'], allowTypeImports: true, message: 'The contract imports these as types only.' },
          { group: ['../activities', '../activities/*', '../workflows', '../workflows/*', '../template', '../template/*'], message: 'The contract depends on nothing that runs.' },
        ],
      }],
    },
  },
  {
    files: ['src/activities/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: ['../workflows', '../workflows/*'], message: 'Activities import the contract (../contract), never the workflows.' }],
      }],
    },
  },
);
