/** Three tiers: pure logic, real local services, and the real Temporal SDK against the embedded server. */
const transform = { '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' } }] };
const base = { testEnvironment: 'node', transform, moduleFileExtensions: ['ts', 'js', 'json'] };

module.exports = {
  // Jest's default on this 2-core machine is cores - 1 = ONE worker, so every file ran after the
  // other although most integration and workflow files spend their time waiting (timers, sockets,
  // a server process). Each file has its own database, Redis prefix, task queues and (for the
  // workflow tier) its own server process, so files are independent. JEST_MAX_WORKERS overrides.
  maxWorkers: process.env.JEST_MAX_WORKERS ?? 3,
  // A worker whose heap stays above this after a file is replaced before the next one (the SDK's
  // native runtime and bundles are large; this keeps a long run from growing without bound).
  workerIdleMemoryLimit: '1GB',
  // Quiet by default: console output of tests (and of code under test, e.g. expected failures'
  // stack traces) is dropped; failures are still reported in full. JEST_VERBOSE_LOGS=1 (or
  // `npm test -- --silent=false`) shows it.
  silent: process.env.JEST_VERBOSE_LOGS !== '1',
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...base, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.test.ts'] },
    { ...base, displayName: 'workflow', testMatch: ['<rootDir>/test/workflow/**/*.test.ts'] },
    // Needs promtool besides Node, PostgreSQL and Redis, so `npm test` leaves it out: `npm run test:rules`.
    { ...base, displayName: 'rules', testMatch: ['<rootDir>/test/rules/**/*.test.ts'] },
    // Only `npm run test:conformance` selects it: these tests need the real Temporal tools (scripts/real-temporal.sh).
    { ...base, displayName: 'conformance', testMatch: ['<rootDir>/test/conformance/**/*.test.ts'] },
    // Not in `npm test`: needs the real `temporal` CLI and Web UI server (built with Go) and Chromium.
    { ...base, displayName: 'tools', testMatch: ['<rootDir>/test/tools/**/*.test.ts'] },
  ],
};
