/**
 * The listener end to end on the embedded Temporal server: real config + matcher, real Postgres,
 * the real SDK client starting `processChangeEvent` and a real worker running it. Every committed
 * row that an observer wants becomes exactly one workflow, findable by its search attributes;
 * re-reading the table is a counted dedup skip.
 */
import pino from 'pino';
import { Registry } from 'prom-client';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { type Worker } from '@temporalio/worker';
import { InMemoryBreakerStore, closeActivities, createActivities, type ObserverActivities } from '../../src/activities';
import { migrate } from '../../src/db/migrate';
import { ChangeLogListener } from '../../src/listener';
import { createRowHandler } from '../../src/listener/row-handler';
import { TemporalStarter } from '../../src/listener/temporal-starter';
import { parseConfig } from '../../src/config';
import { compileObservers } from '../../src/events/match';
import { ChangeLogPosition, EntityType, EventKind, ObserverNames, FailedActions } from '../../src/temporal/search-attributes';
import { createTestDatabase, waitFor, type TestDatabase } from '../helpers/pg';
import { createTestEnv, createWorker, SERVICE_WORKFLOWS, uniqueTaskQueue } from '../helpers/temporal-env';

jest.setTimeout(180_000);

const OBSERVERS = `
observers:
  order_shipped:
    entity: Order
    events: [UPDATE]
    condition: "status == 'shipped'"
    actions:
      - type: log
        message: "order {{ event.entity_id }} shipped"
  every_insert:
    entity: "*"
    events: [INSERT]
    actions:
      - type: log
`;

describe('listener → embedded Temporal', () => {
  let env: TestWorkflowEnvironment;
  let db: TestDatabase;
  let worker: Worker;
  let activities: ObserverActivities;
  let running: Promise<void>;
  const taskQueue = uniqueTaskQueue('listener');
  const listeners: ChangeLogListener[] = [];

  beforeAll(async () => {
    env = await createTestEnv({ timeSkipping: false, searchAttributes: [EntityType, EventKind, ObserverNames, FailedActions, ChangeLogPosition] });
    db = await createTestDatabase('listener_temporal');
    await migrate({ pool: db.pool });
    activities = createActivities({ env: {}, log: pino({ level: 'silent' }), breaker: new InMemoryBreakerStore(), ssrf: { allow: [] } });
    worker = await createWorker(env, { taskQueue, workflowsPath: SERVICE_WORKFLOWS, activities });
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

  it('starts one processChangeEvent per matched row, with search attributes and a summary', async () => {
    const config = parseConfig({ env: { DATABASE_URL: db.url }, text: OBSERVERS, source: 'observers.yaml' });
    const compiled = compileObservers(config);
    const registry = new Registry();
    const handler = createRowHandler(compiled, { mapping: { table: 'core.tb_entity_change_log' } });
    const starter = new TemporalStarter({ client: env.client, taskQueue });
    const opts = {
      connectionString: db.url, listenerId: 'e2e', handler, starter, pollIntervalMs: 100,
      logger: pino({ level: 'silent' }), metrics: registry, rejoinDelayMs: 200,
    };
    const listener = new ChangeLogListener(opts);
    listeners.push(listener);
    await listener.start();
    await listener.whenLeader();

    await db.pool.query(`INSERT INTO core.tb_entity_change_log (object_type, modification_type, object_id, object_data)
      SELECT 'Order', 'INSERT', gen_random_uuid(), jsonb_build_object('status', 'new', 'n', g) FROM generate_series(1, 20) g`);
    await db.pool.query(`INSERT INTO core.tb_entity_change_log (object_type, modification_type, object_id, object_data)
      VALUES ('Order', 'UPDATE', gen_random_uuid(), '{"status":"shipped"}'),
             ('Order', 'UPDATE', gen_random_uuid(), '{"status":"paid"}'),
             ('Order', 'BOGUS', gen_random_uuid(), '{}')`);
    const ids = (await db.pool.query<{ id: string; modification_type: string; status: string }>(
      `SELECT id::text, modification_type, object_data->>'status' AS status FROM core.tb_entity_change_log ORDER BY pk_entity_change_log`)).rows;
    const wanted = ids.filter((r) => r.modification_type === 'INSERT' || r.status === 'shipped');
    expect(wanted).toHaveLength(21);

    const count = async (q: string) => (await env.client.workflow.count(q)).count;
    await waitFor('21 workflows', async () => (await count(`TaskQueue = '${taskQueue}'`)) === 21, 60_000, 200);
    await waitFor('all completed', async () => (await count(`TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Completed'`)) === 21, 60_000, 200);

    const shipped = wanted.find((r) => r.status === 'shipped')!;
    const h = env.client.workflow.getHandle(`fraiseql-event:${shipped.id}`);
    const d = await h.describe();
    expect(d.typedSearchAttributes.get(EntityType)).toBe('Order');
    expect(d.typedSearchAttributes.get(EventKind)).toBe('UPDATE');
    expect(d.typedSearchAttributes.get(ObserverNames)).toEqual(['order_shipped']);
    expect(await d.staticSummary()).toMatch(/^UPDATE Order .* → order_shipped \(1 action\)$/);
    await expect(h.result()).resolves.toMatchObject({
      eventId: shipped.id, status: 'succeeded', observers: ['order_shipped'],
      actions: [{ key: 'order_shipped:0', type: 'log', status: 'succeeded', result: { type: 'log', level: 'info' } }],
    });
    expect(await count(`ObserverNames = 'every_insert'`)).toBe(20);

    // A listener that re-reads everything from position 0 starts nothing new: every start is a dedup skip.
    await listener.stop();
    await db.pool.query(`UPDATE observer_checkpoints SET last_processed_id = 0 WHERE listener_id = 'e2e'`);
    const again = new ChangeLogListener({ ...opts, metrics: registry });
    listeners.push(again);
    await again.start();
    await again.whenLeader();
    const dedup = async () => (await registry.getSingleMetric('observer_dedup_skips_total')?.get())?.values.reduce((n, v) => n + v.value, 0) ?? 0;
    await waitFor('21 dedup skips', async () => (await dedup()) >= 21, 60_000, 200);
    await again.stop();
    expect(await count(`TaskQueue = '${taskQueue}'`)).toBe(21);
  });
});
