/**
 * Replay: histories of representative runs are kept as fixtures (recorded once, when absent) and always
 * replayed with the current workflow code, so a change that breaks determinism fails here. Freshly recorded
 * histories are replayed too, which checks that the histories the server writes are ones the SDK accepts.
 */
import type { History } from '@temporalio/common/lib/proto-utils';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import {
  createTestEnv,
  eventTypeName,
  eventTypes,
  runWorker,
  uniqueTaskQueue,
  uniqueWorkflowId,
  waitForEvent,
  workflowBundle,
} from '../helpers/temporal-env';
import { decodeHistoryFixture, encodeHistoryFixture, loadHistoryFixture, recordHistoryFixtureIfAbsent } from '../helpers/history-fixtures';
import { createActivities } from './activities';
import { cleanupOnCancel, failFirstTask, firstToArrive, replaySample } from './workflows';
import { addSignal } from './workflows/definitions';

jest.setTimeout(300_000);

let env: TestWorkflowEnvironment;

beforeAll(async () => {
  env = await createTestEnv();
});

afterAll(async () => {
  await env?.teardown();
});

interface Recorded {
  name: string;
  history: History;
}

/** Run every representative scenario once against the server and return the histories it wrote. */
async function recordScenarios(): Promise<Recorded[]> {
  const taskQueue = uniqueTaskQueue('replay');
  return await runWorker(env, { taskQueue, activities: createActivities() }, async () => {
    const recorded: Recorded[] = [];

    // Three parallel activities (one retried twice), a one-hour timer, a signal, continue-as-new, then a second run.
    const sample = await env.client.workflow.start(replaySample, { workflowId: uniqueWorkflowId('replay-sample'), taskQueue, args: [0] });
    await waitForEvent(sample, (e) => eventTypeName(e) === 'TimerStarted');
    await sample.signal(addSignal, 'go');
    await expect(sample.result()).resolves.toBe('Hello, stage 1!');
    const firstRun = await env.client.workflow.getHandle(sample.workflowId, sample.firstExecutionRunId).fetchHistory();
    const secondRun = await env.client.workflow.getHandle(sample.workflowId).fetchHistory();
    expect(eventTypes(firstRun)).toEqual(expect.arrayContaining(['ActivityTaskCompleted', 'TimerFired', 'WorkflowExecutionSignaled']));
    expect(eventTypes(firstRun).at(-1)).toBe('WorkflowExecutionContinuedAsNew');
    expect(eventTypes(secondRun).at(-1)).toBe('WorkflowExecutionCompleted');
    recorded.push({ name: 'replay-sample-run1', history: firstRun }, { name: 'replay-sample-run2', history: secondRun });

    // Cancellation handled by the workflow, with a non-cancellable cleanup activity.
    const cancelled = await env.client.workflow.start(cleanupOnCancel, { workflowId: uniqueWorkflowId('replay-cancel'), taskQueue });
    await waitForEvent(cancelled, (e) => eventTypeName(e) === 'TimerStarted');
    await cancelled.cancel();
    await expect(cancelled.result()).resolves.toBe('cleaned up');
    recorded.push({ name: 'cancel-with-cleanup', history: await cancelled.fetchHistory() });

    // A failed workflow task followed by a successful retry.
    const taskFailure = await env.client.workflow.start(failFirstTask, { workflowId: uniqueWorkflowId('replay-wft-failure'), taskQueue });
    await expect(taskFailure.result()).resolves.toBe('recovered');
    recorded.push({ name: 'workflow-task-failure', history: await taskFailure.fetchHistory() });

    // Signals racing the completing task.
    const racing = await env.client.workflow.start(firstToArrive, { workflowId: uniqueWorkflowId('replay-signals'), taskQueue });
    await waitForEvent(racing, (e) => eventTypeName(e) === 'WorkflowTaskCompleted');
    await Promise.allSettled(Array.from({ length: 10 }, (_, i) => racing.signal(addSignal, `s${i}`)));
    await racing.result();
    recorded.push({ name: 'signals-racing-completion', history: await racing.fetchHistory() });

    return recorded;
  });
}

const fixtureNames = ['replay-sample-run1', 'replay-sample-run2', 'cancel-with-cleanup', 'workflow-task-failure', 'signals-racing-completion'];

test('fresh histories replay, and are recorded as fixtures when absent', async () => {
  const recorded = await recordScenarios();
  expect(recorded.map((r) => r.name).sort()).toEqual([...fixtureNames].sort());
  const bundle = await workflowBundle();
  for (const { name, history } of recorded) {
    await expect(Worker.runReplayHistory({ workflowBundle: bundle, replayName: name }, history, name)).resolves.toBeUndefined();
    // Prove the fixture round trip is lossless for replay before writing one.
    await expect(Worker.runReplayHistory({ workflowBundle: bundle }, decodeHistoryFixture(encodeHistoryFixture(history)), name)).resolves.toBeUndefined();
    recordHistoryFixtureIfAbsent(name, history);
  }
});

test('every committed fixture replays without nondeterminism', async () => {
  const histories = fixtureNames.map((name) => ({ workflowId: name, history: loadHistoryFixture(name) }));
  const failures: string[] = [];
  let replayed = 0;
  for await (const result of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories)) {
    replayed += 1;
    if (result.error) failures.push(`${result.workflowId}: ${String(result.error)}`);
  }
  expect(failures).toEqual([]);
  expect(replayed).toBe(fixtureNames.length);
});

test('replay is a real check: a fixture whose commands no longer match the code is rejected', async () => {
  const history = loadHistoryFixture('replay-sample-run1');
  const scheduled = (history.events ?? []).find((e) => eventTypeName(e) === 'ActivityTaskScheduled');
  const attrs = scheduled?.activityTaskScheduledEventAttributes;
  expect(attrs?.activityType?.name).toBe('greet');
  if (attrs?.activityType) attrs.activityType.name = 'renamedActivity';
  await expect(Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, 'tampered')).rejects.toBeInstanceOf(DeterminismViolationError);
});

test('histories listed through visibility replay too (list().intoHistories())', async () => {
  const taskQueue = uniqueTaskQueue('replay-list');
  await runWorker(env, { taskQueue, activities: createActivities() }, async () => {
    for (let i = 0; i < 3; i += 1) {
      await env.client.workflow.execute(failFirstTask, { workflowId: uniqueWorkflowId(`replay-list-${i}`), taskQueue });
    }
  });
  const histories = env.client.workflow.list({ query: `TaskQueue = '${taskQueue}'` }).intoHistories();
  let replayed = 0;
  for await (const result of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories)) {
    replayed += 1;
    expect(result.error).toBeUndefined();
  }
  expect(replayed).toBe(3);
});
