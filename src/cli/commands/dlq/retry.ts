import { Args } from '@oclif/core';
import { BaseCommand, Flags } from '../../base';
import { prefixFlag, withDlqClient } from '../../dlq-support';
import { temporalFlags } from '../../temporal';
import type { RetryDlqResult } from '../../../dlq/retry';

/** `fraiseql-observers dlq retry ID`: re-run only the failed actions of one entry. */
export default class DlqRetry extends BaseCommand<typeof DlqRetry> {
  static override summary = 'Retry a dead-letter entry: a new run that re-runs only the failed actions';
  static override description =
    'Starts a new run of the same workflow id. Actions that succeeded are carried over and not called again; ' +
    'the failed ones run again with the same idempotency keys. Refused when the latest run is not failed ' +
    '(still running, or already retried), so an entry is never retried twice.';
  static override examples = ['<%= config.bin %> dlq retry 5f0c7a52-2d0e-4c55-9d0b-6f1f3f3c9a10', '<%= config.bin %> dlq retry fraiseql-event:5f0c7a52-2d0e-4c55-9d0b-6f1f3f3c9a10 --json'];
  static override args = {
    id: Args.string({ required: true, description: 'workflow id, or the bare event id (the prefix is added)' }),
  };
  static override flags = {
    'task-queue': Flags.string({ summary: 'Task queue of the new run (default: the failed run’s queue)' }),
    ...prefixFlag,
    ...temporalFlags,
  };

  public async run(): Promise<RetryDlqResult> {
    const f = this.flags;
    const { retryDlq } = await import('../../../dlq/retry');
    const r = await withDlqClient(f, (client) => retryDlq(client, this.args.id, { taskQueue: f['task-queue'], workflowIdPrefix: f['workflow-id-prefix'] }));
    if (!this.jsonEnabled()) {
      this.log(`Started DLQ retry #${r.retryNumber} of ${r.workflowId}: new run ${r.runId} on task queue ${r.taskQueue}.`);
      this.log(`Re-runs: ${r.actionKeys.join(', ')}`);
      this.log(`Carried over (not called again): ${r.carriedKeys.length > 0 ? r.carriedKeys.join(', ') : 'none'}`);
    }
    return r;
  }
}
