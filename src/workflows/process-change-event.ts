/**
 * `processChangeEvent`: one workflow per matched change event. Runs every action of every matched
 * observer in parallel as its own activity (with that observer's retry policy), waits for all of
 * them, and ends Failed with an `ActionsFailed` summary when a `dlq` observer's action failed —
 * that failed run is the dead-letter entry, and `dlq retry` starts a new run of the same id that
 * re-runs only the failed actions.
 *
 * Deterministic code only: everything with a side effect is an activity or a sink.
 */
import { ActivityFailure, ApplicationFailure, TimeoutFailure, log, proxyActivities, proxySinks, setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { ActivityOptions } from '@temporalio/workflow';
import {
  ACTIONS_FAILED,
  ACTION_HEARTBEAT_TIMEOUT_MS,
  ACTIVITY_OF,
  ATTEMPT_MARGIN_MS,
  BREAKER_WAIT_BUDGET_MS,
  actionTimeoutMs,
  type ActionFailureDetails,
  type ActionInput,
  type ActionOutcome,
  type ActionResult,
  type ActionSnapshot,
  type ObserverActivities,
  type ObserverMatch,
  type OrderingActivities,
  type ProcessChangeEventInput,
  type ProcessChangeEventResult,
} from '../contract';
import { FailedActions } from '../temporal/search-attributes';
import type { ObserverSinks } from './sinks';

const { observer: sinks } = proxySinks<ObserverSinks>();

/** Waiting for the previous event of the same entity: as long as it takes, heartbeating. */
const ordering = proxyActivities<OrderingActivities>({
  startToCloseTimeout: '1 day',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', backoffCoefficient: 2 },
});

/**
 * The activity options of one action: its observer's retry policy and timeouts. An attempt may
 * wait up to {@link BREAKER_WAIT_BUDGET_MS} for an open circuit breaker (heartbeating), so a
 * refusal does not use up an attempt; the heartbeat timeout finds a lost worker meanwhile.
 */
export function actionActivityOptions(match: ObserverMatch, action: ActionSnapshot): ActivityOptions {
  const retry = match.retry;
  const initialInterval = Math.max(1, retry.initialDelayMs);
  return {
    activityId: action.key,
    summary: `${action.type} (${match.observer})`,
    startToCloseTimeout: actionTimeoutMs(action) + ATTEMPT_MARGIN_MS + BREAKER_WAIT_BUDGET_MS,
    heartbeatTimeout: ACTION_HEARTBEAT_TIMEOUT_MS,
    ...(match.timeoutMs === null ? {} : { scheduleToCloseTimeout: match.timeoutMs }),
    retry: {
      maximumAttempts: retry.maxAttempts,
      initialInterval,
      maximumInterval: Math.max(initialInterval, retry.maxDelayMs),
      // Linear backoff is not a Temporal policy: the activity sets each next delay itself.
      backoffCoefficient: retry.backoff === 'exponential' ? 2 : 1,
    },
  };
}

export async function processChangeEvent(input: ProcessChangeEventInput): Promise<ProcessChangeEventResult> {
  const { event } = input;
  const info = workflowInfo();
  const rerun = input.retry ? new Set(input.retry.actionKeys) : null;
  const carried = new Map((input.retry?.carried ?? []).map((o) => [o.key, { ...o, status: 'carried' as const, attempts: 0 }]));

  // Observers without per-entity ordering start at once; ordered ones wait for the predecessor.
  let predecessor: Promise<unknown> | null = null;
  const needsOrder = input.predecessorWorkflowId !== undefined && input.matches.some((m) => m.ordering === 'per_entity');
  if (needsOrder && input.predecessorWorkflowId !== undefined) {
    predecessor = ordering.awaitPredecessor({ workflowId: input.predecessorWorkflowId });
  }

  const runs: Array<Promise<ActionOutcome>> = [];
  // The Web UI's "current details" while the run is open: one row per action, updated as each ends.
  const progress: Array<{ key: string; type: string; outcome: ActionOutcome | null }> = [];
  const showProgress = () => {
    const n = progress.length;
    setCurrentDetails(progressDetails(`Running ${n} action${n === 1 ? '' : 's'} for ${event.kind} ${event.entityType} ${event.entityId ?? ''}`, progress));
  };
  for (const match of input.matches) {
    for (const action of match.actions) {
      const done = carried.get(action.key);
      if (done) {
        runs.push(Promise.resolve(done));
        progress.push({ key: action.key, type: action.type, outcome: done });
        continue;
      }
      if (rerun && !rerun.has(action.key)) continue;
      const gate = match.ordering === 'per_entity' ? predecessor : null;
      const row: (typeof progress)[number] = { key: action.key, type: action.type, outcome: null };
      progress.push(row);
      runs.push(runAction(input, match, action, gate).then((outcome) => {
        row.outcome = outcome;
        showProgress();
        return outcome;
      }));
    }
  }
  showProgress();
  const actions = await Promise.all(runs);

  const failed = actions.filter((a) => a.status === 'failed');
  const status: ProcessChangeEventResult['status'] =
    failed.some((a) => a.failurePolicy === 'dlq') ? 'failed' : failed.length > 0 ? 'tolerated' : 'succeeded';
  const result: ProcessChangeEventResult = {
    eventId: event.id,
    entityType: event.entityType,
    entityId: event.entityId,
    kind: event.kind,
    status,
    observers: input.matches.map((m) => m.observer),
    actions,
    failedActions: failed.map((a) => a.key),
    ...(input.retry ? { retryNumber: input.retry.retryNumber } : {}),
  };

  setCurrentDetails(detailsOf(result));
  if (failed.length > 0) upsertSearchAttributes([{ key: FailedActions, value: result.failedActions }]);
  const finished = { workflowId: info.workflowId, runId: info.runId, result, commitTime: event.commitTime ?? event.createdAt, readAt: input.readAt };
  sinks.eventFinished(finished);
  if (failed.some((a) => a.failurePolicy === 'alert')) sinks.alert(finished);
  for (const a of failed) {
    log.warn(`action ${a.key} failed (${a.failurePolicy})`, { action_key: a.key, error_type: a.error?.type, error: a.error?.message, attempts: a.attempts });
  }

  if (status === 'failed') {
    const dlqFailed = failed.filter((a) => a.failurePolicy === 'dlq');
    const list = dlqFailed.map((a) => `${a.key} (${a.error?.type ?? 'Error'}: ${a.error?.message ?? 'failed'})`).join('; ');
    throw ApplicationFailure.create({
      type: ACTIONS_FAILED,
      message: `${dlqFailed.length} of ${actions.length} action${actions.length === 1 ? '' : 's'} failed: ${list}`,
      nonRetryable: true,
      details: [result],
    });
  }
  return result;
}

/** A readable per-action table for the Web UI's "current details" (Markdown). */
const TABLE_HEAD = ['| action | type | status | attempts | error |', '|---|---|---|---|---|'];

function outcomeRow(a: Pick<ActionOutcome, 'key' | 'type' | 'status' | 'attempts' | 'error' | 'cachedFrom'>): string {
  const status = a.cachedFrom === undefined ? a.status : `${a.status} (cache hit: not performed, outcome of event ${a.cachedFrom})`;
  return `| ${a.key} | ${a.type} | ${status} | ${a.attempts} | ${a.error ? `${a.error.type}: ${a.error.message}`.replace(/[|\n]/g, ' ') : ''} |`;
}

function detailsOf(result: ProcessChangeEventResult): string {
  return [`**${result.status}** — ${result.kind} ${result.entityType} ${result.entityId ?? ''}`.trim(), '', ...TABLE_HEAD, ...result.actions.map(outcomeRow)].join('\n');
}

/** The open run's details: a heading line, then each action's outcome so far (`running` until it ends). */
function progressDetails(heading: string, rows: ReadonlyArray<{ key: string; type: string; outcome: ActionOutcome | null }>): string {
  const lines = rows.map((r) => (r.outcome ? outcomeRow(r.outcome) : `| ${r.key} | ${r.type} | running |  |  |`));
  return [heading.trim(), '', ...TABLE_HEAD, ...lines].join('\n');
}

/** One action to its outcome; never throws (every failure becomes a `failed` outcome). */
async function runAction(input: ProcessChangeEventInput, match: ObserverMatch, action: ActionSnapshot, gate: Promise<unknown> | null): Promise<ActionOutcome> {
  const base = { key: action.key, observer: match.observer, type: action.type, failurePolicy: match.failurePolicy };
  const activities = proxyActivities<ObserverActivities>(actionActivityOptions(match, action));
  const activityInput: ActionInput = {
    event: input.event,
    action,
    observer: match.observer,
    backoff: { kind: match.retry.backoff, initialDelayMs: match.retry.initialDelayMs, maxDelayMs: match.retry.maxDelayMs },
  };
  try {
    if (gate) await gate;
    const run = activities[ACTIVITY_OF[action.type]] as (i: ActionInput) => Promise<ActionResult>;
    const result = await run(activityInput);
    const cachedFrom = result.cache?.hit === true ? result.cache.event_id : undefined;
    return { ...base, status: 'succeeded', attempts: result.attempt ?? 1, result, ...(cachedFrom === undefined ? {} : { cachedFrom }) };
  } catch (err) {
    return { ...base, status: 'failed', ...describeFailure(err, match) };
  }
}

function describeFailure(err: unknown, match: ObserverMatch): Pick<ActionOutcome, 'attempts' | 'error'> {
  if (!(err instanceof ActivityFailure)) {
    const message = err instanceof Error ? err.message : String(err);
    return { attempts: 0, error: { type: 'WorkflowError', message, nonRetryable: true } };
  }
  const retryState = err.retryState === undefined || err.retryState === null ? undefined : String(err.retryState);
  const cause = err.cause;
  const exhausted = retryState === 'MAXIMUM_ATTEMPTS_REACHED' ? match.retry.maxAttempts : undefined;
  if (cause instanceof ApplicationFailure) {
    const details = cause.details?.[0] as ActionFailureDetails | undefined;
    const attempts = typeof details?.attempt === 'number' ? details.attempt : (exhausted ?? 1);
    return { attempts, error: { type: cause.type ?? 'Error', message: cause.message, retryState, nonRetryable: cause.nonRetryable === true } };
  }
  if (cause instanceof TimeoutFailure) {
    return { attempts: exhausted ?? 1, error: { type: 'Timeout', message: `activity ${String(cause.timeoutType ?? 'timeout').toLowerCase()}: ${cause.message}`, retryState, nonRetryable: false } };
  }
  return { attempts: exhausted ?? 1, error: { type: cause?.name ?? 'Error', message: cause?.message ?? err.message, retryState, nonRetryable: false } };
}
