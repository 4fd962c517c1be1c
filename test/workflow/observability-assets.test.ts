/**
 * The Grafana dashboard and the Prometheus alert rules shipped in deploy/ read metrics the service
 * really exports: every name (and every label a selector matches on) is checked against the
 * families on the registry of a running service (`startService`, all roles), not against a list
 * written by hand. promtool's own checks (syntax, rule unit tests) run in `npm run test:rules`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { type ExportedFamily, checkExpression, metricNamesIn, seriesNamesOf } from '../helpers/promql';
import { type LiveService, startLiveService } from '../helpers/live-service';

jest.setTimeout(180_000);

const ROOT = join(__dirname, '..', '..');
const DASHBOARD = join(ROOT, 'deploy', 'grafana', 'fraiseql-observers.json');
const ALERTS = join(ROOT, 'deploy', 'prometheus', 'alerts.yml');
const ALERT_TESTS = join(ROOT, 'deploy', 'prometheus', 'alerts.test.yml');

interface Panel {
  title?: string;
  type: string;
  targets?: Array<{ expr?: string }>;
  panels?: Panel[];
}
interface Dashboard {
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query?: string | { query?: string } }> };
}
interface RulesFile {
  groups: Array<{ name: string; rules: Array<{ alert?: string; record?: string; expr: string }> }>;
}
interface RuleTests {
  rule_files: string[];
  tests: Array<{
    name: string;
    input_series: Array<{ series: string }>;
    alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }>;
  }>;
}

/** Every query of the dashboard, named by where it sits. */
function dashboardQueries(d: Dashboard): Array<{ where: string; expr: string }> {
  const out: Array<{ where: string; expr: string }> = [];
  const visit = (panels: Panel[]) => {
    for (const p of panels) {
      for (const [i, t] of (p.targets ?? []).entries()) {
        if (typeof t.expr !== 'string') throw new Error(`panel "${p.title}" target ${i} has no expr`);
        out.push({ where: `panel "${p.title}" target ${i}`, expr: t.expr });
      }
      if (p.panels) visit(p.panels);
    }
  };
  visit(d.panels);
  for (const v of d.templating.list) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
    // label_values(<series selector>, <label>) is Grafana's, not PromQL: check the selector inside.
    const m = /^label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\)$/.exec(q.trim());
    out.push({ where: `variable $${v.name}`, expr: m ? m[1]! : q });
  }
  return out;
}

describe('dashboards and alert rules against the live registry', () => {
  let live: LiveService;
  let families: ExportedFamily[];

  beforeAll(async () => {
    live = await startLiveService('obs_assets');
    families = live.families();
  });
  afterAll(async () => {
    await live?.stop();
  });

  it('the live registry is the one /metrics serves', async () => {
    const text = await live.scrape();
    const typed = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`).sort();
    expect(typed).toEqual(families.map((f) => `${f.name} ${f.type}`).sort());
    // The families every role of the service registers at start.
    for (const name of ['observer_events_processed_total', 'observer_actions_executed_total', 'observer_dlq_size', 'observer_listener_is_leader']) {
      expect(families.map((f) => f.name)).toContain(name);
    }
  });

  it('every dashboard query names exported metrics with their labels', () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
    const queries = dashboardQueries(dashboard);
    expect(queries.length).toBeGreaterThan(20);
    const problems = queries.flatMap((q) => checkExpression(q.expr, families).map((p) => `${q.where}: ${p}`));
    expect(problems).toEqual([]);
  });

  it('the dashboard shows every observer_* metric the service exports', () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
    const read = new Set(dashboardQueries(dashboard).flatMap((q) => metricNamesIn(q.expr)));
    const missing = families.filter((f) => f.name.startsWith('observer_') && !seriesNamesOf(f).some((s) => read.has(s))).map((f) => f.name);
    expect(missing).toEqual([]);
  });

  it('every alert rule reads exported metrics with their labels', () => {
    const rules = parse(readFileSync(ALERTS, 'utf8')) as RulesFile;
    const all = rules.groups.flatMap((g) => g.rules);
    expect(all.length).toBeGreaterThanOrEqual(6);
    const problems = all.flatMap((r) => checkExpression(r.expr, families).map((p) => `${r.alert ?? r.record}: ${p}`));
    expect(problems).toEqual([]);
  });

  it('the alerts cover lag, checkpoint age, DLQ growth, open breakers, no leader and start failures', () => {
    const rules = parse(readFileSync(ALERTS, 'utf8')) as RulesFile;
    const byMetric = new Map<string, string[]>();
    for (const r of rules.groups.flatMap((g) => g.rules)) {
      for (const name of metricNamesIn(r.expr)) byMetric.set(name, [...(byMetric.get(name) ?? []), r.alert ?? '']);
    }
    for (const name of ['observer_checkpoint_lag_ids', 'observer_checkpoint_age_seconds', 'observer_dlq_items_total', 'observer_circuit_breaker_state', 'observer_listener_is_leader', 'observer_workflow_start_failures_total']) {
      expect({ name, alerts: byMetric.get(name) ?? [] }).toEqual({ name, alerts: expect.arrayContaining([expect.any(String)]) });
    }
  });

  it('the promtool tests feed exported series and make every alert fire at least once', () => {
    const tests = parse(readFileSync(ALERT_TESTS, 'utf8')) as RuleTests;
    const rules = parse(readFileSync(ALERTS, 'utf8')) as RulesFile;
    expect(tests.rule_files).toEqual(['alerts.yml']);
    const problems = tests.tests.flatMap((t) => t.input_series.flatMap((s) => checkExpression(s.series, families).map((p) => `test "${t.name}": ${p}`)));
    expect(problems).toEqual([]);
    const fired = new Set(tests.tests.flatMap((t) => (t.alert_rule_test ?? []).filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)));
    const alerts = rules.groups.flatMap((g) => g.rules).flatMap((r) => (r.alert ? [r.alert] : []));
    expect(alerts.filter((a) => !fired.has(a))).toEqual([]);
  });
});
