/**
 * The real FraiseQL shapes: the contract table, a statement-level capture trigger with transition
 * tables on an application table (INSERT/UPDATE/DELETE), and row-level security on the change log.
 * As the owner the listener sees every row; as a plain role it says that RLS hides rows; a
 * BYPASSRLS role sees everything again.
 */
import pino from 'pino';
import { migrate } from '../../src/db/migrate';
import { ChangeLogListener, RecordingStarter, type ListenerOptions } from '../../src/listener';
import type { ChangeLogRow } from '../../src/events/types';
import { createTestDatabase, createTestRole, databaseUrl, stubRowHandler, waitFor, type TestDatabase } from '../helpers/pg';

jest.setTimeout(120_000);
const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

// A capture function of the contract's kind: statement-level, transition tables, arguments
// (object type, pk column, tenant column, pre-image flag).
const CAPTURE = `
CREATE FUNCTION core.fn_entity_change_log_capture() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  obj_type text := TG_ARGV[0];
  pk_col text := TG_ARGV[1];
  tenant_col text := TG_ARGV[2];
  with_before boolean := TG_ARGV[3]::boolean;
BEGIN
  IF TG_OP = 'INSERT' THEN
    EXECUTE format($q$INSERT INTO core.tb_entity_change_log
        (object_type, modification_type, object_id, object_data, tenant_id, commit_time)
      SELECT %L, 'INSERT', (n.%I)::uuid, to_jsonb(n), (n.%I)::uuid, clock_timestamp() FROM fraiseql_new n$q$,
      obj_type, pk_col, tenant_col);
  ELSIF TG_OP = 'UPDATE' THEN
    EXECUTE format($q$INSERT INTO core.tb_entity_change_log
        (object_type, modification_type, object_id, object_data, object_data_before, updated_fields, tenant_id, commit_time)
      SELECT %L, 'UPDATE', (n.%I)::uuid, to_jsonb(n), CASE WHEN %L THEN to_jsonb(o) END,
             ARRAY(SELECT k FROM jsonb_each(to_jsonb(n)) e(k, v) WHERE to_jsonb(o) -> k IS DISTINCT FROM v),
             (n.%I)::uuid, clock_timestamp()
        FROM fraiseql_new n JOIN fraiseql_old o ON o.%I = n.%I$q$,
      obj_type, pk_col, with_before, tenant_col, pk_col, pk_col);
  ELSE
    EXECUTE format($q$INSERT INTO core.tb_entity_change_log
        (object_type, modification_type, object_id, object_data, object_data_before, tenant_id, commit_time)
      SELECT %L, 'DELETE', (o.%I)::uuid, NULL, CASE WHEN %L THEN to_jsonb(o) END, (o.%I)::uuid, clock_timestamp()
        FROM fraiseql_old o$q$,
      obj_type, pk_col, with_before, tenant_col);
  END IF;
  RETURN NULL;
END
$fn$;
CREATE SCHEMA app;
CREATE TABLE app.tb_order (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), tenant_id uuid NOT NULL, status text, total numeric);
CREATE TRIGGER tr_order_insert AFTER INSERT ON app.tb_order REFERENCING NEW TABLE AS fraiseql_new
  FOR EACH STATEMENT EXECUTE FUNCTION core.fn_entity_change_log_capture('Order', 'id', 'tenant_id', 'true');
CREATE TRIGGER tr_order_update AFTER UPDATE ON app.tb_order REFERENCING OLD TABLE AS fraiseql_old NEW TABLE AS fraiseql_new
  FOR EACH STATEMENT EXECUTE FUNCTION core.fn_entity_change_log_capture('Order', 'id', 'tenant_id', 'true');
CREATE TRIGGER tr_order_delete AFTER DELETE ON app.tb_order REFERENCING OLD TABLE AS fraiseql_old
  FOR EACH STATEMENT EXECUTE FUNCTION core.fn_entity_change_log_capture('Order', 'id', 'tenant_id', 'true');
ALTER TABLE core.tb_entity_change_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON core.tb_entity_change_log
  USING (tenant_id = nullif(current_setting('fraiseql.tenant_id', true), '')::uuid);
`;

const TENANT = '11111111-1111-1111-1111-111111111111';

describe('listener: FraiseQL shapes', () => {
  let db: TestDatabase;
  const roles: Array<{ name: string; drop(): Promise<void> }> = [];
  const listeners: ChangeLogListener[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('fraiseql');
    await migrate({ pool: db.pool });
    await db.pool.query(CAPTURE);
    await db.pool.query(`INSERT INTO app.tb_order (tenant_id, status, total) VALUES ($1, 'new', 10), ($1, 'new', 20)`, [TENANT]);
    await db.pool.query(`UPDATE app.tb_order SET status = 'shipped' WHERE total = 10`);
    await db.pool.query(`DELETE FROM app.tb_order WHERE total = 20`);
  });
  afterAll(async () => {
    await Promise.all(listeners.map((l) => l.kill()));
    await db.drop();
    for (const r of roles) await r.drop();
  });

  function start(url: string, listenerId: string, seen: ChangeLogRow[]): { listener: ChangeLogListener; starter: RecordingStarter } {
    const starter = new RecordingStarter();
    const options: ListenerOptions = {
      connectionString: url, listenerId, starter, logger, pollIntervalMs: 100,
      handler: (row) => {
        seen.push(row);
        return stubRowHandler(row);
      },
    };
    const listener = new ChangeLogListener(options);
    listeners.push(listener);
    return { listener, starter };
  }

  async function grantReader(attributes: string): Promise<string> {
    const role = await createTestRole('reader', attributes);
    roles.push(role);
    await db.pool.query(`GRANT USAGE ON SCHEMA core TO "${role.name}";
      GRANT SELECT ON core.tb_entity_change_log TO "${role.name}";
      GRANT SELECT, INSERT, UPDATE ON observer_checkpoints, observer_bad_rows TO "${role.name}";
      GRANT INSERT ON observer_checkpoint_history TO "${role.name}";`);
    return role.name;
  }

  it('as the owner, reads every captured change of the statement-level trigger', async () => {
    const rows: ChangeLogRow[] = [];
    const { listener, starter } = start(db.url, 'owner', rows);
    await listener.start();
    await waitFor('four changes', () => starter.size === 4);
    expect(listener.status().rlsHidesRows).toBe(false);
    expect(rows.map((r) => r.modification_type)).toEqual(['INSERT', 'INSERT', 'UPDATE', 'DELETE']);
    // JSON columns reach the row handler as their text (the mapper decodes them exactly once).
    const json = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : v);
    const [ins, , upd, del] = rows.map((r) => ({ ...r, object_data: json(r.object_data), object_data_before: json(r.object_data_before) }));
    expect(ins).toMatchObject({ object_type: 'Order', tenant_id: TENANT, object_data: expect.objectContaining({ status: 'new' }), object_data_before: null });
    expect(typeof ins!.id).toBe('string');
    expect(ins!.commit_time).toEqual(expect.any(String));
    expect(upd).toMatchObject({ updated_fields: ['status'], object_data: expect.objectContaining({ status: 'shipped' }), object_data_before: expect.objectContaining({ status: 'new' }) });
    expect(del).toMatchObject({ object_data: null, object_data_before: expect.objectContaining({ total: 20 }) });
    // Every contract column the listener reads arrives; bigints as text.
    expect(Object.keys(ins!).sort()).toEqual([
      'acting_for', 'actor_type', 'commit_time', 'created_at', 'fk_contact', 'fk_customer_org', 'id', 'modification_type',
      'object_data', 'object_data_before', 'object_id', 'object_type', 'pk', 'tenant_id', 'trace_context', 'trace_id', 'updated_fields',
    ]);
    await listener.stop();
  });

  it('as a role that is neither owner nor BYPASSRLS, reports that RLS hides rows', async () => {
    const role = await grantReader('');
    const rows: ChangeLogRow[] = [];
    const { listener, starter } = start(databaseUrl(db.name, role), 'plain-role', rows);
    await listener.start();
    await listener.whenLeader();
    await new Promise((r) => setTimeout(r, 500));
    expect(starter.size).toBe(0);
    expect(listener.status()).toMatchObject({ rlsHidesRows: true, rlsWarning: expect.stringContaining(`role ${role} is neither the owner (postgres) nor BYPASSRLS`) });
    await listener.stop();
  });

  it('as a BYPASSRLS role, sees every row again', async () => {
    const role = await grantReader('BYPASSRLS');
    const rows: ChangeLogRow[] = [];
    const { listener, starter } = start(databaseUrl(db.name, role), 'bypass-role', rows);
    await listener.start();
    await waitFor('four changes', () => starter.size === 4);
    expect(listener.status().rlsHidesRows).toBe(false);
    await listener.stop();
  });
});
