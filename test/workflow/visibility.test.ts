/**
 * Visibility: DescribeWorkflowExecution, ListWorkflowExecutions / CountWorkflowExecutions with the list-filter
 * language and paging, and GetWorkflowExecutionHistory with paging, long-poll and the close-event filter.
 */
import { status as grpcStatus } from '@grpc/grpc-js';
import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
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
  uniqueTaskQueue,
  uniqueWorkflowId,
  waitForEvent,
  type HistoryEvent,
} from '../helpers/temporal-env';
import { createActivities } from './activities';
import { echo, failWith, runActivity, waitForFinish } from './workflows';
import { allCustomSearchAttributes, finishSignal, saKeys } from './workflows/definitions';

jest.setTimeout(120_000);

const HOUR = 3_600_000;
const { HistoryEventFilterType } = temporal.api.enums.v1;

let env: TestWorkflowEnvironment;
const namespace = (): string => env.namespace ?? 'default';

/** A fixed population of runs on one task queue, in two batches one (skipped) hour apart. */
interface Dataset {
  taskQueue: string;
  prefix: string;
  batch2Start: number;
  /** A time after every batch-1 run closed and before batch 2 started. */
  between: number;
  runIds: Record<string, string>;
}
let data: Dataset;

const d = (iso: string): Date => new Date(iso);

beforeAll(async () => {
  env = await createTestEnv({ searchAttributes: allCustomSearchAttributes });
  const taskQueue = uniqueTaskQueue('vis');
  const prefix = uniqueWorkflowId('vis');
  const runIds: Record<string, string> = {};
  const start = async (name: string, fn: typeof echo | typeof failWith | typeof waitForFinish, args: unknown[], n: number, keyword: string, extra: { bool?: boolean; list?: string[]; when?: Date; dbl?: number } = {}) => {
    const handle = await env.client.workflow.start(fn as typeof echo, {
      workflowId: `${prefix}-${name}`,
      taskQueue,
      args: args as [string],
      typedSearchAttributes: [
        { key: saKeys.int, value: n },
        { key: saKeys.keyword, value: keyword },
        ...(extra.bool === undefined ? [] : [{ key: saKeys.bool, value: extra.bool }]),
        ...(extra.list === undefined ? [] : [{ key: saKeys.keywordList, value: extra.list }]),
        ...(extra.when === undefined ? [] : [{ key: saKeys.datetime, value: extra.when }]),
        ...(extra.dbl === undefined ? [] : [{ key: saKeys.double, value: extra.dbl }]),
      ],
    });
    runIds[name] = handle.firstExecutionRunId;
    return handle;
  };
  let batch2Start = 0;
  let batch1End = 0;
  await runWorker(env, { taskQueue, activities: createActivities() }, async () => {
    const done = [
      await start('done-0', echo, ['a'], 1, 'alpha', { bool: true, list: ['red', 'green'], when: d('2024-01-01T00:00:00Z'), dbl: 1.5 }),
      await start('done-1', echo, ['b'], 2, 'beta', { bool: false, list: ['blue'], when: d('2024-02-01T00:00:00Z'), dbl: 2.5 }),
      await start('done-2', echo, ['c'], 3, 'alpha', { bool: true, list: ['green'], when: d('2024-03-01T00:00:00Z'), dbl: 3.5 }),
    ];
    await Promise.all(done.map((h) => h.result()));
    const failed = await start('failed', failWith, ['bad'], 4, 'gamma');
    await expect(failed.result()).rejects.toThrow();
    batch1End = await env.currentTimeMs();

    // An hour of skipped time; on a wall-clock server (the real dev server, in conformance runs) two
    // real seconds separate the batches just as well for the StartTime / CloseTime filters.
    await env.sleep(env.supportsTimeSkipping ? HOUR : 2_000);
    batch2Start = await env.currentTimeMs();
    const open = [await start('open-0', waitForFinish, [], 5, 'delta'), await start('open-1', waitForFinish, [], 6, 'delta')];
    const term = await start('term', waitForFinish, [], 7, 'gamma');
    for (const h of [...open, term]) await waitForEvent(h, (e) => eventTypeName(e) === 'WorkflowTaskCompleted');
    await term.terminate('dataset');
  });
  data = { taskQueue, prefix, batch2Start, between: (batch1End + batch2Start) / 2, runIds };
});

afterAll(async () => {
  await env?.teardown();
});

/** Workflow ids (without the dataset prefix) matching `query`, in the order the server returned them. */
async function listIds(query: string, pageSize?: number): Promise<string[]> {
  const ids: string[] = [];
  for await (const wf of env.client.workflow.list({ query, pageSize })) ids.push(wf.workflowId.replace(`${data.prefix}-`, ''));
  return ids;
}

async function expectMatches(filter: string, expected: string[]): Promise<void> {
  const query = `TaskQueue = '${data.taskQueue}' AND (${filter})`;
  await eventually(async () => {
    expect((await listIds(query)).sort()).toEqual([...expected].sort());
    expect((await env.client.workflow.count(query)).count).toBe(expected.length);
  });
}

const iso = (ms: number): string => new Date(ms).toISOString();
const ALL = ['done-0', 'done-1', 'done-2', 'failed', 'open-0', 'open-1', 'term'];

describe('describe', () => {
  test('a closed run: type, ids, queue, status, times, history length, memo', async () => {
    const handle = env.client.workflow.getHandle(`${data.prefix}-done-1`);
    const desc = await handle.describe();
    expect(desc.type).toBe('echo');
    expect(desc.workflowId).toBe(`${data.prefix}-done-1`);
    expect(desc.runId).toBe(data.runIds['done-1']);
    expect(desc.taskQueue).toBe(data.taskQueue);
    expect(desc.status.name).toBe('COMPLETED');
    expect(desc.closeTime).toBeInstanceOf(Date);
    expect(desc.closeTime?.getTime()).toBeGreaterThanOrEqual(desc.startTime.getTime());
    expect(desc.historyLength).toBe((await handle.fetchHistory()).events?.length);
    expect(desc.typedSearchAttributes.get(saKeys.keyword)).toBe('beta');
  });

  test('an open run: RUNNING, no close time, and its pending activity', async () => {
    const taskQueue = uniqueTaskQueue('vis-describe');
    await runWorker(env, { taskQueue, activities: createActivities() }, async () => {
      const handle = await env.client.workflow.start(runActivity, {
        workflowId: uniqueWorkflowId('vis-describe'),
        taskQueue,
        args: ['greet', ['x'], { taskQueue: uniqueTaskQueue('vis-unpolled'), startToCloseTimeout: '1 minute' }],
        memo: { purpose: 'describe' },
      });
      await waitForEvent(handle, (e) => eventTypeName(e) === 'ActivityTaskScheduled');
      const desc = await handle.describe();
      expect(desc.status.name).toBe('RUNNING');
      expect(desc.closeTime).toBeUndefined();
      expect(desc.memo).toEqual({ purpose: 'describe' });
      const pending = desc.raw.pendingActivities ?? [];
      expect(pending).toHaveLength(1);
      expect(pending[0]?.activityType?.name).toBe('greet');
      expect(pending[0]?.state).toBe(temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED);
      await handle.terminate('describe done');
    });
  });
});

describe('list and count filters', () => {
  test('the whole dataset, and nothing from another queue', async () => {
    await expectMatches('WorkflowId STARTS_WITH \'' + data.prefix + '\'', ALL);
    await eventually(async () => {
      expect((await env.client.workflow.count(`TaskQueue = '${uniqueTaskQueue('vis-empty')}'`)).count).toBe(0);
    });
  });

  test('ExecutionStatus =, != and IN', async () => {
    await expectMatches("ExecutionStatus = 'Running'", ['open-0', 'open-1']);
    await expectMatches("ExecutionStatus = 'Completed'", ['done-0', 'done-1', 'done-2']);
    await expectMatches("ExecutionStatus = 'Failed'", ['failed']);
    await expectMatches("ExecutionStatus = 'Terminated'", ['term']);
    await expectMatches("ExecutionStatus != 'Running'", ['done-0', 'done-1', 'done-2', 'failed', 'term']);
    await expectMatches("ExecutionStatus IN ('Failed', 'Terminated')", ['failed', 'term']);
  });

  test('WorkflowType, WorkflowId, RunId and STARTS_WITH', async () => {
    await expectMatches("WorkflowType = 'echo'", ['done-0', 'done-1', 'done-2']);
    await expectMatches("WorkflowType IN ('failWith', 'waitForFinish')", ['failed', 'open-0', 'open-1', 'term']);
    await expectMatches(`WorkflowId = '${data.prefix}-failed'`, ['failed']);
    await expectMatches(`WorkflowId STARTS_WITH '${data.prefix}-done-'`, ['done-0', 'done-1', 'done-2']);
    await expectMatches(`RunId = '${data.runIds['done-1'] ?? ''}'`, ['done-1']);
  });

  test('StartTime and CloseTime comparisons and BETWEEN', async () => {
    const between = iso(data.between);
    await expectMatches(`StartTime < '${between}'`, ['done-0', 'done-1', 'done-2', 'failed']);
    await expectMatches(`StartTime >= '${between}'`, ['open-0', 'open-1', 'term']);
    await expectMatches(`StartTime BETWEEN '${between}' AND '${iso(data.batch2Start + HOUR)}'`, ['open-0', 'open-1', 'term']);
    await expectMatches(`StartTime > '${iso(data.batch2Start + HOUR)}'`, []);
    await expectMatches(`CloseTime < '${between}'`, ['done-0', 'done-1', 'done-2', 'failed']);
    await expectMatches(`CloseTime > '${between}'`, ['term']);
  });

  test('custom attributes of every type', async () => {
    await expectMatches("FqoKeyword = 'alpha'", ['done-0', 'done-2']);
    await expectMatches("FqoKeyword != 'alpha'", ['done-1', 'failed', 'open-0', 'open-1', 'term']);
    await expectMatches("FqoKeyword IN ('beta', 'delta')", ['done-1', 'open-0', 'open-1']);
    await expectMatches("FqoKeyword STARTS_WITH 'gam'", ['failed', 'term']);
    await expectMatches('FqoInt >= 2 AND FqoInt < 4', ['done-1', 'done-2']);
    await expectMatches('FqoInt BETWEEN 4 AND 6', ['failed', 'open-0', 'open-1']);
    await expectMatches('FqoInt <= 1', ['done-0']);
    await expectMatches('FqoDouble > 2', ['done-1', 'done-2']);
    await expectMatches('FqoBool = false', ['done-1']);
    await expectMatches('FqoBool = true', ['done-0', 'done-2']);
    await expectMatches("FqoDatetime > '2024-01-15T00:00:00Z'", ['done-1', 'done-2']);
    await expectMatches("FqoDatetime BETWEEN '2024-01-01T00:00:00Z' AND '2024-02-01T00:00:00Z'", ['done-0', 'done-1']);
    await expectMatches("FqoKeywordList = 'green'", ['done-0', 'done-2']);
    await expectMatches("FqoKeywordList IN ('blue', 'red')", ['done-0', 'done-1']);
  });

  test('AND binds tighter than OR; parentheses override', async () => {
    await expectMatches("FqoKeyword = 'beta' OR FqoKeyword = 'gamma' AND ExecutionStatus = 'Terminated'", ['done-1', 'term']);
    await expectMatches("(FqoKeyword = 'beta' OR FqoKeyword = 'gamma') AND ExecutionStatus = 'Terminated'", ['term']);
    await expectMatches("(FqoKeyword = 'alpha' OR ExecutionStatus = 'Failed') AND FqoInt > 1", ['done-2', 'failed']);
    await expectMatches("ExecutionStatus = 'Running' OR (WorkflowType = 'echo' AND FqoBool = false)", ['done-1', 'open-0', 'open-1']);
  });

  test('ORDER BY sorts the result', async () => {
    await eventually(async () => {
      expect(await listIds(`TaskQueue = '${data.taskQueue}' ORDER BY FqoInt DESC`)).toEqual([
        'term',
        'open-1',
        'open-0',
        'failed',
        'done-2',
        'done-1',
        'done-0',
      ]);
      expect(await listIds(`TaskQueue = '${data.taskQueue}' AND FqoInt < 4 ORDER BY FqoInt ASC`)).toEqual(['done-0', 'done-1', 'done-2']);
      expect(await listIds(`TaskQueue = '${data.taskQueue}' ORDER BY WorkflowId`)).toEqual([...ALL].sort());
    });
  });
});

describe('paging', () => {
  test('raw ListWorkflowExecutions pages with pageSize and nextPageToken, without gaps or duplicates', async () => {
    const query = `TaskQueue = '${data.taskQueue}'`;
    await eventually(async () => {
      const seen: string[] = [];
      const pageSizes: number[] = [];
      let nextPageToken: Uint8Array | undefined;
      for (let page = 0; page < 20; page += 1) {
        const res = await env.client.workflowService.listWorkflowExecutions({ namespace: namespace(), query, pageSize: 2, nextPageToken });
        const executions = res.executions ?? [];
        pageSizes.push(executions.length);
        for (const info of executions) seen.push(info.execution?.workflowId ?? '');
        if (!res.nextPageToken || res.nextPageToken.length === 0) break;
        nextPageToken = res.nextPageToken;
      }
      expect(pageSizes.every((n) => n <= 2)).toBe(true);
      expect(pageSizes.slice(0, 3)).toEqual([2, 2, 2]);
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.map((id) => id.replace(`${data.prefix}-`, '')).sort()).toEqual([...ALL].sort());
    });
  });

  test('client.workflow.list with a small pageSize returns every match once', async () => {
    await eventually(async () => {
      const ids = await listIds(`TaskQueue = '${data.taskQueue}'`, 3);
      expect(ids.sort()).toEqual([...ALL].sort());
    });
  });
});

describe('invalid filters', () => {
  const invalid = [
    "WorkflowId = 'unterminated",
    "WorkflowId = 'a' AND",
    "NoSuchAttribute = 'x'",
    "FqoInt = 'not a number'",
    "StartTime > 'not a time'",
    "ExecutionStatus = 'Sleeping'",
    'ORDER BY NoSuchAttribute',
  ];

  test.each(invalid)('list and count reject %p with INVALID_ARGUMENT', async (query) => {
    const listErr = await rejectionOf(env.client.workflowService.listWorkflowExecutions({ namespace: namespace(), query }));
    expect(grpcCode(listErr)).toBe(grpcStatus.INVALID_ARGUMENT);
    expect((listErr as Error).message.length).toBeGreaterThan(0);
    const countErr = await rejectionOf(env.client.workflow.count(query));
    expect(grpcCode(countErr)).toBe(grpcStatus.INVALID_ARGUMENT);
    const iterateErr = await rejectionOf(listIds(query));
    expect(grpcCode(iterateErr)).toBe(grpcStatus.INVALID_ARGUMENT);
  });
});

describe('history', () => {
  async function fullRun(): Promise<WorkflowHandleWithFirstExecutionRunId<typeof echo>> {
    const taskQueue = uniqueTaskQueue('vis-history');
    return await runWorker(env, { taskQueue, activities: createActivities() }, async () => {
      const handle = await env.client.workflow.start(echo, { workflowId: uniqueWorkflowId('vis-history'), taskQueue, args: ['paged'] });
      await handle.result();
      return handle;
    });
  }

  test('GetWorkflowExecutionHistory pages whole event batches: maximumPageSize batches a page, a full page followed by a token', async () => {
    const handle = await fullRun();
    const full = (await handle.fetchHistory()).events ?? [];
    const execution = { workflowId: handle.workflowId, runId: handle.firstExecutionRunId };
    const readPages = async (maximumPageSize: number): Promise<HistoryEvent[][]> => {
      const pages: HistoryEvent[][] = [];
      let nextPageToken: Uint8Array | undefined;
      do {
        const res = await env.client.workflowService.getWorkflowExecutionHistory({ namespace: namespace(), execution, maximumPageSize, nextPageToken });
        pages.push(res.history?.events ?? []);
        nextPageToken = res.nextPageToken && res.nextPageToken.length > 0 ? res.nextPageToken : undefined;
      } while (nextPageToken && pages.length < 50);
      return pages;
    };
    // echo's history is three batches, each appended by one request: the start (with the first
    // workflow task), the task's start, and its completion (with the run's close).
    const batches = [
      ['WorkflowExecutionStarted', 'WorkflowTaskScheduled'],
      ['WorkflowTaskStarted'],
      ['WorkflowTaskCompleted', 'WorkflowExecutionCompleted'],
    ];
    expect(eventTypes({ events: full })).toEqual(batches.flat());
    // One batch a page; the third page is full, so a token follows it and the fourth page is empty.
    const ones = await readPages(1);
    expect(ones.map((page) => eventTypes({ events: page }))).toEqual([...batches, []]);
    // Two batches a page: 3 events on the first page although the size is 2.
    const twos = await readPages(2);
    expect(twos.map((page) => eventTypes({ events: page }))).toEqual([[...batches[0]!, ...batches[1]!], batches[2]]);
    for (const pages of [ones, twos]) expect(pages.flat().map((e) => num(e.eventId))).toEqual(full.map((e) => num(e.eventId)));
    // A page larger than the history holds all of it, with no token.
    expect(await readPages(4)).toEqual([full]);
  });

  test('a long poll with waitNewEvent returns when the next event is written, and not before', async () => {
    const taskQueue = uniqueTaskQueue('vis-longpoll');
    await runWorker(env, { taskQueue, activities: createActivities() }, async () => {
      const handle = await env.client.workflow.start(waitForFinish, { workflowId: uniqueWorkflowId('vis-longpoll'), taskQueue });
      await waitForEvent(handle, (e) => eventTypeName(e) === 'WorkflowTaskCompleted');
      const execution = { workflowId: handle.workflowId, runId: handle.firstExecutionRunId };

      // The first read returns what exists, with a token to continue from.
      const first = await env.client.workflowService.getWorkflowExecutionHistory({ namespace: namespace(), execution, waitNewEvent: true });
      const existing = first.history?.events ?? [];
      expect(eventTypes({ events: existing })).toEqual([
        'WorkflowExecutionStarted',
        'WorkflowTaskScheduled',
        'WorkflowTaskStarted',
        'WorkflowTaskCompleted',
      ]);
      expect(first.nextPageToken?.length ?? 0).toBeGreaterThan(0);

      let settled = false;
      const poll = env.client.workflowService
        .getWorkflowExecutionHistory({ namespace: namespace(), execution, waitNewEvent: true, nextPageToken: first.nextPageToken })
        .finally(() => {
          settled = true;
        });
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(settled).toBe(false);

      await handle.signal(finishSignal, 'wake up');
      const next = await poll;
      const events = next.history?.events ?? [];
      expect(events.length).toBeGreaterThan(0);
      expect(num(events[0]?.eventId)).toBe(existing.length + 1);
      expect(events[0] && eventTypeName(events[0])).toBe('WorkflowExecutionSignaled');
      await handle.result();
    });
  });

  test('the close-event filter long-polls until the run closes and returns exactly the close event', async () => {
    const taskQueue = uniqueTaskQueue('vis-close');
    await runWorker(env, { taskQueue, activities: createActivities() }, async () => {
      const handle = await env.client.workflow.start(waitForFinish, { workflowId: uniqueWorkflowId('vis-close'), taskQueue });
      await waitForEvent(handle, (e) => eventTypeName(e) === 'WorkflowTaskCompleted');
      let settled = false;
      const request = {
        namespace: namespace(),
        execution: { workflowId: handle.workflowId, runId: handle.firstExecutionRunId },
        waitNewEvent: true,
        historyEventFilterType: HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT,
      };
      // An open run may answer with no event and a token to poll again; follow tokens until the close event.
      const closeEvent = (async () => {
        let nextPageToken: Uint8Array | undefined;
        for (let i = 0; i < 100; i += 1) {
          const res = await env.client.workflowService.getWorkflowExecutionHistory({ ...request, nextPageToken });
          const events = res.history?.events ?? [];
          if (events.length > 0) return events;
          nextPageToken = res.nextPageToken ?? undefined;
        }
        throw new Error('no close event');
      })().finally(() => {
        settled = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(settled).toBe(false);
      await handle.signal(finishSignal, 'closing');
      const events = await closeEvent;
      expect(eventTypes({ events })).toEqual(['WorkflowExecutionCompleted']);
      expect(num(events[0]?.eventId)).toBe((await handle.fetchHistory()).events?.length);
    });
  });
});
