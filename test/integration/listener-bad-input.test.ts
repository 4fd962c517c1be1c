/**
 * Bad input never stalls the listener and always says what was wrong and where: every kind of bad
 * row through the real mapper (recorded with its message, counted by reason, checkpoint moves
 * past it), a condition that errors, impossible options, unusable tables, an unreachable server.
 */
import pino from 'pino';
import { Registry } from 'prom-client';
import { parseConfig } from '../../src/config';
import { migrate } from '../../src/db/migrate';
import { compileObservers } from '../../src/events/match';
import { ChangeLogListener, RecordingStarter, listBadRows, readCheckpoint, type ListenerOptions } from '../../src/listener';
import { createRowHandler } from '../../src/listener/row-handler';
import { createTestDatabase, createTestRole, databaseUrl, stubRowHandler, waitFor, type TestDatabase } from '../helpers/pg';

jest.setTimeout(60_000);
const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

const OBSERVERS = `
observers:
  everything:
    entity: "*"
    events: [INSERT, UPDATE, DELETE, CUSTOM]
    actions: [{ type: log }]
  status_changes:
    entity: Order
    events: [INSERT]
    condition: "field_changed('status')"
    actions: [{ type: log }]
`;

describe('listener: bad rows, bad options, bad tables', () => {
  let db: TestDatabase;
  const roles: Array<{ drop(): Promise<void> }> = [];
  beforeAll(async () => {
    db = await createTestDatabase('listener_bad');
    await migrate({ pool: db.pool });
  });
  afterAll(async () => {
    await db.drop();
    for (const r of roles) await r.drop();
  });

  /** Runs a listener with a recording starter until its checkpoint reaches `lastPk`; returns what it started and recorded as bad. */
  async function listenPast(o: Pick<ListenerOptions, 'table' | 'listenerId' | 'handler' | 'metrics'>, lastPk: string) {
    const starter = new RecordingStarter();
    const listener = new ChangeLogListener({ connectionString: db.url, starter, logger, pollIntervalMs: 100, checkpointIntervalMs: 10, ...o });
    try {
      await listener.start();
      await waitFor('the checkpoint past every row', async () => (await readCheckpoint(db.pool, o.listenerId))?.lastProcessedId === lastPk);
    } finally {
      await listener.stop();
    }
    const recorded = (await listBadRows(db.pool, { listenerId: o.listenerId })).sort((a, b) => Number(a.pk) - Number(b.pk));
    return { starter, recorded };
  }

  it('records every kind of bad row with its message through the real mapper, and moves past them', async () => {
    // The guides' minimal table, with JSON kept as text so malformed documents can exist.
    await db.pool.query(`CREATE TABLE public.minimal_log (id bigserial PRIMARY KEY, object_type text, object_id text, modification_type text, object_data text)`);
    const { rows } = await db.pool.query<{ id: string }>(
      `INSERT INTO public.minimal_log (object_type, object_id, modification_type, object_data) VALUES
         ('Order', 'o-1', 'INSERT', '{"status": "new"}'),
         ('Order', 'o-2', 'EXPLODE', '{}'),
         (NULL, 'o-3', 'INSERT', '{}'),
         ('Order', 'o-4', 'INSERT', '[1, 2]'),
         ('Order', 'o-5', 'INSERT', '{"status": '),
         ('Order', '', 'INSERT', '{}'),
         ('Order', 'o-7', 'UPDATE', '{"status": "paid"}')
       RETURNING id::text`,
    );
    const pk = rows.map((r) => r.id);
    const config = parseConfig({ env: { DATABASE_URL: db.url }, text: OBSERVERS, source: 'observers.yaml' });
    const conditionErrors: Array<[string, string]> = [];
    const handler = createRowHandler(compileObservers(config), {
      mapping: { table: 'public.minimal_log' },
      onConditionError: (observer, _eventId, message) => conditionErrors.push([observer, message]),
    });
    const registry = new Registry();
    const { starter, recorded } = await listenPast({ table: 'public.minimal_log', listenerId: 'bad-rows', handler, metrics: registry }, pk[6]!);
    expect(starter.size).toBe(2);
    expect(recorded.map((r) => [r.pk, r.reason, r.message])).toEqual([
      [pk[1], 'unknown_modification_type', `change-log row ${pk[1]}: unknown modification_type 'EXPLODE' (expected INSERT, UPDATE, DELETE, CUSTOM, NOOP or READ)`],
      [pk[2], 'null_object_type', `change-log row ${pk[2]}: object_type is NULL; every row must name its entity type`],
      [pk[3], 'non_object_data', `change-log row ${pk[3]}: object_data must be a JSON object, got an array`],
      [pk[4], 'malformed_json', expect.stringMatching(new RegExp(`^change-log row ${pk[4]}: object_data is not valid JSON \\(`))],
      [pk[5], 'malformed_object_id', `change-log row ${pk[5]}: object_id '' is not an identifier (a non-empty text of at most 1024 characters)`],
    ]);
    const metrics = await registry.getMetricsAsJSON();
    const bad = metrics.find((m) => m.name === 'observer_bad_rows_total')?.values.map((v) => [v.labels.reason, v.value]).sort();
    expect(bad).toEqual([['malformed_json', 1], ['malformed_object_id', 1], ['non_object_data', 1], ['null_object_type', 1], ['unknown_modification_type', 1]]);
    // The INSERT without a pre-image cannot decide field_changed(): that observer is skipped, the other still runs.
    expect(conditionErrors).toEqual([['status_changes', "field_changed('status') needs the pre-image (object_data_before), which this event does not have (at column 1)"]]);
  });

  it('records an event that cannot become a workflow input (nested too deeply, over 2 MB) as a bad row and keeps going', async () => {
    await db.pool.query(`CREATE TABLE public.big_log (id bigserial PRIMARY KEY, object_type text, object_id text, modification_type text, object_data text)`);
    const deep = `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`;
    const large = JSON.stringify({ blob: 'x'.repeat(2_200_000) });
    const { rows } = await db.pool.query<{ id: string }>(
      `INSERT INTO public.big_log (object_type, object_id, modification_type, object_data) VALUES
         ('Order', 'o-1', 'INSERT', $1), ('Order', 'o-2', 'INSERT', $2), ('Order', 'o-3', 'INSERT', '{"status": "new"}')
       RETURNING id::text`,
      [deep, large],
    );
    const pk = rows.map((r) => r.id);
    const config = parseConfig({ env: { DATABASE_URL: db.url }, text: OBSERVERS, source: 'observers.yaml' });
    const handler = createRowHandler(compileObservers(config), { mapping: { table: 'public.big_log' } });
    const { starter, recorded } = await listenPast({ table: 'public.big_log', listenerId: 'big-rows', handler }, pk[2]!);
    expect(starter.size).toBe(1);
    expect(recorded.map((r) => [r.pk, r.reason, r.message])).toEqual([
      [pk[0], 'unconvertible_event', `change-log row ${pk[0]}: the event cannot become a workflow input: its JSON is nested too deeply`],
      [pk[1], 'event_too_large', expect.stringMatching(new RegExp(`^change-log row ${pk[1]}: the event is \\d+ bytes as workflow input; the limit is 2097152 bytes`))],
    ]);
  });

  it('reports a jsonb string as non_object_data, and never decodes JSON text inside a jsonb string', async () => {
    await db.pool.query(`CREATE TABLE public.jsonb_log (id bigserial PRIMARY KEY, object_type text, object_id text, modification_type text, object_data jsonb)`);
    const { rows } = await db.pool.query<{ id: string }>(
      `INSERT INTO public.jsonb_log (object_type, object_id, modification_type, object_data) VALUES
         ('Order', 'o-1', 'INSERT', '"just a string"'),
         ('Order', 'o-2', 'INSERT', to_jsonb('{"status": "smuggled"}'::text)),
         ('Order', 'o-3', 'INSERT', '{"status": "new"}')
       RETURNING id::text`,
    );
    const pk = rows.map((r) => r.id);
    const config = parseConfig({ env: { DATABASE_URL: db.url }, text: OBSERVERS, source: 'observers.yaml' });
    const handler = createRowHandler(compileObservers(config), { mapping: { table: 'public.jsonb_log' } });
    const starter = new RecordingStarter();
    const listener = new ChangeLogListener({ connectionString: db.url, table: 'public.jsonb_log', listenerId: 'jsonb-rows', handler, starter, logger, pollIntervalMs: 100, checkpointIntervalMs: 10 });
    try {
      await listener.start();
      await waitFor('the checkpoint past every row', async () => (await readCheckpoint(db.pool, 'jsonb-rows'))?.lastProcessedId === pk[2]);
    } finally {
      await listener.stop();
    }
    const recorded = (await listBadRows(db.pool, { listenerId: 'jsonb-rows' })).sort((a, b) => Number(a.pk) - Number(b.pk));
    expect(recorded.map((r) => [r.pk, r.reason, r.message])).toEqual([
      [pk[0], 'non_object_data', `change-log row ${pk[0]}: object_data must be a JSON object, got the string "just a string"`],
      [pk[1], 'non_object_data', `change-log row ${pk[1]}: object_data must be a JSON object, got the string ${JSON.stringify('{"status": "smuggled"}')}`],
    ]);
    expect(starter.size).toBe(1);
  });

  it('rejects impossible options with a message naming the option', () => {
    const base: ListenerOptions = { connectionString: db.url, listenerId: 'x', handler: stubRowHandler, starter: new RecordingStarter() };
    expect(() => new ChangeLogListener({ ...base, batchSize: 0 })).toThrow('Listener option batchSize must be an integer in [1, 10000], got 0');
    expect(() => new ChangeLogListener({ ...base, pollIntervalMs: 2.5 })).toThrow('Listener option pollIntervalMs must be an integer in [10, 3600000], got 2.5');
    expect(() => new ChangeLogListener({ ...base, maxStartsInFlight: -1 })).toThrow('Listener option maxStartsInFlight must be an integer in [1, 100000], got -1');
    expect(() => new ChangeLogListener({ ...base, listenerId: '' })).toThrow('Listener needs a listenerId');
    expect(() => new ChangeLogListener({ ...base, connectionString: undefined })).toThrow('Listener needs connectionString, connection or pool');
  });

  it('fails to start with a clear message when the table cannot be used or the server cannot be reached', async () => {
    const start = async (o: Partial<ListenerOptions>) => {
      const l = new ChangeLogListener({ connectionString: db.url, listenerId: 'bad-table', handler: stubRowHandler, starter: new RecordingStarter(), logger, ...o });
      try {
        await l.start();
        return 'started';
      } catch (err) {
        return (err as Error).message;
      } finally {
        await l.kill();
      }
    };
    await db.pool.query(`CREATE TABLE public.no_cursor (pk text, object_type text, modification_type text);
      CREATE TABLE public.no_type (id bigserial PRIMARY KEY, modification_type text)`);
    expect(await start({ table: 'public.no_cursor' })).toBe(
      'Change-log table public.no_cursor has no integer cursor column (pk_entity_change_log, or a bigint id)',
    );
    expect(await start({ table: 'public.no_type' })).toBe('Change-log table public.no_type lacks the object_type column');
    expect(await start({ table: 'public.minimal_log', cursorColumn: 'object_id' })).toBe(
      'Change-log table public.minimal_log has no integer cursor column (pk_entity_change_log, or a bigint id): object_id is text',
    );
    const role = await createTestRole('no_select');
    roles.push(role);
    const url = databaseUrl(db.name, role.name);
    expect(await start({ connectionString: url })).toBe(
      `Role ${role.name} may not use schema core of core.tb_entity_change_log (permission denied for schema core): grant USAGE ON SCHEMA core and SELECT on the table (and connect as its owner or a BYPASSRLS role)`,
    );
    await db.pool.query(`GRANT USAGE ON SCHEMA core TO "${role.name}"`);
    try {
      expect(await start({ connectionString: url })).toBe(
        `Role ${role.name} may not SELECT from core.tb_entity_change_log: grant SELECT (and connect as its owner or a BYPASSRLS role)`,
      );
    } finally {
      await db.pool.query(`REVOKE USAGE ON SCHEMA core FROM "${role.name}"`);
    }
    expect(await start({ connectionString: 'postgres://app:s3cret@127.0.0.1:1/appdb' })).toBe('Cannot reach PostgreSQL at 127.0.0.1:1/appdb: ECONNREFUSED');
  });
});
