/**
 * The listener's one read statement. Everything comes from a single statement so that the rows,
 * the snapshot they were read under and the list of running transactions belong together
 * (pg_current_snapshot() returns the statement's own snapshot; pg_locks is read after it).
 * Rows travel as one JSON array per part: one round trip, bigints cast to text.
 */
import type { Queryable } from '../db/pool';
import { queryPrepared, type PreparedQueryable } from '../db/prepared';
import type { ChangeLogRow } from '../events/types';
import { quoteIdent } from '../db/identifiers';
import { parseSnapshot, type PgSnapshot } from './snapshot';
import { type ChangeLogTableInfo, selectList } from './table-info';

/** Parameters of one read. */
export interface ReadParams {
  after: bigint;
  newLimit: number;
  gapLo: string[];
  gapHi: string[];
  gapLimit: number;
  /** Whose saved checkpoint to read along (so a `checkpoint set` is noticed at the next read). */
  listenerId: string;
}

/** Result of one read. */
export interface ReadOutcome {
  snapshot: PgSnapshot;
  active: Set<string>;
  newRows: ChangeLogRow[];
  gapRows: ChangeLogRow[];
  /** Highest position in the table visible to this read, or null when it looks empty. */
  head: bigint | null;
  /** The checkpoint saved in observer_checkpoints as this read saw it (null: no row). */
  stored: bigint | null;
  /** Age in seconds of the first row after the stored checkpoint (0 when none; null without a timestamp column). */
  lagSeconds: number | null;
}

/** Build the read statement for `info` (built once per table). */
export function buildReadSql(info: ChangeLogTableInfo): string {
  const cur = `t.${quoteIdent(info.cursorColumn)}`;
  const cols = selectList(info, 't');
  const stamps = ['commit_time', 'created_at'].filter((c) => info.columns.has(c)).map((c) => `l.${quoteIdent(c)}`);
  // Same definition as `status`: how old the oldest row not yet behind the saved checkpoint is.
  const lag = stamps.length === 0
    ? 'NULL::float8'
    : `coalesce((SELECT greatest(0, extract(epoch FROM now() - coalesce(${stamps.join(', ')})))::float8 FROM ${info.sql} l
        WHERE l.${quoteIdent(info.cursorColumn)} > (SELECT c.last_processed_id FROM observer_checkpoints c WHERE c.listener_id = $6)
        ORDER BY l.${quoteIdent(info.cursorColumn)} LIMIT 1), 0)`;
  return `WITH fresh AS MATERIALIZED (
  SELECT ${cols} FROM ${info.sql} t WHERE ${cur} > $1::bigint ORDER BY ${cur} LIMIT $2
), probed AS MATERIALIZED (
  SELECT x.* FROM unnest($3::bigint[], $4::bigint[]) AS g(lo, hi)
  CROSS JOIN LATERAL (
    SELECT ${cols} FROM ${info.sql} t WHERE ${cur} BETWEEN g.lo AND g.hi ORDER BY ${cur} LIMIT $5
  ) x
  ORDER BY x.pk::bigint LIMIT $5
)
SELECT pg_current_snapshot()::text AS snapshot,
       ARRAY(SELECT l.virtualxid FROM pg_locks l
              WHERE l.locktype = 'virtualxid' AND l.granted AND l.mode = 'ExclusiveLock'
                AND l.pid IS DISTINCT FROM pg_backend_pid()
             UNION ALL
             SELECT 'prepared:' || p.transaction::text FROM pg_prepared_xacts p) AS active,
       (SELECT coalesce(json_agg(f), '[]'::json) FROM fresh f)::text AS fresh,
       (SELECT coalesce(json_agg(g), '[]'::json) FROM probed g)::text AS probed,
       (SELECT max(${cur}) FROM ${info.sql} t)::text AS head,
       (SELECT c.last_processed_id FROM observer_checkpoints c WHERE c.listener_id = $6)::text AS stored,
       ${lag} AS lag_seconds`;
}

function ascending(rows: ChangeLogRow[]): ChangeLogRow[] {
  for (let i = 1; i < rows.length; i++) {
    if (BigInt(rows[i - 1]!.pk) >= BigInt(rows[i]!.pk)) {
      return [...rows].sort((a, b) => (BigInt(a.pk) < BigInt(b.pk) ? -1 : 1));
    }
  }
  return rows;
}

/** Run one read, as a named prepared statement: it runs at every NOTIFY, and planning it each time cost more than running it. */
export async function runRead(q: PreparedQueryable, sql: string, p: ReadParams): Promise<ReadOutcome> {
  const { rows } = await queryPrepared<{ snapshot: string; active: string[]; fresh: string; probed: string; head: string | null; stored: string | null; lag_seconds: number | null }>(q, 'fraiseql-read', sql, [
    p.after.toString(), p.newLimit, p.gapLo, p.gapHi, p.gapLimit, p.listenerId,
  ]);
  const r = rows[0];
  if (!r) throw new Error('Change-log read returned no result row');
  return {
    snapshot: parseSnapshot(r.snapshot),
    active: new Set(r.active),
    newRows: ascending(JSON.parse(r.fresh) as ChangeLogRow[]),
    gapRows: ascending(JSON.parse(r.probed) as ChangeLogRow[]),
    head: r.head === null ? null : BigInt(r.head),
    stored: r.stored === null ? null : BigInt(r.stored),
    lagSeconds: r.lag_seconds,
  };
}

/**
 * The statement reading the `$2` rows at and below position `$1`, newest first (one JSON array),
 * for {@link RowHandler.prime} at the start of a leader term.
 */
export function buildRecentSql(info: ChangeLogTableInfo): string {
  const cur = `t.${quoteIdent(info.cursorColumn)}`;
  return `SELECT coalesce(json_agg(r), '[]'::json)::text AS rows FROM (
  SELECT ${selectList(info, 't')} FROM ${info.sql} t WHERE ${cur} <= $1::bigint ORDER BY ${cur} DESC LIMIT $2
) r`;
}

/** Run {@link buildRecentSql}; rows come back ascending. */
export async function readRecent(q: Queryable, sql: string, upTo: bigint, limit: number): Promise<ChangeLogRow[]> {
  const { rows } = await q.query<{ rows: string }>(sql, [upTo.toString(), limit]);
  return ascending(JSON.parse(rows[0]?.rows ?? '[]') as ChangeLogRow[]);
}
