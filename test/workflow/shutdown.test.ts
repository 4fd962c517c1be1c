/**
 * Worker shutdown with outstanding polls: a task that arrives afterwards must go to the next live poller,
 * never to a poll whose call was cancelled (that task would be lost until a timeout).
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { createTestEnv, createWorker, eventTypeName, eventTypes, uniqueTaskQueue, uniqueWorkflowId } from '../helpers/temporal-env';
import { createActivities } from './activities';
import { greetOnce } from './workflows';

jest.setTimeout(600_000);

let env: TestWorkflowEnvironment;

beforeAll(async () => {
  env = await createTestEnv();
});

afterAll(async () => {
  await env?.teardown();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function withBound<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms (was a task handed to a dead poll?)`)), ms);
  });
  try {
    return await Promise.race([promise, bound]);
  } finally {
    clearTimeout(timer);
  }
}

test('after a worker shuts down with polls outstanding, the next worker gets every new task', async () => {
  // One queue for every round, so the cancelled polls of all earlier workers pile up on it.
  const taskQueue = uniqueTaskQueue('shutdown');
  for (let round = 0; round < 5; round += 1) {
    const oldIdentity = `old-worker-${round}`;
    const newIdentity = `new-worker-${round}`;

    // A worker that has certainly been polling: it runs one workflow first, then sits on fresh polls.
    const oldWorker: Worker = await createWorker(env, { taskQueue, identity: oldIdentity, activities: createActivities() });
    const oldRun = oldWorker.run();
    await withBound(
      env.client.workflow.execute(greetOnce, { workflowId: uniqueWorkflowId(`shutdown-warmup-${round}`), taskQueue, args: ['warm-up'] }),
      60_000,
      'the warm-up workflow',
    );
    await sleep(500);
    oldWorker.shutdown();
    await withBound(oldRun, 60_000, 'worker shutdown');

    // Work arrives while nobody polls, then a new worker comes.
    const handle = await env.client.workflow.start(greetOnce, { workflowId: uniqueWorkflowId(`shutdown-${round}`), taskQueue, args: [`round ${round}`] });
    await sleep(300);
    const newWorker = await createWorker(env, { taskQueue, identity: newIdentity, activities: createActivities() });
    const result = await newWorker.runUntil(withBound(handle.result(), 30_000, `round ${round}`));
    expect(result).toBe(`Hello, round ${round}!`);

    const history = await handle.fetchHistory();
    const types = eventTypes(history);
    expect(types).not.toContain('WorkflowTaskTimedOut');
    expect(types).not.toContain('ActivityTaskTimedOut');
    for (const event of history.events ?? []) {
      const type = eventTypeName(event);
      if (type === 'WorkflowTaskStarted') expect(event.workflowTaskStartedEventAttributes?.identity).toBe(newIdentity);
      if (type === 'ActivityTaskStarted') {
        expect(event.activityTaskStartedEventAttributes?.identity).toBe(newIdentity);
        expect(event.activityTaskStartedEventAttributes?.attempt).toBe(1);
      }
    }
  }
});

test('a worker shut down before it ever received a task does not swallow the first task of its queue', async () => {
  const taskQueue = uniqueTaskQueue('shutdown-idle');
  for (let round = 0; round < 3; round += 1) {
    const idle = await createWorker(env, { taskQueue, identity: `idle-${round}`, activities: createActivities() });
    const idleRun = idle.run();
    await sleep(1_000);
    idle.shutdown();
    await withBound(idleRun, 60_000, 'idle worker shutdown');
  }
  const handle = await env.client.workflow.start(greetOnce, { workflowId: uniqueWorkflowId('shutdown-idle'), taskQueue, args: ['first'] });
  const live = await createWorker(env, { taskQueue, identity: 'live', activities: createActivities() });
  await expect(live.runUntil(withBound(handle.result(), 30_000, 'first task after idle workers'))).resolves.toBe('Hello, first!');
  const history = await handle.fetchHistory();
  const started = (history.events ?? []).filter((e) => eventTypeName(e) === 'WorkflowTaskStarted');
  expect(started.map((e) => e.workflowTaskStartedEventAttributes?.identity)).toEqual(started.map(() => 'live'));
});
