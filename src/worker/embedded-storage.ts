/**
 * Where the embedded Temporal server of `start` keeps its state: in PostgreSQL (the default, the
 * database of DATABASE_URL or the one given with --temporal-data), or in memory (--memory, for
 * development and tests: a crash loses the events it accepted).
 */
import { describeDatabaseUrl } from '../db/errors';
import type { EmbeddedTemporalOptions } from '../embedded-temporal';
import type { EmbeddedTemporalHandle } from '../embedded-temporal/thread';

/** The embedded server's storage as asked for. */
export type EmbeddedStorage = { kind: 'memory' } | { kind: 'postgresql'; url: string; schema?: string };

/** `host:port/db` of a PostgreSQL store (never its credentials), or `memory`. */
export function describeStorage(s: EmbeddedStorage): string {
  if (s.kind === 'memory') return 'memory';
  return `PostgreSQL ${describeDatabaseUrl(s.url)}${s.schema ? `, schema ${s.schema}` : ''}`;
}

/** The durable store the embedded server accepts (`startEmbeddedTemporal({ persistence })`). */
export interface EmbeddedPersistence {
  url: string;
  schema?: string;
  /** Told once when another server holds the store and this one waits to take over. */
  onStandby?: (holder: string) => void;
  /** The store failed while serving: the server stopped answering and the process must not go on. */
  onFatal?: (err: Error) => void;
}

/** What the service does when the store stands by or fails. */
export type PersistenceHooks = Pick<EmbeddedPersistence, 'onStandby' | 'onFatal'>;

/** The server options for `storage`: `persistence` for PostgreSQL, nothing for memory. */
export function persistenceOptions(storage: EmbeddedStorage, hooks: PersistenceHooks = {}): EmbeddedTemporalOptions & { persistence?: EmbeddedPersistence } {
  if (storage.kind === 'memory') return {};
  return { persistence: { url: storage.url, ...(storage.schema ? { schema: storage.schema } : {}), ...hooks } };
}

/**
 * Whether a started server really keeps its state in PostgreSQL. A server that does not know the
 * `persistence` option ignores it and runs in memory; `start` must then say so rather than claim
 * durability. The server reports its store as `persistence` (null in memory).
 */
export function serverIsDurable(server: EmbeddedTemporalHandle): boolean {
  // Read through `unknown`: the field's type depends on the server version this is built with.
  const s = server as unknown as { durable?: unknown; persistence?: unknown };
  if (typeof s.durable === 'boolean') return s.durable;
  return s.persistence !== undefined && s.persistence !== null;
}
