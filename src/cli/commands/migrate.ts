import { BaseCommand, Flags } from '../base';
import { databaseFlags } from '../flags';
import { describeDatabaseUrl, explainConnectionError } from '../../db/errors';
import { type MigrateResult, migrate } from '../../db/migrate';
import { createPool } from '../../db/pool';

/** `fraiseql-observers migrate`: create the change log (if absent), checkpoints, bad-row log and NOTIFY trigger. */
export default class Migrate extends BaseCommand<typeof Migrate> {
  static override summary = 'Apply the database migrations (safe to re-run, safe to run concurrently)';
  static override description = `Creates, only where absent: the change-log table with the FraiseQL contract's columns (an existing table is used as it is), the checkpoint table and its history, the bad-row log, and a statement-level NOTIFY trigger on the change-log table (skipped when one already notifies the channel, or with --no-notify-trigger).`;
  static override examples = ['<%= config.bin %> migrate --dry-run', '<%= config.bin %> migrate --database-url postgres://app@db:5432/app --json'];
  static override flags = {
    ...databaseFlags,
    table: Flags.string({
      description: 'change-log table, [schema.]table: created when absent, given the NOTIFY trigger (default: $CHANGE_LOG_TABLE, else core.tb_entity_change_log, as for the listener)',
    }),
    'notify-trigger': Flags.boolean({ default: true, allowNo: true, description: 'install the NOTIFY trigger on the change-log table when it has none' }),
    'dry-run': Flags.boolean({ default: false, description: 'list pending migrations without applying them' }),
  };

  public async run(): Promise<MigrateResult> {
    const settings = this.settings();
    const url = settings.databaseUrl;
    const pool = createPool({ connectionString: url, max: 1, connectionTimeoutMillis: 10_000 });
    let result: MigrateResult;
    try {
      result = await migrate({ pool, changeLogTable: settings.changeLogTable.qualified, notifyTrigger: this.flags['notify-trigger'], dryRun: this.flags['dry-run'] });
    } catch (err) {
      throw explainConnectionError(err, url);
    } finally {
      await pool.end().catch(() => undefined);
    }
    if (!this.jsonEnabled()) {
      const target = describeDatabaseUrl(url);
      this.table(['migration', 'status'], result.steps.map((s) => [s.key, s.reason ? `${s.status} (${s.reason})` : s.status]));
      const n = result.steps.filter((s) => s.status === (result.dryRun ? 'pending' : 'applied')).length;
      this.log(result.dryRun ? `${n} migration(s) would be applied to ${target}` : `${n} migration(s) applied to ${target}`);
    }
    return result;
  }
}
