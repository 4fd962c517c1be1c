/**
 * Migration runner: numbered SQL files from `migrations/`, applied in order, each in its own
 * transaction and recorded in `fraiseql_observers_migrations`. Runs are serialised across
 * processes by an advisory lock, so two deployments migrating at once are harmless.
 *
 * Files that mention `{{...}}` placeholders are rendered for the configured change-log table and
 * recorded per table (`002_change_log_table@core.tb_entity_change_log`), so pointing the service at
 * another table creates that one too. A first-line directive `-- fraiseql-observers: optional=NAME`
 * marks a migration that a caller may switch off (it is then reported as skipped and not recorded).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Pool, PoolClient } from 'pg';
import { checkOut } from './pool';
import type { Logger } from 'pino';
import { advisoryKey } from './advisory';
import { brokenConnectionError } from './errors';
import { displayQualified, parseQualifiedName, quoteIdent, quoteLiteral, quoteQualified } from './identifiers';

export const MIGRATIONS_TABLE = 'fraiseql_observers_migrations';
export const DEFAULT_CHANGE_LOG_TABLE = 'core.tb_entity_change_log';
export const DEFAULT_NOTIFY_CHANNEL = 'fraiseql_events';

/** One SQL file of the migrations directory. */
export interface Migration {
  /** File name without `.sql`, e.g. `003_observer_checkpoints`. */
  name: string;
  sql: string;
  /** Rendered per change-log table (contains placeholders). */
  templated: boolean;
  /** Name of the switch that can disable it, or null when it always runs. */
  optional: string | null;
}

/** What happened (or, on a dry run, would happen) to one migration. */
export interface MigrationStep {
  name: string;
  /** Key recorded in the migrations table. */
  key: string;
  status: 'applied' | 'pending' | 'already-applied' | 'skipped';
  /** For skipped steps: why. */
  reason?: string;
  durationMs?: number;
}

/** Result of {@link migrate}. */
export interface MigrateResult {
  dryRun: boolean;
  changeLogTable: string;
  steps: MigrationStep[];
}

/** Options of {@link migrate}. */
export interface MigrateOptions {
  pool: Pool;
  /** Change-log table to create when absent; unqualified names resolve in the current schema. */
  changeLogTable?: string;
  /** Install the NOTIFY trigger on the change-log table when it has none (default true). */
  notifyTrigger?: boolean;
  notifyChannel?: string;
  /** List what would run without changing anything. */
  dryRun?: boolean;
  migrationsDir?: string;
  logger?: Logger;
}

const LOCK = advisoryKey('migrations', MIGRATIONS_TABLE);
const OPTIONAL_DIRECTIVE = /^--\s*fraiseql-observers:\s*optional=([a-z0-9-]+)\s*$/m;

/**
 * The `migrations/` directory shipped with the package: found by walking up from this file, which
 * sits at `src/db` when run from source and at `dist/src/db` when compiled.
 */
export function defaultMigrationsDir(): string {
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, 'migrations');
    if (existsSync(path.join(candidate, '001_change_log_schema.sql'))) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error(`Cannot find the migrations directory above ${__dirname}`);
}

/** Read and order the migration files (`NNN_name.sql`); rejects duplicate numbers. */
export async function loadMigrations(dir: string = defaultMigrationsDir()): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{3,}_[A-Za-z0-9_-]+\.sql$/.test(f)).sort();
  const seen = new Set<string>();
  const out: Migration[] = [];
  for (const file of files) {
    const num = file.split('_', 1)[0]!;
    if (seen.has(num)) throw new Error(`Two migrations share the number ${num} in ${dir}`);
    seen.add(num);
    const sql = await readFile(path.join(dir, file), 'utf8');
    const firstLine = sql.split('\n', 1)[0] ?? '';
    out.push({
      name: file.replace(/\.sql$/, ''),
      sql,
      templated: sql.includes('{{'),
      optional: OPTIONAL_DIRECTIVE.exec(firstLine)?.[1] ?? null,
    });
  }
  return out;
}

/** Render `{{placeholders}}`; an unknown one is a bug in the file, so it fails loudly. */
export function renderMigration(sql: string, vars: Record<string, string>): string {
  return sql.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (_m, name: string) => {
    const v = vars[name];
    if (v === undefined) throw new Error(`Unknown migration placeholder {{${name}}}`);
    return v;
  });
}

interface TableTarget {
  display: string;
  vars: Record<string, string>;
}

async function resolveTarget(client: PoolClient, table: string, channel: string): Promise<TableTarget> {
  const parsed = parseQualifiedName(table);
  let schema = parsed.schema;
  if (schema === null) {
    const { rows } = await client.query<{ s: string | null }>('SELECT current_schema() AS s');
    schema = rows[0]?.s ?? null;
    if (schema === null) throw new Error(`Cannot resolve unqualified table ${table}: the search_path has no schema`);
  }
  const q = { schema, name: parsed.name };
  const quoted = quoteQualified(q);
  const seqName = { schema, name: 'seq_entity_change_log' };
  const notifyFn = quoteQualified({ schema, name: `${parsed.name}_notify`.slice(0, 63) });
  return {
    display: displayQualified(q),
    vars: {
      table: quoted,
      table_literal: quoteLiteral(quoted),
      schema: quoteIdent(schema),
      schema_literal: quoteLiteral(schema),
      sequence: quoteQualified(seqName),
      sequence_literal: quoteLiteral(quoteQualified(seqName)),
      notify_function_literal: quoteLiteral(notifyFn),
      channel_literal: quoteLiteral(channel),
    },
  };
}

async function appliedKeys(client: PoolClient): Promise<Map<string, string>> {
  const { rows: exists } = await client.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [MIGRATIONS_TABLE]);
  if (!exists[0]?.t) return new Map();
  const { rows } = await client.query<{ key: string; checksum: string }>(`SELECT key, checksum FROM ${MIGRATIONS_TABLE}`);
  return new Map(rows.map((r) => [r.key, r.checksum]));
}

function checksum(sql: string): string {
  return createHash('sha256').update(sql).digest('hex');
}

/**
 * Apply pending migrations (or, with `dryRun`, only report them). Idempotent; concurrent callers
 * wait for each other on an advisory lock and the later one finds nothing left to do.
 */
export async function migrate(options: MigrateOptions): Promise<MigrateResult> {
  const migrations = await loadMigrations(options.migrationsDir);
  const channel = options.notifyChannel ?? DEFAULT_NOTIFY_CHANNEL;
  const { client, release } = await checkOut(options.pool);
  let locked = false;
  let broken: Error | undefined;
  try {
    const target = await resolveTarget(client, options.changeLogTable ?? DEFAULT_CHANGE_LOG_TABLE, channel);
    if (!options.dryRun) {
      await client.query('SELECT pg_advisory_lock($1::bigint)', [LOCK.key]);
      locked = true;
      // Created under the lock: concurrent CREATE TABLE IF NOT EXISTS can still collide in pg_type.
      await client.query(`CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (
        key text PRIMARY KEY,
        name text NOT NULL,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    }
    const applied = await appliedKeys(client);
    const steps: MigrationStep[] = [];
    for (const m of migrations) {
      const key = m.templated ? `${m.name}@${target.display}` : m.name;
      const sql = m.templated ? renderMigration(m.sql, target.vars) : m.sql;
      const recorded = applied.get(key);
      if (recorded !== undefined) {
        if (recorded !== checksum(sql)) options.logger?.warn({ migration: key }, 'applied migration file has changed since it ran; not re-running it');
        steps.push({ name: m.name, key, status: 'already-applied' });
        continue;
      }
      if (m.optional === 'notify-trigger' && options.notifyTrigger === false) {
        steps.push({ name: m.name, key, status: 'skipped', reason: 'NOTIFY trigger disabled' });
        continue;
      }
      if (options.dryRun) {
        steps.push({ name: m.name, key, status: 'pending' });
        continue;
      }
      const started = Date.now();
      await client.query('BEGIN');
      try {
        await client.query(sql);
        await client.query(`INSERT INTO ${MIGRATIONS_TABLE} (key, name, checksum) VALUES ($1, $2, $3)`, [key, m.name, checksum(sql)]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new Error(`Migration ${key} failed: ${(err as Error).message}`, { cause: err });
      }
      const durationMs = Date.now() - started;
      options.logger?.info({ migration: key, durationMs }, 'migration applied');
      steps.push({ name: m.name, key, status: 'applied', durationMs });
    }
    return { dryRun: options.dryRun === true, changeLogTable: target.display, steps };
  } catch (err) {
    broken = brokenConnectionError(err);
    throw err;
  } finally {
    if (locked && !broken) {
      // A pooled session that kept the lock would block every later run, so it is discarded instead.
      try {
        await client.query('SELECT pg_advisory_unlock($1::bigint)', [LOCK.key]);
      } catch (err) {
        broken = brokenConnectionError(err) ?? new Error('advisory unlock failed');
      }
    }
    release(broken);
  }
}
