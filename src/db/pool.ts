/**
 * The one database module: a pg Pool that never crashes the process on an idle-client error,
 * and helpers that always release what they check out.
 */
import { Pool, type ClientConfig, type PoolClient, type PoolConfig, type QueryResultRow } from 'pg';
import type { Logger } from 'pino';

/** Anything that can run a parameterised query: a Pool, a PoolClient or a dedicated Client. */
export interface Queryable {
  query<R extends QueryResultRow = any>(text: string, values?: unknown[]): Promise<{ rows: R[]; rowCount: number | null }>;
}

/** Options of {@link createPool}: a pg PoolConfig plus the logger that hears about idle-client errors. */
export interface CreatePoolOptions extends PoolConfig {
  logger?: Logger;
}

/**
 * Create a pool. An idle client whose backend dies (server restart, pg_terminate_backend) emits
 * 'error' on the pool; without a handler Node would crash, so it is logged and the pool replaces it.
 */
export function createPool(options: CreatePoolOptions): Pool {
  const { logger, ...config } = options;
  const pool = new Pool({ application_name: 'fraiseql-observers', ...config });
  pool.on('error', (err) => {
    logger?.warn({ err: { message: err.message, code: (err as { code?: unknown }).code } }, 'idle PostgreSQL client failed; it will be replaced');
  });
  return pool;
}

/** Client settings of a pool, for opening dedicated (non-pooled) sessions to the same server. */
export function clientConfigOf(pool: Pool): ClientConfig {
  const { max: _max, min: _min, idleTimeoutMillis: _i, ...rest } = pool.options as PoolConfig;
  return rest;
}

/** Run `fn` with a pooled client, releasing it afterwards whatever happens. */
export async function withClient<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    return await fn(client);
  } catch (err) {
    // A client whose connection failed must not go back to the pool.
    if (err instanceof Error && /Connection terminated|ECONNRESET/.test(err.message)) broken = err;
    throw err;
  } finally {
    client.release(broken);
  }
}

/**
 * Run `fn` inside BEGIN/COMMIT on one pooled client; any error rolls back and is rethrown.
 * A failed ROLLBACK (dead connection) discards the client instead of returning it to the pool.
 */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let discard: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
    } catch (rollbackErr) {
      discard = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
    }
    throw err;
  } finally {
    client.release(discard);
  }
}
