/**
 * `debug-event`'s database side: find one change-log row by position or event id, exactly as the
 * listener reads it (same column list and casts), and map it the way the listener does, so what
 * the operator sees is what the listener saw.
 */
import { EXIT_CODES, ObserversError, type ExitCode } from '../errors';
import type { Queryable } from '../db/pool';
import { quoteIdent } from '../db/identifiers';
import { BadRowError, rowToEvent } from '../events/map-row';
import type { ChangeEvent, ChangeLogRow } from '../events/types';
import { findBadRow, type BadRowRecord } from './bad-rows';
import { describeRls, selectList, type ChangeLogTableInfo } from './table-info';

/** How the operator named the row. */
export type EventKey = { kind: 'position'; pk: string } | { kind: 'event-id'; id: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The row cannot be looked up as asked; the message says why and what to pass instead. */
export class EventLookupError extends ObserversError {
  override readonly exitCode: ExitCode;
  constructor(
    message: string,
    readonly code: 'bad_key' | 'not_found' | 'no_id_column',
  ) {
    super(message);
    // No such row is the answer to the question (1); a key that cannot work here is bad usage (2).
    this.exitCode = code === 'not_found' ? EXIT_CODES.failed : EXIT_CODES.usage;
  }
}

/**
 * Parse a `debug-event` argument: digits are a change-log position, a uuid is an event id.
 *
 * @throws EventLookupError (bad_key) for anything else.
 */
export function parseEventKey(raw: string): EventKey {
  const s = raw.trim();
  if (/^[0-9]{1,19}$/.test(s) && BigInt(s) <= 9_223_372_036_854_775_807n) return { kind: 'position', pk: BigInt(s).toString() };
  if (UUID.test(s)) return { kind: 'event-id', id: s.toLowerCase() };
  throw new EventLookupError(`expected a change-log position (digits) or an event id (uuid), got ${JSON.stringify(raw)}`, 'bad_key');
}

/** What the listener makes of one row. */
export interface EventLookup {
  row: ChangeLogRow;
  /** The mapped event, or null when the row is bad. */
  event: ChangeEvent | null;
  /** Why the row cannot become an event (what the listener records), or null. */
  bad: { reason: string; message: string } | null;
  /** Bad-row records of this position by any listener. */
  recordedBadRows: BadRowRecord[];
}

/**
 * Read the row named by `key` from the change-log table and map it as the listener would.
 *
 * @param mappingTable the table name the listener derives event ids with (CHANGE_LOG_TABLE as configured).
 * @throws EventLookupError when there is no such row (mentioning RLS when it may be why), or when
 *   an event id is given for a table whose event ids are derived from positions.
 */
export async function lookUpEvent(q: Queryable, info: ChangeLogTableInfo, key: EventKey, mappingTable: string): Promise<EventLookup> {
  const cur = quoteIdent(info.cursorColumn);
  let where: string;
  let value: string;
  if (key.kind === 'position') {
    where = `t.${cur} = $1::bigint`;
    value = key.pk;
  } else if (info.columns.get('id') === 'uuid') {
    where = 't.id = $1::uuid';
    value = key.id;
  } else {
    // Derived ids (uuid v5 of table and position) cannot be reversed; a recorded bad row may still name the position.
    const recorded = await findBadRow(q, { eventId: key.id });
    const hint = recorded[0] ? ` (a bad-row record names position ${recorded[0].pk})` : '';
    throw new EventLookupError(
      `${info.display} has no uuid id column, so its event ids are derived from positions and cannot be looked up: pass the position (${info.cursorColumn}) instead${hint}`,
      'no_id_column',
    );
  }
  const { rows } = await q.query<{ row: ChangeLogRow }>(`SELECT row_to_json(x) AS row FROM (SELECT ${selectList(info, 't')} FROM ${info.sql} t WHERE ${where} LIMIT 1) x`, [value]);
  const row = rows[0]?.row;
  if (!row) {
    const what = key.kind === 'position' ? `position ${key.pk}` : `event id ${key.id}`;
    const rls = describeRls(info) ? ` (row-level security is active for role ${info.rls.role}: the row may exist but be hidden)` : '';
    throw new EventLookupError(`No change-log row with ${what} in ${info.display}${rls}`, 'not_found');
  }
  let event: ChangeEvent | null = null;
  let bad: EventLookup['bad'] = null;
  try {
    event = rowToEvent(row, { table: mappingTable });
  } catch (err) {
    if (!(err instanceof BadRowError)) throw err;
    bad = { reason: err.reason, message: err.message };
  }
  const recordedBadRows = await findBadRow(q, { pk: row.pk });
  return { row, event, bad, recordedBadRows };
}
