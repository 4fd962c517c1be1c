#!/usr/bin/env node
/**
 * `npm run test:conformance` (after scripts/real-temporal.sh has built the tools and `npm run build`):
 * the workflow tier, whose every server comes from test/helpers/temporal-env.ts, run against
 *   dev   the real dev server, `temporal server start-dev` (createLocal; no time skipping), and
 *   java  Temporal's Java test server (createTimeSkipping),
 * plus, for the dev server, the `conformance` jest project (test/conformance: the `start` command on
 * a real dev server).
 *
 * Tests excluded for a server are exactly the rows of the README's conformance table (between the
 * `conformance-differences` markers): a row names the server, the test file and the test (its full
 * jest name, or `*` for the whole file) and says why. A row whose file or test no longer exists is an
 * error, so the table cannot go stale.
 *
 * Env: CONFORMANCE_SERVERS=dev,java (default both), REAL_TEMPORAL_DIR (default <repo>/.real-temporal),
 * JEST_MAX_WORKERS (default 2). Extra arguments go to jest (e.g. a test file path); `--dry-run`
 * prints what would run (exclusions and the jest command line) and runs nothing.
 */
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync, readFileSync, readdirSync } = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const DIR = path.resolve(process.env.REAL_TEMPORAL_DIR || path.join(ROOT, '.real-temporal'));
const WORKFLOW_DIR = path.join(ROOT, 'test', 'workflow');

const SERVERS = {
  dev: {
    name: 'dev server',
    executable: path.join(DIR, 'bin', 'temporal'),
    launch: 'local',
    projects: ['workflow', 'conformance'],
  },
  java: {
    name: 'Java test server',
    executable: path.join(DIR, 'java-test-server', 'temporal-test-server'),
    launch: 'time-skipping',
    projects: ['workflow'],
  },
};

function fail(message) {
  console.error(`conformance: ${message}`);
  process.exit(2);
}

/** Rows of the README table: { servers: ['dev'|'java'], file, test, reason }. */
function readDifferences() {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('<!-- conformance-differences:start -->');
  const end = readme.indexOf('<!-- conformance-differences:end -->');
  if (start < 0 || end < start) fail('README.md has no conformance-differences table (markers missing)');
  const rows = readme
    .slice(start, end)
    .split('\n')
    .filter((line) => line.startsWith('|'))
    .map((line) => line.slice(1, line.lastIndexOf('|')).split(' | ').map((cell) => cell.trim()))
    .slice(2); // header and separator
  return rows.map((cells, i) => {
    if (cells.length !== 4) fail(`README conformance table, row ${i + 1}: expected 4 cells (server | file | test | why), got ${cells.length}`);
    const [serverCell, fileCell, testCell, reason] = cells;
    const servers = serverCell.split(',').map((s) => s.trim()).map((s) => {
      const key = Object.keys(SERVERS).find((k) => SERVERS[k].name === s);
      if (!key) fail(`README conformance table, row ${i + 1}: unknown server "${s}" (one of: ${Object.values(SERVERS).map((x) => x.name).join(', ')})`);
      return key;
    });
    const file = fileCell.replace(/`/g, '');
    const test = testCell.replace(/^`|`$/g, '');
    const abs = path.join(ROOT, file);
    if (!existsSync(abs)) fail(`README conformance table, row ${i + 1}: ${file} does not exist`);
    if (test !== '*') {
      const source = readFileSync(abs, 'utf8');
      // The test's own title is the last part of its full name; the describe titles come before it.
      const found = titlesOf(source).some((title) => title.test(test));
      if (!found) fail(`README conformance table, row ${i + 1}: no test named "${test}" in ${file}`);
    }
    if (!reason) fail(`README conformance table, row ${i + 1}: the reason is empty`);
    return { servers, file, test, reason };
  });
}

/**
 * Patterns for the titles of the `test(`/`it(` calls of a file, and of `test.each(...)(title, ...)`
 * whose printf placeholders (%p, %s, ...) match anything: enough to check that a row names a real test.
 */
function titlesOf(source) {
  const titles = [];
  const literal = `(['"\`])((?:\\\\.|(?!\\1).)*)\\1`;
  const plain = new RegExp(`\\b(?:test|it)\\(\\s*${literal}`, 'g');
  const each = new RegExp(`\\b(?:test|it)\\.each\\([^]*?\\)\\(\\s*${literal}`, 'g');
  for (const re of [plain, each]) {
    let m;
    while ((m = re.exec(source))) {
      const title = m[2].replace(/\\(.)/g, '$1');
      titles.push(new RegExp(`${escapeRegex(title).replace(/%[psdifjo#%]/g, '.+')}$`));
    }
  }
  return titles;
}

const escapeRegex = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Workflow files that never reach TEMPORAL_TEST_SERVER (they start the embedded server themselves). */
function embeddedOnlyFiles() {
  return readdirSync(WORKFLOW_DIR)
    .filter((f) => f.endsWith('.test.ts'))
    .filter((f) => !/\b(createTestEnv|startE2eServices|createDlqFixture)\b/.test(readFileSync(path.join(WORKFLOW_DIR, f), 'utf8')))
    .map((f) => path.join('test', 'workflow', f));
}

function run(key, differences, extraArgs, dryRun) {
  const server = SERVERS[key];
  if (!dryRun && !existsSync(server.executable)) fail(`${server.executable} is missing: run scripts/real-temporal.sh (REAL_TEMPORAL_DIR=${DIR})`);
  const mine = differences.filter((d) => d.servers.includes(key));
  const wholeFiles = mine.filter((d) => d.test === '*').map((d) => d.file);
  const named = mine.filter((d) => d.test !== '*');
  const embeddedOnly = embeddedOnlyFiles();
  const args = ['jest', '--selectProjects', ...server.projects, '--maxWorkers', process.env.JEST_MAX_WORKERS || '2'];
  const ignored = [...embeddedOnly, ...wholeFiles];
  if (ignored.length > 0) args.push('--testPathIgnorePatterns', ...ignored.map((f) => `${escapeRegex(f)}$`));
  if (named.length > 0) args.push('--testNamePattern', `^(?!(?:${named.map((d) => escapeRegex(d.test)).join('|')})$)`);
  args.push(...extraArgs);

  console.log(`\n=== conformance: ${server.name} (${server.executable}) ===`);
  console.log(`not run here (they start the embedded server themselves): ${embeddedOnly.join(', ') || 'none'}`);
  for (const d of mine) console.log(`excluded (README conformance table): ${d.file} › ${d.test} — ${d.reason}`);
  if (dryRun) {
    console.log(`npx ${args.map((a) => JSON.stringify(a)).join(' ')}`);
    return { server: server.name, ok: true, seconds: 0, excluded: mine.length };
  }
  const started = Date.now();
  const result = spawnSync('npx', args, {
    cwd: ROOT,
    stdio: 'inherit',
    env: {
      ...process.env,
      TEMPORAL_TEST_SERVER: server.executable,
      TEMPORAL_TEST_SERVER_LAUNCH: server.launch,
      REAL_TEMPORAL_DIR: DIR,
    },
  });
  const seconds = Math.round((Date.now() - started) / 1000);
  return { server: server.name, ok: result.status === 0, seconds, excluded: mine.length };
}

function main() {
  const wanted = (process.env.CONFORMANCE_SERVERS || 'dev,java').split(',').map((s) => s.trim()).filter(Boolean);
  for (const w of wanted) if (!SERVERS[w]) fail(`CONFORMANCE_SERVERS: unknown server "${w}" (dev, java)`);
  const differences = readDifferences();
  const args = process.argv.slice(2);
  const dryRun = args.includes('--dry-run');
  const results = wanted.map((key) => run(key, differences, args.filter((a) => a !== '--dry-run'), dryRun));
  console.log('\n=== conformance summary ===');
  for (const r of results) console.log(`${r.ok ? 'PASS' : 'FAIL'}  ${r.server}  (${r.seconds} s, ${r.excluded} excluded by the README table)`);
  process.exit(results.every((r) => r.ok) ? 0 : 1);
}

main();
