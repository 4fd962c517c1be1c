import { ObserversError } from '../errors';
import { jsonEqual } from './condition';
import { deriveEventId } from './event-id';
import type { ChangeEvent, ChangeLogRow, EventKind } from './types';

/** Why a row cannot become an event; stable codes, used as a metric label and in `debug-event`. */
export type BadRowReason =
  | 'unknown_modification_type'
  | 'null_object_type'
  | 'malformed_object_id'
  | 'malformed_id'
  | 'non_object_data'
  | 'malformed_json'
  | 'malformed_updated_fields';

/** A change-log row that can never become an event. The listener skips it, records why, and moves on. */
export class BadRowError extends ObserversError {
  constructor(
    readonly pk: string,
    readonly reason: BadRowReason,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`change-log row ${pk}: ${detail}`, options);
  }
}

export interface RowToEventOptions {
  /**
   * The change-log table the row came from, `schema.table` as configured. Only used to derive
   * the event id of rows without a uuid `id` column (see {@link deriveEventId}).
   */
  table?: string;
}

export const DEFAULT_CHANGE_LOG_TABLE = 'core.tb_entity_change_log';

const KINDS: Readonly<Record<string, EventKind>> = {
  INSERT: 'INSERT',
  UPDATE: 'UPDATE',
  DELETE: 'DELETE',
  CUSTOM: 'CUSTOM',
  // FraiseQL logs these for mutations that changed nothing or only read; observers see them as CUSTOM.
  NOOP: 'CUSTOM',
  READ: 'CUSTOM',
};
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_OBJECT_ID_LENGTH = 1024;

/**
 * Maps one change-log row (the full FraiseQL contract or the minimal Phase 8 table) to an event.
 *
 * - `id`: the row's uuid, or a name-based UUID derived from table + pk when the table has none.
 * - NOOP and READ become CUSTOM (`rawKind` keeps the original).
 * - `data`: the after-image; for DELETE the pre-image (or the logged object, or `{}`).
 * - `changes`: for UPDATE with both images, the fields listed in `updated_fields` when given,
 *   otherwise every top-level field whose value differs.
 * - JSON columns arrive as text (the listener sends json/jsonb as text, see `selectList`) and are
 *   decoded here exactly once: a document that decodes to anything but an object (a JSON string
 *   included, even one holding JSON text) is `non_object_data`, never decoded again.
 *
 * @throws BadRowError naming the row's pk and a {@link BadRowReason}.
 */
export function rowToEvent(row: ChangeLogRow, opts: RowToEventOptions = {}): ChangeEvent {
  const pk = String(row.pk);
  const bad = (reason: BadRowReason, detail: string, cause?: unknown): BadRowError =>
    new BadRowError(pk, reason, detail, cause === undefined ? undefined : { cause });

  const rawKind = typeof row.modification_type === 'string' ? row.modification_type.trim().toUpperCase() : null;
  const kind = rawKind === null ? undefined : KINDS[rawKind];
  if (kind === undefined) {
    throw bad(
      'unknown_modification_type',
      `unknown modification_type ${describe(row.modification_type)} (expected INSERT, UPDATE, DELETE, CUSTOM, NOOP or READ)`,
    );
  }

  if (typeof row.object_type !== 'string' || row.object_type.trim() === '') {
    throw bad('null_object_type', `object_type is ${describe(row.object_type)}; every row must name its entity type`);
  }

  const id = eventId(row, pk, opts.table ?? DEFAULT_CHANGE_LOG_TABLE, bad);
  const entityId = objectId(row.object_id, bad);
  const after = jsonObject(row.object_data, 'object_data', bad);
  const before = jsonObject(row.object_data_before, 'object_data_before', bad);
  const updatedFields = fieldList(row.updated_fields, bad);

  const data = kind === 'DELETE' ? (before ?? after ?? {}) : (after ?? {});
  const changes = kind === 'UPDATE' && before !== null && after !== null ? diff(before, after, updatedFields) : null;
  const actorType = text(row.actor_type);
  const actingFor = text(row.acting_for);
  const traceId = text(row.trace_id);
  const traceContext = traceContextOf(row.trace_context);

  return {
    id,
    position: pk,
    kind,
    rawKind: rawKind as string,
    entityType: row.object_type,
    entityId,
    data,
    before,
    changes,
    updatedFields,
    tenantId: text(row.tenant_id),
    userId: text(row.fk_contact),
    customerOrgId: text(row.fk_customer_org),
    actor: actorType === null && actingFor === null ? null : { type: actorType, actingFor },
    createdAt: timestamp(row.created_at),
    commitTime: timestamp(row.commit_time),
    trace: traceId === null && traceContext === null ? null : { traceId, context: traceContext },
  };
}

type Bad = (reason: BadRowReason, detail: string, cause?: unknown) => BadRowError;

function eventId(row: ChangeLogRow, pk: string, table: string, bad: Bad): string {
  // The minimal table has no id column at all (undefined); a present but NULL id is not in the contract either.
  if (row.id === undefined || row.id === null) return deriveEventId(table, pk);
  if (typeof row.id !== 'string' || !UUID.test(row.id)) throw bad('malformed_id', `id ${describe(row.id)} is not a UUID`);
  return row.id.toLowerCase();
}

function objectId(value: unknown, bad: Bad): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'string' && value.trim() !== '' && value.length <= MAX_OBJECT_ID_LENGTH) return value;
  throw bad('malformed_object_id', `object_id ${describe(value)} is not an identifier (a non-empty text of at most ${MAX_OBJECT_ID_LENGTH} characters)`);
}

function jsonObject(value: unknown, column: string, bad: Bad): Record<string, unknown> | null {
  let parsed = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch (err) {
      throw bad('malformed_json', `${column} is not valid JSON (${(err as Error).message})`, err);
    }
  }
  if (parsed === null || parsed === undefined) return null;
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw bad('non_object_data', `${column} must be a JSON object, got ${Array.isArray(parsed) ? 'an array' : `the ${typeof parsed} ${JSON.stringify(parsed)}`}`);
  }
  return parsed as Record<string, unknown>;
}

function fieldList(value: unknown, bad: Bad): string[] | null {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value) && value.every((f) => typeof f === 'string')) return value as string[];
  throw bad('malformed_updated_fields', `updated_fields must be a text[] of field names, got ${describe(value)}`);
}

function diff(
  before: Record<string, unknown>,
  after: Record<string, unknown>,
  updatedFields: string[] | null,
): Record<string, { old: unknown; new: unknown }> {
  // Own properties only, and entries built with fromEntries: field names such as "__proto__" or
  // "constructor" come from user data and must neither reach Object.prototype nor replace it.
  const own = (image: Record<string, unknown>, field: string): unknown =>
    Object.prototype.hasOwnProperty.call(image, field) ? image[field] : undefined;
  // A field absent from one image is recorded as null there: the event must stay plain JSON.
  const entry = (field: string): [string, { old: unknown; new: unknown }] => [
    field,
    { old: own(before, field) ?? null, new: own(after, field) ?? null },
  ];
  if (updatedFields !== null) return Object.fromEntries(updatedFields.map(entry));
  const fields = [...new Set([...Object.keys(after), ...Object.keys(before)])];
  return Object.fromEntries(fields.filter((f) => !jsonEqual(own(before, f), own(after, f))).map(entry));
}

function text(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  return null;
}

function timestamp(value: unknown): string | null {
  const date = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : null;
  return date !== null && !Number.isNaN(date.getTime()) ? date.toISOString() : null;
}

function traceContextOf(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    // Informational only: a trace context that is not JSON is kept as text rather than failing the row.
    return value;
  }
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'string') return `'${value.length > 60 ? `${value.slice(0, 60)}…` : value}'`;
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  return `${typeof value} ${String(value)}`;
}
