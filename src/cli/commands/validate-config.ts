import { Args } from '@oclif/core';
import { BaseCommand, Flags } from '../base';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { checkObserversYaml, formatIssue, validateObserversFile, type ConfigIssue, type ValidationReport } from '../../config';

/** Carries an invalid report through oclif's error path so `--json` prints the report, not a generic error. */
class InvalidConfig extends Error {
  readonly exitCode = 1;

  constructor(readonly report: ValidationReport) {
    super(`${report.file}: ${report.issues.length} problem(s)`);
  }
}

export default class ValidateConfig extends BaseCommand<typeof ValidateConfig> {
  static override summary = 'Check an observers file and report every problem with its path.';

  static override description =
    'Validates the YAML, every observer and action, condition and template syntax, and that secrets are ' +
    'environment-variable references rather than inline values. Exits 1 when the file is invalid. Warns (exit 0) about ' +
    'webhook URLs with a literal loopback, private or metadata host that the SSRF guard will refuse unless ssrf.allow lists it.';

  static override examples = [
    '<%= config.bin %> <%= command.id %> examples/observers.yaml',
    '<%= config.bin %> <%= command.id %> observers.yaml --check-env',
    '<%= config.bin %> <%= command.id %> observers.yaml --json',
  ];

  static override args = {
    file: Args.string({ description: 'path of the observers YAML file', required: true }),
  };

  static override flags = {
    'check-env': Flags.boolean({
      description: 'also require every *_env variable the file names to be set in this environment',
      default: false,
    }),
  };

  public async run(): Promise<ValidationReport & { warnings: ConfigIssue[] }> {
    const validated = await validateObserversFile(this.args.file, this.flags['check-env'] ? { env: process.env } : {});
    const report = { ...validated, warnings: validated.valid ? await this.warnings() : [] };
    if (!report.valid) {
      if (this.jsonEnabled()) throw new InvalidConfig(report);
      for (const issue of report.issues) {
        this.logToStderr(`  ${formatIssue(issue)}${issue.line === undefined ? '' : `  (line ${issue.line})`}`);
      }
      const count = report.issues.length === 1 ? '1 problem' : `${report.issues.length} problems`;
      this.error(`${report.file} is invalid: ${count}`, { exit: 1 });
    }
    this.printSummary(report);
    for (const w of report.warnings) this.logToStderr(`  warning: ${formatIssue(w)}`);
    return report;
  }

  private async warnings(): Promise<ConfigIssue[]> {
    const { ssrfWarnings } = await import('../ssrf-warnings');
    const parsed = checkObserversYaml(await readFile(this.args.file, 'utf8'), basename(this.args.file));
    return 'value' in parsed ? ssrfWarnings(parsed.value) : [];
  }

  protected override toErrorJson(err: unknown): unknown {
    return err instanceof InvalidConfig ? err.report : super.toErrorJson(err);
  }

  private printSummary(report: ValidationReport): void {
    const counts = new Map<string, number>();
    for (const observer of report.observers) for (const type of observer.actions) counts.set(type, (counts.get(type) ?? 0) + 1);
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    const enabled = report.observers.filter((o) => o.enabled).length;
    const byType = [...counts].map(([type, n]) => `${type} ${n}`).join(', ');
    this.log(
      `OK: ${report.file} — ${report.observers.length} observer(s), ${enabled} enabled; ${total} action(s)${byType ? ` (${byType})` : ''}`,
    );
    if (report.observers.length === 0) return;
    this.table(
      ['observer', 'entity', 'events', 'actions', 'condition'],
      report.observers.map((o) => [
        o.enabled ? o.name : `${o.name} (disabled)`,
        o.entity,
        o.events.join(', '),
        o.actions.join(', '),
        o.condition ?? '',
      ]),
    );
  }
}
