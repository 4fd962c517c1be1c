/**
 * What the Temporal Web UI and the `temporal` CLI need of a server beyond what the SDK uses:
 * DescribeTaskQueue lists the workers polling a queue, GetWorkflowExecutionHistoryReverse pages
 * newest-first, the list filter knows the tree and size attributes (ParentWorkflowId, RootWorkflowId,
 * StateTransitionCount, ...), ListSearchAttributes lists the server's own attributes as system
 * attributes, and the standard gRPC health service answers.
 */
import * as grpc from '@grpc/grpc-js';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { healthServiceDefinition, HEALTH_SERVICE } from '../../src/embedded-temporal/health-service';
import {
  createTestEnv,
  eventTypeName,
  eventually,
  grpcCode,
  rejectionOf,
  startFileWorker,
  uniqueTaskQueue,
  uniqueWorkflowId,
  waitForEvent,
  type FileWorker,
  type HistoryEvent,
} from '../helpers/temporal-env';
import { createActivities } from './activities';
import { echo, runActivity, sleepThenReturn, waitForFinish } from './workflows';
import { addSignal, finishSignal, valuesQuery } from './workflows/definitions';

jest.setTimeout(120_000);

const { TaskQueueType, IndexedValueType, BatchOperationState, BatchOperationType, WorkflowTaskFailedCause } = temporal.api.enums.v1;

let env: TestWorkflowEnvironment;
let worker: FileWorker;
const identity = `ui-support-worker-${process.pid}`;
const namespace = (): string => env.namespace ?? 'default';

beforeAll(async () => {
  env = await createTestEnv();
  worker = await startFileWorker(env, { taskQueue: uniqueTaskQueue('ui'), activities: createActivities(), identity });
});

afterAll(async () => {
  await worker?.stop();
  await env?.teardown();
});

describe('DescribeTaskQueue', () => {
  it('lists the polling worker for workflow and activity tasks, and no nexus pollers', async () => {
    await worker.run(async () => {
      // A finished workflow proves both pollers have polled at least once.
      await env.client.workflow.execute(runActivity, { taskQueue: worker.taskQueue, workflowId: uniqueWorkflowId('ui-tq'), args: ['greet', ['x'], { startToCloseTimeout: '10s' }] });
      const describe = (taskQueueType: number) =>
        env.client.workflowService.describeTaskQueue({ namespace: namespace(), taskQueue: { name: worker.taskQueue }, taskQueueType });
      for (const type of [TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY]) {
        const { pollers } = await describe(type);
        expect(pollers?.map((p) => p.identity)).toContain(identity);
        const seen = pollers!.find((p) => p.identity === identity)!;
        const lastAccess = Number(seen.lastAccessTime!.seconds) * 1000;
        expect(Math.abs(Date.now() - lastAccess)).toBeLessThan(5 * 60_000);
      }
      expect((await describe(TaskQueueType.TASK_QUEUE_TYPE_NEXUS)).pollers ?? []).toEqual([]);
      const other = await env.client.workflowService.describeTaskQueue({
        namespace: namespace(), taskQueue: { name: uniqueTaskQueue('nobody-polls') }, taskQueueType: TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
      });
      expect(other.pollers ?? []).toEqual([]);
    });
  });
});

describe('GetWorkflowExecutionHistoryReverse', () => {
  it('pages newest first, maximumPageSize whole event batches a page; the pages together are the whole history reversed', async () => {
    const workflowId = uniqueWorkflowId('ui-rev');
    await worker.run(() => env.client.workflow.execute(runActivity, { taskQueue: worker.taskQueue, workflowId, args: ['greet', ['x'], { startToCloseTimeout: '10s' }] }));
    const full = await env.client.workflowService.getWorkflowExecutionHistory({ namespace: namespace(), execution: { workflowId } });
    const forward = full.history!.events!;
    // The run's batches, each appended by one request, oldest first.
    const batches = [
      ['WorkflowExecutionStarted', 'WorkflowTaskScheduled'],
      ['WorkflowTaskStarted'],
      ['WorkflowTaskCompleted', 'ActivityTaskScheduled'],
      ['ActivityTaskStarted', 'ActivityTaskCompleted', 'WorkflowTaskScheduled'],
      ['WorkflowTaskStarted'],
      ['WorkflowTaskCompleted', 'WorkflowExecutionCompleted'],
    ];
    expect(forward.map(eventTypeName)).toEqual(batches.flat());
    const newestFirst = batches.map((b) => [...b].reverse()).reverse();

    const readPages = async (maximumPageSize: number): Promise<HistoryEvent[][]> => {
      const pages: HistoryEvent[][] = [];
      let nextPageToken: Uint8Array | undefined;
      do {
        const page = await env.client.workflowService.getWorkflowExecutionHistoryReverse({
          namespace: namespace(), execution: { workflowId }, maximumPageSize, nextPageToken,
        });
        pages.push(page.history?.events ?? []);
        nextPageToken = page.nextPageToken && page.nextPageToken.length > 0 ? page.nextPageToken : undefined;
        expect(pages.length).toBeLessThan(100);
      } while (nextPageToken);
      return pages;
    };

    // Three batches a page (6 and 5 events for a size of 3); the page that reaches event 1 has no token.
    const threes = await readPages(3);
    expect(threes.map((p) => p.map(eventTypeName))).toEqual([newestFirst.slice(0, 3).flat(), newestFirst.slice(3).flat()]);
    expect(threes.flat().map((e) => Number(e.eventId))).toEqual(forward.map((e) => Number(e.eventId)).reverse());

    // The UI's "latest event" read (a size of 1) gets the newest batch, the closing one.
    const ones = await readPages(1);
    expect(ones.map((p) => p.map(eventTypeName))).toEqual(newestFirst);
    expect(ones[0]!.map((e) => Number(e.eventId))).toEqual([forward.length, forward.length - 1]);
  });

  it('refuses a page token it did not issue', async () => {
    const workflowId = uniqueWorkflowId('ui-rev-bad');
    await worker.run(() => env.client.workflow.execute(echo, { taskQueue: worker.taskQueue, workflowId, args: ['x'] }));
    const err = await rejectionOf(env.client.workflowService.getWorkflowExecutionHistoryReverse({
      namespace: namespace(), execution: { workflowId }, nextPageToken: Buffer.from('not a token'),
    }));
    expect(grpcCode(err)).toBe(grpc.status.INVALID_ARGUMENT);
  });
});

describe('list filter on tree and size attributes', () => {
  it('ParentWorkflowId, ParentRunId, RootWorkflowId, RootRunId, StateTransitionCount and HistorySizeBytes select runs', async () => {
    const workflowId = uniqueWorkflowId('ui-tree');
    const handle = await env.client.workflow.start(waitForFinish, { taskQueue: worker.taskQueue, workflowId });
    const runId = handle.firstExecutionRunId;
    await worker.run(async () => {
      await handle.signal(finishSignal, 'done');
      await handle.result();
    });
    const ids = async (query: string) => {
      const out: string[] = [];
      for await (const wf of env.client.workflow.list({ query })) out.push(wf.workflowId);
      return out;
    };
    const mine = `WorkflowId = '${workflowId}'`;
    // Runs without a parent: the UI's "Parent Workflows" saved view.
    expect(await ids(`${mine} AND \`ParentWorkflowId\` is null`)).toEqual([workflowId]);
    expect(await ids(`${mine} AND ParentWorkflowId IS NOT NULL`)).toEqual([]);
    expect(await ids(`${mine} AND ParentRunId IS NULL`)).toEqual([workflowId]);
    // A run without a parent is its own root (the UI's workflow-tree queries).
    expect(await ids(`RootWorkflowId = "${workflowId}" AND RootRunId = "${runId}"`)).toEqual([workflowId]);
    expect(await ids(`${mine} AND StateTransitionCount > 0 AND HistorySizeBytes > 100`)).toEqual([workflowId]);
    expect(await ids(`${mine} AND HistorySizeBytes > 100000000`)).toEqual([]);
    const desc = await handle.describe();
    const count = await env.client.workflowService.countWorkflowExecutions({ namespace: namespace(), query: `${mine} AND HistorySizeBytes = ${desc.raw.workflowExecutionInfo!.historySizeBytes!.toString()}` });
    expect(Number(count.count)).toBe(1);
  });
});

describe('ListSearchAttributes', () => {
  it("lists the real server's system attributes with their types", async () => {
    const listed = await env.connection.operatorService.listSearchAttributes({ namespace: namespace() });
    const K = IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
    const I = IndexedValueType.INDEXED_VALUE_TYPE_INT;
    const D = IndexedValueType.INDEXED_VALUE_TYPE_DATETIME;
    const L = IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST;
    // Temporal server 1.29's system and predefined attributes (common/searchattribute/defs.go).
    expect(listed.systemAttributes).toMatchObject({
      WorkflowId: K, RunId: K, WorkflowType: K, StartTime: D, ExecutionTime: D, CloseTime: D, ExecutionStatus: K, TaskQueue: K,
      HistoryLength: I, ExecutionDuration: I, StateTransitionCount: I, HistorySizeBytes: I,
      ParentWorkflowId: K, ParentRunId: K, RootWorkflowId: K, RootRunId: K,
      TemporalChangeVersion: L, BinaryChecksums: L, BuildIds: L, BatcherNamespace: K, BatcherUser: K,
      TemporalScheduledStartTime: D, TemporalScheduledById: K, TemporalSchedulePaused: IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
      TemporalNamespaceDivision: K, TemporalPauseInfo: L,
      TemporalWorkerDeploymentVersion: K, TemporalWorkflowVersioningBehavior: K, TemporalWorkerDeployment: K,
    });
    // System attributes are not custom ones.
    expect(Object.keys(listed.customAttributes ?? {})).not.toContain('WorkflowId');
    expect(Object.keys(listed.customAttributes ?? {})).not.toContain('BuildIds');
  });
});

describe('grpc.health.v1.Health', () => {
  const Client = grpc.makeGenericClientConstructor(healthServiceDefinition, HEALTH_SERVICE);
  const check = (service: string) => new Promise<{ status: number }>((resolve, reject) => {
    const client = new Client(env.address, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
      Check(req: { service: string }, cb: (err: grpc.ServiceError | null, r: { status: number }) => void): void;
    };
    client.Check({ service }, (err, r) => {
      client.close();
      if (err) reject(err);
      else resolve(r);
    });
  });

  it('answers SERVING for the workflow service (what `temporal operator cluster health` asks)', async () => {
    expect(await check('temporal.api.workflowservice.v1.WorkflowService')).toEqual({ status: 1 });
  });

  it('answers NOT_FOUND for a service it does not host', async () => {
    expect(grpcCode(await rejectionOf(check('no.such.Service')))).toBe(grpc.status.NOT_FOUND);
  });
});

describe('ResetWorkflowExecution (the Web UI\'s "Reset")', () => {
  it('re-runs a closed run from its first workflow task: a new run of the same id, the base run kept', async () => {
    const workflowId = uniqueWorkflowId('ui-reset');
    const base = await worker.run(async () => {
      const h = await env.client.workflow.start(runActivity, { taskQueue: worker.taskQueue, workflowId, args: ['greet', ['reset'], { startToCloseTimeout: '10s' }] });
      await h.result();
      return h.firstExecutionRunId;
    });
    const baseHistory = (await env.client.workflowService.getWorkflowExecutionHistory({ namespace: namespace(), execution: { workflowId, runId: base } })).history!.events!;
    const firstTask = baseHistory.find((e) => eventTypeName(e) === 'WorkflowTaskCompleted')!;
    const { runId } = await env.client.workflowService.resetWorkflowExecution({
      namespace: namespace(), workflowExecution: { workflowId, runId: base }, reason: 'again', workflowTaskFinishEventId: firstTask.eventId, requestId: `r-${workflowId}`,
    });
    expect(runId).not.toBe(base);
    const result = await worker.run(() => env.client.workflow.getHandle(workflowId, runId!).result());
    expect(result).toBe('Hello, reset!');
    const events = (await env.client.workflowService.getWorkflowExecutionHistory({ namespace: namespace(), execution: { workflowId, runId } })).history!.events!;
    expect(events.slice(0, 4).map(eventTypeName)).toEqual(['WorkflowExecutionStarted', 'WorkflowTaskScheduled', 'WorkflowTaskStarted', 'WorkflowTaskFailed']);
    expect(events[3]!.workflowTaskFailedEventAttributes).toMatchObject({ cause: WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW, baseRunId: base, newRunId: runId });
    expect(eventTypeName(events.at(-1)!)).toBe('WorkflowExecutionCompleted');
    expect((await env.client.workflow.getHandle(workflowId, base).describe()).status.name).toBe('COMPLETED');
    // The same request id is the same reset.
    const again = await env.client.workflowService.resetWorkflowExecution({
      namespace: namespace(), workflowExecution: { workflowId, runId: base }, reason: 'again', workflowTaskFinishEventId: firstTask.eventId, requestId: `r-${workflowId}`,
    });
    expect(again.runId).toBe(runId);
  });

  it('resets an open run: it is terminated, and its later signals are re-applied to the new run', async () => {
    const workflowId = uniqueWorkflowId('ui-reset-open');
    const handle = await env.client.workflow.start(waitForFinish, { taskQueue: worker.taskQueue, workflowId });
    await worker.run(async () => {
      await handle.signal(addSignal, 'kept');
      expect(await handle.query(valuesQuery)).toEqual(['kept']);
    });
    const history = (await handle.fetchHistory()).events!;
    const firstTask = history.find((e) => eventTypeName(e) === 'WorkflowTaskCompleted')!;
    const { runId } = await env.client.workflowService.resetWorkflowExecution({
      namespace: namespace(), workflowExecution: { workflowId }, reason: 'redo', workflowTaskFinishEventId: firstTask.eventId, requestId: `r-${workflowId}`,
    });
    expect((await env.client.workflow.getHandle(workflowId, handle.firstExecutionRunId).describe()).status.name).toBe('TERMINATED');
    const reset = env.client.workflow.getHandle(workflowId, runId!);
    await worker.run(async () => {
      expect(await reset.query(valuesQuery)).toEqual(['kept']);
      await reset.signal(finishSignal, 'done');
      expect(await reset.result()).toBe('done');
    });
  });

  it('with reapply type NONE, the signals after the reset point are not re-applied', async () => {
    const workflowId = uniqueWorkflowId('ui-reset-none');
    const handle = await env.client.workflow.start(waitForFinish, { taskQueue: worker.taskQueue, workflowId });
    await worker.run(async () => {
      await waitForEvent(handle, (e) => eventTypeName(e) === 'WorkflowTaskCompleted');
      await handle.signal(addSignal, 'dropped');
      expect(await handle.query(valuesQuery)).toEqual(['dropped']);
    });
    const firstTask = (await handle.fetchHistory()).events!.find((e) => eventTypeName(e) === 'WorkflowTaskCompleted')!;
    const { runId } = await env.client.workflowService.resetWorkflowExecution({
      namespace: namespace(), workflowExecution: { workflowId }, reason: 'no reapply', workflowTaskFinishEventId: firstTask.eventId, requestId: `r-${workflowId}`,
      resetReapplyType: temporal.api.enums.v1.ResetReapplyType.RESET_REAPPLY_TYPE_NONE,
    });
    const reset = env.client.workflow.getHandle(workflowId, runId!);
    await worker.run(async () => {
      expect(await reset.query(valuesQuery)).toEqual([]);
      await reset.signal(finishSignal, 'done');
      expect(await reset.result()).toBe('done');
    });
    expect((await reset.fetchHistory()).events!.filter((e) => eventTypeName(e) === 'WorkflowExecutionSignaled')).toHaveLength(1);
  });

  it('resets to a later workflow task: the new run keeps the base run\'s events up to it, and a completed activity is not run again', async () => {
    const workflowId = uniqueWorkflowId('ui-reset-late');
    await worker.run(() => env.client.workflow.execute(runActivity, { taskQueue: worker.taskQueue, workflowId, args: ['greet', ['late'], { startToCloseTimeout: '10s' }] }));
    const baseRun = await env.client.workflowService.getWorkflowExecutionHistory({ namespace: namespace(), execution: { workflowId } });
    const history = baseRun.history!.events!;
    const tasks = history.filter((e) => eventTypeName(e) === 'WorkflowTaskCompleted');
    expect(tasks.length).toBeGreaterThan(1);
    const last = tasks.at(-1)!;
    const { runId } = await env.client.workflowService.resetWorkflowExecution({
      namespace: namespace(), workflowExecution: { workflowId }, reason: 'late', workflowTaskFinishEventId: last.eventId, requestId: `r-${workflowId}`,
    });
    const reset = env.client.workflow.getHandle(workflowId, runId!);
    expect(await worker.run(() => reset.result())).toBe('Hello, late!');
    const events = (await reset.fetchHistory()).events!;
    const kept = Number(last.eventId) - 1;
    // The base run's events through the reset task's WorkflowTaskStarted, then that task failed with RESET_WORKFLOW.
    expect(events.slice(0, kept).map(eventTypeName)).toEqual(history.slice(0, kept).map(eventTypeName));
    expect(events.slice(kept).map(eventTypeName)).toEqual([
      'WorkflowTaskFailed', 'WorkflowTaskScheduled', 'WorkflowTaskStarted', 'WorkflowTaskCompleted', 'WorkflowExecutionCompleted',
    ]);
    expect(events[kept]!.workflowTaskFailedEventAttributes).toMatchObject({ cause: WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW, newRunId: runId });
    expect(events.filter((e) => eventTypeName(e) === 'ActivityTaskScheduled')).toHaveLength(1);
  });

  it('answers the same for a run closed a while ago (the embedded server then packs its history): pages, reverse pages, describe, reset', async () => {
    const workflowId = uniqueWorkflowId('ui-packed');
    await worker.run(() => env.client.workflow.execute(runActivity, { taskQueue: worker.taskQueue, workflowId, args: ['greet', ['packed'], { startToCloseTimeout: '10s' }] }));
    const execution = { workflowId };
    const read = async () => {
      const forward = await env.client.workflowService.getWorkflowExecutionHistory({ namespace: namespace(), execution, maximumPageSize: 2 });
      const reverse = await env.client.workflowService.getWorkflowExecutionHistoryReverse({ namespace: namespace(), execution, maximumPageSize: 2 });
      const all = await env.client.workflowService.getWorkflowExecutionHistory({ namespace: namespace(), execution });
      const closeEvent = await env.client.workflowService.getWorkflowExecutionHistory({
        namespace: namespace(), execution, historyEventFilterType: temporal.api.enums.v1.HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT,
      });
      const described = await env.client.workflow.getHandle(workflowId).describe();
      return {
        forward: Buffer.from(temporal.api.history.v1.History.encode(forward.history!).finish()).toString('base64'),
        forwardToken: Buffer.from(forward.nextPageToken ?? []).length > 0,
        reverse: Buffer.from(temporal.api.history.v1.History.encode(reverse.history!).finish()).toString('base64'),
        all: all.history!.events!,
        close: closeEvent.history!.events!.map(eventTypeName),
        length: described.historyLength,
        status: described.status.name,
      };
    };
    const fresh = await read();
    expect(fresh.close).toEqual(['WorkflowExecutionCompleted']);
    expect(fresh.length).toBe(fresh.all.length);
    await new Promise((r) => setTimeout(r, 1_500));
    const later = await read();
    expect(later).toEqual(fresh);
    const last = fresh.all.filter((e) => eventTypeName(e) === 'WorkflowTaskCompleted').at(-1)!;
    const { runId } = await env.client.workflowService.resetWorkflowExecution({
      namespace: namespace(), workflowExecution: execution, reason: 'packed', workflowTaskFinishEventId: last.eventId, requestId: `r-${workflowId}`,
    });
    expect(await worker.run(() => env.client.workflow.getHandle(workflowId, runId!).result())).toBe('Hello, packed!');
  });

  it('resets to a workflow task while a timer was pending: the new run keeps the timer, which fires there', async () => {
    const workflowId = uniqueWorkflowId('ui-reset-timer');
    const base = await env.client.workflow.start(sleepThenReturn, { taskQueue: worker.taskQueue, workflowId, args: [2_000] });
    await worker.run(async () => {
      await waitForEvent(base, (e) => eventTypeName(e) === 'TimerStarted');
      // A signal the workflow does not handle: a second workflow task, completed while the timer is pending.
      await base.signal('nobodyListens');
      await waitForEvent(base, (e) => eventTypeName(e) === 'WorkflowTaskCompleted' && Number(e.eventId) > 5);
      await base.result();
    });
    const history = (await base.fetchHistory()).events!;
    const tasks = history.filter((e) => eventTypeName(e) === 'WorkflowTaskCompleted');
    const second = tasks[1]!;
    const timerStarted = history.find((e) => eventTypeName(e) === 'TimerStarted')!;
    expect(Number(timerStarted.eventId)).toBeLessThan(Number(second.eventId));
    const { runId } = await env.client.workflowService.resetWorkflowExecution({
      namespace: namespace(), workflowExecution: { workflowId }, reason: 'timer', workflowTaskFinishEventId: second.eventId, requestId: `r-${workflowId}`,
    });
    const reset = env.client.workflow.getHandle(workflowId, runId!);
    expect(await worker.run(() => reset.result())).toBeGreaterThanOrEqual(2_000);
    const types = (await reset.fetchHistory()).events!.map(eventTypeName);
    // The prefix's timer is the new run's: started once (in the prefix) and fired once (in the new run).
    expect(types.slice(0, Number(second.eventId) - 1)).toEqual(history.slice(0, Number(second.eventId) - 1).map(eventTypeName));
    expect(types.filter((t) => t === 'TimerStarted')).toHaveLength(1);
    expect(types.indexOf('TimerFired')).toBeGreaterThan(Number(second.eventId) - 1);
    expect(types.at(-1)).toBe('WorkflowExecutionCompleted');
  });

  it('refuses a reset point that is not the end of a workflow task', async () => {
    const workflowId = uniqueWorkflowId('ui-reset-bad');
    await worker.run(() => env.client.workflow.execute(runActivity, { taskQueue: worker.taskQueue, workflowId, args: ['greet', ['bad'], { startToCloseTimeout: '10s' }] }));
    const history = (await env.client.workflowService.getWorkflowExecutionHistory({ namespace: namespace(), execution: { workflowId } })).history!.events!;
    const notATask = await rejectionOf(env.client.workflowService.resetWorkflowExecution({
      namespace: namespace(), workflowExecution: { workflowId }, reason: 'x', workflowTaskFinishEventId: history[0]!.eventId, requestId: `r2-${workflowId}`,
    }));
    expect(grpcCode(notATask)).toBe(grpc.status.INVALID_ARGUMENT);
  });
});

describe('batch operations (the Web UI\'s bulk actions)', () => {
  it('terminates every run a query selects, and reports the job', async () => {
    const prefix = uniqueWorkflowId('ui-batch');
    for (let i = 0; i < 3; i++) await env.client.workflow.start(waitForFinish, { taskQueue: worker.taskQueue, workflowId: `${prefix}-${i}` });
    const jobId = `job-${prefix}`;
    await env.client.workflowService.startBatchOperation({
      namespace: namespace(), jobId, reason: 'bulk terminate', visibilityQuery: `WorkflowId STARTS_WITH '${prefix}-' AND ExecutionStatus = 'Running'`,
      terminationOperation: { identity: 'ui-test' },
    });
    // A real server runs the job asynchronously; wait for it to finish before reading its counts.
    const job = await eventually(async () => {
      const j = await env.client.workflowService.describeBatchOperation({ namespace: namespace(), jobId });
      if (j.state !== BatchOperationState.BATCH_OPERATION_STATE_COMPLETED) throw new Error(`batch job ${jobId} is in state ${String(j.state)}`);
      return j;
    });
    for (let i = 0; i < 3; i++) expect((await env.client.workflow.getHandle(`${prefix}-${i}`).describe()).status.name).toBe('TERMINATED');
    expect(job).toMatchObject({ jobId, operationType: BatchOperationType.BATCH_OPERATION_TYPE_TERMINATE, state: BatchOperationState.BATCH_OPERATION_STATE_COMPLETED, reason: 'bulk terminate', identity: 'ui-test' });
    expect([Number(job.totalOperationCount), Number(job.completeOperationCount), Number(job.failureOperationCount)]).toEqual([3, 3, 0]);
    const listed = await env.client.workflowService.listBatchOperations({ namespace: namespace() });
    expect(listed.operationInfo?.map((o) => o.jobId)).toContain(jobId);
    expect(grpcCode(await rejectionOf(env.client.workflowService.describeBatchOperation({ namespace: namespace(), jobId: 'no-such-job' })))).toBe(grpc.status.NOT_FOUND);
  });

  it('signals the listed executions; a closed or unknown one counts as done, not as a failure (NOT_FOUND)', async () => {
    const prefix = uniqueWorkflowId('ui-batch-sig');
    const open = await env.client.workflow.start(waitForFinish, { taskQueue: worker.taskQueue, workflowId: `${prefix}-open` });
    const closed = await env.client.workflow.start(waitForFinish, { taskQueue: worker.taskQueue, workflowId: `${prefix}-closed` });
    await closed.terminate('closed first');
    const jobId = `job-${prefix}`;
    await env.client.workflowService.startBatchOperation({
      namespace: namespace(), jobId, reason: 'bulk signal',
      executions: [{ workflowId: open.workflowId }, { workflowId: closed.workflowId }, { workflowId: `${prefix}-never-started` }],
      signalOperation: { signal: 'finish', input: { payloads: [{ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('"batch"') }] } },
    });
    expect(await worker.run(() => open.result())).toBe('batch');
    const job = await eventually(async () => {
      const j = await env.client.workflowService.describeBatchOperation({ namespace: namespace(), jobId });
      if (j.state !== BatchOperationState.BATCH_OPERATION_STATE_COMPLETED) throw new Error(`batch job ${jobId} is in state ${String(j.state)}`);
      return j;
    });
    // The real server's batcher treats NOT_FOUND (closed or missing run) as nothing left to do.
    expect([Number(job.totalOperationCount), Number(job.completeOperationCount), Number(job.failureOperationCount)]).toEqual([3, 3, 0]);
    // The closed run was not signalled.
    const closedEvents = (await closed.fetchHistory()).events ?? [];
    expect(eventTypeName(closedEvents.at(-1)!)).toBe('WorkflowExecutionTerminated');
    expect(closedEvents.map(eventTypeName)).not.toContain('WorkflowExecutionSignaled');
  });
});
