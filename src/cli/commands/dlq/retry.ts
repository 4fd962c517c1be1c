import { Args } from '@oclif/core';
import { BaseCommand, Flags } from '../../base';
import { currentConfigFlags, describeChanges, loadCurrentObservers } from '../../dlq-support';
import { prefixFlag, temporalFlags } from '../../flags';
import type { RetryDlqResult, RetryPlan } from '../../../dlq/retry';

/** `fraiseql-observers dlq retry ID`: re-run only the failed actions of one entry. */
export default class DlqRetry extends BaseCommand<typeof DlqRetry> {
  static override summary = 'Retry a dead-letter entry: a new run that re-runs only the failed actions';
  static override description =
    'Starts a new run of the same workflow id. Actions that succeeded are carried over and not called again; ' +
    'the failed ones run again with the same idempotency keys. Refused when the latest run is not failed ' +
    '(still running, or already retried), so an entry is never retried twice. By default the actions run as they ' +
    'were configured when the event was first matched; after fixing the observers file (a typo in a URL, a retry ' +
    'policy), add --with-current-config --config FILE to match the event again against the file as it is now ' +
    '(--dry-run shows what changes).';
  static override examples = [
    '<%= config.bin %> dlq retry 5f0c7a52-2d0e-4c55-9d0b-6f1f3f3c9a10',
    '<%= config.bin %> dlq retry 5f0c7a52-2d0e-4c55-9d0b-6f1f3f3c9a10 --with-current-config --config observers.yaml --dry-run',
    '<%= config.bin %> dlq retry fraiseql-event:5f0c7a52-2d0e-4c55-9d0b-6f1f3f3c9a10 --json',
  ];
  static override args = {
    id: Args.string({ required: true, description: 'workflow id, or the bare event id (the prefix is added)' }),
  };
  static override flags = {
    'task-queue': Flags.string({ summary: 'Task queue of the new run (default: the failed run’s queue)' }),
    'dry-run': Flags.boolean({ default: false, summary: 'Show what the retry would run (and, with --with-current-config, what changes); start nothing' }),
    ...currentConfigFlags,
    ...prefixFlag,
    ...temporalFlags,
  };

  public async run(): Promise<RetryDlqResult | (RetryPlan & { dryRun: true })> {
    const f = this.flags;
    const { planRetry, retryDlq } = await import('../../../dlq/retry');
    const s = this.settings({ database: false });
    const currentObservers = await loadCurrentObservers(f);
    const options = { taskQueue: f['task-queue'], workflowIdPrefix: s.workflowIdPrefix, currentObservers };
    if (f['dry-run']) {
      const { plan } = await this.withTemporal(s, ({ client }) => planRetry(client, this.args.id, options));
      if (!this.jsonEnabled()) {
        this.log(`Would start DLQ retry #${plan.retryNumber} of ${plan.workflowId} on task queue ${plan.taskQueue} (dry run: nothing started).`);
        this.log(`Would run: ${plan.actionKeys.join(', ')}`);
        this.log(`Carried over (not called again): ${plan.carriedKeys.length > 0 ? plan.carriedKeys.join(', ') : 'none'}`);
        if (plan.configChanges) this.log([`With the current observers file (${f.config}):`, ...describeChanges(plan.configChanges)].join('\n'));
      }
      return { ...plan, dryRun: true };
    }
    const r = await this.withTemporal(s, ({ client }) => retryDlq(client, this.args.id, options));
    if (!this.jsonEnabled()) {
      this.log(`Started DLQ retry #${r.retryNumber} of ${r.workflowId}: new run ${r.runId} on task queue ${r.taskQueue}.`);
      this.log(`Re-runs: ${r.actionKeys.join(', ')}`);
      this.log(`Carried over (not called again): ${r.carriedKeys.length > 0 ? r.carriedKeys.join(', ') : 'none'}`);
      if (r.configChanges) this.log([`With the current observers file (${f.config}):`, ...describeChanges(r.configChanges)].join('\n'));
    }
    return r;
  }
}
