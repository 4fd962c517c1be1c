/**
 * The `observer_checkpoints` table: one row per listener id, moved only by compare-and-swap.
 * The listener's saves are also fenced by its leader lease: the UPDATE runs on the lease session
 * and only matches while that session holds the listener's advisory lock, so a deposed leader
 * cannot move the checkpoint even if its old expectation still matches.
 */
import type { Queryable } from '../db/pool';
import type { AdvisoryKey } from '../db/advisory';

/** One checkpoint row; positions are decimal strings (bigint). */
export interface CheckpointRecord {
  listenerId: string;
  lastProcessedId: string;
  lastProcessedAt: Date;
  batchSize: number;
  eventCount: number;
  consecutiveErrors: number;
  lastError: string | null;
  updatedBy: string | null;
  updatedAt: Date;
}

/** One history row (written by the table's trigger). */
export interface CheckpointHistoryRecord {
  listenerId: string;
  operation: string;
  previousId: string | null;
  lastProcessedId: string | null;
  eventCount: number | null;
  updatedBy: string | null;
  changedAt: Date;
}

/** Outcome of a compare-and-swap: saved; someone else moved it (`current`); or this session lost the lease. */
export type CasResult = { outcome: 'saved' } | { outcome: 'conflict'; current: string | null } | { outcome: 'fenced' };

const COLUMNS = `listener_id AS "listenerId", last_processed_id::text AS "lastProcessedId", last_processed_at AS "lastProcessedAt",
  batch_size AS "batchSize", event_count AS "eventCount", consecutive_errors AS "consecutiveErrors",
  last_error AS "lastError", updated_by AS "updatedBy", updated_at AS "updatedAt"`;

// True while the session running the statement holds the lease (pg_locks lists a bigint key as classid/objid, objsubid 1).
const HOLDS_LEASE = `EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()
  AND classid = $LOCK_HI::oid AND objid = $LOCK_LO::oid AND objsubid = 1)`;

function holdsLease(hiParam: number, loParam: number): string {
  return HOLDS_LEASE.replace('$LOCK_HI', `$${hiParam}`).replace('$LOCK_LO', `$${loParam}`);
}

const INT32_MAX = 2 ** 31 - 1;

/** Read one listener's checkpoint, or null when it has none yet. */
export async function readCheckpoint(q: Queryable, listenerId: string): Promise<CheckpointRecord | null> {
  const { rows } = await q.query<CheckpointRecord>(`SELECT ${COLUMNS} FROM observer_checkpoints WHERE listener_id = $1`, [listenerId]);
  return rows[0] ?? null;
}

/** Every checkpoint, ordered by listener id. */
export async function listCheckpoints(q: Queryable): Promise<CheckpointRecord[]> {
  const { rows } = await q.query<CheckpointRecord>(`SELECT ${COLUMNS} FROM observer_checkpoints ORDER BY listener_id`);
  return rows;
}

/** Create the listener's checkpoint at position 0 unless it exists; return it. */
export async function ensureCheckpoint(q: Queryable, p: { listenerId: string; batchSize: number; updatedBy: string }): Promise<CheckpointRecord> {
  await q.query(
    `INSERT INTO observer_checkpoints (listener_id, last_processed_id, batch_size, updated_by)
     VALUES ($1, 0, $2, $3) ON CONFLICT (listener_id) DO NOTHING`,
    [p.listenerId, p.batchSize, p.updatedBy],
  );
  const cp = await readCheckpoint(q, p.listenerId);
  if (!cp) throw new Error(`Checkpoint of listener ${p.listenerId} vanished right after creation`);
  return cp;
}

/**
 * Move the checkpoint from `expected` to `next` only if it is still at `expected` and, with
 * `fence`, only if the session running this holds that advisory lock.
 */
export async function compareAndSwapCheckpoint(
  q: Queryable,
  p: { listenerId: string; expected: string; next: string; eventCount: number; batchSize: number; updatedBy: string; fence?: AdvisoryKey },
): Promise<CasResult> {
  const values: unknown[] = [p.listenerId, p.expected, p.next, Math.min(p.eventCount, INT32_MAX), p.batchSize, p.updatedBy];
  let fence = '';
  if (p.fence) {
    values.push(p.fence.classid, p.fence.objid);
    fence = ` AND ${holdsLease(7, 8)}`;
  }
  const res = await q.query(
    `UPDATE observer_checkpoints
        SET last_processed_id = $3::bigint, last_processed_at = now(), event_count = $4, batch_size = $5,
            consecutive_errors = 0, updated_by = $6, updated_at = now()
      WHERE listener_id = $1 AND last_processed_id = $2::bigint${fence}`,
    values,
  );
  if (res.rowCount === 1) return { outcome: 'saved' };
  if (p.fence) {
    const { rows } = await q.query<{ holds: boolean }>(`SELECT ${holdsLease(1, 2)} AS holds`, [p.fence.classid, p.fence.objid]);
    if (!rows[0]?.holds) return { outcome: 'fenced' };
  }
  const current = await readCheckpoint(q, p.listenerId);
  return { outcome: 'conflict', current: current?.lastProcessedId ?? null };
}

/** Count a processing error on the checkpoint row (fenced like a save); consecutive_errors resets on the next save. */
export async function recordCheckpointError(q: Queryable, p: { listenerId: string; message: string; updatedBy: string; fence?: AdvisoryKey }): Promise<void> {
  const values: unknown[] = [p.listenerId, p.message.slice(0, 2000), p.updatedBy];
  let fence = '';
  if (p.fence) {
    values.push(p.fence.classid, p.fence.objid);
    fence = ` AND ${holdsLease(4, 5)}`;
  }
  await q.query(
    `UPDATE observer_checkpoints SET consecutive_errors = consecutive_errors + 1, last_error = $2, updated_by = $3, updated_at = now()
      WHERE listener_id = $1${fence}`,
    values,
  );
}

/**
 * Set a checkpoint unconditionally (operator action), creating it if needed.
 * Returns the previous position, or null when the listener had no checkpoint.
 */
export async function setCheckpoint(q: Queryable, p: { listenerId: string; position: string; updatedBy: string }): Promise<{ previous: string | null }> {
  const { rows } = await q.query<{ previous: string | null }>(
    `WITH old AS (SELECT last_processed_id FROM observer_checkpoints WHERE listener_id = $1 FOR UPDATE),
          upsert AS (
            INSERT INTO observer_checkpoints (listener_id, last_processed_id, updated_by)
            VALUES ($1, $2::bigint, $3)
            ON CONFLICT (listener_id) DO UPDATE
              SET last_processed_id = EXCLUDED.last_processed_id, last_processed_at = now(),
                  consecutive_errors = 0, last_error = NULL, updated_by = EXCLUDED.updated_by, updated_at = now()
            RETURNING 1)
     SELECT (SELECT last_processed_id::text FROM old) AS previous, (SELECT count(*) FROM upsert) AS n`,
    [p.listenerId, p.position, p.updatedBy],
  );
  return { previous: rows[0]?.previous ?? null };
}

/** The most recent history rows of a listener, newest first. */
export async function checkpointHistory(q: Queryable, listenerId: string, limit = 20): Promise<CheckpointHistoryRecord[]> {
  const { rows } = await q.query<CheckpointHistoryRecord>(
    `SELECT listener_id AS "listenerId", operation, previous_id::text AS "previousId", last_processed_id::text AS "lastProcessedId",
            event_count AS "eventCount", updated_by AS "updatedBy", changed_at AS "changedAt"
       FROM observer_checkpoint_history WHERE listener_id = $1 ORDER BY history_id DESC LIMIT $2`,
    [listenerId, limit],
  );
  return rows;
}

/** Delete a listener's history rows older than `olderThanSeconds`; returns how many were removed. */
export async function pruneCheckpointHistory(q: Queryable, listenerId: string, olderThanSeconds: number): Promise<number> {
  const res = await q.query(
    `DELETE FROM observer_checkpoint_history WHERE listener_id = $1 AND changed_at < now() - make_interval(secs => $2)`,
    [listenerId, olderThanSeconds],
  );
  return res.rowCount ?? 0;
}
