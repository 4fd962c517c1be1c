/**
 * What `fraiseql-observers status` reports, read from outside the listener process: the saved
 * checkpoints, the change log's head and the lag, positions still missing above each checkpoint,
 * which session holds each listener's leader lock, whether row-level security hides rows from the
 * connecting role, and the bad rows recorded. Everything comes from PostgreSQL's catalogs and the
 * service's own tables, so it works whether or not a listener is running.
 */
import type { Queryable } from '../db/pool';
import { DatabaseNotMigratedError } from '../db/errors';
import { advisoryKey } from '../db/advisory';
import { quoteIdent } from '../db/identifiers';
import { listCheckpoints, readCheckpoint, type CheckpointRecord } from './checkpoint-store';
import { describeRls, inspectChangeLogTable, type ChangeLogTableInfo } from './table-info';

/** The session holding a listener's leader lock. */
export interface LeaderSession {
  pid: number;
  applicationName: string | null;
  /** Null for a Unix-socket connection, or when the role may not see other sessions' details. */
  clientAddr: string | null;
  user: string | null;
  backendStart: Date | null;
  state: string | null;
}

/** Positions missing between a checkpoint and the head (uncommitted, rolled back, or hidden by RLS). */
export interface MissingPositions {
  /** Runs of consecutive missing positions. */
  ranges: number;
  positions: string;
  /** Lowest missing position: the checkpoint cannot pass it until that transaction has ended. */
  first: string | null;
  /** True when only the first {@link MISSING_SCAN_LIMIT} rows above the checkpoint were looked at. */
  truncated: boolean;
}

/** One recorded bad row, as status shows it. */
export interface BadRowSummary {
  pk: string;
  reason: string;
  message: string;
  recordedAt: Date;
}

/** Status of one listener id. */
export interface ListenerReport {
  listenerId: string;
  checkpoint: (CheckpointRecord & { ageSeconds: number }) | null;
  /** Rows visible above the checkpoint (null when the head is unknown). */
  lagIds: string | null;
  /** Age of the oldest row not yet behind the checkpoint (0 when caught up; null when the table has no timestamp column). */
  lagSeconds: number | null;
  missing: MissingPositions | null;
  leader: LeaderSession | null;
  /** Other sessions of this listener id waiting for the lock. */
  standbys: number;
  badRows: { count: number; latest: BadRowSummary[] };
}

/** The change-log table as the connecting role sees it. */
export interface TableReport {
  name: string;
  cursorColumn: string | null;
  head: string | null;
  notifyTrigger: boolean | null;
  role: string | null;
  /** True when row-level security filters what this role reads (the listener would miss rows). */
  rlsHidesRows: boolean;
  rlsWarning: string | null;
  /** Why the table could not be inspected, when it could not. */
  error: string | null;
}

/** The oldest transaction that holds a transaction id (the kind that can still fill a gap). */
export interface OpenTransaction {
  pid: number;
  applicationName: string | null;
  ageSeconds: number;
}

/** Everything `status` reports from PostgreSQL. */
export interface DatabaseStatus {
  table: TableReport;
  listeners: ListenerReport[];
  /** Present when some listener has missing positions above its checkpoint. */
  oldestWriteTransaction: OpenTransaction | null;
}

/** Rows above a checkpoint scanned to find missing positions. */
export const MISSING_SCAN_LIMIT = 100_000;

const LEASE_APP_PREFIX = 'fraiseql-observers lease ';

/**
 * Gather the status of every listener (or only `listenerId`).
 *
 * @throws when the service's tables are missing (with a message saying to run `migrate`) or the
 *   server is unreachable.
 */
export async function gatherDatabaseStatus(
  q: Queryable,
  p: { table: string; notifyChannel?: string; listenerId?: string; badRowsShown?: number },
): Promise<DatabaseStatus> {
  const { rows: present } = await q.query<{ t: string | null }>(`SELECT to_regclass('observer_checkpoints')::text AS t`);
  if (!present[0]?.t) throw new DatabaseNotMigratedError('this database', 'observer_checkpoints');

  let info: ChangeLogTableInfo | null = null;
  let tableError: string | null = null;
  try {
    info = await inspectChangeLogTable(q, p.table, p.notifyChannel ?? 'fraiseql_events');
  } catch (err) {
    tableError = (err as Error).message;
  }
  let head: string | null = null;
  if (info) {
    const { rows } = await q.query<{ head: string | null }>(`SELECT max(${quoteIdent(info.cursorColumn)})::text AS head FROM ${info.sql}`);
    head = rows[0]?.head ?? null;
  }
  const rlsWarning = info ? describeRls(info) : null;
  const table: TableReport = {
    name: info?.display ?? p.table,
    cursorColumn: info?.cursorColumn ?? null,
    head,
    notifyTrigger: info?.hasNotifyTrigger ?? null,
    role: info?.rls.role ?? null,
    rlsHidesRows: rlsWarning !== null,
    rlsWarning,
    error: tableError,
  };

  const checkpoints = p.listenerId ? [await readCheckpoint(q, p.listenerId)].filter((c): c is CheckpointRecord => c !== null) : await listCheckpoints(q);
  const ids = new Set(checkpoints.map((c) => c.listenerId));
  // Listeners that run but have not saved a checkpoint yet still show up through their lease sessions.
  const { rows: leaseApps } = await q.query<{ app: string }>(
    `SELECT DISTINCT application_name AS app FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE $1`,
    [`${LEASE_APP_PREFIX}%`],
  );
  for (const r of leaseApps) {
    const id = r.app.slice(LEASE_APP_PREFIX.length);
    if (!p.listenerId || id === p.listenerId) ids.add(id);
  }
  if (p.listenerId) ids.add(p.listenerId);

  const { rows: clock } = await q.query<{ now: Date }>('SELECT now() AS now');
  const now = clock[0]!.now.getTime();
  const byId = new Map(checkpoints.map((c) => [c.listenerId, c]));
  const listeners: ListenerReport[] = [];
  for (const id of [...ids].sort()) {
    const cp = byId.get(id) ?? null;
    const position = cp?.lastProcessedId ?? '0';
    const lag = info && head !== null ? await lagOf(q, info, position, head, cp !== null) : { lagIds: null, lagSeconds: null, missing: null };
    const leader = await leaderOf(q, id);
    listeners.push({
      listenerId: id,
      checkpoint: cp ? { ...cp, ageSeconds: Math.max(0, (now - cp.updatedAt.getTime()) / 1000) } : null,
      ...lag,
      leader,
      standbys: await standbysOf(q, id, leader?.pid ?? null),
      badRows: await badRowsOf(q, id, p.badRowsShown ?? 3),
    });
  }

  const needsTx = listeners.some((l) => (l.missing?.ranges ?? 0) > 0);
  return { table, listeners, oldestWriteTransaction: needsTx ? await oldestWriteTransaction(q) : null };
}

async function lagOf(
  q: Queryable,
  info: ChangeLogTableInfo,
  position: string,
  head: string,
  hasCheckpoint: boolean,
): Promise<Pick<ListenerReport, 'lagIds' | 'lagSeconds' | 'missing'>> {
  const cur = quoteIdent(info.cursorColumn);
  const lagIds = BigInt(head) > BigInt(position) ? (BigInt(head) - BigInt(position)).toString() : '0';
  const stamp = ['commit_time', 'created_at'].filter((c) => info.columns.has(c)).map((c) => `t.${quoteIdent(c)}`);
  let lagSeconds: number | null = null;
  if (stamp.length > 0) {
    const { rows } = await q.query<{ s: number | null }>(
      `SELECT extract(epoch FROM now() - coalesce(${stamp.join(', ')}))::float8 AS s FROM ${info.sql} t WHERE t.${cur} > $1::bigint ORDER BY t.${cur} LIMIT 1`,
      [position],
    );
    lagSeconds = rows[0] ? Math.max(0, rows[0].s ?? 0) : 0;
  }
  // A listener without a checkpoint has not started reading: every row is lag, none is "missing".
  if (!hasCheckpoint) return { lagIds, lagSeconds, missing: null };
  const { rows } = await q.query<{ ranges: number; positions: string; first: string | null; scanned: number }>(
    `WITH r AS (SELECT t.${cur} AS pk FROM ${info.sql} t WHERE t.${cur} > $1::bigint ORDER BY t.${cur} LIMIT $2),
          w AS (SELECT pk, lag(pk, 1, $1::bigint) OVER (ORDER BY pk) AS prev FROM r)
     SELECT count(*) FILTER (WHERE pk - prev > 1)::int AS ranges,
            coalesce(sum(pk - prev - 1) FILTER (WHERE pk - prev > 1), 0)::text AS positions,
            (min(prev) FILTER (WHERE pk - prev > 1) + 1)::text AS first,
            count(*)::int AS scanned
       FROM w`,
    [position, MISSING_SCAN_LIMIT],
  );
  const m = rows[0]!;
  return { lagIds, lagSeconds, missing: { ranges: m.ranges, positions: m.positions, first: m.first, truncated: m.scanned >= MISSING_SCAN_LIMIT } };
}

/** The session holding `listenerId`'s advisory lock in this database, with what pg_stat_activity says about it. */
export async function leaderOf(q: Queryable, listenerId: string): Promise<LeaderSession | null> {
  const key = advisoryKey('listener', listenerId);
  const { rows } = await q.query<LeaderSession>(
    `SELECT l.pid, a.application_name AS "applicationName", host(a.client_addr) AS "clientAddr", a.usename AS "user",
            a.backend_start AS "backendStart", a.state
       FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::oid AND l.objid = $2::oid AND l.objsubid = 1
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      LIMIT 1`,
    [key.classid, key.objid],
  );
  return rows[0] ?? null;
}

async function standbysOf(q: Queryable, listenerId: string, leaderPid: number | null): Promise<number> {
  const { rows } = await q.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND application_name = $1 AND pid IS DISTINCT FROM $2::int`,
    [`${LEASE_APP_PREFIX}${listenerId}`.slice(0, 63), leaderPid],
  );
  return rows[0]?.n ?? 0;
}

async function badRowsOf(q: Queryable, listenerId: string, shown: number): Promise<ListenerReport['badRows']> {
  const { rows: c } = await q.query<{ n: number }>('SELECT count(*)::int AS n FROM observer_bad_rows WHERE listener_id = $1', [listenerId]);
  const { rows } = await q.query<BadRowSummary>(
    `SELECT change_log_pk::text AS pk, reason, message, recorded_at AS "recordedAt" FROM observer_bad_rows
      WHERE listener_id = $1 ORDER BY recorded_at DESC, change_log_pk DESC LIMIT $2`,
    [listenerId, shown],
  );
  return { count: c[0]?.n ?? 0, latest: rows };
}

async function oldestWriteTransaction(q: Queryable): Promise<OpenTransaction | null> {
  const { rows } = await q.query<OpenTransaction>(
    `SELECT pid, application_name AS "applicationName", extract(epoch FROM now() - xact_start)::float8 AS "ageSeconds"
       FROM pg_stat_activity WHERE datname = current_database() AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()
      ORDER BY xact_start LIMIT 1`,
  );
  return rows[0] ?? null;
}
