/**
 * Activities: parallel scheduling, server-side retries (backoff, maximum interval, maximum attempts,
 * non-retryable failures, nextRetryDelay), the four timeouts, heartbeats and cancellation.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, TimeoutFailure, type ActivityOptions, type RetryState, type TimeoutType } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  createTestEnv,
  eventTypeName,
  eventTypes,
  num,
  runWorker,
  uniqueTaskQueue,
  uniqueWorkflowId,
  type HistoryEvent,
} from '../helpers/temporal-env';
import { Barrier, createActivities, type ActivityDeps, type AttemptRecord, type FlakySpec, type SlowSpec } from './activities';
import { cancelRunningActivity, parallelRendezvous, runActivity } from './workflows';

jest.setTimeout(120_000);

const SECOND = 1_000;
const HOUR = 3_600_000;

let env: TestWorkflowEnvironment;

beforeAll(async () => {
  env = await createTestEnv();
});

afterAll(async () => {
  await env?.teardown();
});

interface Outcome {
  result?: unknown;
  error?: unknown;
  history: HistoryEvent[];
  elapsedServerMs: number;
}

/** Run `runActivity(type, args, options)` on a fresh queue with a worker wired to `deps`. */
async function runOne(activityType: string, args: unknown[], options: ActivityOptions, deps: ActivityDeps = {}): Promise<Outcome> {
  const taskQueue = uniqueTaskQueue(`act-${activityType}`);
  return await runWorker(env, { taskQueue, activities: createActivities({ client: env.client, ...deps }) }, async () => {
    const before = await env.currentTimeMs();
    const handle = await env.client.workflow.start(runActivity, {
      workflowId: uniqueWorkflowId(`act-${activityType}`),
      taskQueue,
      args: [activityType, args, options],
    });
    let result: unknown;
    let error: unknown;
    try {
      result = await handle.result();
    } catch (err) {
      error = err;
    }
    const elapsedServerMs = (await env.currentTimeMs()) - before;
    const history = (await handle.fetchHistory()).events ?? [];
    return { result, error, history, elapsedServerMs };
  });
}

/** The ActivityFailure a failed `runActivity` workflow carries. */
function activityFailureOf(outcome: Outcome): ActivityFailure {
  expect(outcome.error).toBeInstanceOf(WorkflowFailedError);
  const cause = (outcome.error as WorkflowFailedError).cause;
  expect(cause).toBeInstanceOf(ActivityFailure);
  return cause as ActivityFailure;
}

function expectTimeout(failure: ActivityFailure, timeoutType: TimeoutType, retryState?: RetryState): TimeoutFailure {
  expect(failure.cause).toBeInstanceOf(TimeoutFailure);
  const timeout = failure.cause as TimeoutFailure;
  expect(timeout.timeoutType).toBe(timeoutType);
  if (retryState) expect(failure.retryState).toBe(retryState);
  return timeout;
}

function startedEvents(history: HistoryEvent[]): HistoryEvent[] {
  return history.filter((e) => eventTypeName(e) === 'ActivityTaskStarted');
}

const gaps = (attempts: AttemptRecord[]): number[] => attempts.slice(1).map((a, i) => a.scheduledMs - (attempts[i]?.scheduledMs ?? 0));

describe('scheduling', () => {
  test('activities started together all run before any of them completes', async () => {
    const taskQueue = uniqueTaskQueue('act-parallel');
    const events: string[] = [];
    const barrier = new Barrier(3);
    await runWorker(env, { taskQueue, activities: createActivities({ events, barrier }) }, async () => {
      const handle = await env.client.workflow.start(parallelRendezvous, {
        workflowId: uniqueWorkflowId('act-parallel'),
        taskQueue,
        args: [['a', 'b', 'c']],
      });
      await expect(handle.result()).resolves.toEqual(['a', 'b', 'c']);
      expect(events).toHaveLength(6);
      expect(events.slice(0, 3).every((e) => e.startsWith('start:'))).toBe(true);
      expect(events.slice(3).every((e) => e.startsWith('end:'))).toBe(true);

      const history = (await handle.fetchHistory()).events ?? [];
      const scheduled = history.filter((e) => eventTypeName(e) === 'ActivityTaskScheduled');
      expect(scheduled).toHaveLength(3);
      // All three commands came from the first workflow task.
      expect(scheduled.map((e) => num(e.activityTaskScheduledEventAttributes?.workflowTaskCompletedEventId))).toEqual([4, 4, 4]);
      expect(scheduled.map((e) => num(e.eventId))).toEqual([5, 6, 7]);
    });
  });
});

describe('server-side retries', () => {
  test('backoff grows by the coefficient and is capped by maximumInterval', async () => {
    const attempts: AttemptRecord[] = [];
    const spec: FlakySpec = { failAttempts: 4 };
    const outcome = await runOne(
      'flaky',
      [spec],
      {
        startToCloseTimeout: '1 minute',
        retry: { initialInterval: '10s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5 },
      },
      { attempts },
    );
    expect(outcome.result).toBe('succeeded on attempt 5');
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3, 4, 5]);
    const expected = [10 * SECOND, 20 * SECOND, 30 * SECOND, 30 * SECOND];
    gaps(attempts).forEach((gap, i) => {
      const want = expected[i] ?? 0;
      expect(gap).toBeGreaterThanOrEqual(want);
      // The rest is the (real-time) run of the failed attempt plus dispatch.
      expect(gap).toBeLessThan(want + 8 * SECOND);
    });
    expect(outcome.elapsedServerMs).toBeGreaterThanOrEqual(90 * SECOND);
    // History records only the final attempt, with the previous attempt's failure.
    const started = startedEvents(outcome.history);
    expect(started).toHaveLength(1);
    expect(started[0]?.activityTaskStartedEventAttributes?.attempt).toBe(5);
    expect(started[0]?.activityTaskStartedEventAttributes?.lastFailure?.message).toBe('attempt 4 failed');
  });

  test('maximumAttempts reached → ActivityFailure with MAXIMUM_ATTEMPTS_REACHED and the last failure as cause', async () => {
    const attempts: AttemptRecord[] = [];
    const outcome = await runOne(
      'flaky',
      [{ failAttempts: 99 } satisfies FlakySpec],
      { startToCloseTimeout: '1 minute', retry: { initialInterval: '1s', maximumAttempts: 3 } },
      { attempts },
    );
    const failure = activityFailureOf(outcome);
    expect(failure.retryState).toBe('MAXIMUM_ATTEMPTS_REACHED');
    expect(failure.activityType).toBe('flaky');
    expect(failure.cause).toBeInstanceOf(ApplicationFailure);
    expect(failure.cause?.message).toBe('attempt 3 failed');
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
    expect(eventTypes({ events: outcome.history })).toContain('ActivityTaskFailed');
  });

  test('an error type listed in nonRetryableErrorTypes is not retried', async () => {
    const attempts: AttemptRecord[] = [];
    const outcome = await runOne(
      'flaky',
      [{ failAttempts: 99, errorType: 'Fatal' } satisfies FlakySpec],
      { startToCloseTimeout: '1 minute', retry: { initialInterval: '1s', maximumAttempts: 10, nonRetryableErrorTypes: ['Fatal'] } },
      { attempts },
    );
    const failure = activityFailureOf(outcome);
    expect(failure.retryState).toBe('NON_RETRYABLE_FAILURE');
    expect((failure.cause as ApplicationFailure).type).toBe('Fatal');
    expect(attempts).toHaveLength(1);
  });

  test('an error type not listed in nonRetryableErrorTypes is retried', async () => {
    const attempts: AttemptRecord[] = [];
    const outcome = await runOne(
      'flaky',
      [{ failAttempts: 2, errorType: 'Transient' } satisfies FlakySpec],
      { startToCloseTimeout: '1 minute', retry: { initialInterval: '1s', maximumAttempts: 10, nonRetryableErrorTypes: ['Fatal'] } },
      { attempts },
    );
    expect(outcome.result).toBe('succeeded on attempt 3');
    expect(attempts).toHaveLength(3);
  });

  test('ApplicationFailure with nonRetryable: true is not retried', async () => {
    const attempts: AttemptRecord[] = [];
    const outcome = await runOne(
      'flaky',
      [{ failAttempts: 99, nonRetryable: true } satisfies FlakySpec],
      { startToCloseTimeout: '1 minute', retry: { initialInterval: '1s', maximumAttempts: 10 } },
      { attempts },
    );
    const failure = activityFailureOf(outcome);
    expect(failure.retryState).toBe('NON_RETRYABLE_FAILURE');
    expect((failure.cause as ApplicationFailure).nonRetryable).toBe(true);
    expect(attempts).toHaveLength(1);
  });

  test("an ApplicationFailure's nextRetryDelay overrides the retry policy's interval", async () => {
    const attempts: AttemptRecord[] = [];
    const outcome = await runOne(
      'flaky',
      [{ failAttempts: 1, nextRetryDelay: '3 hours' } satisfies FlakySpec],
      { startToCloseTimeout: '1 minute', retry: { initialInterval: '1s', maximumAttempts: 3 } },
      { attempts },
    );
    expect(outcome.result).toBe('succeeded on attempt 2');
    const [gap] = gaps(attempts);
    expect(gap).toBeGreaterThanOrEqual(3 * HOUR);
    expect(gap).toBeLessThan(3 * HOUR + 10 * SECOND);
    expect(outcome.elapsedServerMs).toBeGreaterThanOrEqual(3 * HOUR);
  });
});

describe('timeouts', () => {
  test('start-to-close: a too-slow attempt times out and the retry succeeds', async () => {
    const attempts: AttemptRecord[] = [];
    const outcome = await runOne(
      'slow',
      [{ slowAttempts: 1, sleepMs: 15_000 } satisfies SlowSpec],
      { startToCloseTimeout: '2s', retry: { initialInterval: '1s', maximumAttempts: 3 } },
      { attempts },
    );
    expect(outcome.result).toBe('attempt 2');
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2]);
    const started = startedEvents(outcome.history)[0]?.activityTaskStartedEventAttributes;
    expect(started?.attempt).toBe(2);
    expect(started?.lastFailure?.timeoutFailureInfo?.timeoutType).toBe(1 /* TIMEOUT_TYPE_START_TO_CLOSE */);
  });

  test('start-to-close: once attempts run out the failure is a START_TO_CLOSE timeout', async () => {
    const outcome = await runOne('slow', [{ slowAttempts: 99, sleepMs: 15_000 } satisfies SlowSpec], {
      startToCloseTimeout: '1s',
      retry: { initialInterval: '1s', maximumAttempts: 2 },
    });
    expectTimeout(activityFailureOf(outcome), 'START_TO_CLOSE', 'MAXIMUM_ATTEMPTS_REACHED');
    expect(eventTypes({ events: outcome.history })).toContain('ActivityTaskTimedOut');
  });

  test('schedule-to-close: an attempt still running at the deadline fails with a SCHEDULE_TO_CLOSE timeout', async () => {
    const outcome = await runOne('slow', [{ slowAttempts: 99, sleepMs: 15_000 } satisfies SlowSpec], {
      scheduleToCloseTimeout: '2s',
      retry: { initialInterval: '1s', maximumAttempts: 5 },
    });
    // A schedule-to-close timeout is not retryable: the real dev server says NON_RETRYABLE_FAILURE.
    expectTimeout(activityFailureOf(outcome), 'SCHEDULE_TO_CLOSE', 'NON_RETRYABLE_FAILURE');
  });

  test('schedule-to-close bounds retries: no attempt is scheduled past the deadline', async () => {
    const attempts: AttemptRecord[] = [];
    // Attempts at ~0 s, 10 s, 30 s, 70 s; the next would be at ~150 s, past the 100 s deadline.
    const outcome = await runOne(
      'flaky',
      [{ failAttempts: 99 } satisfies FlakySpec],
      { scheduleToCloseTimeout: '100s', startToCloseTimeout: '5s', retry: { initialInterval: '10s', backoffCoefficient: 2 } },
      { attempts },
    );
    const failure = activityFailureOf(outcome);
    expect(failure.retryState).toBe('TIMEOUT');
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3, 4]);
  });

  test('heartbeat: a silent attempt times out, and the retry gets the last heartbeat details', async () => {
    const attempts: AttemptRecord[] = [];
    const outcome = await runOne(
      'heartbeatThenStall',
      ['progress-1', 20_000],
      { startToCloseTimeout: '1 minute', heartbeatTimeout: '2s', retry: { initialInterval: '1s', maximumAttempts: 3 } },
      { attempts },
    );
    expect(outcome.result).toBe('progress-1');
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2]);
    expect(attempts[1]?.heartbeatDetails).toBe('progress-1');
    const started = startedEvents(outcome.history)[0]?.activityTaskStartedEventAttributes;
    expect(started?.lastFailure?.timeoutFailureInfo?.timeoutType).toBe(4 /* TIMEOUT_TYPE_HEARTBEAT */);
  });

  test('heartbeat: with no attempts left the failure is a HEARTBEAT timeout carrying the last details', async () => {
    const outcome = await runOne('heartbeatThenStall', ['progress-2', 20_000], {
      startToCloseTimeout: '1 minute',
      heartbeatTimeout: '2s',
      retry: { maximumAttempts: 1 },
    });
    const timeout = expectTimeout(activityFailureOf(outcome), 'HEARTBEAT', 'MAXIMUM_ATTEMPTS_REACHED');
    expect(timeout.lastHeartbeatDetails).toBe('progress-2');
  });

  test('schedule-to-start: an activity on a queue nobody polls times out without ever starting', async () => {
    const outcome = await runOne('greet', ['nobody'], {
      taskQueue: uniqueTaskQueue('act-unpolled'),
      scheduleToStartTimeout: '2s',
      startToCloseTimeout: '10s',
    });
    expectTimeout(activityFailureOf(outcome), 'SCHEDULE_TO_START');
    expect(outcome.elapsedServerMs).toBeGreaterThanOrEqual(2 * SECOND);
    expect(eventTypes({ events: outcome.history })).toContain('ActivityTaskTimedOut');
  });
});

describe('heartbeats and cancellation', () => {
  test('heartbeat details recorded before a failure are handed to the next attempt', async () => {
    const attempts: AttemptRecord[] = [];
    const outcome = await runOne(
      'heartbeatThenFail',
      [[1, 2, 3]],
      { startToCloseTimeout: '1 minute', retry: { initialInterval: '1s', maximumAttempts: 3 } },
      { attempts },
    );
    expect(outcome.result).toBe(3);
    expect(attempts.map((a) => a.heartbeatDetails)).toEqual([undefined, 3]);
  });

  test('cancelling a heartbeating activity delivers the cancellation to it and records it in history', async () => {
    const taskQueue = uniqueTaskQueue('act-cancel');
    const events: string[] = [];
    // The cancellation reaches the activity in a heartbeat response; the SDK throttles heartbeats to
    // 0.8 × heartbeatTimeout (8 s here) unless its cap is lower, so cap it to keep the test quick.
    const workerOptions = { taskQueue, activities: createActivities({ client: env.client, events }), maxHeartbeatThrottleInterval: 200 };
    await runWorker(env, workerOptions, async () => {
      const handle = await env.client.workflow.start(cancelRunningActivity, { workflowId: uniqueWorkflowId('act-cancel'), taskQueue });
      await expect(handle.result()).resolves.toBe('activity cancelled');
      expect(events).toHaveLength(1);
      expect(events[0]).toMatch(/^cancelled/);
      const types = eventTypes(await handle.fetchHistory());
      const requested = types.indexOf('ActivityTaskCancelRequested');
      expect(requested).toBeGreaterThan(0);
      expect(types.indexOf('ActivityTaskCanceled')).toBeGreaterThan(requested);
      expect(types).not.toContain('ActivityTaskCompleted');
    });
  });
});
