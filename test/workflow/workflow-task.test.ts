/**
 * Workflow tasks: history shape and event ids, events held back while a task runs, UNHANDLED_COMMAND,
 * task failure and timeout with retry, queries, signals, cancellation, termination, continue-as-new,
 * search attribute upserts, run and execution timeouts.
 */
import { status as grpcStatus } from '@grpc/grpc-js';
import {
  Client,
  QueryNotRegisteredError,
  QueryRejectedError,
  WorkflowContinuedAsNewError,
  WorkflowFailedError,
  WorkflowNotFoundError,
} from '@temporalio/client';
import { CancelledFailure, defaultPayloadConverter, TerminatedFailure, TimeoutFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  createTestEnv,
  eventTypeName,
  eventTypes,
  eventually,
  grpcCode,
  num,
  rejectionOf,
  runWorker,
  startFileWorker,
  type FileWorker,
  tsMs,
  uniqueTaskQueue,
  uniqueWorkflowId,
  waitForEvent,
} from '../helpers/temporal-env';
import { createActivities, type ActivityDeps } from './activities';
import {
  busyThenWait,
  cleanupOnCancel,
  continueEvery,
  countdown,
  failFirstTask,
  failUntilFixed,
  firstToArrive,
  greetOnce,
  queryable,
  signalFromActivity,
  sleepThenReturn,
  upsertSteps,
  waitForFinish,
} from './workflows';
import { addSignal, allCustomSearchAttributes, countQuery, finishSignal, fixSignal, saKeys, stepSignal, valuesQuery } from './workflows/definitions';

jest.setTimeout(120_000);

const HOUR = 3_600_000;

let env: TestWorkflowEnvironment;

let fileWorker: FileWorker;

beforeAll(async () => {
  env = await createTestEnv({ searchAttributes: allCustomSearchAttributes });
  fileWorker = await startFileWorker(env, { taskQueue: uniqueTaskQueue('wft'), activities: createActivities({ client: env.client }) });
});

afterAll(async () => {
  await fileWorker?.stop();
  await env?.teardown();
});

/**
 * Run `fn` while a worker polls `taskQueue`: the file's shared worker for its queue, or a worker of
 * its own when the test wires activity deps of its own.
 */
function withWorker<R>(taskQueue: string, fn: () => Promise<R>, deps?: ActivityDeps): Promise<R> {
  if (taskQueue === fileWorker.taskQueue && deps === undefined) return fileWorker.run(fn);
  return runWorker(env, { taskQueue, activities: createActivities({ client: env.client, ...deps }) }, fn);
}

const isType = (type: string) => (e: temporal.api.history.v1.IHistoryEvent) => eventTypeName(e) === type;

describe('history', () => {
  test('a one-activity run writes the canonical events with contiguous ids and correct links', async () => {
    const taskQueue = fileWorker.taskQueue;
    await withWorker(taskQueue, async () => {
      const handle = await env.client.workflow.start(greetOnce, { workflowId: uniqueWorkflowId('wft-history'), taskQueue, args: ['Ada'] });
      await expect(handle.result()).resolves.toBe('Hello, Ada!');
      const history = await handle.fetchHistory();
      const events = history.events ?? [];
      expect(eventTypes(history)).toEqual([
        'WorkflowExecutionStarted',
        'WorkflowTaskScheduled',
        'WorkflowTaskStarted',
        'WorkflowTaskCompleted',
        'ActivityTaskScheduled',
        'ActivityTaskStarted',
        'ActivityTaskCompleted',
        'WorkflowTaskScheduled',
        'WorkflowTaskStarted',
        'WorkflowTaskCompleted',
        'WorkflowExecutionCompleted',
      ]);
      expect(events.map((e) => num(e.eventId))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);

      const times = events.map((e) => tsMs(e.eventTime));
      for (let i = 1; i < times.length; i += 1) expect(times[i]).toBeGreaterThanOrEqual(times[i - 1] ?? 0);

      const started = events[0]?.workflowExecutionStartedEventAttributes;
      expect(started?.workflowType?.name).toBe('greetOnce');
      expect(started?.taskQueue?.name).toBe(taskQueue);
      expect(defaultPayloadConverter.fromPayload(started?.input?.payloads?.[0] ?? {})).toBe('Ada');

      const firstTask = events[3]?.workflowTaskCompletedEventAttributes;
      expect([num(firstTask?.scheduledEventId), num(firstTask?.startedEventId)]).toEqual([2, 3]);
      expect(num(events[2]?.workflowTaskStartedEventAttributes?.scheduledEventId)).toBe(2);

      const scheduled = events[4]?.activityTaskScheduledEventAttributes;
      expect(scheduled?.activityType?.name).toBe('greet');
      expect(scheduled?.taskQueue?.name).toBe(taskQueue);
      expect(num(scheduled?.workflowTaskCompletedEventId)).toBe(4);

      const activityStarted = events[5]?.activityTaskStartedEventAttributes;
      expect(num(activityStarted?.scheduledEventId)).toBe(5);
      expect(activityStarted?.attempt).toBe(1);

      const activityCompleted = events[6]?.activityTaskCompletedEventAttributes;
      expect([num(activityCompleted?.scheduledEventId), num(activityCompleted?.startedEventId)]).toEqual([5, 6]);
      expect(defaultPayloadConverter.fromPayload(activityCompleted?.result?.payloads?.[0] ?? {})).toBe('Hello, Ada!');

      expect(num(events[8]?.workflowTaskStartedEventAttributes?.scheduledEventId)).toBe(8);
      const secondTask = events[9]?.workflowTaskCompletedEventAttributes;
      expect([num(secondTask?.scheduledEventId), num(secondTask?.startedEventId)]).toEqual([8, 9]);
      expect(num(events[10]?.workflowExecutionCompletedEventAttributes?.workflowTaskCompletedEventId)).toBe(10);
    });
  });

  test('a signal that arrives while a workflow task runs is written after that task completes', async () => {
    const taskQueue = fileWorker.taskQueue;
    await withWorker(taskQueue, async () => {
      // The first task spends a few hundred milliseconds of CPU; the signal is sent as soon as it has started.
      const handle = await env.client.workflow.start(busyThenWait, { workflowId: uniqueWorkflowId('wft-holdback'), taskQueue, args: [10_000_000] });
      await waitForEvent(handle, isType('WorkflowTaskStarted'));
      await handle.signal(finishSignal, 'late');
      await expect(handle.result()).resolves.toBe('late:ok');
      const history = await handle.fetchHistory();
      expect(eventTypes(history)).toEqual([
        'WorkflowExecutionStarted',
        'WorkflowTaskScheduled',
        'WorkflowTaskStarted',
        'WorkflowTaskCompleted',
        'WorkflowExecutionSignaled',
        'WorkflowTaskScheduled',
        'WorkflowTaskStarted',
        'WorkflowTaskCompleted',
        'WorkflowExecutionCompleted',
      ]);
      expect((history.events ?? []).map((e) => num(e.eventId))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    });
  });

  test('a signal sent by an activity of the same workflow is delivered', async () => {
    const taskQueue = fileWorker.taskQueue;
    await withWorker(taskQueue, async () => {
      const handle = await env.client.workflow.start(signalFromActivity, { workflowId: uniqueWorkflowId('wft-activity-signal'), taskQueue });
      await expect(handle.result()).resolves.toEqual({ activity: 'signalled from-activity', signals: ['from-activity'] });
      const types = eventTypes(await handle.fetchHistory());
      // The activity signalled before it returned, so the signal precedes the activity's completion.
      expect(types.indexOf('WorkflowExecutionSignaled')).toBeGreaterThan(0);
      expect(types.indexOf('WorkflowExecutionSignaled')).toBeLessThan(types.indexOf('ActivityTaskCompleted'));
    });
  });
});

describe('UNHANDLED_COMMAND: signals racing a completing workflow task', () => {
  test('every signal the server accepted is seen by the workflow before it completes', async () => {
    const taskQueue = fileWorker.taskQueue;
    await withWorker(taskQueue, async () => {
      for (let round = 0; round < 5; round += 1) {
        const handle = await env.client.workflow.start(firstToArrive, { workflowId: uniqueWorkflowId(`wft-unhandled-${round}`), taskQueue });
        await waitForEvent(handle, isType('WorkflowTaskCompleted'));
        const values = Array.from({ length: 20 }, (_, i) => `r${round}-s${i}`);
        const outcomes = await Promise.allSettled(values.map((v) => handle.signal(addSignal, v)));
        const accepted = values.filter((_, i) => outcomes[i]?.status === 'fulfilled');
        for (const outcome of outcomes) {
          if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(WorkflowNotFoundError);
        }
        expect(accepted.length).toBeGreaterThan(0);

        const seen = await handle.result();
        expect([...seen].sort()).toEqual([...accepted].sort());
        const types = eventTypes(await handle.fetchHistory());
        expect(types.filter((t) => t === 'WorkflowExecutionSignaled')).toHaveLength(accepted.length);
        expect(types.at(-1)).toBe('WorkflowExecutionCompleted');
        expect(types.filter((t) => t === 'WorkflowExecutionCompleted')).toHaveLength(1);
      }
    });
  });
});

describe('queries', () => {
  test('queries see signals sent before them, take arguments, and work after completion', async () => {
    const taskQueue = fileWorker.taskQueue;
    await withWorker(taskQueue, async () => {
      const handle = await env.client.workflow.start(queryable, { workflowId: uniqueWorkflowId('wft-query'), taskQueue });
      await handle.signal(addSignal, 'a');
      await handle.signal(addSignal, 'b');
      await expect(handle.query(valuesQuery)).resolves.toEqual(['a', 'b']);
      await expect(handle.query(countQuery, 10)).resolves.toBe(12);

      const unknown = await rejectionOf(handle.query('noSuchQuery'));
      expect(unknown).toBeInstanceOf(QueryNotRegisteredError);
      expect((unknown as Error).message).toMatch(/noSuchQuery/);

      await handle.signal(finishSignal, 'done');
      await expect(handle.result()).resolves.toEqual(['a', 'b']);
      // A closed run is queried by replaying its history on a worker.
      await expect(handle.query(valuesQuery)).resolves.toEqual(['a', 'b']);
      await expect(handle.query(countQuery, 1)).resolves.toBe(3);
    });
  });

  test('queryRejectCondition NOT_OPEN rejects a query on a closed run with its status', async () => {
    const taskQueue = fileWorker.taskQueue;
    await withWorker(taskQueue, async () => {
      const handle = await env.client.workflow.start(queryable, { workflowId: uniqueWorkflowId('wft-query-reject'), taskQueue });
      const strict = new Client({ connection: env.connection, namespace: env.namespace ?? 'default', workflow: { queryRejectCondition: 'NOT_OPEN' } });
      const strictHandle = strict.workflow.getHandle(handle.workflowId);
      await handle.signal(addSignal, 'x');
      await expect(strictHandle.query(valuesQuery)).resolves.toEqual(['x']);
      await handle.signal(finishSignal, 'done');
      await handle.result();
      const err = await rejectionOf(strictHandle.query(valuesQuery));
      expect(err).toBeInstanceOf(QueryRejectedError);
      expect((err as QueryRejectedError).status).toBe(temporal.api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED);
    });
  });

  test('querying an unknown workflow fails with WorkflowNotFoundError', async () => {
    const err = await rejectionOf(env.client.workflow.getHandle(uniqueWorkflowId('wft-query-missing')).query(valuesQuery));
    expect(err).toBeInstanceOf(WorkflowNotFoundError);
  });
});

describe('workflow task failure and timeout', () => {
  test('a plain Error fails the workflow task, not the workflow, and the retried task completes it', async () => {
    const taskQueue = fileWorker.taskQueue;
    await withWorker(taskQueue, async () => {
      const handle = await env.client.workflow.start(failFirstTask, { workflowId: uniqueWorkflowId('wft-fail'), taskQueue });
      await expect(handle.result()).resolves.toBe('recovered');
      const history = await handle.fetchHistory();
      expect(eventTypes(history)).toEqual([
        'WorkflowExecutionStarted',
        'WorkflowTaskScheduled',
        'WorkflowTaskStarted',
        'WorkflowTaskFailed',
        'WorkflowTaskScheduled',
        'WorkflowTaskStarted',
        'WorkflowTaskCompleted',
        'WorkflowExecutionCompleted',
      ]);
      const events = history.events ?? [];
      const failed = events[3]?.workflowTaskFailedEventAttributes;
      expect(failed?.cause).toBe(temporal.api.enums.v1.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE);
      expect(failed?.failure?.message).toMatch(/transient bug in the first workflow task/);
      expect([num(failed?.scheduledEventId), num(failed?.startedEventId)]).toEqual([2, 3]);
      // Attempt 2 was transient: its scheduled and started events were written when it completed.
      expect(events[4]?.workflowTaskScheduledEventAttributes?.attempt).toBe(2);
      expect(num(events[5]?.workflowTaskStartedEventAttributes?.scheduledEventId)).toBe(5);
      const completed = events[6]?.workflowTaskCompletedEventAttributes;
      expect([num(completed?.scheduledEventId), num(completed?.startedEventId)]).toEqual([5, 6]);
      expect((await handle.describe()).status.name).toBe('COMPLETED');
    });
  });

  test('workflow tasks that time out are retried as transient attempts until the workflow can make progress', async () => {
    const taskQueue = fileWorker.taskQueue;
    const taskTimeoutMs = 3_000;
    await withWorker(taskQueue, async () => {
      const handle = await env.client.workflow.start(failUntilFixed, {
        workflowId: uniqueWorkflowId('wft-timeout'),
        taskQueue,
        workflowTaskTimeout: taskTimeoutMs,
      });
      await waitForEvent(handle, isType('WorkflowTaskCompleted'));
      await handle.signal(stepSignal);
      // From here every task fails. The SDK reports only the first failure of a task and leaves later attempts
      // unanswered, so the run can only get going again if the server times those attempts out and retries.
      const stepped = await waitForEvent(handle, isType('WorkflowExecutionSignaled'));
      const stepEventId = num(stepped.events?.find(isType('WorkflowExecutionSignaled'))?.eventId);
      const isTaskFailure = (e: temporal.api.history.v1.IHistoryEvent) => num(e.eventId) > stepEventId && (eventTypeName(e) === 'WorkflowTaskFailed' || eventTypeName(e) === 'WorkflowTaskTimedOut');
      await waitForEvent(handle, isTaskFailure, { timeoutMs: 30_000 });
      // An unanswered retry timed out and the next one is pending: attempt 3 or later.
      await eventually(async () => {
        const pending = (await handle.describe()).raw.pendingWorkflowTask;
        expect(pending?.attempt ?? 0).toBeGreaterThanOrEqual(3);
      }, { timeoutMs: 30_000, intervalMs: 100 });
      // Retries after a failure are transient: no event of theirs is in the history, which still ends with
      // the last written failure.
      const during = (await handle.fetchHistory()).events ?? [];
      expect(eventTypeName(during.at(-1)!)).toBe('WorkflowTaskFailed');
      const firstFailure = during.findIndex(isTaskFailure);
      const written = during.slice(firstFailure).map(eventTypeName);
      expect(written.every((t) => t === 'WorkflowTaskFailed' || t === 'WorkflowTaskScheduled' || t === 'WorkflowTaskStarted')).toBe(true);

      await handle.signal(fixSignal);
      await expect(handle.result()).resolves.toBe('fixed');
      const events = (await handle.fetchHistory()).events ?? [];
      // The signal made the next task a normal first attempt; its events are written, as is its completion.
      expect(events.slice(-5).map(eventTypeName)).toEqual([
        'WorkflowExecutionSignaled',
        'WorkflowTaskScheduled',
        'WorkflowTaskStarted',
        'WorkflowTaskCompleted',
        'WorkflowExecutionCompleted',
      ]);
      expect(eventTypeName(events.at(-6)!)).toBe('WorkflowTaskFailed');
      expect(events.at(-4)?.workflowTaskScheduledEventAttributes?.attempt).toBe(1);
      expect(events.map(eventTypeName)).not.toContain('WorkflowTaskTimedOut');
    });
  });
});

describe('cancellation and termination', () => {
  test('cancelling a sleeping workflow cancels its timer and the run', async () => {
    const taskQueue = fileWorker.taskQueue;
    await withWorker(taskQueue, async () => {
      const handle = await env.client.workflow.start(sleepThenReturn, { workflowId: uniqueWorkflowId('wft-cancel'), taskQueue, args: [24 * HOUR] });
      await waitForEvent(handle, isType('TimerStarted'));
      await handle.cancel();
      const err = await rejectionOf(handle.result());
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
      expect((await handle.describe()).status.name).toBe('CANCELLED');
      const types = eventTypes(await handle.fetchHistory());
      expect(types).toContain('WorkflowExecutionCancelRequested');
      expect(types).toContain('TimerCanceled');
      expect(types).not.toContain('TimerFired');
      expect(types.at(-1)).toBe('WorkflowExecutionCanceled');
    });
  });

  test('a workflow may handle its cancellation, run cleanup and complete normally', async () => {
    const taskQueue = uniqueTaskQueue('wft-cancel-cleanup');
    const events: string[] = [];
    await withWorker(
      taskQueue,
      async () => {
        const handle = await env.client.workflow.start(cleanupOnCancel, { workflowId: uniqueWorkflowId('wft-cancel-cleanup'), taskQueue });
        await waitForEvent(handle, isType('TimerStarted'));
        await handle.cancel();
        await expect(handle.result()).resolves.toBe('cleaned up');
        expect(events).toEqual(['cleanup']);
        expect((await handle.describe()).status.name).toBe('COMPLETED');
      },
      { events },
    );
  });

  test('termination closes the run with its reason; later signals and terminations find no open run', async () => {
    const taskQueue = fileWorker.taskQueue;
    await withWorker(taskQueue, async () => {
      const handle = await env.client.workflow.start(waitForFinish, { workflowId: uniqueWorkflowId('wft-terminate'), taskQueue });
      await waitForEvent(handle, isType('WorkflowTaskCompleted'));
      await handle.terminate('enough for today');
      const err = await rejectionOf(handle.result());
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect((err as WorkflowFailedError).cause).toBeInstanceOf(TerminatedFailure);
      expect((err as WorkflowFailedError).cause?.message).toBe('enough for today');
      expect((await handle.describe()).status.name).toBe('TERMINATED');

      const history = await handle.fetchHistory();
      const last = history.events?.at(-1);
      expect(last && eventTypeName(last)).toBe('WorkflowExecutionTerminated');
      expect(last?.workflowExecutionTerminatedEventAttributes?.reason).toBe('enough for today');

      await expect(handle.signal(finishSignal, 'too late')).rejects.toBeInstanceOf(WorkflowNotFoundError);
      await expect(handle.terminate('again')).rejects.toBeInstanceOf(WorkflowNotFoundError);
    });
  });
});

describe('continue-as-new', () => {
  test('result() follows the chain of runs; each run links to the previous one', async () => {
    const taskQueue = fileWorker.taskQueue;
    const workflowId = uniqueWorkflowId('wft-can');
    await withWorker(taskQueue, async () => {
      const handle = await env.client.workflow.start(countdown, { workflowId, taskQueue, args: [3, 0] });
      const firstRunId = handle.firstExecutionRunId;
      const result = await handle.result();
      expect(result.total).toBe(6);
      expect(result.firstExecutionRunId).toBe(firstRunId);
      expect(result.runId).not.toBe(firstRunId);
      expect(result.continuedFromExecutionRunId).toBeTruthy();
      expect(result.continuedFromExecutionRunId).not.toBe(result.runId);

      const notFollowed = await rejectionOf(env.client.workflow.result(workflowId, firstRunId, { followRuns: false }));
      expect(notFollowed).toBeInstanceOf(WorkflowContinuedAsNewError);

      // Walk the chain through the history events.
      const chain = [firstRunId];
      for (;;) {
        const runId = chain.at(-1) as string;
        const history = await env.client.workflow.getHandle(workflowId, runId).fetchHistory();
        const events = history.events ?? [];
        const startedAttrs = events[0]?.workflowExecutionStartedEventAttributes;
        expect(startedAttrs?.firstExecutionRunId).toBe(firstRunId);
        if (chain.length > 1) expect(startedAttrs?.continuedExecutionRunId).toBe(chain.at(-2));
        const last = events.at(-1);
        if (last && eventTypeName(last) === 'WorkflowExecutionContinuedAsNew') {
          const next = last.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
          expect(next).toBeTruthy();
          chain.push(next as string);
          expect((await env.client.workflow.getHandle(workflowId, runId).describe()).status.name).toBe('CONTINUED_AS_NEW');
        } else {
          expect(last && eventTypeName(last)).toBe('WorkflowExecutionCompleted');
          break;
        }
      }
      expect(chain).toHaveLength(4);
      expect(chain.at(-1)).toBe(result.runId);
      expect(chain.at(-2)).toBe(result.continuedFromExecutionRunId);
      const latest = await env.client.workflow.getHandle(workflowId).describe();
      expect(latest.runId).toBe(result.runId);
      expect(latest.status.name).toBe('COMPLETED');

      await eventually(async () => {
        expect((await env.client.workflow.count(`WorkflowId = '${workflowId}'`)).count).toBe(4);
        expect((await env.client.workflow.count(`WorkflowId = '${workflowId}' AND ExecutionStatus = 'ContinuedAsNew'`)).count).toBe(3);
      });
    });
  });
});

describe('search attribute upserts', () => {
  test('upserts (including removals) are visible in describe() and in list filters', async () => {
    const taskQueue = fileWorker.taskQueue;
    const workflowId = uniqueWorkflowId('wft-upsert');
    const tag = `tag-${workflowId}`;
    await withWorker(taskQueue, async () => {
      const handle = await env.client.workflow.start(upsertSteps, { workflowId, taskQueue, args: [tag] });
      await waitForEvent(handle, isType('UpsertWorkflowSearchAttributes'));
      let sa = (await handle.describe()).typedSearchAttributes;
      expect(sa.get(saKeys.keyword)).toBe(tag);
      expect(sa.get(saKeys.int)).toBe(7);
      expect(sa.get(saKeys.keywordList)).toBeUndefined();

      await handle.signal(stepSignal);
      await eventually(async () => {
        const types = eventTypes(await handle.fetchHistory());
        expect(types.filter((t) => t === 'UpsertWorkflowSearchAttributes')).toHaveLength(2);
      });
      sa = (await handle.describe()).typedSearchAttributes;
      expect(sa.get(saKeys.keyword)).toBe(tag);
      expect(sa.get(saKeys.int)).toBeUndefined();
      expect(sa.get(saKeys.keywordList)).toEqual(['x', 'y']);
      expect(sa.get(saKeys.bool)).toBe(true);

      await eventually(async () => {
        const ids: string[] = [];
        for await (const wf of env.client.workflow.list({ query: `FqoKeyword = '${tag}' AND FqoBool = true AND FqoKeywordList = 'y'` })) ids.push(wf.workflowId);
        expect(ids).toEqual([workflowId]);
        expect((await env.client.workflow.count(`FqoKeyword = '${tag}' AND FqoInt = 7`)).count).toBe(0);
      });

      await handle.signal(stepSignal);
      await handle.result();
    });
  });
});

describe('run and execution timeouts', () => {
  test('workflowRunTimeout closes the run as timed out at the deadline, not at its timer', async () => {
    const taskQueue = fileWorker.taskQueue;
    await withWorker(taskQueue, async () => {
      const before = await env.currentTimeMs();
      const handle = await env.client.workflow.start(sleepThenReturn, {
        workflowId: uniqueWorkflowId('wft-run-timeout'),
        taskQueue,
        args: [2 * HOUR],
        workflowRunTimeout: '1 hour',
      });
      const err = await rejectionOf(handle.result());
      const after = await env.currentTimeMs();
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect((err as WorkflowFailedError).cause).toBeInstanceOf(TimeoutFailure);
      expect((await handle.describe()).status.name).toBe('TIMED_OUT');
      const types = eventTypes(await handle.fetchHistory());
      expect(types.at(-1)).toBe('WorkflowExecutionTimedOut');
      expect(types).not.toContain('TimerFired');
      expect(after - before).toBeGreaterThanOrEqual(HOUR);
      expect(after - before).toBeLessThan(2 * HOUR);
    });
  });

  test('workflowExecutionTimeout spans continue-as-new runs', async () => {
    const taskQueue = fileWorker.taskQueue;
    const workflowId = uniqueWorkflowId('wft-exec-timeout');
    await withWorker(taskQueue, async () => {
      const before = await env.currentTimeMs();
      const handle = await env.client.workflow.start(continueEvery, {
        workflowId,
        taskQueue,
        args: [40 * 60_000, 5],
        workflowExecutionTimeout: '1 hour',
      });
      const err = await rejectionOf(handle.result());
      const after = await env.currentTimeMs();
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect((err as WorkflowFailedError).cause).toBeInstanceOf(TimeoutFailure);
      expect(after - before).toBeGreaterThanOrEqual(HOUR);
      expect(after - before).toBeLessThan(80 * 60_000);

      const first = await env.client.workflow.getHandle(workflowId, handle.firstExecutionRunId).describe();
      expect(first.status.name).toBe('CONTINUED_AS_NEW');
      const latest = await env.client.workflow.getHandle(workflowId).describe();
      expect(latest.runId).not.toBe(handle.firstExecutionRunId);
      expect(latest.status.name).toBe('TIMED_OUT');
    });
  });
});

describe('signals to closed or unknown runs', () => {
  test('signalling a run that does not exist fails with NOT_FOUND', async () => {
    const err = await rejectionOf(env.client.workflow.getHandle(uniqueWorkflowId('wft-nobody')).signal(finishSignal, 'x'));
    expect(err).toBeInstanceOf(WorkflowNotFoundError);
  });

  test('a raw signal to an unknown run id of a known workflow fails with NOT_FOUND', async () => {
    const taskQueue = fileWorker.taskQueue;
    await withWorker(taskQueue, async () => {
      const handle = await env.client.workflow.start(waitForFinish, { workflowId: uniqueWorkflowId('wft-bad-run'), taskQueue });
      const err = await rejectionOf(
        env.client.workflowService.signalWorkflowExecution({
          namespace: env.namespace ?? 'default',
          workflowExecution: { workflowId: handle.workflowId, runId: '00000000-0000-4000-8000-000000000000' },
          signalName: 'finish',
          input: { payloads: [defaultPayloadConverter.toPayload('wrong run')] },
        }),
      );
      expect(grpcCode(err)).toBe(grpcStatus.NOT_FOUND);
      await handle.signal(finishSignal, 'right run');
      await expect(handle.result()).resolves.toBe('right run');
    });
  });
});
