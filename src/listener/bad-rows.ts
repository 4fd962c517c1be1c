/**
 * `observer_bad_rows`: change-log rows skipped because they could not become events. A bad row is
 * recorded before the checkpoint may pass it, so the reason is never lost with the log line.
 */
import type { Queryable } from '../db/pool';

/** One recorded bad row. */
export interface BadRowRecord {
  listenerId: string;
  /** The change-log position (decimal string). */
  pk: string;
  eventId: string | null;
  reason: string;
  message: string;
  recordedAt: Date;
}

const COLUMNS = `listener_id AS "listenerId", change_log_pk::text AS pk, event_id AS "eventId", reason, message, recorded_at AS "recordedAt"`;

/** Record a bad row; re-recording the same position (after a restart) keeps the first record. */
export async function recordBadRow(q: Queryable, r: { listenerId: string; pk: string; eventId: string | null; reason: string; message: string }): Promise<void> {
  await q.query(
    `INSERT INTO observer_bad_rows (listener_id, change_log_pk, event_id, reason, message)
     VALUES ($1, $2::bigint, $3, $4, $5) ON CONFLICT (listener_id, change_log_pk) DO NOTHING`,
    [r.listenerId, r.pk, r.eventId, r.reason.slice(0, 200), r.message.slice(0, 4000)],
  );
}

/** Recent bad rows, newest first, optionally for one listener. */
export async function listBadRows(q: Queryable, p: { listenerId?: string; limit?: number } = {}): Promise<BadRowRecord[]> {
  const { rows } = await q.query<BadRowRecord>(
    `SELECT ${COLUMNS} FROM observer_bad_rows WHERE ($1::text IS NULL OR listener_id = $1)
      ORDER BY recorded_at DESC, change_log_pk DESC LIMIT $2`,
    [p.listenerId ?? null, p.limit ?? 50],
  );
  return rows;
}

/** Bad-row records for one change-log position or event id (any listener). */
export async function findBadRow(q: Queryable, key: { pk?: string; eventId?: string }): Promise<BadRowRecord[]> {
  const { rows } = await q.query<BadRowRecord>(
    `SELECT ${COLUMNS} FROM observer_bad_rows
      WHERE ($1::bigint IS NOT NULL AND change_log_pk = $1::bigint) OR ($2::text IS NOT NULL AND event_id = $2)
      ORDER BY listener_id`,
    [key.pk ?? null, key.eventId ?? null],
  );
  return rows;
}
