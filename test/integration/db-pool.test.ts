/** The database module: transactions commit or roll back, and every checked-out client comes back. */
import { createPool, withClient, withTransaction } from '../../src/db/pool';
import { describeDatabaseUrl, explainConnectionError, DatabaseUnreachableError } from '../../src/db/errors';
import { queryPrepared, statementName } from '../../src/db/prepared';
import { createTestDatabase, type TestDatabase } from '../helpers/pg';

jest.setTimeout(60_000);

describe('db pool helpers', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('dbpool');
    await db.pool.query('CREATE TABLE t (v int)');
  });
  afterAll(async () => {
    await db.drop();
  });

  it('commits, rolls back on error, and always releases the client', async () => {
    const pool = createPool({ connectionString: db.url, max: 2 });
    try {
      await withTransaction(pool, (c) => c.query('INSERT INTO t VALUES (1)'));
      await expect(withTransaction(pool, async (c) => {
        await c.query('INSERT INTO t VALUES (2)');
        throw new Error('boom');
      })).rejects.toThrow('boom');
      await expect(withClient(pool, (c) => c.query('SELECT * FROM missing_table'))).rejects.toThrow(/missing_table/);
      const { rows } = await pool.query('SELECT array_agg(v ORDER BY v) AS vs FROM t');
      expect(rows[0].vs).toEqual([1]);
      expect(pool.totalCount - pool.idleCount).toBe(0);
    } finally {
      await pool.end();
    }
  });

  it('discards a client whose session died instead of pooling it', async () => {
    const pool = createPool({ connectionString: db.url, max: 1 });
    try {
      const err = await withClient(pool, async (c) => {
        await db.pool.query('SELECT pg_terminate_backend($1)', [(c as unknown as { processID: number }).processID]);
        await c.query('SELECT 1');
      }).then(() => null, (e: unknown) => e);
      expect(String((err as Error | null)?.message)).toMatch(/terminat|ECONNRESET|not queryable/);
      const { rows } = await withClient(pool, (c) => c.query('SELECT 1 AS one'));
      expect(rows[0].one).toBe(1);
    } finally {
      await pool.end();
    }
  });

  it('runs a repeated statement as a named prepared statement, one name per text, valid across a change of its table', async () => {
    await db.pool.query('CREATE TABLE prep (v int)');
    await db.pool.query('INSERT INTO prep VALUES (1), (5)');
    const text = 'SELECT count(*)::int AS n FROM prep WHERE v > $1';
    expect(statementName('x', text)).toMatch(/^x-[0-9a-f]{24}$/);
    expect(statementName('x', ['SELECT count(*)::int AS n', 'FROM prep WHERE v > $1'].join(' '))).toBe(statementName('x', text));
    expect(statementName('x', `${text} `)).not.toBe(statementName('x', text));
    expect(statementName('y', text)).toBe(statementName('x', text).replace(/^x-/, 'y-'));
    const pool = createPool({ connectionString: db.url, max: 1 });
    try {
      for (const [min, n] of [[0, 2], [2, 1], [9, 0]] as const) expect((await queryPrepared(pool, 'x', text, [min])).rows[0].n).toBe(n);
      // PostgreSQL re-plans a prepared statement after DDL on its table; the result keeps its type.
      await db.pool.query('ALTER TABLE prep ADD COLUMN w int');
      await db.pool.query('INSERT INTO prep VALUES (7, 1)');
      expect((await queryPrepared(pool, 'x', text, [0])).rows[0].n).toBe(3);
      // Prepared once on the pool's one connection, under the name derived from its text.
      const { rows } = await pool.query('SELECT name, statement FROM pg_prepared_statements');
      expect(rows).toEqual([{ name: statementName('x', text), statement: text }]);
    } finally {
      await pool.end();
    }
  });

  it('describes unreachable servers by host:port/db, never with credentials', async () => {
    expect(describeDatabaseUrl('postgres://user:secret@db.internal:6543/app')).toBe('db.internal:6543/app');
    expect(describeDatabaseUrl('postgresql://localhost/app')).toBe('localhost:5432/app');
    const pool = createPool({ connectionString: 'postgres://user:secret@127.0.0.1:1/app', connectionTimeoutMillis: 2000 });
    try {
      const err = await pool.query('SELECT 1').catch((e: unknown) => e);
      const explained = explainConnectionError(err, 'postgres://user:secret@127.0.0.1:1/app');
      expect(explained).toBeInstanceOf(DatabaseUnreachableError);
      expect((explained as Error).message).toBe('Cannot reach PostgreSQL at 127.0.0.1:1/app: ECONNREFUSED');
    } finally {
      await pool.end();
    }
  });
});
