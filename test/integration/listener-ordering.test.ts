/**
 * Per-entity ordering inside the listener: an ordered event's start is only issued once its
 * predecessor's start was acknowledged, even when the predecessor's start has to be retried; other
 * entities' starts do not wait.
 */
import pino from 'pino';
import { parseConfig } from '../../src/config';
import { migrate } from '../../src/db/migrate';
import { compileObservers } from '../../src/events/match';
import { ChangeLogListener, RecordingStarter } from '../../src/listener';
import { createRowHandler } from '../../src/listener/row-handler';
import type { ProcessChangeEventInput } from '../../src/contract';
import { createTestDatabase, waitFor, type TestDatabase } from '../helpers/pg';

jest.setTimeout(60_000);

const OBSERVERS = `
observers:
  ordered:
    entity: Parcel
    events: [INSERT, UPDATE]
    ordering: per_entity
    actions: [{ type: log }]
`;

describe('listener: per-entity ordering of starts', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('listener_ordering');
    await migrate({ pool: db.pool });
  });
  afterAll(async () => {
    await db.drop();
  });

  it("waits for the predecessor's acknowledged start, retried or not, before starting its successor", async () => {
    const config = parseConfig({ env: { DATABASE_URL: db.url }, text: OBSERVERS, source: 'observers.yaml' });
    const handler = createRowHandler(compileObservers(config), { mapping: { table: 'core.tb_entity_change_log' } });
    const { rows } = await db.pool.query<{ id: string; object_id: string }>(
      `INSERT INTO core.tb_entity_change_log (object_type, modification_type, object_id, object_data)
       VALUES ('Parcel', 'INSERT', 'aaaaaaaa-0000-4000-8000-000000000001', '{}'),
              ('Parcel', 'UPDATE', 'aaaaaaaa-0000-4000-8000-000000000001', '{}'),
              ('Parcel', 'INSERT', 'bbbbbbbb-0000-4000-8000-000000000002', '{}')
       RETURNING id::text, object_id::text`,
    );
    const [first, second, other] = rows.map((r) => `fraiseql-event:${r.id}`) as [string, string, string];
    let failuresLeft = 2;
    const starter = new RecordingStarter({
      beforeStart: (workflowId) => {
        // The first event's start fails twice (Temporal briefly unavailable): retried with backoff.
        if (workflowId === first && failuresLeft-- > 0) throw new Error('UNAVAILABLE: try again');
      },
    });
    const listener = new ChangeLogListener({ connectionString: db.url, listenerId: 'ordering', handler, starter, pollIntervalMs: 100, logger: pino({ level: 'silent' }) });
    try {
      await listener.start();
      await waitFor('three starts', () => starter.size === 3);
      expect(starter.starts.map((s) => s.workflowId)).toEqual([other, first, second]);
      const input = starter.get(second)!.decision.payload as ProcessChangeEventInput;
      expect(input.predecessorWorkflowId).toBe(first);
      expect(starter.attempts).toBe(5);
    } finally {
      await listener.stop();
    }
  });

  it('after a restart, primes the order from the rows behind the checkpoint (and can be told not to)', async () => {
    const config = parseConfig({ env: { DATABASE_URL: db.url }, text: OBSERVERS, source: 'observers.yaml' });
    const newHandler = () => createRowHandler(compileObservers(config), { mapping: { table: 'core.tb_entity_change_log' } });
    const entity = 'cccccccc-0000-4000-8000-000000000003';
    const insert = async () =>
      (await db.pool.query<{ id: string }>(
        `INSERT INTO core.tb_entity_change_log (object_type, modification_type, object_id, object_data) VALUES ('Parcel', 'UPDATE', $1, '{}') RETURNING id::text`,
        [entity],
      )).rows[0]!.id;
    const run = async (listenerId: string, primeRows: number | undefined, expectStarts: number) => {
      const starter = new RecordingStarter();
      const listener = new ChangeLogListener({ connectionString: db.url, listenerId, handler: newHandler(), starter, pollIntervalMs: 100, logger: pino({ level: 'silent' }), ...(primeRows === undefined ? {} : { primeRows }) });
      try {
        await listener.start();
        await waitFor(`${expectStarts} start(s)`, () => starter.size === expectStarts);
      } finally {
        await listener.stop();
      }
      return starter;
    };
    const before = await insert();
    // Two listener ids: one primes (the default), one does not; each first catches up to here.
    const total = (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM core.tb_entity_change_log')).rows[0]!.n;
    await run('primed', undefined, total);
    await run('unprimed', 0, total);
    const after = await insert();
    // Fresh processes (new handlers, empty memory) pick up the new event.
    const primed = await run('primed', undefined, 1);
    expect((primed.get(`fraiseql-event:${after}`)!.decision.payload as ProcessChangeEventInput).predecessorWorkflowId).toBe(`fraiseql-event:${before}`);
    const unprimed = await run('unprimed', 0, 1);
    expect((unprimed.get(`fraiseql-event:${after}`)!.decision.payload as ProcessChangeEventInput).predecessorWorkflowId).toBeUndefined();
  });
});
