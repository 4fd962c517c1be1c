/**
 * Workflows driven by the workflow-tier tests. Deterministic code only: `@temporalio/workflow`, the shared
 * definitions, and activity *types*.
 */
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  patched,
  proxyActivities,
  scheduleActivity,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { FlakySpec, TestActivities } from '../activities';
import { activityStartedSignal, addSignal, countQuery, finishSignal, fixSignal, saKeys, stepSignal, valuesQuery } from './definitions';

/** Short activities: a test that needs other timeouts or retries states them itself. */
const quick = proxyActivities<TestActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumAttempts: 5 },
});

// ---------------------------------------------------------------------------------------------------------------
// Start semantics

export async function echo(value: string): Promise<string> {
  return value;
}

/** Runs until signalled `finish`; answers the `values` query with the `add` signals received so far. */
export async function waitForFinish(): Promise<string> {
  const values: string[] = [];
  let finished: string | undefined;
  setHandler(addSignal, (value) => void values.push(value));
  setHandler(valuesQuery, () => values);
  setHandler(finishSignal, (value) => {
    finished = value;
  });
  await condition(() => finished !== undefined);
  return finished ?? '';
}

export async function failWith(message: string): Promise<never> {
  throw ApplicationFailure.create({ message, type: 'TestFailure', nonRetryable: true });
}

/** What the workflow itself sees of its memo and search attributes. */
export interface StartInfo {
  memo: Record<string, unknown> | undefined;
  searchAttributes: Record<string, unknown>;
  workflowType: string;
  taskQueue: string;
}

export async function reportStartInfo(): Promise<StartInfo> {
  const info = workflowInfo();
  const searchAttributes: Record<string, unknown> = {};
  for (const pair of info.typedSearchAttributes.getAll()) {
    searchAttributes[pair.key.name] = pair.value instanceof Date ? pair.value.toISOString() : pair.value;
  }
  return { memo: info.memo, searchAttributes, workflowType: info.workflowType, taskQueue: info.taskQueue };
}

/** Collects `add` signals until `count` have arrived. */
export async function collectSignals(count: number): Promise<string[]> {
  const values: string[] = [];
  setHandler(addSignal, (value) => void values.push(value));
  await condition(() => values.length >= count);
  return values;
}

/** Takes a patch (the SDK then upserts the predefined TemporalChangeVersion attribute) and waits for `finish`. */
export async function patchedThenWait(): Promise<boolean> {
  const isPatched = patched('fqo-patch-1');
  let finished = false;
  setHandler(finishSignal, () => {
    finished = true;
  });
  await condition(() => finished);
  return isPatched;
}

// ---------------------------------------------------------------------------------------------------------------
// Workflow tasks

export async function greetOnce(name: string): Promise<string> {
  return await quick.greet(name);
}

/** An activity signals this workflow; both the activity result and the signal must reach the workflow. */
export async function signalFromActivity(): Promise<{ activity: string; signals: string[] }> {
  const signals: string[] = [];
  setHandler(addSignal, (value) => void signals.push(value));
  const activity = await quick.signalWorkflow('from-activity');
  await condition(() => signals.length > 0);
  return { activity, signals };
}

/** Spends CPU in its first workflow task (so signals can arrive while it runs), then waits for `finish`. */
export async function busyThenWait(iterations: number): Promise<string> {
  let finished: string | undefined;
  setHandler(finishSignal, (value) => {
    finished = value;
  });
  let acc = 0;
  for (let i = 0; i < iterations; i += 1) acc = (acc + i) % 1_000_003;
  await condition(() => finished !== undefined);
  return `${finished ?? ''}:${acc >= 0 ? 'ok' : 'never'}`;
}

/**
 * Completes as soon as it has seen one `add` signal, returning every value it saw. A signal accepted by the
 * server while the completing task ran must still be delivered (UNHANDLED_COMMAND), so none is ever lost.
 */
export async function firstToArrive(): Promise<string[]> {
  const values: string[] = [];
  setHandler(addSignal, (value) => void values.push(value));
  await condition(() => values.length > 0);
  return values;
}

/** Queryable state: `values` lists `add` signals; `count(n)` answers their number plus n. */
export async function queryable(): Promise<string[]> {
  const values: string[] = [];
  let finished = false;
  setHandler(addSignal, (value) => void values.push(value));
  setHandler(valuesQuery, () => values);
  setHandler(countQuery, (extra) => values.length + extra);
  setHandler(finishSignal, () => {
    finished = true;
  });
  await condition(() => finished);
  return values;
}

/** Fails its first workflow task with a plain Error (a task failure, not a workflow failure); the retry succeeds. */
export async function failFirstTask(): Promise<string> {
  // The first task sees events 1-3 only; any retry sees at least the WorkflowTaskFailed event as well.
  if (workflowInfo().historyLength <= 3) throw new Error('transient bug in the first workflow task');
  return 'recovered';
}

/**
 * After a `step` signal, every workflow task fails with a plain Error until a `fix` signal is in the history.
 * The SDK reports only the first failure; later attempts are left to time out (workflowTaskTimeout), so the run
 * completes only if the server retries timed-out workflow tasks.
 */
export async function failUntilFixed(): Promise<string> {
  let stepped = false;
  let fixed = false;
  setHandler(stepSignal, () => {
    stepped = true;
  });
  setHandler(fixSignal, () => {
    fixed = true;
  });
  await condition(() => stepped);
  if (!fixed) throw new Error('workflow task keeps failing until fixed');
  return 'fixed';
}

export async function sleepThenReturn(ms: number): Promise<number> {
  const started = Date.now();
  await sleep(ms);
  return Date.now() - started;
}

/** On cancellation, runs a non-cancellable cleanup activity and completes normally. */
export async function cleanupOnCancel(): Promise<string> {
  try {
    await sleep('1 day');
    return 'not cancelled';
  } catch (err) {
    if (!isCancellation(err)) throw err;
    await CancellationScope.nonCancellable(() => quick.record('cleanup'));
    return 'cleaned up';
  }
}

export interface CountdownResult {
  total: number;
  runId: string;
  continuedFromExecutionRunId?: string;
  firstExecutionRunId: string;
}

/** Continues as new `n` times, summing n + (n-1) + ... into `acc`. */
export async function countdown(n: number, acc = 0): Promise<CountdownResult> {
  if (n > 0) await continueAsNew<typeof countdown>(n - 1, acc + n);
  const info = workflowInfo();
  return {
    total: acc,
    runId: info.runId,
    continuedFromExecutionRunId: info.continuedFromExecutionRunId,
    firstExecutionRunId: info.firstExecutionRunId,
  };
}

/** Sleeps `intervalMs`, then continues as new until `remaining` reaches 0 (for execution timeouts across runs). */
export async function continueEvery(intervalMs: number, remaining: number): Promise<string> {
  await sleep(intervalMs);
  if (remaining > 0) await continueAsNew<typeof continueEvery>(intervalMs, remaining - 1);
  return 'done';
}

/** Upserts search attributes in two steps, each after a `step` signal; completes after a third. */
export async function upsertSteps(tag: string): Promise<void> {
  let steps = 0;
  setHandler(stepSignal, () => {
    steps += 1;
  });
  upsertSearchAttributes([
    { key: saKeys.keyword, value: tag },
    { key: saKeys.int, value: 7 },
  ]);
  await condition(() => steps >= 1);
  upsertSearchAttributes([
    { key: saKeys.int, value: null },
    { key: saKeys.keywordList, value: ['x', 'y'] },
    { key: saKeys.bool, value: true },
  ]);
  await condition(() => steps >= 2);
}

// ---------------------------------------------------------------------------------------------------------------
// Activities

/** Runs one activity by type name with options chosen by the test; failures propagate as ActivityFailure. */
export async function runActivity(activityType: string, args: unknown[], options: ActivityOptions): Promise<unknown> {
  return await scheduleActivity(activityType, args, options);
}

/** Starts one `rendezvous` activity per id at once. */
export async function parallelRendezvous(ids: string[]): Promise<string[]> {
  const acts = proxyActivities<TestActivities>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 1 } });
  return await Promise.all(ids.map((id) => acts.rendezvous(id)));
}

/** Cancels a heartbeating activity once it reports it is running, and waits for the cancellation to complete. */
export async function cancelRunningActivity(): Promise<string> {
  const acts = proxyActivities<TestActivities>({
    startToCloseTimeout: '1 minute',
    heartbeatTimeout: '10s',
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { maximumAttempts: 1 },
  });
  let started = false;
  setHandler(activityStartedSignal, () => {
    started = true;
  });
  const scope = new CancellationScope();
  const result = scope.run(() => acts.heartbeatUntilCancelled());
  await condition(() => started);
  scope.cancel();
  try {
    return await result;
  } catch (err) {
    if (isCancellation(err)) return 'activity cancelled';
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Timers

/** `condition` with a timeout: false when the timer wins, true when a `finish` signal arrives first. */
export async function waitWithTimeout(timeoutMs: number): Promise<boolean> {
  let finished = false;
  setHandler(finishSignal, () => {
    finished = true;
  });
  return await condition(() => finished, timeoutMs);
}

// ---------------------------------------------------------------------------------------------------------------
// Bad input

/** Runs `captureToken`, then waits for `finish`: the test reuses the completed activity's task token meanwhile. */
export async function activityThenWait(value: string): Promise<string> {
  let finished: string | undefined;
  setHandler(finishSignal, (v) => {
    finished = v;
  });
  const fromActivity = await quick.captureToken(value);
  await condition(() => finished !== undefined);
  return `${fromActivity}+${finished ?? ''}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Replay: one representative run per stage

/**
 * Stage 0: three parallel activities (one retried), a one-hour timer, a signal, then continue-as-new.
 * Stage 1: one activity and completion.
 */
export async function replaySample(stage: number): Promise<string> {
  const acts = proxyActivities<TestActivities>({
    startToCloseTimeout: '30s',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumAttempts: 5 },
  });
  if (stage === 0) {
    const flakySpec: FlakySpec = { failAttempts: 2 };
    const results = await Promise.all([acts.greet('a'), acts.flaky(flakySpec), acts.greet('c')]);
    await sleep('1 hour');
    let signalled: string | undefined;
    setHandler(addSignal, (value) => {
      signalled = value;
    });
    await condition(() => signalled !== undefined);
    await continueAsNew<typeof replaySample>(1);
    return results.join(',');
  }
  return await acts.greet(`stage ${stage}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Durable server (kill -9 and restart)

/** Runs `count` `durableStep` activities one after another; returns what they returned. */
export async function durableSteps(count: number): Promise<string[]> {
  const acts = proxyActivities<{ durableStep(i: number): Promise<string> }>({
    startToCloseTimeout: '2m',
    retry: { initialInterval: '100ms', maximumAttempts: 5 },
  });
  const out: string[] = [];
  for (let i = 1; i <= count; i++) out.push(await acts.durableStep(i));
  return out;
}
