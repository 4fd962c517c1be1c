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
import type { ProcessChangeEventInput } from '../../src/workflows/types';
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
});
