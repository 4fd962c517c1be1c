import { BaseCommand, Flags } from '../../base';
import { UsageError } from '../../../errors';
import { moveCheckpoint, moveFlags, printMove, type CheckpointSetResult } from './set';

/** `fraiseql-observers checkpoint reset`: make a listener re-read the change log from the beginning. */
export default class CheckpointReset extends BaseCommand<typeof CheckpointReset> {
  static override summary = "Reset a listener's checkpoint to 0 (re-read the whole change log)";
  static override description =
    'Re-read rows whose workflows Temporal still retains are deduplicated; older ones start again. Requires --force. ' +
    'A running leader follows the reset within one poll interval.';
  static override examples = ['<%= config.bin %> checkpoint reset --listener-id orders --force'];
  static override flags = {
    ...moveFlags,
    force: Flags.boolean({ default: false, description: 'confirm the reset' }),
  };

  public async run(): Promise<CheckpointSetResult> {
    const s = this.settings();
    if (!this.flags.force) {
      throw new UsageError(`Resetting makes listener ${this.flags['listener-id']} re-read the whole change log; events older than Temporal's retention would run again. Re-run with --force to confirm.`);
    }
    const result = await moveCheckpoint(s, this.flags['listener-id'], '0', { force: true, create: this.flags.create });
    printMove(this, result);
    return result;
  }
}
