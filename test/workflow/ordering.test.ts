/**
 * Per-entity ordering end to end: the real listener (config, matcher, row handler, Temporal
 * starter) on a real PostgreSQL, the embedded Temporal server, and a real worker running
 * `processChangeEvent` with the action activities and `awaitPredecessor`. A `database` action
 * records the start and end of each run in a table whose sequence gives the real order, so the
 * assertions are about order, never about time.
 */
import pino from 'pino';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment, type TestWorkflowEnvironment } from '@temporalio/testing';
import { type Worker, type InjectedSinks } from '@temporalio/worker';
import { InMemoryBreakerStore, closeActivities, createActivities, type ObserverActivities } from '../../src/activities';
import { createOrderingActivities } from '../../src/activities/ordering';
import { parseConfig } from '../../src/config';
import { migrate } from '../../src/db/migrate';
import { compileObservers } from '../../src/events/match';
import { ChangeLogListener } from '../../src/listener';
import { createRowHandler } from '../../src/listener/row-handler';
import { TemporalStarter } from '../../src/listener/temporal-starter';
import { ChangeLogPosition, EntityType, EventKind, FailedActions, ObserverNames } from '../../src/temporal/search-attributes';
import type { EventFinished, ObserverSinks } from '../../src/workflows/sinks';
import type { ProcessChangeEventInput } from '../../src/contract';
import { createTestDatabase, waitFor, type TestDatabase } from '../helpers/pg';
import { createTestEnv, createWorker, SERVICE_WORKFLOWS, uniqueTaskQueue, uniqueWorkflowId } from '../helpers/temporal-env';

jest.setTimeout(180_000);

const OBSERVERS = `
observers:
  parcel_trail:
    entity: Parcel
    events: [INSERT, UPDATE]
    ordering: per_entity
    actions:
      - type: database
        function: app.fn_trace
  crate_trail:
    entity: Crate
    events: [INSERT, UPDATE]
    actions:
      - type: database
        function: app.fn_trace
`;

// Sequence values are taken at INSERT time, outside transaction visibility: seq is real order.
const TRACE = `
CREATE SCHEMA app;
CREATE TABLE app.trace (seq bigserial PRIMARY KEY, entity text NOT NULL, step int NOT NULL, phase text NOT NULL);
CREATE FUNCTION app.fn_trace(e jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO app.trace (entity, step, phase) VALUES (e->>'entity_id', (e->'data'->>'step')::int, 'start');
  PERFORM pg_sleep(coalesce((e->'data'->>'sleep')::float8, 0));
  -- wait_for_step: hold this run until that step's run of the same entity has ended (30 s at most),
  -- which only an overlapping run can do: the unordered control then depends on order, not on time.
  IF e->'data' ? 'wait_for_step' THEN
    FOR i IN 1..600 LOOP
      EXIT WHEN EXISTS (SELECT 1 FROM app.trace WHERE entity = e->>'entity_id' AND step = (e->'data'->>'wait_for_step')::int AND phase = 'end');
      PERFORM pg_sleep(0.05);
    END LOOP;
  END IF;
  INSERT INTO app.trace (entity, step, phase) VALUES (e->>'entity_id', (e->'data'->>'step')::int, 'end');
END $$;
`;

describe('per-entity ordering', () => {
  let env: TestWorkflowEnvironment;
  let db: TestDatabase;
  let worker: Worker;
  let activities: ObserverActivities;
  let running: Promise<void>;
  const taskQueue = uniqueTaskQueue('ordering');
  const listeners: ChangeLogListener[] = [];
  const finished: EventFinished[] = [];

  beforeAll(async () => {
    env = await createTestEnv({ timeSkipping: false, searchAttributes: [EntityType, EventKind, ObserverNames, FailedActions, ChangeLogPosition] });
    db = await createTestDatabase('ordering');
    await migrate({ pool: db.pool });
    await db.pool.query(TRACE);
    activities = createActivities({ env: {}, log: pino({ level: 'silent' }), breaker: new InMemoryBreakerStore(), ssrf: { allow: [] }, db: db.pool });
    const sinks: InjectedSinks<ObserverSinks> = {
      observer: { eventFinished: { fn: (_info, f) => void finished.push(f) }, alert: { fn: () => undefined } },
    };
    worker = await createWorker(env, {
      taskQueue, workflowsPath: SERVICE_WORKFLOWS, sinks,
      activities: { ...activities, ...createOrderingActivities({ client: env.client }) },
    });
    running = worker.run();
  });
  afterAll(async () => {
    for (const l of listeners) await l.stop().catch(() => undefined);
    worker?.shutdown();
    await running;
    if (activities) await closeActivities(activities);
    await db?.drop();
    await env?.teardown();
  });

  async function trail(entity: string): Promise<string[]> {
    const { rows } = await db.pool.query<{ step: number; phase: string }>('SELECT step, phase FROM app.trace WHERE entity = $1 ORDER BY seq', [entity]);
    return rows.map((r) => `${r.phase} ${r.step}`);
  }

  it("runs a per_entity observer's actions for one entity one event after another; unordered ones overlap", async () => {
    const config = parseConfig({ env: { DATABASE_URL: db.url }, text: OBSERVERS, source: 'observers.yaml' });
    const handler = createRowHandler(compileObservers(config), { mapping: { table: 'core.tb_entity_change_log' } });
    const listener = new ChangeLogListener({
      connectionString: db.url, listenerId: 'ordering', handler, starter: new TemporalStarter({ client: env.client, taskQueue }),
      pollIntervalMs: 100, logger: pino({ level: 'silent' }),
    });
    listeners.push(listener);
    await listener.start();
    await listener.whenLeader();

    // One statement each, so both entities' three events reach the listener together: the first
    // event of each entity is the slowest, so without ordering the later ones would finish first.
    const insert = (type: string, id: string, first: string) =>
      db.pool.query(
        `INSERT INTO core.tb_entity_change_log (object_type, modification_type, object_id, object_data)
         VALUES ($1, 'INSERT', $2, $3::jsonb), ($1, 'UPDATE', $2, '{"step": 2, "sleep": 0.5}'), ($1, 'UPDATE', $2, '{"step": 3}')`,
        [type, id, first],
      );
    const parcel = '11111111-0000-4000-8000-000000000001';
    const crate = '22222222-0000-4000-8000-000000000002';
    await insert('Parcel', parcel, '{"step": 1, "sleep": 1.5}');
    // Unordered, the first Crate event can only end after the third has: it waits for it.
    await insert('Crate', crate, '{"step": 1, "wait_for_step": 3}');

    await waitFor('six traced runs', async () => (await trail(parcel)).length === 6 && (await trail(crate)).length === 6, 90_000, 100);
    expect(await trail(parcel)).toEqual(['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3']);
    // The control: without ordering, the third event ran and ended while the first one was still running.
    const crateTrail = await trail(crate);
    expect(crateTrail.indexOf('end 3')).toBeLessThan(crateTrail.indexOf('end 1'));

    // Each ordered run named its predecessor and waited for it through awaitPredecessor.
    const { rows } = await db.pool.query<{ id: string }>(`SELECT id::text FROM core.tb_entity_change_log WHERE object_type = 'Parcel' ORDER BY pk_entity_change_log`);
    const ids = rows.map((r) => `fraiseql-event:${r.id}`);
    const inputs: ProcessChangeEventInput[] = [];
    for (const id of ids) {
      const history = await env.client.workflow.getHandle(id).fetchHistory();
      const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
      const payload = started?.input?.payloads?.[0];
      inputs.push(JSON.parse(Buffer.from(payload!.data!).toString('utf8')) as ProcessChangeEventInput);
    }
    expect(inputs.map((i) => i.predecessorWorkflowId)).toEqual([undefined, ids[0], ids[1]]);
    // The last action's trace row is written before its run closes: wait for the runs to report.
    await waitFor('three finished runs', () => finished.filter((f) => ids.includes(f.workflowId)).length === 3, 30_000, 50);
    expect(finished.filter((f) => ids.includes(f.workflowId)).map((f) => f.result.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    await listener.stop();
  });

  it('awaitPredecessor: not_found for an unknown id, how it ended once closed, and cancellable while it waits', async () => {
    const ordering = createOrderingActivities({ client: env.client, pollSliceMs: 500 });
    const unknown = await new MockActivityEnvironment().run(ordering.awaitPredecessor, { workflowId: uniqueWorkflowId('never-started') });
    expect(unknown).toMatchObject({ status: 'not_found' });

    // A predecessor nobody works on (its task queue has no worker) stays open until terminated.
    const stuckId = uniqueWorkflowId('stuck');
    const stuck = await env.client.workflow.start('processChangeEvent', { taskQueue: uniqueTaskQueue('no-worker'), workflowId: stuckId, args: [{}] });
    const waiting = new MockActivityEnvironment();
    const heartbeats: unknown[] = [];
    waiting.on('heartbeat', (d: unknown) => heartbeats.push(d));
    const waited = waiting.run(ordering.awaitPredecessor, { workflowId: stuckId });
    await waitFor('a heartbeat while waiting', () => heartbeats.length > 0, 20_000);
    await stuck.terminate('test');
    await expect(waited).resolves.toMatchObject({ status: 'terminated' });

    const stuck2 = await env.client.workflow.start('processChangeEvent', { taskQueue: uniqueTaskQueue('no-worker'), workflowId: uniqueWorkflowId('stuck'), args: [{}] });
    const cancelled = new MockActivityEnvironment();
    const beats: unknown[] = [];
    cancelled.on('heartbeat', (d: unknown) => beats.push(d));
    const pending = cancelled.run(ordering.awaitPredecessor, { workflowId: stuck2.workflowId });
    await waitFor('a heartbeat before cancelling', () => beats.length > 0, 20_000);
    cancelled.cancel();
    await expect(pending).rejects.toBeInstanceOf(CancelledFailure);
    await stuck2.terminate('test');
  });
});
