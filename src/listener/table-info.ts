/**
 * What the listener needs to know about the change-log table before reading it: which columns
 * exist (the full FraiseQL contract, or the guides' minimal table), the cursor column, and whether
 * row-level security hides rows from the connected role.
 */
import type { Queryable } from '../db/pool';
import { UnavailableError } from '../errors';
import { displayQualified, parseQualifiedName, quoteIdent, quoteQualified } from '../db/identifiers';

/** Columns of the contract that are read into a ChangeLogRow (others are ignored). */
export const CONTRACT_COLUMNS = [
  'id', 'object_type', 'modification_type', 'object_id', 'object_data', 'object_data_before', 'updated_fields',
  'created_at', 'commit_time', 'tenant_id', 'fk_contact', 'fk_customer_org', 'actor_type', 'acting_for',
  'trace_id', 'trace_context',
] as const;

const INTEGER_TYPES = new Set(['int2', 'int4', 'int8']);

/** Row-level security as it applies to the connected role. */
export interface RlsInfo {
  enabled: boolean;
  forced: boolean;
  /** `row_security_active()`: policies filter what this role reads. */
  active: boolean;
  role: string;
  owner: string;
  bypassRls: boolean;
  superuser: boolean;
}

/** The change-log table as seen by this connection. */
export interface ChangeLogTableInfo {
  /** `schema.table` for messages. */
  display: string;
  /** Quoted, qualified name for SQL. */
  sql: string;
  cursorColumn: string;
  /** Contract columns present, with their type names (pg_type.typname). */
  columns: ReadonlyMap<string, string>;
  /** Identity/serial cache of the cursor's sequence (gap tracking assumes 1), null when unknown. */
  sequenceCache: number | null;
  hasNotifyTrigger: boolean;
  rls: RlsInfo;
}

/** The change-log table is missing or unusable (not migrated, no grant); the message says what to do. Exit 3. */
export class ChangeLogTableError extends UnavailableError {}

/**
 * Inspect `table` (qualified or resolved through the search_path). The cursor column is
 * `cursorColumn` when given, else `pk_entity_change_log`, else an integer `id`.
 */
export async function inspectChangeLogTable(q: Queryable, table: string, notifyChannel: string, cursorColumn?: string): Promise<ChangeLogTableInfo> {
  const name = parseQualifiedName(table);
  let rel: Array<{ oid: string | null }>;
  try {
    ({ rows: rel } = await q.query<{ oid: string | null }>('SELECT to_regclass($1)::oid::text AS oid', [quoteQualified(name)]));
  } catch (err) {
    // Without USAGE on the schema even looking the table up fails; say which grant is missing.
    if ((err as { code?: unknown }).code !== '42501') throw err;
    const { rows } = await q.query<{ role: string }>('SELECT current_user AS role');
    const schema = name.schema ?? 'its schema';
    throw new ChangeLogTableError(
      `Role ${rows[0]?.role ?? 'of this connection'} may not use schema ${schema} of ${displayQualified(name)} (${(err as Error).message}): grant USAGE ON SCHEMA ${schema} and SELECT on the table (and connect as its owner or a BYPASSRLS role)`,
      { cause: err },
    );
  }
  const oid = rel[0]?.oid;
  if (!oid) {
    throw new ChangeLogTableError(`Change-log table ${displayQualified(name)} does not exist (or is not on the search_path): run \`fraiseql-observers migrate\` or set the table name`);
  }
  const { rows: meta } = await q.query<{
    schema: string; relname: string; can_select: boolean; enabled: boolean; forced: boolean; active: boolean;
    role: string; owner: string; bypass: boolean; superuser: boolean;
  }>(
    `SELECT n.nspname AS schema, c.relname, has_table_privilege(c.oid, 'SELECT') AS can_select,
            c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced, row_security_active(c.oid) AS active,
            current_user AS role, pg_get_userbyid(c.relowner) AS owner,
            r.rolbypassrls AS bypass, r.rolsuper AS superuser
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_roles r ON r.rolname = current_user
      WHERE c.oid = $1::oid`,
    [oid],
  );
  const m = meta[0];
  if (!m) throw new ChangeLogTableError(`Change-log table ${displayQualified(name)} disappeared while being inspected`);
  const display = displayQualified({ schema: m.schema, name: m.relname });
  if (!m.can_select) throw new ChangeLogTableError(`Role ${m.role} may not SELECT from ${display}: grant SELECT (and connect as its owner or a BYPASSRLS role)`);

  const { rows: cols } = await q.query<{ attname: string; typname: string }>(
    `SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
      WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped`,
    [oid],
  );
  const all = new Map(cols.map((c) => [c.attname, c.typname]));
  const cursor = cursorColumn ?? (all.has('pk_entity_change_log') ? 'pk_entity_change_log' : 'id');
  const cursorType = all.get(cursor);
  if (cursorType === undefined || !INTEGER_TYPES.has(cursorType)) {
    throw new ChangeLogTableError(`Change-log table ${display} has no integer cursor column (pk_entity_change_log, or a bigint id)${cursorColumn ? `: ${cursorColumn} is ${cursorType ?? 'missing'}` : ''}`);
  }
  for (const required of ['object_type', 'modification_type']) {
    if (!all.has(required)) throw new ChangeLogTableError(`Change-log table ${display} lacks the ${required} column`);
  }
  const columns = new Map<string, string>();
  for (const c of CONTRACT_COLUMNS) {
    const t = all.get(c);
    if (t !== undefined && c !== cursor) columns.set(c, t);
  }

  const { rows: seq } = await q.query<{ cache: string | null }>(
    `SELECT s.seqcache::text AS cache FROM pg_sequence s
      WHERE s.seqrelid = pg_get_serial_sequence($1, $2)::regclass`,
    [quoteQualified({ schema: m.schema, name: m.relname }), cursor],
  );
  const { rows: trig } = await q.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
      WHERE t.tgrelid = $1::oid AND NOT t.tgisinternal AND t.tgenabled <> 'D' AND p.prosrc LIKE '%' || $2 || '%'`,
    [oid, notifyChannel],
  );

  return {
    display,
    sql: quoteQualified({ schema: m.schema, name: m.relname }),
    cursorColumn: cursor,
    columns,
    sequenceCache: seq[0]?.cache ? Number(seq[0].cache) : null,
    hasNotifyTrigger: (trig[0]?.n ?? 0) > 0,
    rls: { enabled: m.enabled, forced: m.forced, active: m.active, role: m.role, owner: m.owner, bypassRls: m.bypass, superuser: m.superuser },
  };
}

/** A clear warning when RLS filters the listener's reads, or null when it does not. */
export function describeRls(info: ChangeLogTableInfo): string | null {
  const r = info.rls;
  if (!r.active) return null;
  const why = r.role === r.owner ? 'FORCE ROW LEVEL SECURITY applies even to the owner' : `role ${r.role} is neither the owner (${r.owner}) nor BYPASSRLS`;
  return `Row-level security is active on ${info.display} and ${why}: the listener only sees rows its policies allow and will silently miss the rest. Connect as the table owner or a role with BYPASSRLS.`;
}

/**
 * The `SELECT` list turning a change-log row into JSON fields of a ChangeLogRow. JSON columns are
 * sent as their text, whatever their type (json, jsonb or text), so the mapper decodes each exactly
 * once: a jsonb string `"just a string"` arrives as the text `"just a string"` (valid JSON, not an
 * object: `non_object_data`), and a jsonb string holding JSON text is never decoded a second time.
 */
export function selectList(info: ChangeLogTableInfo, alias: string): string {
  const parts = [`${alias}.${quoteIdent(info.cursorColumn)}::text AS pk`];
  for (const [col, type] of info.columns) {
    // bigints would lose precision as JSON numbers
    const asText = type === 'int8' || ((type === 'json' || type === 'jsonb') && JSON_TEXT_COLUMNS.has(col));
    const expr = asText ? `${alias}.${quoteIdent(col)}::text` : `${alias}.${quoteIdent(col)}`;
    parts.push(`${expr} AS ${quoteIdent(col)}`);
  }
  return parts.join(', ');
}

const JSON_TEXT_COLUMNS = new Set(['object_data', 'object_data_before', 'trace_context']);
