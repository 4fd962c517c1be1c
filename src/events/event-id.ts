import { createHash } from 'node:crypto';

/** RFC 4122 URL namespace; the project namespace below is derived from it so anyone can recompute it. */
const URL_NAMESPACE = '6ba7b811-9dad-11d1-80b4-00c04fd430c8';

/**
 * Name-based (version 5, SHA-1) UUID, as defined by RFC 4122 §4.3. The same namespace and name
 * always give the same id, which is what makes a derived event id stable across re-reads.
 */
export function uuidV5(namespace: string, name: string): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  if (ns.length !== 16) throw new TypeError(`namespace is not a UUID: ${namespace}`);
  const bytes = createHash('sha1').update(ns).update(name, 'utf8').digest().subarray(0, 16);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Namespace of derived change-log event ids: uuidV5(URL namespace, this URL). */
export const CHANGE_LOG_NAMESPACE = uuidV5(URL_NAMESPACE, 'https://github.com/fraiseql/fraiseql-observers#change-log');

/**
 * The event id of a row from a table without a uuid `id` column (the Phase 8 minimal table):
 * `uuidV5(CHANGE_LOG_NAMESPACE, "<schema.table>#<pk>")`, with the table name in lower case.
 *
 * It is stable for as long as the pk is: re-reads, restarts and failover give the same id, so
 * workflow-id dedup holds. Renaming the configured table, or resetting its identity sequence
 * (TRUNCATE ... RESTART IDENTITY), produces new ids for old positions, so do neither on a live table.
 * In SQL (uuid-ossp): `uuid_generate_v5('<CHANGE_LOG_NAMESPACE>', 'core.tb_entity_change_log#' || pk)`.
 */
export function deriveEventId(table: string, pk: string): string {
  return uuidV5(CHANGE_LOG_NAMESPACE, `${table.toLowerCase()}#${pk}`);
}
