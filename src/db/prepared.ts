/**
 * Named prepared statements for the statements the service runs many times a second (the
 * listener's read, the embedded server's store commit). PostgreSQL then parses and plans such a
 * statement once per connection instead of at every execution; for the listener's read that was
 * most of its cost (measured in the README's performance section).
 *
 * node-pg prepares a named statement on a connection the first time it runs there, and refuses a
 * name reused for another text, so the name is derived from the text itself.
 */
import { createHash } from 'node:crypto';
import type { QueryResultRow } from 'pg';

/** A Pool, PoolClient or Client: anything that runs a query given as a config object. */
export interface PreparedQueryable {
  query<R extends QueryResultRow = any>(config: { name: string; text: string; values?: unknown[] }): Promise<{ rows: R[]; rowCount: number | null }>;
}

const names = new Map<string, string>();

/** The statement name for `text`: `prefix-` and a digest of the text (the same text, the same name). */
export function statementName(prefix: string, text: string): string {
  const key = `${prefix}\u0000${text}`;
  let name = names.get(key);
  if (name === undefined) {
    name = `${prefix}-${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
    // A handful of texts in practice (one read per change-log table, a few store shapes); the bound
    // only keeps a pathological caller from growing the map without end.
    if (names.size >= 1024) names.clear();
    names.set(key, name);
  }
  return name;
}

/** Run `text` as the named prepared statement {@link statementName}(prefix, text). */
export function queryPrepared<R extends QueryResultRow = any>(q: PreparedQueryable, prefix: string, text: string, values: unknown[]): Promise<{ rows: R[]; rowCount: number | null }> {
  return q.query<R>({ name: statementName(prefix, text), text, values });
}
