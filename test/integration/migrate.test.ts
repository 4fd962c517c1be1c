/** Migrations against a real PostgreSQL: idempotent, concurrency-safe, never altering an existing change log. */
import path from 'node:path';
import { Client } from 'pg';
import { migrate, loadMigrations } from '../../src/db/migrate';
import { createPool } from '../../src/db/pool';
import Migrate from '../../src/cli/commands/migrate';
import { createTestDatabase, type TestDatabase } from '../helpers/pg';
import { runCommand } from '../helpers/run-command';

const CONTRACT_COLUMNS = [
  'pk_entity_change_log', 'id', 'object_type', 'modification_type', 'object_id', 'object_data', 'object_data_before',
  'updated_fields', 'created_at', 'commit_time', 'tenant_id', 'fk_contact', 'fk_customer_org', 'seq', 'actor_type',
  'acting_for', 'trace_id', 'trace_context', 'schema_version', 'change_status', 'extra_metadata', 'cascade',
  'duration_ms', 'started_at',
];

async function columns(db: TestDatabase, table: string): Promise<string[]> {
  const { rows } = await db.pool.query<{ attname: string }>(
    `SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [table],
  );
  return rows.map((r) => r.attname);
}

async function exists(db: TestDatabase, rel: string): Promise<boolean> {
  const { rows } = await db.pool.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [rel]);
  return rows[0]?.t !== null;
}

jest.setTimeout(60_000);

// oclif's Config.load asks `wsl-utils` for the platform through a dynamic import(), which Jest's
// VM refuses without --experimental-vm-modules; its own docs stub this function in tests.
beforeAll(() => {
  const oclifOs = require(path.join(path.dirname(require.resolve('@oclif/core')), 'util/os.js'));
  jest.spyOn(oclifOs, 'getPlatform').mockResolvedValue(process.platform);
});


describe('migrations', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase('migrate');
  });
  afterEach(async () => {
    await db.drop();
  });

  it('lists everything as pending on a dry run and changes nothing', async () => {
    const all = await loadMigrations();
    const r = await migrate({ pool: db.pool, dryRun: true });
    expect(r.steps.map((s) => s.status)).toEqual(all.map(() => 'pending'));
    expect(r.steps.map((s) => s.key)).toContain('002_change_log_table@core.tb_entity_change_log');
    expect(await exists(db, 'fraiseql_observers_migrations')).toBe(false);
    expect(await exists(db, 'core.tb_entity_change_log')).toBe(false);
  });

  it('creates the contract table, checkpoints, history, bad-row log and NOTIFY trigger; a re-run does nothing', async () => {
    const first = await migrate({ pool: db.pool });
    expect(first.steps.every((s) => s.status === 'applied')).toBe(true);
    expect(await columns(db, 'core.tb_entity_change_log')).toEqual(CONTRACT_COLUMNS);
    for (const t of ['observer_checkpoints', 'observer_checkpoint_history', 'observer_bad_rows']) expect(await exists(db, t)).toBe(true);
    const { rows: trig } = await db.pool.query(`SELECT tgname FROM pg_trigger WHERE tgrelid = 'core.tb_entity_change_log'::regclass AND NOT tgisinternal`);
    expect(trig.map((r) => r.tgname)).toEqual(['fraiseql_observers_notify']);

    const second = await migrate({ pool: db.pool });
    expect(second.steps.every((s) => s.status === 'already-applied')).toBe(true);
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM fraiseql_observers_migrations');
    expect(rows[0].n).toBe(first.steps.length);
  });

  it('is harmless when several processes migrate at once', async () => {
    const pools = [0, 1, 2, 3].map(() => createPool({ connectionString: db.url, max: 1 }));
    try {
      const results = await Promise.all(pools.map((pool) => migrate({ pool })));
      const applied = results.flatMap((r) => r.steps.filter((s) => s.status === 'applied').map((s) => s.key)).sort();
      expect(applied).toEqual(results[0]!.steps.map((s) => s.key).sort());
      const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM fraiseql_observers_migrations');
      expect(rows[0].n).toBe(results[0]!.steps.length);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it('leaves an existing minimal change-log table unaltered and adds only the NOTIFY trigger', async () => {
    await db.pool.query(`CREATE TABLE tb_entity_change_log (
      id bigserial PRIMARY KEY, object_type text, object_id text, modification_type text, object_data jsonb)`);
    const before = await columns(db, 'tb_entity_change_log');
    const r = await migrate({ pool: db.pool, changeLogTable: 'tb_entity_change_log' });
    expect(r.changeLogTable).toBe('public.tb_entity_change_log');
    expect(r.steps.every((s) => s.status === 'applied')).toBe(true);
    expect(await columns(db, 'tb_entity_change_log')).toEqual(before);
    expect(await exists(db, 'core.tb_entity_change_log')).toBe(false);

    // The trigger notifies with the statement's highest pk.
    const listener = new Client({ connectionString: db.url });
    await listener.connect();
    try {
      await listener.query('LISTEN fraiseql_events');
      const got = new Promise<string | undefined>((resolve) => listener.once('notification', (n) => resolve(n.payload)));
      await db.pool.query(`INSERT INTO tb_entity_change_log (object_type, object_id, modification_type) VALUES ('A', 'x', 'INSERT'), ('A', 'y', 'INSERT')`);
      expect(await got).toBe('2');
    } finally {
      await listener.end();
    }
  });

  it('does not add a second NOTIFY trigger when the table already notifies the channel, and can skip it', async () => {
    await db.pool.query(`CREATE SCHEMA core;
      CREATE TABLE core.tb_entity_change_log (pk_entity_change_log bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        object_type text NOT NULL, modification_type text NOT NULL, object_data jsonb);
      CREATE FUNCTION core.existing_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_notify('fraiseql_events', NEW.pk_entity_change_log::text); RETURN NEW; END $$;
      CREATE TRIGGER existing AFTER INSERT ON core.tb_entity_change_log FOR EACH ROW EXECUTE FUNCTION core.existing_notify();`);
    const skipped = await migrate({ pool: db.pool, notifyTrigger: false });
    expect(skipped.steps.find((s) => s.name === '005_change_log_notify')?.status).toBe('skipped');
    await migrate({ pool: db.pool });
    const { rows } = await db.pool.query(`SELECT tgname FROM pg_trigger WHERE tgrelid = 'core.tb_entity_change_log'::regclass AND NOT tgisinternal`);
    expect(rows.map((r) => r.tgname)).toEqual(['existing']);
  });

  it('migrate command: --dry-run --json lists pending migrations', async () => {
    const { result, error } = await runCommand<{ dryRun: boolean; steps: Array<{ status: string }> }>(Migrate, ['--database-url', db.url, '--dry-run', '--json']);
    expect(error).toBeUndefined();
    expect(result?.dryRun).toBe(true);
    expect(result?.steps.every((s) => s.status === 'pending')).toBe(true);
    const applied = await runCommand(Migrate, ['--database-url', db.url]);
    // Every shipped migration applies on an empty database (their number grows with the project).
    const count = (await loadMigrations()).length;
    expect(count).toBeGreaterThanOrEqual(6);
    expect(applied.stdout).toMatch(new RegExp(`${count} migration\\(s\\) applied to 127\\.0\\.0\\.1:5432/`));
  });

  it('migrate command: names the unreachable server without its password', async () => {
    const { error } = await runCommand(Migrate, ['--database-url', 'postgres://app:s3cret@127.0.0.1:1/appdb']);
    expect(error?.message).toMatch(/Cannot reach PostgreSQL at 127\.0\.0\.1:1\/appdb: ECONNREFUSED/);
    expect(error?.message).not.toContain('s3cret');
    expect(error?.oclif?.exit).toBe(3);
  });

  describe('migrate command: the change-log table comes from CHANGE_LOG_TABLE, as for the listener', () => {
    const saved = process.env.CHANGE_LOG_TABLE;
    afterEach(() => {
      if (saved === undefined) delete process.env.CHANGE_LOG_TABLE;
      else process.env.CHANGE_LOG_TABLE = saved;
    });

    it('uses CHANGE_LOG_TABLE when --table is not given', async () => {
      process.env.CHANGE_LOG_TABLE = 'app.Change_Log';
      const { result, error } = await runCommand<{ changeLogTable: string; steps: Array<{ key: string }> }>(Migrate, ['--database-url', db.url]);
      expect(error).toBeUndefined();
      // Lower-cased as PostgreSQL folds unquoted names, exactly as the config module does.
      expect(result?.changeLogTable).toBe('app.change_log');
      expect(await exists(db, 'app.change_log')).toBe(true);
      expect(await exists(db, 'core.tb_entity_change_log')).toBe(false);
    });

    it('lets --table override CHANGE_LOG_TABLE', async () => {
      process.env.CHANGE_LOG_TABLE = 'app.change_log';
      const { result, error } = await runCommand<{ changeLogTable: string }>(Migrate, ['--database-url', db.url, '--table', 'other.log', '--dry-run']);
      expect(error).toBeUndefined();
      expect(result?.changeLogTable).toBe('other.log');
    });

    it('rejects a bad name, naming the variable or the flag it came from', async () => {
      process.env.CHANGE_LOG_TABLE = 'a.b.c';
      const fromEnv = await runCommand(Migrate, ['--database-url', db.url, '--dry-run']);
      expect(fromEnv.error?.message).toBe("env.CHANGE_LOG_TABLE: expected [schema.]table with plain identifiers, got 'a.b.c'");
      expect(fromEnv.error?.oclif?.exit).toBe(2);
      const fromFlag = await runCommand(Migrate, ['--database-url', db.url, '--table', 'x; drop table y', '--dry-run']);
      expect(fromFlag.error?.message).toBe("--table: expected [schema.]table with plain identifiers, got 'x; drop table y'");
    });

    it('says how to give a database when there is none', async () => {
      const savedUrl = process.env.DATABASE_URL;
      delete process.env.DATABASE_URL;
      try {
        const { error } = await runCommand(Migrate, ['--dry-run']);
        expect(error?.message).toBe('DATABASE_URL: no database given: pass --database-url or set DATABASE_URL');
      } finally {
        if (savedUrl !== undefined) process.env.DATABASE_URL = savedUrl;
      }
    });

    it('documents the variable in its help', () => {
      expect(Migrate.flags.table.description).toContain('$CHANGE_LOG_TABLE');
      expect(Migrate.flags.table.description).toContain('core.tb_entity_change_log');
    });
  });
});
