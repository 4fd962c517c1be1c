import { BaseCommand, Flags } from '../../base';
import { databaseFlags, tableFlags } from '../../flags';
import { DatabaseUnreachableError, explainConnectionError } from '../../../db/errors';
import { UnknownListenerError } from './set';
import { createPool } from '../../../db/pool';
import { checkpointHistory, listCheckpoints, readCheckpoint, type CheckpointHistoryRecord, type CheckpointRecord } from '../../../listener/checkpoint-store';
import { inspectChangeLogTable } from '../../../listener/table-info';
import { quoteIdent } from '../../../db/identifiers';

/** A checkpoint with how far it is behind the change log. */
export interface CheckpointView extends CheckpointRecord {
  /** Highest position in the change-log table, as this role sees it. */
  head: string | null;
  lag: string | null;
}

/** Result of `checkpoint show`. */
export interface CheckpointShowResult {
  checkpoints: CheckpointView[];
  history?: CheckpointHistoryRecord[];
}

/** `fraiseql-observers checkpoint show`: where each listener is, and how far behind. */
export default class CheckpointShow extends BaseCommand<typeof CheckpointShow> {
  static override summary = 'Show listener checkpoints and their lag behind the change log';
  static override examples = ['<%= config.bin %> checkpoint show', '<%= config.bin %> checkpoint show --listener-id orders --history 10 --json'];
  static override flags = {
    ...databaseFlags,
    ...tableFlags,
    'listener-id': Flags.string({ description: 'only this listener' }),
    history: Flags.integer({ default: 0, min: 0, max: 1000, description: 'also show this many recent moves (needs --listener-id)' }),
  };

  public async run(): Promise<CheckpointShowResult> {
    const settings = this.settings();
    const url = settings.databaseUrl;
    const id = this.flags['listener-id'];
    if (this.flags.history > 0 && !id) this.error('--history needs --listener-id', { exit: 2 });
    const pool = createPool({ connectionString: url, max: 1, connectionTimeoutMillis: 10_000 });
    let result: CheckpointShowResult;
    try {
      const records = id ? [await readCheckpoint(pool, id)].filter((r): r is CheckpointRecord => r !== null) : await listCheckpoints(pool);
      if (id && records.length === 0) throw new UnknownListenerError(`--listener-id: listener ${JSON.stringify(id)} has no checkpoint yet`);
      let head: string | null = null;
      try {
        const info = await inspectChangeLogTable(pool, settings.changeLogTable.qualified, 'fraiseql_events');
        const { rows } = await pool.query<{ head: string | null }>(`SELECT max(${quoteIdent(info.cursorColumn)})::text AS head FROM ${info.sql}`);
        head = rows[0]?.head ?? null;
      } catch (err) {
        if (explainConnectionError(err, url) instanceof DatabaseUnreachableError) throw err;
        this.warn(`cannot read the change-log head: ${(err as Error).message}`);
      }
      const checkpoints = records.map((r) => ({
        ...r,
        head,
        lag: head === null ? null : (BigInt(head) > BigInt(r.lastProcessedId) ? BigInt(head) - BigInt(r.lastProcessedId) : 0n).toString(),
      }));
      result = { checkpoints };
      if (id && this.flags.history > 0) result.history = await checkpointHistory(pool, id, this.flags.history);
    } catch (err) {
      throw explainConnectionError(err, url);
    } finally {
      await pool.end().catch(() => undefined);
    }
    if (!this.jsonEnabled()) {
      if (result.checkpoints.length === 0) this.log('No checkpoints yet (no listener has run).');
      else {
        this.table(
          ['listener', 'position', 'lag', 'processed at', 'errors', 'last error', 'updated by'],
          result.checkpoints.map((c) => [c.listenerId, c.lastProcessedId, c.lag, c.lastProcessedAt.toISOString(), c.consecutiveErrors, c.lastError, c.updatedBy]),
        );
      }
      if (result.history) {
        this.table(['changed at', 'operation', 'from', 'to', 'events', 'by'], result.history.map((h) => [h.changedAt.toISOString(), h.operation, h.previousId, h.lastProcessedId, h.eventCount, h.updatedBy]));
      }
    }
    return result;
  }
}
