/**
 * One table of exit codes for every command (src/errors.ts EXIT_CODES, the README's "Exit codes"
 * table), enforced on the built CLI: every command appears below with the failures it can meet,
 * with and without --json (oclif alone would turn every code into 1 under --json).
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { EXIT_CODES } from '../../src/errors';
import { createTestDatabase, type TestDatabase } from '../helpers/pg';

// Some 60 runs of the CLI (oclif's start-up is seconds on a busy 2-core machine).
jest.setTimeout(900_000);
const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin', 'run.js');
const execFileP = promisify(execFile);
// Nothing listens on port 1 of loopback.
const DOWN_DB = 'postgres://postgres@127.0.0.1:1/postgres';
const DOWN_TEMPORAL = '127.0.0.1:1';
const base = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };

async function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await execFileP(process.execPath, [BIN, ...args], { env: { ...base, ...env }, timeout: 90_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Every command id of the built CLI (dist/src/cli/commands/**.js → "dlq list"). */
function commandIds(dir = path.join(ROOT, 'dist', 'src', 'cli', 'commands'), prefix: string[] = []): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return commandIds(full, [...prefix, name]);
    return name.endsWith('.js') ? [[...prefix, name.replace(/\.js$/, '')].join(' ')] : [];
  });
}

let db: TestDatabase;
let dir: string;
let badConfig: string;
let goodConfig: string;

beforeAll(async () => {
  db = await createTestDatabase('exit_codes');
  dir = mkdtempSync(path.join(os.tmpdir(), 'fo-exit-codes-'));
  badConfig = path.join(dir, 'bad.yaml');
  writeFileSync(badConfig, 'observers:\n  x:\n    entity: Order\n    events: [EXPLODE]\n    actions: [{ type: log }]\n');
  goodConfig = path.join(dir, 'good.yaml');
  writeFileSync(goodConfig, 'observers:\n  x:\n    entity: Order\n    events: [INSERT]\n    actions: [{ type: log }]\n');
});
afterAll(async () => {
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// [command id, args, env, expected code]. Each command appears with usage (2) and unavailable (3).
const cases = (): Array<[string, string[], Record<string, string>, number]> => [
  ['migrate', ['migrate', '--table', 'a.b.c'], { DATABASE_URL: db.url }, EXIT_CODES.usage],
  ['migrate', ['migrate'], { DATABASE_URL: DOWN_DB }, EXIT_CODES.unavailable],
  ['status', ['status', '--address', 'nope'], { DATABASE_URL: db.url }, EXIT_CODES.usage],
  ['status', ['status', '--no-temporal'], { DATABASE_URL: DOWN_DB }, EXIT_CODES.unavailable],
  ['status', ['status', '--no-temporal'], { DATABASE_URL: db.url }, EXIT_CODES.unavailable], // not migrated
  ['checkpoint show', ['checkpoint', 'show'], {}, EXIT_CODES.usage], // no database given
  ['checkpoint show', ['checkpoint', 'show'], { DATABASE_URL: DOWN_DB }, EXIT_CODES.unavailable],
  ['checkpoint set', ['checkpoint', 'set', 'x', '--listener-id', 'a'], { DATABASE_URL: db.url }, EXIT_CODES.usage],
  ['checkpoint set', ['checkpoint', 'set', '1', '--listener-id', 'a'], { DATABASE_URL: db.url }, EXIT_CODES.unavailable],
  ['checkpoint reset', ['checkpoint', 'reset', '--listener-id', 'a'], { DATABASE_URL: db.url }, EXIT_CODES.usage], // no --force
  ['checkpoint reset', ['checkpoint', 'reset', '--listener-id', 'a', '--force'], { DATABASE_URL: DOWN_DB }, EXIT_CODES.unavailable],
  ['debug-event', ['debug-event', 'not-a-key', '--no-temporal'], { DATABASE_URL: db.url }, EXIT_CODES.usage],
  ['debug-event', ['debug-event', '1', '--no-temporal'], { DATABASE_URL: DOWN_DB }, EXIT_CODES.unavailable],
  ['dlq list', ['dlq', 'list', '--since', 'soon'], {}, EXIT_CODES.usage],
  ['dlq list', ['dlq', 'list', '--address', DOWN_TEMPORAL], {}, EXIT_CODES.unavailable],
  ['dlq show', ['dlq', 'show', 'x', '--address', 'nope'], {}, EXIT_CODES.usage],
  ['dlq show', ['dlq', 'show', 'x'], { TEMPORAL_ADDRESS: DOWN_TEMPORAL }, EXIT_CODES.unavailable],
  ['dlq retry', ['dlq', 'retry', 'x', '--with-current-config', '--config', badConfig], {}, EXIT_CODES.usage],
  ['dlq retry', ['dlq', 'retry', 'x', '--address', DOWN_TEMPORAL], {}, EXIT_CODES.unavailable],
  ['dlq retry-all', ['dlq', 'retry-all', '--rate', '0'], {}, EXIT_CODES.usage],
  ['dlq retry-all', ['dlq', 'retry-all', '--dry-run', '--address', DOWN_TEMPORAL], {}, EXIT_CODES.unavailable],
  ['dlq stats', ['dlq', 'stats', '--limit', '0'], {}, EXIT_CODES.usage],
  ['dlq stats', ['dlq', 'stats'], { EMBEDDED_TEMPORAL_PORT: '1' }, EXIT_CODES.unavailable],
  ['cache-stats', ['cache-stats', '--timeout', '5'], {}, EXIT_CODES.usage],
  ['cache-stats', ['cache-stats', '--redis-url', 'redis://127.0.0.1:1', '--timeout', '500'], {}, EXIT_CODES.unavailable],
  ['metrics', ['metrics', '--url', 'ftp://x'], {}, EXIT_CODES.usage],
  ['metrics', ['metrics', '--url', 'http://127.0.0.1:1/metrics'], {}, EXIT_CODES.unavailable],
  ['validate-config', ['validate-config', badConfig], {}, EXIT_CODES.failed],
  ['validate-config', ['validate-config', goodConfig], {}, EXIT_CODES.ok],
  ['start', ['start', '--config', badConfig], { DATABASE_URL: db.url }, EXIT_CODES.usage],
  ['start', ['start', '--config', goodConfig, '--role', 'listener', '--temporal-port', '0', '--metrics-port', '0'], { DATABASE_URL: DOWN_DB }, EXIT_CODES.unavailable],
  ['dev-server', ['dev-server', '--port', '99999'], {}, EXIT_CODES.usage],
];

test('every command of the CLI is covered here, with a usage and an unavailable case', async () => {
  const covered = new Set(cases().map((c) => c[0]));
  expect(commandIds().filter((id) => !covered.has(id))).toEqual([]);
  for (const id of commandIds()) {
    if (id === 'validate-config') continue; // reads one file: no service to be unavailable
    const codes = cases().filter((c) => c[0] === id).map((c) => c[3]);
    expect([id, codes.includes(EXIT_CODES.usage)]).toEqual([id, true]);
    if (id !== 'dev-server') expect([id, codes.includes(EXIT_CODES.unavailable)]).toEqual([id, true]);
  }
});

test('each command exits with the code of the table, with and without --json', async () => {
  const all = cases();
  const results: Array<[string, string, number, number, number]> = [];
  // Four at a time: most of each run is waiting on a socket or on node's start-up.
  for (let i = 0; i < all.length; i += 4) {
    await Promise.all(all.slice(i, i + 4).map(async ([id, args, env, want]) => {
      const plain = await run(args, env);
      const json = args[0] === 'start' || args[0] === 'dev-server' || want === 0 ? plain : await run([...args, '--json'], env);
      results.push([id, args.join(' '), want, plain.code, json.code]);
    }));
  }
  const wrong = results.filter(([, , want, plain, json]) => plain !== want || json !== want);
  expect(wrong).toEqual([]);
});

test('dev-server: port in use exits 3; --json is JSON lines only', async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const { port } = blocker.address() as { port: number };
  try {
    expect((await run(['dev-server', '--port', String(port)])).code).toBe(EXIT_CODES.unavailable);
  } finally {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
  }
  const child = spawn(process.execPath, [BIN, 'dev-server', '--port', '0', '--json'], { env: base, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let signalled = false;
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    if (!signalled && out.includes('"listening"')) {
      signalled = true;
      child.kill('SIGTERM');
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  expect(code).toBe(0);
  const lines = out.trim().split('\n');
  const parsed = lines.map((l) => JSON.parse(l) as { msg: string });
  expect(parsed.map((p) => p.msg)).toEqual(['listening', 'stopped']);
});

test('the README has the same table', () => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Exit codes'));
  const rows = [...section.matchAll(/^\| (\d+) \| `(\w+)` \|/gm)].map((m) => [Number(m[1]), m[2]]);
  expect(rows).toEqual(Object.entries(EXIT_CODES).map(([name, code]) => [code, name]));
});
