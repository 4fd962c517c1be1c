/**
 * The embedded server with a durable store (`--data`): killed with SIGKILL while workflows run,
 * started again on the same store, it resumes them (activities in flight, timers), keeps the failed
 * runs (the DLQ), visibility, memo and search attributes, rejects a duplicate start, and serves the
 * same history. A second server on the same store stands by and only serves once the first is gone.
 */
import net from 'node:net';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { type WorkflowHandle, WorkflowExecutionAlreadyStartedError, WorkflowFailedError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { createTestDatabase, type TestDatabase, waitFor } from '../helpers/pg';
import { freePort, startServerProcess, type ServerProcess } from '../helpers/durable-server';
import { eventually, num, startFileWorker, tsMs, uniqueTaskQueue, uniqueWorkflowId, waitForEvent, type FileWorker } from '../helpers/temporal-env';

jest.setTimeout(180_000);

const E = temporal.api.enums.v1.EventType;
const HISTORY = temporal.api.history.v1.History;

interface StepCall { workflowId: string; step: number; attempt: number }

let db: TestDatabase;
let port: number;
let server: ServerProcess;
let env: TestWorkflowEnvironment;
let worker: FileWorker;
const calls: StepCall[] = [];
/** Workflow ids whose step 2 hangs on its first attempt (until the worker shuts down). */
const hangStepTwo = new Set<string>();
const others: ServerProcess[] = [];

/** Attempts of `durableFlaky`: attempt number and when it failed or ran (wall clock, ms). */
const flaky: Array<{ attempt: number; at: number }> = [];

const activities = {
  /** Fails its first two attempts. */
  async durableFlaky(): Promise<string> {
    const { attempt } = Context.current().info;
    flaky.push({ attempt, at: Date.now() });
    if (attempt < 3) throw ApplicationFailure.retryable(`attempt ${attempt} fails on purpose`, 'Flaky');
    return `ok#${attempt}`;
  },
  async durableStep(step: number): Promise<string> {
    const info = Context.current().info;
    const workflowId = info.workflowExecution?.workflowId ?? '';
    calls.push({ workflowId, step, attempt: info.attempt });
    if (step === 2 && info.attempt === 1 && hangStepTwo.has(workflowId)) {
      // The server is killed while this attempt runs: its answer can never be accepted.
      await Context.current().sleep(170_000);
    }
    return `step${step}#${info.attempt}`;
  },
};

beforeAll(async () => {
  db = await createTestDatabase('durable_server');
  port = await freePort();
  server = startServerProcess(db.url, port);
  const address = await server.listening;
  env = await TestWorkflowEnvironment.createFromExistingServer({ address, namespace: 'default' });
  worker = await startFileWorker(env, { taskQueue: uniqueTaskQueue('durable'), activities });
});

afterAll(async () => {
  await worker?.stop().catch(() => undefined);
  await env?.teardown().catch(() => undefined);
  for (const s of [server, ...others]) await s?.kill9();
  await db?.drop();
});

/** The event ids of each history page read with `maximumPageSize` (a page is whole event batches). */
async function historyPages(workflowId: string, maximumPageSize: number): Promise<number[][]> {
  const pages: number[][] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const res = await env.client.workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId }, maximumPageSize, nextPageToken });
    pages.push((res.history?.events ?? []).map((e) => num(e.eventId)));
    nextPageToken = res.nextPageToken && res.nextPageToken.length > 0 ? res.nextPageToken : undefined;
  } while (nextPageToken && pages.length < 100);
  return pages;
}

function encoded(events: temporal.api.history.v1.IHistoryEvent[]): Buffer {
  return Buffer.from(HISTORY.encode({ events }).finish());
}

describe('durable embedded server', () => {
  it('resumes every run after kill -9 and keeps what was acknowledged', async () => {
    const client = env.client;
    const tq = worker.taskQueue;
    await worker.run(async () => {
      // A completed run: its history must read back byte for byte.
      const done = await client.workflow.start('echo', { taskQueue: tq, workflowId: uniqueWorkflowId('done'), args: ['hello'] });
      expect(await done.result()).toBe('hello');
      const doneHistory = await done.fetchHistory();
      // One batch a page: the start, the task's start, its completion with the close; then an empty page.
      const donePages = await historyPages(done.workflowId, 1);
      expect(donePages).toEqual([[1, 2], [3], [4, 5], []]);

      // A failed run: the DLQ.
      const failedId = uniqueWorkflowId('failed');
      const failed = await client.workflow.start('failWith', { taskQueue: tq, workflowId: failedId, args: ['broken on purpose'] });
      await expect(failed.result()).rejects.toBeInstanceOf(WorkflowFailedError);

      // A run in the middle of its activities, with memo and a search attribute.
      const stepsId = uniqueWorkflowId('steps');
      hangStepTwo.add(stepsId);
      const steps = await client.workflow.start('durableSteps', {
        taskQueue: tq, workflowId: stepsId, args: [3],
        memo: { owner: 'durable-test' },
        searchAttributes: { CustomKeywordField: [`kw-${stepsId}`] },
      });
      await waitFor('step 2 to be running', () => calls.some((c) => c.workflowId === stepsId && c.step === 2));

      // A run waiting on a timer.
      const timer = await client.workflow.start('sleepThenReturn', { taskQueue: tq, workflowId: uniqueWorkflowId('timer'), args: [4000] });
      const beforeKill = await waitForEvent(timer, (e) => e.eventType === E.EVENT_TYPE_TIMER_STARTED);
      const timerStarted = beforeKill.events!.find((e) => e.eventType === E.EVENT_TYPE_TIMER_STARTED)!;

      // A run waiting for a signal, for the duplicate start.
      const waiting = await client.workflow.start('waitForFinish', { taskQueue: tq, workflowId: uniqueWorkflowId('waiting') });
      await waiting.signal('add', 'before the kill');

      // An activity in retry backoff (3 s) after its first failure.
      const retrying = await client.workflow.start('runActivity', {
        taskQueue: tq, workflowId: uniqueWorkflowId('backoff'),
        args: ['durableFlaky', [], { startToCloseTimeout: '30s', retry: { initialInterval: '3s', backoffCoefficient: 1, maximumAttempts: 5 } }],
      });
      await eventually(async () => {
        const d = await retrying.describe();
        expect(d.raw.pendingActivities?.[0]?.attempt).toBe(2);
      }, { timeoutMs: 30_000, intervalMs: 50 });
      const stepsBefore = (await steps.fetchHistory()).events!;

      await server.kill9();
      server = startServerProcess(db.url, port);
      await server.listening;

      expect(await steps.result()).toEqual(['step1#1', 'step2#2', 'step3#1']);
      const stepsAfter = (await steps.fetchHistory()).events!;
      // What was written before the kill is still the beginning of the history.
      expect(encoded(stepsAfter.slice(0, stepsBefore.length))).toEqual(encoded(stepsBefore));
      const retried = stepsAfter.find((e) => e.eventType === E.EVENT_TYPE_ACTIVITY_TASK_STARTED && e.activityTaskStartedEventAttributes?.attempt === 2)!;
      expect(retried.activityTaskStartedEventAttributes!.lastFailure!.message).toMatch(/was running when the embedded Temporal server stopped/);

      const slept = await timer.result();
      expect(slept).toBeGreaterThanOrEqual(3900);
      const timerHistory = (await timer.fetchHistory()).events!;
      const fired = timerHistory.find((e) => e.eventType === E.EVENT_TYPE_TIMER_FIRED)!;
      expect(tsMs(fired.eventTime) - tsMs(timerStarted.eventTime)).toBeGreaterThanOrEqual(4000);

      const failedAgain = await failed.result().catch((err: unknown) => err);
      expect(failedAgain).toBeInstanceOf(WorkflowFailedError);
      expect((failedAgain as WorkflowFailedError).cause?.message).toBe('broken on purpose');
      const failedList = await eventually(async () => {
        const ids: string[] = [];
        for await (const w of client.workflow.list({ query: `ExecutionStatus = "Failed" AND WorkflowId = "${failedId}"` })) ids.push(w.workflowId);
        expect(ids).toEqual([failedId]);
        return ids;
      });
      expect(failedList).toHaveLength(1);

      expect(encoded((await done.fetchHistory()).events!)).toEqual(encoded(doneHistory.events!));
      // The batch boundaries were stored too: the history pages the same way after the restart.
      expect(await historyPages(done.workflowId, 1)).toEqual(donePages);

      const described = await steps.describe();
      expect(described.memo).toEqual({ owner: 'durable-test' });
      const found: string[] = [];
      for await (const w of client.workflow.list({ query: `CustomKeywordField = "kw-${stepsId}"` })) found.push(w.workflowId);
      expect(found).toEqual([stepsId]);
      expect((await client.workflow.count(`WorkflowId = "${stepsId}" OR WorkflowId = "${failedId}"`)).count).toBe(2);

      await expect(client.workflow.start('waitForFinish', { taskQueue: tq, workflowId: waiting.workflowId }))
        .rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
      // The signal acknowledged before the kill was kept.
      expect(await waiting.query('values')).toEqual(['before the kill']);
      await waiting.signal('finish', 'after restart');

      // The backoff kept its attempt count and its deadline.
      expect(await retrying.result()).toBe('ok#3');
      expect(flaky.map((f) => f.attempt)).toEqual([1, 2, 3]);
      expect(flaky[1]!.at - flaky[0]!.at).toBeGreaterThanOrEqual(2900);
      expect(await waiting.result()).toBe('after restart');
      expect(num(timerStarted.eventId)).toBeGreaterThan(0);
    });
  });

  it('loses no acknowledged workflow when killed -9 again and again under load', async () => {
    const client = env.client;
    const tq = worker.taskQueue;
    const acked: Array<WorkflowHandle> = [];
    let loading = true;
    let refused = 0;
    const loader = async () => {
      while (loading) {
        try {
          // A start the old server committed but could not answer is retried by the client with the
          // same request id, and the new server answers it with the run it already has.
          acked.push(await client.workflow.start('durableSteps', { taskQueue: tq, workflowId: uniqueWorkflowId('loop'), args: [3] }));
        } catch {
          refused++;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    };
    await worker.run(async () => {
      const loaders = [loader(), loader(), loader()];
      for (let kill = 0; kill < 4; kill++) {
        const before = acked.length;
        // Kill at a different point of the load each time: after a few more acknowledged starts.
        await waitFor('more acknowledged starts', () => acked.length >= before + 5 + kill * 3, 60_000, 5);
        await server.kill9();
        server = startServerProcess(db.url, port);
        await server.listening;
      }
      loading = false;
      await Promise.all(loaders);
      const results = await Promise.all(acked.map((h) => h.result()));
      for (const r of results) {
        expect(r).toHaveLength(3);
        r.forEach((v: string, i: number) => expect(v).toMatch(new RegExp(`^step${i + 1}#\\d+$`)));
      }
      expect(acked.length).toBeGreaterThanOrEqual(5 + 8 + 11 + 14);
      expect(refused).toBeGreaterThanOrEqual(0);
      // One run per acknowledged id, each completed once.
      const completed = (await client.workflow.count(`WorkflowType = "durableSteps" AND ExecutionStatus = "Completed" AND TaskQueue = "${tq}"`)).count;
      expect(completed).toBe(acked.length + 1);
    });
  });

  it('lets only one server serve a store: a second stands by and takes over when the first dies', async () => {
    const client = env.client;
    const id = uniqueWorkflowId('leader');
    await worker.run(async () => {
      await client.workflow.start('echo', { taskQueue: worker.taskQueue, workflowId: id, args: ['x'] });
    });
    const standbyPort = await freePort();
    const standby = startServerProcess(db.url, standbyPort);
    others.push(standby);
    await waitFor('the second server to stand by', () => /standing by/.test(standby.stderr()), 30_000);
    // Not serving: it has not bound its port.
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect(standbyPort, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(false); });
      s.once('error', () => resolve(true));
    });
    expect(refused).toBe(true);
    expect(standby.stdout()).not.toMatch(/listening/);

    await server.kill9();
    const address = await standby.listening;
    const other = await TestWorkflowEnvironment.createFromExistingServer({ address, namespace: 'default' });
    try {
      const d = await other.client.workflow.getHandle(id).describe();
      expect(d.workflowId).toBe(id);
    } finally {
      await other.teardown();
    }
    // The file's worker goes on with a server on its port again.
    await standby.kill9();
    server = startServerProcess(db.url, port);
    await server.listening;
  });
});
