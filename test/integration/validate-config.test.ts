import { spawnSync } from 'node:child_process';
import { Console } from 'node:console';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Config, settings } from '@oclif/core';
import { runCommand } from '@oclif/test';

// oclif looks for WSL with a dynamic import(), which jest rejects without --experimental-vm-modules;
// the platform answer is all it needs from that module.
jest.mock('../../node_modules/@oclif/core/lib/util/os', () => ({
  ...jest.requireActual<object>('../../node_modules/@oclif/core/lib/util/os'),
  getPlatform: async () => process.platform,
}));

// oclif loads the compiled commands (dist/, built by `npm test`'s pretest); no ts-node here.
settings.enableAutoTranspile = false;
// Discovering commands requires every command module; do it once for the whole file.
jest.setTimeout(120_000);

const ROOT = join(__dirname, '..', '..');
const EXAMPLE = join(ROOT, 'examples', 'observers.yaml');
const BAD = ['observers:', '  order_shipped:', '    entity: Order', '    events: [UPDATE]', '    condition: "status == 10 & x"', '    actions:', '      - type: smoke', ''].join('\n');

let dir: string;
let badFile: string;
let oclif: Config;
const jestConsole = global.console;

beforeAll(async () => {
  // oclif prints through console.log/error; jest's console buffers and decorates that output, so
  // use a plain console on the real streams, which runCommand captures.
  global.console = new Console({ stdout: process.stdout, stderr: process.stderr });
  if (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'commands', 'validate-config.js'))) {
    throw new Error('dist/ is missing: run `npm run build` first');
  }
  oclif = await Config.load({ root: ROOT });
  dir = mkdtempSync(join(tmpdir(), 'validate-config-'));
  badFile = join(dir, 'bad.yaml');
  writeFileSync(badFile, BAD);
});

afterAll(() => {
  global.console = jestConsole;
  rmSync(dir, { recursive: true, force: true });
});

afterEach(() => {
  // oclif sets the exit code of a failed command on this (shared) process.
  process.exitCode = undefined;
});

describe('validate-config', () => {
  it('prints a summary of a valid file', async () => {
    const { stdout, error } = await runCommand(['validate-config', EXAMPLE], oclif);
    expect(error).toBeUndefined();
    expect(stdout).toContain('OK: ');
    expect(stdout).toContain('5 observer(s), 4 enabled; 7 action(s) (webhook 1, email 1, slack 1, cache 1, database 1, log 2)');
    expect(stdout).toContain('order_shipped');
    expect(stdout).toContain('audit_everything (disabled)');
  });

  it('lists every problem with its path and fails with exit code 1', async () => {
    const { stderr, error } = await runCommand(['validate-config', badFile], oclif);
    expect(error?.oclif?.exit).toBe(1);
    expect(error?.message).toBe(`${badFile} is invalid: 2 problems`);
    expect(stderr).toContain("observers.order_shipped.condition: unexpected token '&' at column 14 (did you mean '&&'?)  (line 5)");
    expect(stderr).toContain("observers.order_shipped.actions[0].type: unknown action type 'smoke' (expected one of webhook, slack, email, cache, database, log)  (line 7)");
  });

  it('returns the report as data with --json', async () => {
    const { stdout, error } = await runCommand(['validate-config', EXAMPLE, '--json'], oclif);
    expect(error).toBeUndefined();
    const report = JSON.parse(stdout) as { valid: boolean; issues: unknown[]; observers: Array<{ name: string; actions: string[] }> };
    expect(report.valid).toBe(true);
    expect(report.issues).toEqual([]);
    expect(report.observers[0]).toEqual({
      name: 'order_shipped',
      enabled: true,
      entity: 'Order',
      events: ['UPDATE'],
      condition: "status == 'shipped' && field_changed('status')",
      actions: ['webhook', 'email'],
    });
  });

  it('returns the problems as data with --json, and still fails', async () => {
    const { stdout } = await runCommand(['validate-config', badFile, '--json'], oclif);
    expect(process.exitCode).toBe(1);
    expect(JSON.parse(stdout)).toEqual({
      valid: false,
      file: badFile,
      observers: [],
      warnings: [],
      issues: [
        { path: 'observers.order_shipped.condition', message: "unexpected token '&' at column 14 (did you mean '&&'?)", line: 5 },
        {
          path: 'observers.order_shipped.actions[0].type',
          message: "unknown action type 'smoke' (expected one of webhook, slack, email, cache, database, log)",
          line: 7,
        },
      ],
    });
  });

  it('warns about literal webhook hosts the SSRF guard will refuse, unless ssrf.allow lists them (still valid, exit 0)', async () => {
    const file = join(dir, 'ssrf.yaml');
    const yaml = (allow: string) => `${allow}observers:
  local_hook:
    entity: Order
    events: [INSERT]
    actions:
      - type: webhook
        url: "http://127.0.0.1:8080/hooks/{{ event.entity_id }}"
      - type: webhook
        url: "http://169.254.169.254/latest/meta-data"
      - type: webhook
        url: "https://hooks.example.com/{{ event.id }}"
      - type: webhook
        url: "http://{{ data.host }}/x"
`;
    writeFileSync(file, yaml(''));
    const warned = await runCommand(['validate-config', file, '--json'], oclif);
    expect(warned.error).toBeUndefined();
    const report = JSON.parse(warned.stdout) as { valid: boolean; warnings: Array<{ path: string; message: string }> };
    expect(report.valid).toBe(true);
    expect(report.warnings.map((w) => w.path)).toEqual(['observers.local_hook.actions[0].url', 'observers.local_hook.actions[1].url']);
    expect(report.warnings[0]?.message).toMatch(/^the SSRF guard will refuse .*127\.0\.0\.1.*loopback.*Add the host to ssrf\.allow if you mean to reach it$/);
    const human = await runCommand(['validate-config', file], oclif);
    expect(human.stderr).toContain('warning: observers.local_hook.actions[0].url: the SSRF guard will refuse');
    writeFileSync(file, yaml('ssrf:\n  allow: [127.0.0.1/32, 169.254.169.254]\n'));
    const allowed = JSON.parse((await runCommand(['validate-config', file, '--json'], oclif)).stdout) as { warnings: unknown[] };
    expect(allowed.warnings).toEqual([]);
  });

  it('reports a missing file', async () => {
    const missing = join(dir, 'nope.yaml');
    const { stderr, error } = await runCommand(['validate-config', missing], oclif);
    expect(error?.oclif?.exit).toBe(1);
    expect(stderr).toContain(`${missing}: file not found`);
  });

  it('with --check-env, requires the referenced variables to be set', async () => {
    const file = join(dir, 'env.yaml');
    writeFileSync(file, 'observers:\n  a:\n    entity: A\n    events: INSERT\n    actions:\n      - { type: slack, webhook_url_env: VALIDATE_TEST_SLACK_URL }\n');
    const missing = await runCommand(['validate-config', file, '--check-env', '--json'], oclif);
    expect(JSON.parse(missing.stdout)).toMatchObject({
      valid: false,
      issues: [{ path: 'observers.a.actions[0].webhook_url_env', message: 'environment variable VALIDATE_TEST_SLACK_URL is not set' }],
    });
    process.env.VALIDATE_TEST_SLACK_URL = 'https://hooks.slack.com/services/x';
    try {
      const present = await runCommand(['validate-config', file, '--check-env', '--json'], oclif);
      expect(JSON.parse(present.stdout)).toMatchObject({ valid: true, issues: [] });
    } finally {
      delete process.env.VALIDATE_TEST_SLACK_URL;
    }
  });

  it('sets the process exit code when run as the real binary', () => {
    const run = (args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin', 'run.js'), 'validate-config', ...args], { encoding: 'utf8' });
    const bad = run([badFile]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('observers.order_shipped.condition: unexpected token');
    const badJson = run([badFile, '--json']);
    expect(badJson.status).toBe(1);
    expect(JSON.parse(badJson.stdout)).toMatchObject({ valid: false });
  });
});
