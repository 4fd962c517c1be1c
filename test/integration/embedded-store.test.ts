/**
 * The embedded server's durable store through the in-process API: group commits, what survives a
 * stop and start (runs, request-id dedup, namespaces, search attributes), retention deleting rows,
 * one server per store, and a server that loses its store's session stops answering.
 */
import { randomUUID } from 'node:crypto';
import Long from 'long';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { migrate } from '../../src/db/migrate';
import { type EmbeddedTemporal, startEmbeddedTemporal } from '../../src/embedded-temporal';
import { StoreBusyError } from '../../src/embedded-temporal/store/leadership';
import { createTestDatabase, type TestDatabase, waitFor } from '../helpers/pg';

jest.setTimeout(120_000);

let db: TestDatabase;
const servers: EmbeddedTemporal[] = [];

beforeAll(async () => {
  db = await createTestDatabase('embedded_store');
  // The schema made by `migrate` is the one the server uses (it would create it itself otherwise).
  await migrate({ pool: db.pool });
});

// A test that fails half-way must not leave the store held by its server for the next test.
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop().catch(() => undefined);
});

afterAll(async () => {
  await db?.drop();
});

async function start(extra: Parameters<typeof startEmbeddedTemporal>[0] = {}): Promise<EmbeddedTemporal> {
  const s = await startEmbeddedTemporal({ port: 0, ...extra, persistence: { url: db.url, ...extra.persistence } });
  servers.push(s);
  return s;
}

async function connect(s: EmbeddedTemporal): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect({ address: s.address });
  return { client: new Client({ connection, namespace: 'default' }), connection };
}

describe('embedded Temporal server: durable store', () => {
  it('in memory unless persistence is given', async () => {
    const s = await startEmbeddedTemporal({ port: 0 });
    try {
      expect(s.persistence).toBeNull();
      expect(s.store).toBeNull();
    } finally {
      await s.stop();
    }
  });

  it('groups concurrent starts into few commits, and every acknowledged start survives a restart', async () => {
    let s = await start();
    expect(s.persistence).toEqual({ url: db.url, schema: 'fraiseql_temporal' });
    let { client, connection } = await connect(s);
    const commitsBefore = s.store!.stats.commits;
    const ids = Array.from({ length: 200 }, (_, i) => `group-${i}-${randomUUID()}`);
    const requestId = randomUUID();
    const handles = await Promise.all(ids.map((workflowId, i) => (i === 0
      ? connection.workflowService.startWorkflowExecution({
        namespace: 'default', workflowId, workflowType: { name: 'noWorker' }, taskQueue: { name: 'nobody-polls' }, requestId,
      }).then((r) => ({ workflowId, runId: r.runId }))
      : client.workflow.start('noWorker', { taskQueue: 'nobody-polls', workflowId }).then((h) => ({ workflowId, runId: h.firstExecutionRunId })))));
    const commits = s.store!.stats.commits - commitsBefore;
    expect(commits).toBeGreaterThan(0);
    expect(commits).toBeLessThan(100);
    const { rows } = await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM fraiseql_temporal.runs WHERE workflow_id LIKE $1', ['group-%']);
    expect(Number(rows[0]!.n)).toBe(200);

    await connection.close();
    await s.stop();
    s = await start();
    ({ client, connection } = await connect(s));
    expect((await client.workflow.count('WorkflowType = "noWorker" AND ExecutionStatus = "Running"')).count).toBe(200);
    // A retried start (same request id) is still recognised after the restart, a new one is rejected.
    const again = await connection.workflowService.startWorkflowExecution({
      namespace: 'default', workflowId: ids[0], workflowType: { name: 'noWorker' }, taskQueue: { name: 'nobody-polls' }, requestId,
    });
    expect(again.runId).toBe(handles[0]!.runId);
    await expect(client.workflow.start('noWorker', { taskQueue: 'nobody-polls', workflowId: ids[1]! })).rejects.toThrow(/already/i);
    const d = await client.workflow.getHandle(ids[2]!).describe();
    expect(d.runId).toBe(handles[2]!.runId);
    await connection.close();
    await s.stop();
  });

  it('keeps namespaces and search attributes registered at run time', async () => {
    let s = await start();
    let { connection } = await connect(s);
    await connection.workflowService.registerNamespace({ namespace: 'second', workflowExecutionRetentionPeriod: { seconds: Long.fromNumber(7200) } });
    await connection.operatorService.addSearchAttributes({ namespace: 'default', searchAttributes: { DurableTag: 2 } });
    const before = await connection.workflowService.describeNamespace({ namespace: 'second' });
    await connection.close();
    await s.stop();

    s = await start();
    ({ connection } = await connect(s));
    const after = await connection.workflowService.describeNamespace({ namespace: 'second' });
    expect(after.namespaceInfo?.id).toBe(before.namespaceInfo?.id);
    expect(Number(after.config?.workflowExecutionRetentionTtl?.seconds)).toBe(7200);
    const listed = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
    expect(Object.keys(listed.customAttributes)).toContain('DurableTag');
    const info = await connection.workflowService.getClusterInfo({});
    expect(info.persistenceStore).toBe('postgresql');
    await connection.close();
    await s.stop();
  });

  it('deletes the rows of runs past retention', async () => {
    const s = await start({ retentionMs: 500 });
    const { client, connection } = await connect(s);
    const workflowId = `short-${randomUUID()}`;
    const h = await client.workflow.start('noWorker', { taskQueue: 'nobody-polls', workflowId });
    await h.terminate('done');
    const count = async () => Number((await db.pool.query<{ n: string }>(
      'SELECT (SELECT count(*) FROM fraiseql_temporal.runs WHERE run_id = $1) + (SELECT count(*) FROM fraiseql_temporal.history WHERE run_id = $1) AS n',
      [h.firstExecutionRunId],
    )).rows[0]!.n);
    expect(await count()).toBeGreaterThan(0);
    await waitFor('the retained run to be swept from the store', async () => (await count()) === 0, 15_000, 100);
    await connection.close();
    await s.stop();
  });

  it('serves a store from one server only: a second one fails at once when told not to wait', async () => {
    const s = await start();
    const err = await startEmbeddedTemporal({ port: 0, persistence: { url: db.url, waitForLeadership: false } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreBusyError);
    expect((err as Error).message).toMatch(new RegExp(`served by another embedded Temporal server \\(fraiseql-observers temporal-store pid ${process.pid}`));
    await s.stop();
    // Given up politely: the next one gets the store at once.
    const next = await startEmbeddedTemporal({ port: 0, persistence: { url: db.url, waitForLeadership: false } });
    servers.push(next);
    await next.stop();
  });

  it('after a crash, closes the started workflow task and writes the events it held back, and retries the running activity', async () => {
    const ET = temporal.api.enums.v1.EventType;
    const tq = `raw-${randomUUID()}`;
    let s = await start();
    let { client, connection } = await connect(s);
    const svc = () => connection.workflowService;
    const h = await client.workflow.start('rawWorkflow', { taskQueue: tq, workflowId: `raw-${randomUUID()}` });
    const first = await svc().pollWorkflowTaskQueue({ namespace: 'default', taskQueue: { name: tq }, identity: 'test' });
    await svc().respondWorkflowTaskCompleted({
      namespace: 'default', taskToken: first.taskToken, identity: 'test',
      commands: ['a1', 'a2'].map((activityId) => ({
        commandType: temporal.api.enums.v1.CommandType.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK,
        scheduleActivityTaskCommandAttributes: {
          activityId, activityType: { name: 'rawActivity' }, taskQueue: { name: tq },
          startToCloseTimeout: { seconds: Long.fromNumber(60) }, retryPolicy: { maximumAttempts: 3 },
        },
      })),
    });
    const polled = [
      await svc().pollActivityTaskQueue({ namespace: 'default', taskQueue: { name: tq }, identity: 'test' }),
      await svc().pollActivityTaskQueue({ namespace: 'default', taskQueue: { name: tq }, identity: 'test' }),
    ];
    const act = polled.find((a) => a.activityId === 'a1')!;
    expect(polled.map((a) => [a.activityId, a.attempt]).sort()).toEqual([['a1', 1], ['a2', 1]]);
    // Activity a2 is running and a workflow task is started when the server dies;
    // the activity's result and a signal arrive while that task runs (held back, not yet history).
    await h.signal('poke');
    const second = await svc().pollWorkflowTaskQueue({ namespace: 'default', taskQueue: { name: tq }, identity: 'test' });
    expect(second.taskToken?.length).toBeGreaterThan(0);
    await svc().respondActivityTaskCompleted({ namespace: 'default', taskToken: act.taskToken, identity: 'test' });
    await h.signal('held back');
    const beforeCrash = (await h.fetchHistory()).events!.length;
    await connection.close();
    s.store!.crash();
    await s.stop();

    s = await start();
    ({ client, connection } = await connect(s));
    const events = (await client.workflow.getHandle(h.workflowId).fetchHistory()).events!;
    const tail = events.slice(beforeCrash).map((e) => ET[e.eventType!]);
    expect(tail).toEqual([
      'EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT', 'EVENT_TYPE_ACTIVITY_TASK_STARTED', 'EVENT_TYPE_ACTIVITY_TASK_COMPLETED',
      'EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED', 'EVENT_TYPE_WORKFLOW_TASK_SCHEDULED',
    ]);
    const started = events[beforeCrash + 1]!;
    const completed = events[beforeCrash + 2]!;
    expect(Number(completed.activityTaskCompletedEventAttributes?.startedEventId)).toBe(Number(started.eventId));
    expect(events[beforeCrash + 3]!.workflowExecutionSignaledEventAttributes?.signalName).toBe('held back');
    // The events held back during the timed-out task make the next one a normal first attempt (as on the
    // real server): its WorkflowTaskScheduled is written, with attempt 1.
    expect(events.at(-1)!.workflowTaskScheduledEventAttributes?.attempt).toBe(1);
    const retried = await svc().pollWorkflowTaskQueue({ namespace: 'default', taskQueue: { name: tq }, identity: 'test' });
    expect(retried.attempt).toBe(1);
    // The attempt of a2 that was running counts as timed out: attempt 2 is dispatched at once.
    const again = await svc().pollActivityTaskQueue({ namespace: 'default', taskQueue: { name: tq }, identity: 'test' });
    expect([again.activityId, again.attempt]).toEqual(['a2', 2]);
    await connection.close();
    await s.stop();
  });

  it('keeps retries of a failed workflow task transient, and their attempt count across a crash', async () => {
    const ET = temporal.api.enums.v1.EventType;
    const tq = `transient-${randomUUID()}`;
    let s = await start();
    let { client, connection } = await connect(s);
    const svc = () => connection.workflowService;
    const h = await client.workflow.start('rawWorkflow', { taskQueue: tq, workflowId: `transient-${randomUUID()}` });
    const poll = () => svc().pollWorkflowTaskQueue({ namespace: 'default', taskQueue: { name: tq }, identity: 'test' });
    const fail = (taskToken: Uint8Array | null | undefined) => svc().respondWorkflowTaskFailed({
      namespace: 'default', taskToken, identity: 'test', failure: { message: 'broken on purpose' },
    });
    const types = (events: temporal.api.history.v1.IHistoryEvent[]) => events.map((e) => ET[e.eventType!]);
    const written = ['EVENT_TYPE_WORKFLOW_EXECUTION_STARTED', 'EVENT_TYPE_WORKFLOW_TASK_SCHEDULED', 'EVENT_TYPE_WORKFLOW_TASK_STARTED', 'EVENT_TYPE_WORKFLOW_TASK_FAILED'];

    await fail((await poll()).taskToken);
    // Attempt 2: the poll carries its scheduled and started events after the history; the history has neither.
    const second = await poll();
    expect(second.attempt).toBe(2);
    expect(types(second.history!.events!)).toEqual([...written, 'EVENT_TYPE_WORKFLOW_TASK_SCHEDULED', 'EVENT_TYPE_WORKFLOW_TASK_STARTED']);
    expect(second.history!.events![4]!.workflowTaskScheduledEventAttributes?.attempt).toBe(2);
    expect([Number(second.history!.events![4]!.eventId), Number(second.startedEventId)]).toEqual([5, 6]);
    await fail(second.taskToken);
    expect(types((await h.fetchHistory()).events!)).toEqual(written);

    await connection.close();
    s.store!.crash();
    await s.stop();
    s = await start();
    ({ client, connection } = await connect(s));
    const third = await poll();
    expect(third.attempt).toBe(3);
    await svc().respondWorkflowTaskCompleted({
      namespace: 'default', taskToken: third.taskToken, identity: 'test',
      commands: [{ commandType: temporal.api.enums.v1.CommandType.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION, completeWorkflowExecutionCommandAttributes: {} }],
    });
    const events = (await client.workflow.getHandle(h.workflowId).fetchHistory()).events!;
    // The attempt that completed wrote its scheduled and started events, then its completion.
    expect(types(events)).toEqual([
      ...written, 'EVENT_TYPE_WORKFLOW_TASK_SCHEDULED', 'EVENT_TYPE_WORKFLOW_TASK_STARTED', 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED', 'EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED',
    ]);
    expect(events[4]!.workflowTaskScheduledEventAttributes?.attempt).toBe(3);
    await connection.close();
    await s.stop();
  });

  it('stops answering when its store session is lost, and never writes again', async () => {
    let fatal: Error | null = null;
    const s = await start({ persistence: { url: db.url, onFatal: (e) => { fatal = e; } } });
    const { client, connection } = await connect(s);
    await client.workflow.start('noWorker', { taskQueue: 'nobody-polls', workflowId: `before-${randomUUID()}` });
    await db.pool.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'fraiseql-observers temporal-store%' AND datname = current_database()");
    await waitFor('the server to notice', () => fatal !== null, 15_000, 50);
    expect(String(fatal)).toMatch(/durable store's session ended/);
    await expect(connection.withDeadline(Date.now() + 3000, () => client.workflow.start('noWorker', { taskQueue: 'nobody-polls', workflowId: `after-${randomUUID()}` })))
      .rejects.toThrow();
    const { rows } = await db.pool.query<{ n: string }>("SELECT count(*) AS n FROM fraiseql_temporal.runs WHERE workflow_id LIKE 'after-%'");
    expect(Number(rows[0]!.n)).toBe(0);
    await connection.close();
  });
});
