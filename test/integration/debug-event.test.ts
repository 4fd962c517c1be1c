/**
 * `fraiseql-observers debug-event` against a real PostgreSQL and the embedded Temporal server (in
 * process): every observer outcome on one event, bad rows with their recorded entry, lookups by
 * position and by event id, and clear errors for unknown rows and bad arguments.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import DebugEvent, { type DebugEventResult } from '../../src/cli/commands/debug-event';
import { migrate } from '../../src/db/migrate';
import { startEmbeddedTemporal, type EmbeddedTemporal } from '../../src/embedded-temporal';
import { deriveEventId } from '../../src/events/event-id';
import { recordBadRow } from '../../src/listener/bad-rows';
import { createTestDatabase, type TestDatabase } from '../helpers/pg';
import { runCommand } from '../helpers/run-command';

jest.setTimeout(60_000);

beforeAll(() => {
  // oclif's Config.load asks wsl-utils for the platform through a dynamic import() that Jest's VM refuses.
  const oclifOs = require(path.join(path.dirname(require.resolve('@oclif/core')), 'util/os.js'));
  jest.spyOn(oclifOs, 'getPlatform').mockResolvedValue(process.platform);
});

function debugEvent(argv: string[]) {
  return runCommand<DebugEventResult>(DebugEvent, argv);
}

const OBSERVERS = `
observers:
  shipped:
    entity: Order
    events: [UPDATE]
    condition: "status == 'shipped'"
    ordering: per_entity
    actions:
      - type: log
        message: "shipped {{ event.entity_id }}"
      - type: log
  big_orders:
    entity: Order
    events: [UPDATE]
    condition: "total > 1000"
    actions: [{ type: log }]
  status_changes:
    entity: Order
    events: [UPDATE]
    condition: "field_changed('status')"
    actions: [{ type: log }]
  deletions:
    entity: Order
    events: [DELETE]
    actions: [{ type: log }]
  customers:
    entity: Customer
    events: [UPDATE]
    actions: [{ type: log }]
  paused:
    enabled: false
    entity: "*"
    events: [UPDATE]
    actions: [{ type: log }]
`;

describe('debug-event command', () => {
  let db: TestDatabase;
  let temporal: EmbeddedTemporal;
  let dir: string;
  let configFile: string;
  let good: { pk: string; id: string };
  let badPk: string;

  beforeAll(async () => {
    db = await createTestDatabase('debug_event');
    await migrate({ pool: db.pool });
    temporal = await startEmbeddedTemporal({ port: 0 });
    dir = mkdtempSync(path.join(tmpdir(), 'fo-debug-event-'));
    configFile = path.join(dir, 'observers.yaml');
    writeFileSync(configFile, OBSERVERS);
    // An UPDATE logged without a pre-image: field_changed() cannot be decided for it.
    const { rows } = await db.pool.query<{ pk: string; id: string }>(
      `INSERT INTO core.tb_entity_change_log (object_type, modification_type, object_id, object_data)
       VALUES ('Order', 'UPDATE', 'aaaaaaaa-0000-4000-8000-000000000001', '{"status": "shipped", "total": 10}')
       RETURNING pk_entity_change_log::text AS pk, id::text AS id`,
    );
    good = rows[0]!;
    const { rows: bad } = await db.pool.query<{ pk: string }>(
      `INSERT INTO core.tb_entity_change_log (object_type, modification_type, object_data) VALUES ('Order', 'MERGE', '{}') RETURNING pk_entity_change_log::text AS pk`,
    );
    badPk = bad[0]!.pk;
    await recordBadRow(db.pool, { listenerId: 'orders', pk: badPk, eventId: null, reason: 'unknown_modification_type', message: `change-log row ${badPk}: unknown modification_type "MERGE"` });
  });
  afterAll(async () => {
    await temporal.stop();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const base = () => ['--database-url', db.url, '--address', temporal.address];

  it("shows the event, every observer's outcome, the workflow id and its Temporal status", async () => {
    const workflowId = `fraiseql-event:${good.id}`;
    const connection = await Connection.connect({ address: temporal.address });
    try {
      await new Client({ connection }).workflow.start('processChangeEvent', { taskQueue: 'debug-event-no-worker', workflowId, args: [{}] });
    } finally {
      await connection.close();
    }
    const { result, error } = await debugEvent([good.pk, '--config', configFile, ...base(), '--json']);
    expect(error).toBeUndefined();
    const r = result!;
    expect(r.position).toBe(good.pk);
    expect(r.event).toMatchObject({ id: good.id, kind: 'UPDATE', entityType: 'Order', entityId: 'aaaaaaaa-0000-4000-8000-000000000001', data: { status: 'shipped', total: 10 } });
    expect(r.bad).toBeNull();
    expect(r.observers).toEqual([
      { observer: 'shipped', outcome: 'matched', actions: 2, ordering: 'per_entity' },
      { observer: 'big_orders', outcome: 'condition_false' },
      { observer: 'status_changes', outcome: 'condition_error', message: expect.stringContaining("field_changed('status') needs the pre-image") },
      { observer: 'deletions', outcome: 'event_mismatch' },
      { observer: 'customers', outcome: 'entity_mismatch' },
      { observer: 'paused', outcome: 'disabled' },
    ]);
    expect(r.workflowId).toBe(workflowId);
    expect(r.temporal).toMatchObject({ reachable: true, value: { found: true, status: 'RUNNING', type: 'processChangeEvent', taskQueue: 'debug-event-no-worker' } });

    // The same row by its event id, read as text.
    const byId = await debugEvent([good.id.toUpperCase(), '--config', configFile, ...base()]);
    expect(byId.error).toBeUndefined();
    expect(byId.stdout).toContain(`Change-log row ${good.pk} of core.tb_entity_change_log`);
    expect(byId.stdout).toMatch(/shipped\s*│\s*matched\s*│\s*2 action\(s\), ordered per entity/);
    expect(byId.stdout).toMatch(/status_changes\s*│\s*condition_error\s*│\s*field_changed\('status'\) needs the pre-image/);
    expect(byId.stdout).toContain(`Workflow id: ${workflowId}`);
    expect(byId.stdout).toMatch(/Temporal 127\.0\.0\.1:\d+: RUNNING \(run /);
  });

  it('says when no observer matches (no workflow), and without --config how to see observers', async () => {
    const { rows } = await db.pool.query<{ pk: string }>(
      `INSERT INTO core.tb_entity_change_log (object_type, modification_type, object_data) VALUES ('Invoice', 'INSERT', '{}') RETURNING pk_entity_change_log::text AS pk`,
    );
    const { result } = await debugEvent([rows[0]!.pk, '--config', configFile, ...base(), '--json']);
    expect(result?.observers?.every((o) => o.outcome !== 'matched')).toBe(true);
    expect(result?.workflowId).toBeNull();
    expect(result?.temporal).toEqual({ reachable: null, skipped: 'no observer matched: the listener starts no workflow' });

    const plain = await debugEvent([rows[0]!.pk, ...base()]);
    expect(plain.stdout).toContain('Observers: pass --config FILE to see which observers match this event.');
    expect(plain.stdout).toMatch(/Temporal 127\.0\.0\.1:\d+: no workflow fraiseql-event:[0-9a-f-]+ \(not started yet, or no longer retained\)/);
  });

  it('shows why a bad row cannot become an event, and its recorded bad-row entry', async () => {
    const { result, error } = await debugEvent([badPk, '--config', configFile, ...base(), '--json']);
    expect(error).toBeUndefined();
    expect(result?.event).toBeNull();
    expect(result?.bad).toEqual({
      reason: 'unknown_modification_type',
      message: `change-log row ${badPk}: unknown modification_type 'MERGE' (expected INSERT, UPDATE, DELETE, CUSTOM, NOOP or READ)`,
    });
    expect(result?.recordedBadRows).toEqual([expect.objectContaining({ listenerId: 'orders', pk: badPk, reason: 'unknown_modification_type' })]);
    expect(result?.workflowId).toBeNull();
    const human = await debugEvent([badPk, ...base()]);
    expect(human.stdout).toContain('BAD ROW (unknown_modification_type)');
    expect(human.stdout).toContain('recorded as bad by listener orders');
  });

  it('gives clear errors for an unknown row, a bad argument, a bad config and an unreachable Temporal', async () => {
    const missing = await debugEvent(['999999', ...base()]);
    expect(missing.error?.message).toBe('No change-log row with position 999999 in core.tb_entity_change_log');
    expect(missing.error?.oclif?.exit).toBe(1);
    const missingId = await debugEvent(['00000000-0000-4000-8000-000000000000', ...base()]);
    expect(missingId.error?.message).toBe('No change-log row with event id 00000000-0000-4000-8000-000000000000 in core.tb_entity_change_log');
    const badKey = await debugEvent(['order-7', ...base()]);
    expect(badKey.error?.message).toBe('argument KEY: expected a change-log position (digits) or an event id (uuid), got "order-7"');
    expect(badKey.error?.oclif?.exit).toBe(2);

    const broken = path.join(dir, 'broken.yaml');
    writeFileSync(broken, 'observers:\n  x:\n    entity: Order\n    events: [UPSERT]\n    actions: [{ type: log }]\n');
    const badConfig = await debugEvent([good.pk, '--config', broken, ...base()]);
    expect(badConfig.error?.message).toMatch(/observers\.x\.events/);
    expect(badConfig.error?.oclif?.exit).toBe(2);

    const down = await debugEvent([good.pk, '--database-url', db.url, '--address', '127.0.0.1:1', '--temporal-timeout', '500', '--json']);
    expect(down.error).toBeUndefined();
    expect(down.result?.temporal).toMatchObject({ reachable: false, error: expect.stringContaining('127.0.0.1:1') });
    expect(down.result?.event?.id).toBe(good.id);
  });

  it('on the minimal table: derives the event id as the listener does, and explains why an event id cannot be looked up', async () => {
    await db.pool.query(`CREATE TABLE tb_entity_change_log (id bigserial PRIMARY KEY, object_type text, object_id text, modification_type text, object_data jsonb);
      INSERT INTO tb_entity_change_log (object_type, object_id, modification_type, object_data) VALUES ('Order', 'ord-1', 'INSERT', '{"total": 5}')`);
    const { result, error } = await debugEvent(['1', '--table', 'tb_entity_change_log', ...base(), '--no-temporal', '--json']);
    expect(error).toBeUndefined();
    expect(result?.table).toBe('public.tb_entity_change_log');
    expect(result?.event).toMatchObject({ id: deriveEventId('tb_entity_change_log', '1'), entityId: 'ord-1', data: { total: 5 } });
    expect(result?.temporal).toEqual({ reachable: null, skipped: '--no-temporal' });
    const byId = await debugEvent([deriveEventId('tb_entity_change_log', '1'), '--table', 'tb_entity_change_log', ...base()]);
    expect(byId.error?.message).toBe(
      'public.tb_entity_change_log has no uuid id column, so its event ids are derived from positions and cannot be looked up: pass the position (id) instead',
    );
  });
});
