import { BaseCommand, Flags } from '../../base';
import { clip, filterFlags, shortTime } from '../../dlq-support';
import { prefixFlag, temporalFlags } from '../../flags';
import { buildDlqQuery, decodePageToken, parseLimit } from '../../../dlq/filters';
import type { ListDlqResult } from '../../../dlq/list';

/** `fraiseql-observers dlq list`: the dead-letter entries, newest first. */
export default class DlqList extends BaseCommand<typeof DlqList> {
  static override summary = 'List dead-letter entries (failed processChangeEvent runs not yet retried)';
  static override description =
    'A dead-letter entry is a processChangeEvent run that failed because an action of an observer with failure policy dlq ' +
    'failed permanently or ran out of retries. Entries leave the list once `dlq retry` starts a new run for them.';
  static override examples = [
    '<%= config.bin %> dlq list',
    '<%= config.bin %> dlq list --observer order_shipped --since 2h',
    '<%= config.bin %> dlq list --entity Order --limit 200 --json',
  ];
  static override flags = {
    ...filterFlags,
    limit: Flags.integer({ default: 50, summary: 'Entries to show (1-10000)' }),
    'page-token': Flags.string({ summary: 'Continue after an earlier page (its nextPageToken)' }),
    'include-retried': Flags.boolean({ default: false, summary: 'Also list failed runs that a later run has already retried' }),
    ...prefixFlag,
    ...temporalFlags,
  };

  public async run(): Promise<ListDlqResult> {
    const f = this.flags;
    // Flag values first, so a typo is reported as such even when Temporal is down.
    const s = this.settings({ database: false });
    buildDlqQuery({ observer: f.observer, entity: f.entity, since: f.since });
    parseLimit(f.limit);
    decodePageToken(f['page-token']);
    const { listDlq } = await import('../../../dlq/list');
    const result = await this.withTemporal(s, ({ client }) =>
      listDlq(client, {
        observer: f.observer,
        entity: f.entity,
        since: f.since,
        limit: f.limit,
        pageToken: f['page-token'],
        includeRetried: f['include-retried'],
        workflowIdPrefix: s.workflowIdPrefix,
      }),
    );
    if (!this.jsonEnabled()) {
      if (result.entries.length === 0) {
        this.log('The dead-letter queue is empty for these filters.');
      } else {
        this.table(
          ['event id', 'entity', 'kind', 'observers', 'failed actions', 'failed at', 'summary'],
          result.entries.map((e) => [e.eventId ?? e.workflowId, e.entityType, e.kind, e.observers.join(', '), e.failedActions.join(', '), shortTime(e.closeTime), clip(e.summary)]),
        );
        this.log(`${result.entries.length} entr${result.entries.length === 1 ? 'y' : 'ies'}. Details: ${this.config.bin} dlq show <event id>`);
      }
      if (result.nextPageToken) this.log(`More entries: add --page-token ${result.nextPageToken}`);
    }
    return result;
  }
}
