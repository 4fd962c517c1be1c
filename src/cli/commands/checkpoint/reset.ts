import { BaseCommand, Flags } from '../../base';
import { runMove, type CheckpointSetResult } from './set';

/** `fraiseql-observers checkpoint reset`: make a listener re-read the change log from the beginning. */
export default class CheckpointReset extends BaseCommand<typeof CheckpointReset> {
  static override summary = "Reset a listener's checkpoint to 0 (re-read the whole change log)";
  static override description = 'Re-read rows whose workflows Temporal still retains are deduplicated; older ones start again. Requires --force.';
  static override examples = ['<%= config.bin %> checkpoint reset --listener-id orders --force'];
  static override flags = {
    'database-url': Flags.string({ env: 'DATABASE_URL', description: 'PostgreSQL connection string (default: $DATABASE_URL)' }),
    'listener-id': Flags.string({ required: true, description: 'listener whose checkpoint to reset' }),
    force: Flags.boolean({ default: false, description: 'confirm the reset' }),
  };

  public async run(): Promise<CheckpointSetResult> {
    const url = this.flags['database-url'];
    if (!url) this.error('No database given: pass --database-url or set DATABASE_URL', { exit: 2 });
    if (!this.flags.force) {
      this.error(`Resetting makes listener ${this.flags['listener-id']} re-read the whole change log; events older than Temporal's retention would run again. Re-run with --force to confirm.`, { exit: 2 });
    }
    return runMove(this, url, this.flags['listener-id'], '0');
  }
}
