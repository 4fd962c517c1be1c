/**
 * The one database module: a pg Pool that never crashes the process on an idle-client error,
 * and helpers that always release what they check out.
 */
import { Pool, type ClientConfig, type PoolClient, type PoolConfig, type QueryResultRow } from 'pg';
import type { Logger } from 'pino';
import { brokenConnectionError } from './errors';

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

/**
 * Check a client out with an 'error' listener attached: a checked-out client whose backend dies
 * emits 'error', which would crash the process without one. The returned `release` discards the
 * client when its session failed.
 */
export async function checkOut(pool: Pool): Promise<{ client: PoolClient; release: (err?: unknown) => void }> {
  const client = await pool.connect();
  let failed: Error | undefined;
  const onError = (err: Error) => {
    failed = err;
  };
  client.on('error', onError);
  return {
    client,
    release(err?: unknown) {
      const discard = failed ?? brokenConnectionError(err);
      // A dying client may still emit 'error' after release; only a healthy one goes back to the
      // pool, whose idle listener then takes over.
      if (!discard) client.off('error', onError);
      client.release(discard);
    },
  };
}

/** Run `fn` with a pooled client, releasing it afterwards whatever happens. */
export async function withClient<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const { client, release } = await checkOut(pool);
  let error: unknown;
  try {
    return await fn(client);
  } catch (err) {
    error = err;
    throw err;
  } finally {
    release(error);
  }
}

/**
 * Run `fn` inside BEGIN/COMMIT on one pooled client; any error rolls back and is rethrown.
 * A failed ROLLBACK (dead connection) discards the client instead of returning it to the pool.
 */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const { client, release } = await checkOut(pool);
  let discard: unknown;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
    } catch (rollbackErr) {
      discard = brokenConnectionError(rollbackErr) ?? new Error('ROLLBACK failed');
    }
    throw err;
  } finally {
    release(discard);
  }
}
