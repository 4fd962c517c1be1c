import { createInterface } from 'node:readline/promises';
import { BaseCommand, Flags } from '../../base';
import { currentConfigFlags, describeChanges, filterFlags, loadCurrentObservers } from '../../dlq-support';
import { prefixFlag, temporalFlags } from '../../flags';
import { buildDlqQuery, parseLimit, parseRate } from '../../../dlq/filters';
import type { RetryAllItem, RetryAllResult } from '../../../dlq/retry';

const rateFlag = Flags.custom<number>({
  // Validated by retryAll, which names --rate in its message; NaN reaches it as such.
  parse: async (input) => Number(input),
});

/** `fraiseql-observers dlq retry-all`: retry every entry the filters select, at a bounded rate. */
export default class DlqRetryAll extends BaseCommand<typeof DlqRetryAll> {
  static override summary = 'Retry every dead-letter entry matching the filters (--dry-run changes nothing)';
  static override description =
    'Each entry is retried as with `dlq retry`: only its failed actions run again. --dry-run lists what would be ' +
    'retried and starts nothing. In a terminal, you are asked to confirm unless --yes is given.';
  static override examples = [
    '<%= config.bin %> dlq retry-all --observer order_shipped --dry-run',
    '<%= config.bin %> dlq retry-all --entity Order --since 1h --rate 5 --yes',
  ];
  static override flags = {
    ...filterFlags,
    'dry-run': Flags.boolean({ default: false, summary: 'Show what would be retried; start nothing' }),
    rate: rateFlag({ default: 10, summary: 'Retries started per second (0.01-1000)' }),
    limit: Flags.integer({ default: 1000, summary: 'Entries to retry at most (1-10000)' }),
    yes: Flags.boolean({ char: 'y', default: false, summary: 'Do not ask for confirmation' }),
    'task-queue': Flags.string({ summary: 'Task queue of the new runs (default: each failed run’s queue)' }),
    ...currentConfigFlags,
    ...prefixFlag,
    ...temporalFlags,
  };

  private line(item: RetryAllItem): string {
    const changes = item.configChanges ? `\n${describeChanges(item.configChanges).join('\n')}` : '';
    switch (item.status) {
      case 'would_retry':
        return `would retry ${item.workflowId} (#${item.retryNumber}): re-run ${item.actionKeys.join(', ')}; carry ${item.carriedKeys.join(', ') || 'nothing'}${changes}`;
      case 'retried':
        return `retried     ${item.workflowId} (#${item.retryNumber}) → run ${item.runId}: re-runs ${item.actionKeys.join(', ')}${changes}`;
      default:
        return `${item.status.padEnd(11)} ${item.workflowId}: ${item.message}`;
    }
  }

  private async confirmed(n: number): Promise<boolean> {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      const answer = await rl.question(`Retry ${n} dead-letter entr${n === 1 ? 'y' : 'ies'}? [y/N] `);
      return /^y(es)?$/i.test(answer.trim());
    } finally {
      rl.close();
    }
  }

  public async run(): Promise<RetryAllResult> {
    const f = this.flags;
    const { retryAll } = await import('../../../dlq/retry');
    const human = !this.jsonEnabled();
    const filters = { observer: f.observer, entity: f.entity, since: f.since };
    const s = this.settings({ database: false });
    buildDlqQuery(filters);
    parseRate(f.rate);
    parseLimit(f.limit);
    const currentObservers = await loadCurrentObservers(f);
    const common = { ratePerSecond: f.rate, limit: f.limit, taskQueue: f['task-queue'], workflowIdPrefix: s.workflowIdPrefix, currentObservers };
    const result = await this.withTemporal(s, async ({ client }) => {
      const ask = !f['dry-run'] && !f.yes && human && process.stdin.isTTY === true;
      if (ask) {
        const plan = await retryAll(client, filters, { ...common, dryRun: true });
        for (const item of plan.items) this.log(this.line(item));
        if (plan.counts.wouldRetry === 0 || !(await this.confirmed(plan.counts.wouldRetry))) {
          this.log('Nothing retried.');
          return plan;
        }
      }
      // Progress as it happens: at a few retries per second a large run takes a while.
      return await retryAll(client, filters, { ...common, dryRun: f['dry-run'], onItem: human ? (item) => this.log(this.line(item)) : undefined });
    });
    if (human) {
      const c = result.counts;
      const done = result.dryRun ? `${c.wouldRetry} would be retried (dry run: nothing was started)` : `${c.retried} retried`;
      this.log(`${result.matched} entr${result.matched === 1 ? 'y' : 'ies'} matched: ${done}, ${c.refused} refused, ${c.failed} failed.`);
      if (result.truncated) this.log(`More entries match than --limit ${f.limit}; run again for the rest.`);
    }
    return result;
  }
}
