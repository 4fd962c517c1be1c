/**
 * The built CLI exits with the same code with and without --json (oclif alone would turn every
 * `this.error(..., { exit: 2 })` into 1 under --json), and prints the error as JSON there.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const BIN = path.resolve(__dirname, '../../bin/run.js');
// Nothing listens on port 1 of loopback: the database is unreachable, a usage-type failure (exit 2).
const env = { ...process.env, DATABASE_URL: 'postgres://postgres@127.0.0.1:1/postgres' };

function run(args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8', timeout: 60_000 });
}

test.each([[['migrate']], [['checkpoint', 'show']]])('%j: an unreachable database exits 2, with and without --json', (args) => {
  const plain = run(args);
  expect(plain.status).toBe(2);
  expect(plain.stderr).toMatch(/127\.0\.0\.1:1/);
  const json = run([...args, '--json']);
  expect(json.status).toBe(2);
  const parsed = JSON.parse(json.stdout) as { error?: { message?: string } };
  expect(parsed.error?.message).toMatch(/127\.0\.0\.1:1/);
});

test('a half-configured Temporal TLS setting is named before anything connects', () => {
  const r = spawnSync(process.execPath, [BIN, 'dlq', 'list', '--json'], {
    env: { ...env, TEMPORAL_ADDRESS: '127.0.0.1:1', TEMPORAL_TLS_CERT: '/nonexistent/client.pem' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(r.status).toBe(2);
  expect((JSON.parse(r.stdout) as { error?: { message?: string } }).error?.message).toMatch(/env\.TEMPORAL_TLS_KEY: required with TEMPORAL_TLS_CERT/);
});
