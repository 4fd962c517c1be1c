import { Args } from '@oclif/core';
import { BaseCommand, Flags } from '../../base';
import { clip, shortTime } from '../../dlq-support';
import { prefixFlag, temporalFlags } from '../../flags';
import type { DlqShowResult } from '../../../dlq/show';

/** `fraiseql-observers dlq show ID`: one entry in full. */
export default class DlqShow extends BaseCommand<typeof DlqShow> {
  static override summary = 'Show a dead-letter entry: the event, each action’s outcome, failures and attempts';
  static override examples = [
    '<%= config.bin %> dlq show 5f0c7a52-2d0e-4c55-9d0b-6f1f3f3c9a10',
    '<%= config.bin %> dlq show fraiseql-event:5f0c7a52-2d0e-4c55-9d0b-6f1f3f3c9a10 --json',
  ];
  static override args = {
    id: Args.string({ required: true, description: 'workflow id, or the bare event id (the prefix is added)' }),
  };
  static override flags = {
    'run-id': Flags.string({ summary: 'A specific run (default: the latest failed run of the id)' }),
    ...prefixFlag,
    ...temporalFlags,
  };

  public async run(): Promise<DlqShowResult> {
    const f = this.flags;
    const { showDlq } = await import('../../../dlq/show');
    const s = this.settings({ database: false });
    const r = await this.withTemporal(s, ({ client }) => showDlq(client, this.args.id, { runId: f['run-id'], workflowIdPrefix: s.workflowIdPrefix }));
    if (!this.jsonEnabled()) {
      const retried = r.latestRun.runId !== r.runId ? ` — superseded by run ${r.latestRun.runId} (${r.latestRun.status})` : '';
      const lines: Array<[string, string | number | null]> = [
        ['workflow', r.workflowId],
        ['run', `${r.runId} (${r.status})${retried}`],
        ['event', r.eventId],
        ['entity', `${r.entityType ?? '?'} ${r.event?.entityId ?? ''}`.trim()],
        ['kind', r.kind],
        ['observers', r.observers.join(', ')],
        ['summary', r.summary],
        ['failure', r.failure ? `${r.failure.type ?? 'error'}: ${r.failure.message}` : null],
        ['started', shortTime(r.startTime)],
        ['closed', shortTime(r.closeTime)],
        ['history', `${r.historyLength} events`],
      ];
      if (r.retry) lines.push(['retry', `DLQ retry #${r.retry.retryNumber} of run ${r.retry.previousRunId} (re-ran ${r.retry.actionKeys.join(', ')})`]);
      for (const [k, v] of lines) if (v !== null && v !== '') this.log(`${`${k}:`.padEnd(11)}${v}`);
      if (r.actions.length > 0) {
        this.table(
          ['action', 'type', 'status', 'attempts', 'error type', 'error'],
          r.actions.map((a) => [a.key, a.type, a.status, a.attempts, a.errorType, clip(a.errorMessage, 120)]),
        );
      }
      for (const c of r.conditionErrors) this.log(`condition error (observer skipped): ${c.observer}: ${c.message}`);
      if (r.event) this.log(`event data:\n${JSON.stringify(r.event.data, null, 2)}`);
      if (r.status === 'FAILED' && r.latestRun.runId === r.runId) this.log(`Retry the failed actions with: ${this.config.bin} dlq retry ${r.workflowId}`);
    }
    return r;
  }
}
