/**
 * Timers and time skipping as `@temporalio/testing` expects it: skipped timers while a result is awaited,
 * `env.sleep`, many concurrent `result()` waits, and a clock that stays put (in skipped terms) when locked.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createTestEnv, eventTypeName, eventTypes, runWorker, startFileWorker, uniqueTaskQueue, uniqueWorkflowId, waitForEvent, type FileWorker } from '../helpers/temporal-env';
import { createActivities } from './activities';
import { sleepThenReturn, waitWithTimeout } from './workflows';
import { finishSignal } from './workflows/definitions';

jest.setTimeout(120_000);

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

let env: TestWorkflowEnvironment;

let fileWorker: FileWorker;

beforeAll(async () => {
  env = await createTestEnv();
  fileWorker = await startFileWorker(env, { taskQueue: uniqueTaskQueue('timers'), activities: createActivities() });
});

afterAll(async () => {
  await fileWorker?.stop();
  await env?.teardown();
});

/** Run `fn` while a worker polls `taskQueue`: the file's shared worker for its queue, else one of its own. */
function withWorker<R>(taskQueue: string, fn: () => Promise<R>): Promise<R> {
  if (taskQueue === fileWorker.taskQueue) return fileWorker.run(fn);
  return runWorker(env, { taskQueue, activities: createActivities() }, fn);
}

test('a one-day sleep completes at once while the result is awaited, and workflow time moves by a day', async () => {
  const taskQueue = fileWorker.taskQueue;
  await withWorker(taskQueue, async () => {
    const before = await env.currentTimeMs();
    const startedAt = Date.now();
    const handle = await env.client.workflow.start(sleepThenReturn, { workflowId: uniqueWorkflowId('timers-day'), taskQueue, args: [DAY] });
    const sleptMs = await handle.result();
    const after = await env.currentTimeMs();
    // Workflow time (event times) moved by the whole timer.
    expect(sleptMs).toBeGreaterThanOrEqual(DAY);
    expect(sleptMs).toBeLessThan(DAY + MINUTE);
    expect(after - before).toBeGreaterThanOrEqual(DAY);
    // Real time did not: a day was skipped in (much) less than a minute.
    expect(Date.now() - startedAt).toBeLessThan(MINUTE);
    const history = await handle.fetchHistory();
    expect(eventTypes(history)).toContain('TimerFired');
    const started = history.events?.find((e) => eventTypeName(e) === 'TimerStarted');
    expect(started?.timerStartedEventAttributes?.startToFireTimeout?.seconds?.toString()).toBe(String(DAY / 1000));
  });
});

test('env.sleep advances time and fires the timers it passes', async () => {
  const taskQueue = fileWorker.taskQueue;
  await withWorker(taskQueue, async () => {
    const handle = await env.client.workflow.start(sleepThenReturn, { workflowId: uniqueWorkflowId('timers-envsleep'), taskQueue, args: [HOUR] });
    await waitForEvent(handle, (e) => eventTypeName(e) === 'TimerStarted');

    const t0 = await env.currentTimeMs();
    await env.sleep(30 * MINUTE);
    const t1 = await env.currentTimeMs();
    expect(t1 - t0).toBeGreaterThanOrEqual(30 * MINUTE);
    // Half-way through the timer the run is still open.
    expect((await handle.describe()).status.name).toBe('RUNNING');
    expect(eventTypes(await handle.fetchHistory())).not.toContain('TimerFired');

    await env.sleep(2 * HOUR);
    const t2 = await env.currentTimeMs();
    expect(t2 - t1).toBeGreaterThanOrEqual(2 * HOUR);
    // The timer fell inside the sleep: it fired and the workflow task it caused ran before the sleep returned.
    expect((await handle.describe()).status.name).toBe('COMPLETED');
    await expect(handle.result()).resolves.toBeGreaterThanOrEqual(HOUR);
  });
});

test('env.currentTimeMs only moves at wall-clock pace while nobody awaits a result', async () => {
  const taskQueue = fileWorker.taskQueue;
  await withWorker(taskQueue, async () => {
    // A far-away timer the server could jump to if it wrongly considered time unlocked.
    const handle = await env.client.workflow.start(sleepThenReturn, { workflowId: uniqueWorkflowId('timers-locked'), taskQueue, args: [10 * DAY] });
    await waitForEvent(handle, (e) => eventTypeName(e) === 'TimerStarted');
    const t0 = await env.currentTimeMs();
    const real0 = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const t1 = await env.currentTimeMs();
    expect(t1).toBeGreaterThanOrEqual(t0);
    expect(t1 - t0).toBeLessThan(Date.now() - real0 + 5_000);
    expect((await handle.describe()).status.name).toBe('RUNNING');
    await handle.terminate('done with the clock check');
  });
});

test('twenty concurrent result() waits all complete, and time is locked again afterwards', async () => {
  const taskQueue = fileWorker.taskQueue;
  await withWorker(taskQueue, async () => {
    const before = await env.currentTimeMs();
    const handles = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        env.client.workflow.start(sleepThenReturn, { workflowId: uniqueWorkflowId(`timers-many-${i}`), taskQueue, args: [(i + 1) * HOUR] }),
      ),
    );
    const results = await Promise.all(handles.map((h) => h.result()));
    results.forEach((slept, i) => {
      expect(slept).toBeGreaterThanOrEqual((i + 1) * HOUR);
      expect(slept).toBeLessThan((i + 1) * HOUR + 10 * MINUTE);
    });
    expect((await env.currentTimeMs()) - before).toBeGreaterThanOrEqual(20 * HOUR);

    // Every unlock was matched by a lock: a 30-day timer must not be skipped to while nobody waits on it.
    const parked = await env.client.workflow.start(sleepThenReturn, { workflowId: uniqueWorkflowId('timers-parked'), taskQueue, args: [30 * DAY] });
    await waitForEvent(parked, (e) => eventTypeName(e) === 'TimerStarted');
    const t0 = await env.currentTimeMs();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect((await env.currentTimeMs()) - t0).toBeLessThan(DAY);
    expect((await parked.describe()).status.name).toBe('RUNNING');
    await parked.terminate('clock check done');
  });
});

test('condition with a timeout returns false when the timer wins and true when the signal wins', async () => {
  const taskQueue = fileWorker.taskQueue;
  await withWorker(taskQueue, async () => {
    const timedOut = await env.client.workflow.start(waitWithTimeout, { workflowId: uniqueWorkflowId('timers-cond-a'), taskQueue, args: [6 * HOUR] });
    await expect(timedOut.result()).resolves.toBe(false);

    const signalled = await env.client.workflow.start(waitWithTimeout, { workflowId: uniqueWorkflowId('timers-cond-b'), taskQueue, args: [6 * HOUR] });
    await waitForEvent(signalled, (e) => eventTypeName(e) === 'TimerStarted');
    await signalled.signal(finishSignal, 'now');
    await expect(signalled.result()).resolves.toBe(true);
    const types = eventTypes(await signalled.fetchHistory());
    expect(types).toContain('TimerCanceled');
    expect(types).not.toContain('TimerFired');
  });
});
