/**
 * PostgreSQL fixtures for integration tests: a fresh database per test file (dropped afterwards,
 * with any leftover sessions), URLs for it, and small helpers for writing change-log rows.
 */
import { randomBytes } from 'node:crypto';
import { Client, Pool } from 'pg';
import type { ChangeLogRow } from '../../src/events/types';
import type { RowDecision } from '../../src/listener/types';

/** Server used by the tests; override with TEST_DATABASE_URL (any database on the server). */
export const SERVER_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A connection string for `database` on the test server, optionally as another user. */
export function databaseUrl(database: string, user?: string): string {
  const u = new URL(SERVER_URL);
  u.pathname = `/${database}`;
  if (user) {
    u.username = user;
    u.password = '';
  }
  return u.toString();
}

/** A throwaway database. */
export interface TestDatabase {
  name: string;
  url: string;
  /** A pool on it (closed by drop()). */
  pool: Pool;
  /** Drop the database, terminating sessions left open by the code under test. */
  drop(): Promise<void>;
}

async function admin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: SERVER_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Create an empty database named after `label` plus a random suffix. */
export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const name = `fo_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE "${name}"`));
  const url = databaseUrl(name);
  const pool = new Pool({ connectionString: url, max: 12 });
  pool.on('error', () => undefined);
  return {
    name,
    url,
    pool,
    async drop() {
      await pool.end().catch(() => undefined);
      await admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    },
  };
}

/** Create a login role for the test (cluster-wide, so the caller must drop it). */
export async function createTestRole(label: string, attributes = ''): Promise<{ name: string; drop(): Promise<void> }> {
  const name = `fo_${label}_${randomBytes(3).toString('hex')}`;
  await admin((c) => c.query(`CREATE ROLE "${name}" LOGIN ${attributes}`));
  return {
    name,
    async drop() {
      await admin(async (c) => {
        await c.query(`DROP ROLE IF EXISTS "${name}"`);
      });
    },
  };
}

/** Insert `n` INSERT rows of `objectType` in one statement; returns their pks ascending. */
export async function insertChanges(
  q: { query: Pool['query'] },
  n: number,
  opts: { table?: string; objectType?: string; modificationType?: string } = {},
): Promise<string[]> {
  const table = opts.table ?? 'core.tb_entity_change_log';
  const res = await q.query<{ pk: string }>(
    `INSERT INTO ${table} (object_type, modification_type, object_id, object_data)
     SELECT $2, $3, gen_random_uuid(), jsonb_build_object('n', g) FROM generate_series(1, $1) g
     RETURNING pk_entity_change_log::text AS pk`,
    [n, opts.objectType ?? 'Order', opts.modificationType ?? 'INSERT'],
  );
  return res.rows.map((r) => r.pk).sort((a, b) => Number(BigInt(a) - BigInt(b)));
}

/** Poll `check` every `intervalMs` until it returns true, or throw after `timeoutMs` with `what`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000, intervalMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Modification types a stub handler accepts (the contract's, with NOOP and READ as CUSTOM). */
const KINDS: Record<string, 'INSERT' | 'UPDATE' | 'DELETE' | 'CUSTOM'> = {
  INSERT: 'INSERT', UPDATE: 'UPDATE', DELETE: 'DELETE', CUSTOM: 'CUSTOM', NOOP: 'CUSTOM', READ: 'CUSTOM',
};

/**
 * A stand-in for the real mapper + matcher: `start` for a row with a known modification type,
 * `skip` for object type `Ignored`, `bad` (reason `unknown_modification_type`) otherwise.
 * The event id is the row's uuid, or `pk-<pk>` for tables without one.
 */
export function stubRowHandler(row: ChangeLogRow): RowDecision {
  const kind = typeof row.modification_type === 'string' ? KINDS[row.modification_type] : undefined;
  if (!kind) {
    return { kind: 'bad', reason: 'unknown_modification_type', message: `unknown modification_type ${JSON.stringify(row.modification_type)} at position ${row.pk}` };
  }
  if (row.object_type === 'Ignored') return { kind: 'skip' };
  const id = typeof row.id === 'string' ? row.id : `pk-${row.pk}`;
  // The listener sends JSON columns as text (the real mapper decodes them once).
  const raw: unknown = typeof row.object_data === 'string' ? JSON.parse(row.object_data) : row.object_data;
  const data = raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
  return {
    kind: 'start',
    event: {
      id, position: row.pk, kind, rawKind: String(row.modification_type), entityType: String(row.object_type),
      entityId: row.object_id === null || row.object_id === undefined ? null : String(row.object_id),
      data, before: null, changes: null, updatedFields: null, tenantId: row.tenant_id ?? null, userId: null, actor: null,
      createdAt: null, commitTime: null, trace: null,
    },
    payload: { position: row.pk },
    summary: `${String(row.object_type)} ${kind}`,
  };
}
