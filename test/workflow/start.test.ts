/**
 * Starting workflows: id reuse and conflict policies, request-id idempotency, memo, search attributes,
 * user metadata and signal-with-start, all through the real SDK client and worker.
 */
import { randomUUID } from 'node:crypto';
import { status as grpcStatus } from '@grpc/grpc-js';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  type WorkflowHandleWithFirstExecutionRunId,
  type WorkflowIdConflictPolicy,
  type WorkflowIdReusePolicy,
} from '@temporalio/client';
import { defineSearchAttributeKey, type SearchAttributePair } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  createTestEnv,
  type FileWorker,
  eventTypes,
  eventually,
  grpcCode,
  rejectionOf,
  runWorker,
  startFileWorker,
  uniqueTaskQueue,
  uniqueWorkflowId,
  waitForEvent,
  eventTypeName,
} from '../helpers/temporal-env';
import { createActivities } from './activities';
import { collectSignals, echo, failWith, patchedThenWait, reportStartInfo, waitForFinish } from './workflows';
import { addSignal, allCustomSearchAttributes, changeVersionKey, finishSignal, saKeys } from './workflows/definitions';

jest.setTimeout(120_000);

let env: TestWorkflowEnvironment;

let fileWorker: FileWorker;

beforeAll(async () => {
  env = await createTestEnv({ searchAttributes: allCustomSearchAttributes });
  fileWorker = await startFileWorker(env, { taskQueue: uniqueTaskQueue('start'), activities: createActivities() });
});

afterAll(async () => {
  await fileWorker?.stop();
  await env?.teardown();
});

const namespace = (): string => env.namespace ?? 'default';

/**
 * Run `fn` while a worker polls `taskQueue`: the file's shared worker for its queue, or a worker of
 * its own for a test that needs its queue unpolled until now.
 */
function withWorker<R>(taskQueue: string, fn: () => Promise<R>): Promise<R> {
  if (taskQueue === fileWorker.taskQueue) return fileWorker.run(fn);
  return runWorker(env, { taskQueue, activities: createActivities() }, fn);
}

type ClosedState = 'completed' | 'failed' | 'terminated' | 'cancelled';

/** Produce a closed run of `workflowId` in the given state and return its run id. */
async function closedRun(workflowId: string, taskQueue: string, state: ClosedState): Promise<string> {
  const { workflow } = env.client;
  switch (state) {
    case 'completed': {
      const handle = await workflow.start(echo, { workflowId, taskQueue, args: ['first'] });
      await expect(handle.result()).resolves.toBe('first');
      return handle.firstExecutionRunId;
    }
    case 'failed': {
      const handle = await workflow.start(failWith, { workflowId, taskQueue, args: ['boom'] });
      await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
      return handle.firstExecutionRunId;
    }
    case 'terminated': {
      const handle = await workflow.start(waitForFinish, { workflowId, taskQueue });
      await handle.terminate('closing it for the test');
      await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
      return handle.firstExecutionRunId;
    }
    case 'cancelled': {
      const handle = await workflow.start(waitForFinish, { workflowId, taskQueue });
      await handle.cancel();
      await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
      return handle.firstExecutionRunId;
    }
  }
}

const expectedStatus: Record<ClosedState, string> = {
  completed: 'COMPLETED',
  failed: 'FAILED',
  terminated: 'TERMINATED',
  cancelled: 'CANCELLED',
};

describe('duplicate starts', () => {
  test('a second start while the first run is open fails with WorkflowExecutionAlreadyStartedError', async () => {
    const taskQueue = fileWorker.taskQueue;
    const workflowId = uniqueWorkflowId('start-dup');
    await withWorker(taskQueue, async () => {
      const first = await env.client.workflow.start(waitForFinish, { workflowId, taskQueue });
      const err = await rejectionOf(env.client.workflow.start(echo, { workflowId, taskQueue, args: ['second'] }));
      expect(err).toBeInstanceOf(WorkflowExecutionAlreadyStartedError);

      // The rejected start must not have touched the open run.
      const desc = await env.client.workflow.getHandle(workflowId).describe();
      expect(desc.runId).toBe(first.firstExecutionRunId);
      expect(desc.status.name).toBe('RUNNING');
      await first.signal(finishSignal, 'done');
      await expect(first.result()).resolves.toBe('done');
    });
  });

  test('the same requestId is a retry of the same start, not a duplicate', async () => {
    const taskQueue = uniqueTaskQueue('start-reqid');
    const workflowId = uniqueWorkflowId('start-reqid');
    const request = {
      namespace: namespace(),
      workflowId,
      workflowType: { name: 'waitForFinish' },
      taskQueue: { name: taskQueue },
      input: { payloads: [] },
      identity: 'start.test',
      requestId: randomUUID(),
    };
    // No worker yet: the run stays open while the retries arrive.
    const first = await env.client.workflowService.startWorkflowExecution(request);
    const retried = await env.client.workflowService.startWorkflowExecution(request);
    expect(first.runId).toBeTruthy();
    expect(retried.runId).toBe(first.runId);

    const other = await rejectionOf(env.client.workflowService.startWorkflowExecution({ ...request, requestId: randomUUID() }));
    expect(grpcCode(other)).toBe(grpcStatus.ALREADY_EXISTS);

    await withWorker(taskQueue, async () => {
      const handle = env.client.workflow.getHandle(workflowId, first.runId ?? undefined);
      await handle.signal(finishSignal, 'once');
      await expect(handle.result()).resolves.toBe('once');
      const history = await handle.fetchHistory();
      expect(eventTypes(history).filter((t) => t === 'WorkflowExecutionStarted')).toHaveLength(1);
    });
    await eventually(async () => {
      expect((await env.client.workflow.count(`WorkflowId = '${workflowId}'`)).count).toBe(1);
    });
  });
});

describe('workflow id reuse policy (previous run closed)', () => {
  const cases: { policy: WorkflowIdReusePolicy; previous: ClosedState; allowed: boolean }[] = [
    { policy: 'ALLOW_DUPLICATE', previous: 'completed', allowed: true },
    { policy: 'ALLOW_DUPLICATE', previous: 'failed', allowed: true },
    { policy: 'ALLOW_DUPLICATE_FAILED_ONLY', previous: 'completed', allowed: false },
    { policy: 'ALLOW_DUPLICATE_FAILED_ONLY', previous: 'failed', allowed: true },
    { policy: 'ALLOW_DUPLICATE_FAILED_ONLY', previous: 'terminated', allowed: true },
    { policy: 'ALLOW_DUPLICATE_FAILED_ONLY', previous: 'cancelled', allowed: true },
    { policy: 'REJECT_DUPLICATE', previous: 'completed', allowed: false },
    { policy: 'REJECT_DUPLICATE', previous: 'failed', allowed: false },
    { policy: 'REJECT_DUPLICATE', previous: 'terminated', allowed: false },
    { policy: 'TERMINATE_IF_RUNNING', previous: 'completed', allowed: true },
    { policy: 'TERMINATE_IF_RUNNING', previous: 'failed', allowed: true },
  ];

  test.each(cases)('$policy after a $previous run → allowed: $allowed', async ({ policy, previous, allowed }) => {
    const taskQueue = fileWorker.taskQueue;
    const workflowId = uniqueWorkflowId(`start-reuse-${policy}-${previous}`);
    await withWorker(taskQueue, async () => {
      const previousRunId = await closedRun(workflowId, taskQueue, previous);
      const start = env.client.workflow.start(echo, { workflowId, taskQueue, args: ['second'], workflowIdReusePolicy: policy });
      if (allowed) {
        const handle = await start;
        expect(handle.firstExecutionRunId).not.toBe(previousRunId);
        await expect(handle.result()).resolves.toBe('second');
      } else {
        await expect(start).rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
        const latest = await env.client.workflow.getHandle(workflowId).describe();
        expect(latest.runId).toBe(previousRunId);
      }
      // The earlier run keeps its own outcome either way.
      const earlier = await env.client.workflow.getHandle(workflowId, previousRunId).describe();
      expect(earlier.status.name).toBe(expectedStatus[previous]);
    });
  });
});

describe('workflow id conflict policy (previous run open)', () => {
  async function startOpen(workflowId: string, taskQueue: string): Promise<WorkflowHandleWithFirstExecutionRunId<typeof waitForFinish>> {
    const handle = await env.client.workflow.start(waitForFinish, { workflowId, taskQueue });
    // Wait until the run has really started on the worker, so termination interrupts a live run.
    await waitForEvent(handle, (e) => eventTypeName(e) === 'WorkflowTaskCompleted');
    return handle;
  }

  test('FAIL rejects the start and leaves the open run alone', async () => {
    const taskQueue = fileWorker.taskQueue;
    const workflowId = uniqueWorkflowId('start-conflict-fail');
    await withWorker(taskQueue, async () => {
      const open = await startOpen(workflowId, taskQueue);
      await expect(
        env.client.workflow.start(echo, { workflowId, taskQueue, args: ['x'], workflowIdConflictPolicy: 'FAIL' }),
      ).rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
      await open.signal(finishSignal, 'still mine');
      await expect(open.result()).resolves.toBe('still mine');
    });
  });

  test('USE_EXISTING returns the open run instead of starting another', async () => {
    const taskQueue = fileWorker.taskQueue;
    const workflowId = uniqueWorkflowId('start-conflict-use');
    await withWorker(taskQueue, async () => {
      const open = await startOpen(workflowId, taskQueue);
      const again = await env.client.workflow.start(waitForFinish, { workflowId, taskQueue, workflowIdConflictPolicy: 'USE_EXISTING' });
      expect(again.firstExecutionRunId).toBe(open.firstExecutionRunId);
      await again.signal(finishSignal, 'shared');
      await expect(open.result()).resolves.toBe('shared');
      const history = await open.fetchHistory();
      expect(eventTypes(history).filter((t) => t === 'WorkflowExecutionStarted')).toHaveLength(1);
    });
  });

  const terminating: { name: string; options: { workflowIdConflictPolicy?: WorkflowIdConflictPolicy; workflowIdReusePolicy?: WorkflowIdReusePolicy } }[] = [
    { name: 'TERMINATE_EXISTING', options: { workflowIdConflictPolicy: 'TERMINATE_EXISTING' } },
    { name: 'legacy reuse policy TERMINATE_IF_RUNNING', options: { workflowIdReusePolicy: 'TERMINATE_IF_RUNNING' } },
  ];

  test.each(terminating)('$name terminates the open run and starts a new one', async ({ options }) => {
    const taskQueue = fileWorker.taskQueue;
    const workflowId = uniqueWorkflowId('start-conflict-terminate');
    await withWorker(taskQueue, async () => {
      const open = await startOpen(workflowId, taskQueue);
      const replacement = await env.client.workflow.start(echo, { workflowId, taskQueue, args: ['replacement'], ...options });
      expect(replacement.firstExecutionRunId).not.toBe(open.firstExecutionRunId);
      await expect(replacement.result()).resolves.toBe('replacement');

      const old = await env.client.workflow.getHandle(workflowId, open.firstExecutionRunId).describe();
      expect(old.status.name).toBe('TERMINATED');
      const oldHistory = await env.client.workflow.getHandle(workflowId, open.firstExecutionRunId).fetchHistory();
      expect(eventTypes(oldHistory).at(-1)).toBe('WorkflowExecutionTerminated');
      const latest = await env.client.workflow.getHandle(workflowId).describe();
      expect(latest.runId).toBe(replacement.firstExecutionRunId);
    });
  });

  test('reuse policy ALLOW_DUPLICATE without a conflict policy still rejects a start while open', async () => {
    const taskQueue = fileWorker.taskQueue;
    const workflowId = uniqueWorkflowId('start-conflict-default');
    await withWorker(taskQueue, async () => {
      const open = await startOpen(workflowId, taskQueue);
      await expect(
        env.client.workflow.start(echo, { workflowId, taskQueue, args: ['x'], workflowIdReusePolicy: 'ALLOW_DUPLICATE' }),
      ).rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
      await open.terminate('cleanup');
    });
  });
});

describe('memo, search attributes and user metadata', () => {
  test('memo is visible to the workflow and in describe()', async () => {
    const taskQueue = fileWorker.taskQueue;
    const memo = { team: 'observers', nested: { n: 1, list: [1, 2, 3] }, flag: false };
    await withWorker(taskQueue, async () => {
      const handle = await env.client.workflow.start(reportStartInfo, { workflowId: uniqueWorkflowId('start-memo'), taskQueue, memo });
      const seen = await handle.result();
      expect(seen.memo).toEqual(memo);
      expect(seen.workflowType).toBe('reportStartInfo');
      expect(seen.taskQueue).toBe(taskQueue);
      const desc = await handle.describe();
      expect(desc.memo).toEqual(memo);
    });
  });

  test('custom search attributes of every type are visible to the workflow and in describe()', async () => {
    const taskQueue = fileWorker.taskQueue;
    const when = new Date('2024-05-06T07:08:09.123Z');
    const pairs: SearchAttributePair[] = [
      { key: saKeys.keyword, value: 'kw-value' },
      { key: saKeys.keywordList, value: ['alpha', 'beta'] },
      { key: saKeys.text, value: 'some free text' },
      { key: saKeys.int, value: 42 },
      { key: saKeys.double, value: 3.25 },
      { key: saKeys.bool, value: true },
      { key: saKeys.datetime, value: when },
    ];
    await withWorker(taskQueue, async () => {
      const handle = await env.client.workflow.start(reportStartInfo, {
        workflowId: uniqueWorkflowId('start-sa'),
        taskQueue,
        typedSearchAttributes: pairs,
      });
      const seen = await handle.result();
      expect(seen.searchAttributes).toEqual({
        FqoKeyword: 'kw-value',
        FqoKeywordList: ['alpha', 'beta'],
        FqoText: 'some free text',
        FqoInt: 42,
        FqoDouble: 3.25,
        FqoBool: true,
        FqoDatetime: when.toISOString(),
      });

      const sa = (await handle.describe()).typedSearchAttributes;
      expect(sa.get(saKeys.keyword)).toBe('kw-value');
      expect(sa.get(saKeys.keywordList)).toEqual(['alpha', 'beta']);
      expect(sa.get(saKeys.text)).toBe('some free text');
      expect(sa.get(saKeys.int)).toBe(42);
      expect(sa.get(saKeys.double)).toBe(3.25);
      expect(sa.get(saKeys.bool)).toBe(true);
      expect(sa.get(saKeys.datetime)?.toISOString()).toBe(when.toISOString());
    });
  });

  test('an unregistered search attribute is rejected with INVALID_ARGUMENT', async () => {
    const taskQueue = uniqueTaskQueue('start-sa-bad');
    const err = await rejectionOf(
      env.client.workflow.start(echo, {
        workflowId: uniqueWorkflowId('start-sa-bad'),
        taskQueue,
        args: ['x'],
        typedSearchAttributes: [{ key: defineSearchAttributeKey('FqoNeverRegistered', 'KEYWORD'), value: 'x' }],
      }),
    );
    expect(grpcCode(err)).toBe(grpcStatus.INVALID_ARGUMENT);
  });

  test('a value of the wrong type for a registered search attribute is rejected with INVALID_ARGUMENT', async () => {
    const taskQueue = uniqueTaskQueue('start-sa-type');
    const err = await rejectionOf(
      env.client.workflow.start(echo, {
        workflowId: uniqueWorkflowId('start-sa-type'),
        taskQueue,
        args: ['x'],
        // The untyped API sends no type metadata, so the server must check the value against the registered type.
        searchAttributes: { [saKeys.int.name]: ['not a number'] },
      }),
    );
    expect(grpcCode(err)).toBe(grpcStatus.INVALID_ARGUMENT);
  });

  test('the predefined TemporalChangeVersion attribute upserted by patched() is visible and filterable', async () => {
    const taskQueue = fileWorker.taskQueue;
    const workflowId = uniqueWorkflowId('start-patch');
    await withWorker(taskQueue, async () => {
      const handle = await env.client.workflow.start(patchedThenWait, { workflowId, taskQueue });
      await waitForEvent(handle, (e) => eventTypeName(e) === 'UpsertWorkflowSearchAttributes');
      const desc = await handle.describe();
      expect(desc.typedSearchAttributes.get(changeVersionKey)).toEqual(['fqo-patch-1']);
      await eventually(async () => {
        const ids: string[] = [];
        for await (const wf of env.client.workflow.list({ query: `TemporalChangeVersion = 'fqo-patch-1' AND WorkflowId = '${workflowId}'` })) {
          ids.push(wf.workflowId);
        }
        expect(ids).toEqual([workflowId]);
      });
      await handle.signal(finishSignal, 'x');
      await expect(handle.result()).resolves.toBe(true);
    });
  });

  test('static summary and details are stored and returned by describe()', async () => {
    const taskQueue = fileWorker.taskQueue;
    await withWorker(taskQueue, async () => {
      const handle = await env.client.workflow.start(echo, {
        workflowId: uniqueWorkflowId('start-meta'),
        taskQueue,
        args: ['meta'],
        staticSummary: 'Observer run for **orders**',
        staticDetails: 'Line one\nLine two with `code`',
      });
      await handle.result();
      const desc = await handle.describe();
      await expect(desc.staticSummary()).resolves.toBe('Observer run for **orders**');
      await expect(desc.staticDetails()).resolves.toBe('Line one\nLine two with `code`');
    });
  });

  test('a run started without user metadata has no summary or details', async () => {
    const taskQueue = fileWorker.taskQueue;
    await withWorker(taskQueue, async () => {
      const handle = await env.client.workflow.start(echo, { workflowId: uniqueWorkflowId('start-meta-none'), taskQueue, args: ['x'] });
      await handle.result();
      const desc = await handle.describe();
      await expect(desc.staticSummary()).resolves.toBeUndefined();
      await expect(desc.staticDetails()).resolves.toBeUndefined();
    });
  });
});

describe('signal-with-start', () => {
  test('starts a new run with the signal as its first event after the start', async () => {
    const taskQueue = fileWorker.taskQueue;
    const workflowId = uniqueWorkflowId('start-sws');
    await withWorker(taskQueue, async () => {
      const handle = await env.client.workflow.signalWithStart(collectSignals, {
        workflowId,
        taskQueue,
        args: [3],
        signal: addSignal,
        signalArgs: ['first'],
      });
      await handle.signal(addSignal, 'second');
      await handle.signal(addSignal, 'third');
      await expect(handle.result()).resolves.toEqual(['first', 'second', 'third']);
      const types = eventTypes(await handle.fetchHistory());
      expect(types.slice(0, 2)).toEqual(['WorkflowExecutionStarted', 'WorkflowExecutionSignaled']);
    });
  });

  test('signals the open run instead of starting another, and starts a fresh run once it is closed', async () => {
    const taskQueue = fileWorker.taskQueue;
    const workflowId = uniqueWorkflowId('start-sws-open');
    await withWorker(taskQueue, async () => {
      const options = { workflowId, taskQueue, args: [2] as [number], signal: addSignal };
      const first = await env.client.workflow.signalWithStart(collectSignals, { ...options, signalArgs: ['a'] });
      const second = await env.client.workflow.signalWithStart(collectSignals, { ...options, signalArgs: ['b'] });
      expect(second.signaledRunId).toBe(first.signaledRunId);
      await expect(first.result()).resolves.toEqual(['a', 'b']);

      const third = await env.client.workflow.signalWithStart(collectSignals, { ...options, args: [1], signalArgs: ['c'] });
      expect(third.signaledRunId).not.toBe(first.signaledRunId);
      await expect(env.client.workflow.getHandle(workflowId, third.signaledRunId).result()).resolves.toEqual(['c']);
    });
  });
});
