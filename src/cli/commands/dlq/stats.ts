import { BaseCommand, Flags } from '../../base';
import { filterFlags, shortTime } from '../../dlq-support';
import { temporalFlags } from '../../flags';
import { buildDlqQuery, parseLimit } from '../../../dlq/filters';
import type { DlqStats } from '../../../dlq/stats';

/** `fraiseql-observers dlq stats`: entry counts by observer, error type and entity type. */
export default class DlqStatsCommand extends BaseCommand<typeof DlqStatsCommand> {
  static override summary = 'Count dead-letter entries by observer, error type and entity type';
  static override examples = ['<%= config.bin %> dlq stats', '<%= config.bin %> dlq stats --since 24h --json'];
  static override flags = {
    ...filterFlags,
    limit: Flags.integer({ default: 10_000, summary: 'Entries to read at most (1-10000)' }),
    ...temporalFlags,
  };

  public async run(): Promise<DlqStats> {
    const f = this.flags;
    const settings = this.settings({ database: false });
    buildDlqQuery({ observer: f.observer, entity: f.entity, since: f.since });
    parseLimit(f.limit);
    const { dlqStats } = await import('../../../dlq/stats');
    const s = await this.withTemporal(settings, ({ client }) => dlqStats(client, { observer: f.observer, entity: f.entity, since: f.since }, { limit: f.limit }));
    if (!this.jsonEnabled()) {
      if (s.entries === 0) {
        this.log('The dead-letter queue is empty for these filters.');
        return s;
      }
      this.log(`${s.entries} entr${s.entries === 1 ? 'y' : 'ies'}, ${s.failedActions} failed action(s); oldest ${shortTime(s.oldest)}, newest ${shortTime(s.newest)}`);
      this.table(['observer', 'entries', 'failed actions'], s.byObserver.map((r) => [r.observer, r.entries, r.failedActions]));
      this.table(['error type', 'failed actions'], s.byErrorType.map((r) => [r.errorType, r.failedActions]));
      this.table(['entity type', 'entries'], s.byEntityType.map((r) => [r.entityType, r.entries]));
      if (s.truncated) this.log(`Counted the first ${f.limit} entries only (--limit).`);
    }
    return s;
  }
}
