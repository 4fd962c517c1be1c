/**
 * promtool's checks of the shipped alert rules (`npm run test:rules`; needs promtool, from Debian's
 * `prometheus` package or a Prometheus release, on PATH or in $PROMTOOL): the rules parse, their
 * unit tests in alerts.test.yml pass, a broken expectation is caught, and the /metrics text of a
 * running service passes `promtool check metrics`. Which names the rules and the dashboard may
 * use is checked against the live registry by `npm test` (test/workflow/observability-assets).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LiveService, startLiveService } from '../helpers/live-service';

jest.setTimeout(180_000);

const ROOT = join(__dirname, '..', '..');
const RULES_DIR = join(ROOT, 'deploy', 'prometheus');
const PROMTOOL = process.env.PROMTOOL ?? 'promtool';

function promtool(args: string[], options: { cwd?: string; input?: string } = {}): { status: number | null; output: string } {
  const r = spawnSync(PROMTOOL, args, { cwd: options.cwd ?? RULES_DIR, input: options.input, encoding: 'utf8' });
  if (r.error) {
    throw new Error(`cannot run ${PROMTOOL} (${r.error.message}): install it (Debian: apt-get install prometheus) or set PROMTOOL to its path`);
  }
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('alert rules under promtool', () => {
  it('the rules file is valid', () => {
    const r = promtool(['check', 'rules', 'alerts.yml']);
    expect(r.output).toMatch(/SUCCESS: \d+ rules found/);
    expect(r.status).toBe(0);
  });

  it('the rule unit tests pass', () => {
    const r = promtool(['test', 'rules', 'alerts.test.yml']);
    expect(r.output).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('a wrong expectation fails the unit tests (the tests do assert something)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'promtool-'));
    try {
      copyFileSync(join(RULES_DIR, 'alerts.yml'), join(dir, 'alerts.yml'));
      const tests = readFileSync(join(RULES_DIR, 'alerts.test.yml'), 'utf8');
      // The stuck checkpoint is critical; claim it is a warning.
      const broken = tests.replace('exp_labels: { severity: critical, job: observers }', 'exp_labels: { severity: warning, job: observers }');
      expect(broken).not.toBe(tests);
      writeFileSync(join(dir, 'alerts.test.yml'), broken);
      const r = promtool(['test', 'rules', 'alerts.test.yml'], { cwd: dir });
      expect(r.status).not.toBe(0);
      expect(r.output).toContain('FAILED');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('the metrics of a running service', () => {
    let live: LiveService;
    beforeAll(async () => {
      live = await startLiveService('rules');
    });
    afterAll(async () => {
      await live?.stop();
    });

    it('pass promtool check metrics (the service\'s own observer_* families)', async () => {
      const text = await live.scrape();
      // prom-client's Node process metrics (nodejs_active_handles_total, a gauge) fail the lint; they are not ours.
      const own = text.split('\n').filter((l) => /^(# (HELP|TYPE) )?observer_/.test(l)).join('\n') + '\n';
      expect(own).toContain('# TYPE observer_events_processed_total counter');
      const r = promtool(['check', 'metrics'], { input: own });
      expect(r.output).toBe('');
      expect(r.status).toBe(0);
    });
  });
});
