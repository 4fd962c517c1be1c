/**
 * The workflow part of the contract: the `processChangeEvent` input the listener and `dlq retry`
 * build, the result the workflow returns, and how workflow ids are formed.
 *
 * Types and constants only (no I/O): workflow code imports this file. The input is a snapshot
 * taken by the listener at match time, so later config changes never alter a running workflow;
 * its JSON shape is what committed histories hold, so fields are only ever added, optional.
 */
import type { FailurePolicy, Ordering, RetryPolicy } from '../config/observers';
import type { ChangeEvent } from '../events/types';
import type { ActionResult, ActionSnapshot, ActionType } from './actions';

/** The workflow type name the listener and `dlq retry` start. */
export const PROCESS_CHANGE_EVENT = 'processChangeEvent';

/** `ApplicationFailure.type` of a run that ends Failed because actions failed (a DLQ entry). */
export const ACTIONS_FAILED = 'ActionsFailed';

/** The listener's default workflow id prefix (`WORKFLOW_ID_PREFIX`). */
export const DEFAULT_WORKFLOW_ID_PREFIX = 'fraiseql-event';

/** The workflow id of a change event: `<prefix>:<event id>` (one workflow per event, whoever starts it). */
export function workflowIdOf(eventId: string, prefix: string = DEFAULT_WORKFLOW_ID_PREFIX): string {
  return `${prefix}:${eventId}`;
}

/**
 * The workflow id for what a person typed: a workflow id as is, or a bare event id with the
 * prefix added. Event ids are UUIDs (no `:`), and every workflow id this service starts contains
 * one, so a `:` tells the two apart even when the prefix is not the configured one.
 */
export function toWorkflowId(id: string, prefix: string = DEFAULT_WORKFLOW_ID_PREFIX): string {
  const trimmed = id.trim();
  if (trimmed.includes(':')) return trimmed;
  return workflowIdOf(trimmed, prefix);
}

/** The event id inside a workflow id (the part after the prefix), or null when it has none. */
export function eventIdOf(workflowId: string, prefix: string = DEFAULT_WORKFLOW_ID_PREFIX): string | null {
  if (workflowId.startsWith(`${prefix}:`)) return workflowId.slice(prefix.length + 1) || null;
  const cut = workflowId.lastIndexOf(':');
  return cut >= 0 && cut < workflowId.length - 1 ? workflowId.slice(cut + 1) : null;
}

/** One observer that applies to an event, with everything the workflow needs to run it. */
export interface ObserverMatch {
  observer: string;
  actions: ActionSnapshot[];
  retry: RetryPolicy;
  failurePolicy: FailurePolicy;
  ordering: Ordering;
  timeoutMs: number | null;
}

export interface ProcessChangeEventInput {
  event: ChangeEvent;
  matches: ObserverMatch[];
  /** Observers skipped because their condition errored, with the reason (visible in history). */
  conditionErrors: Array<{ observer: string; message: string }>;
  /** When the listener read the row (ISO-8601). */
  readAt: string;
  /**
   * Set by `dlq retry`: this run re-runs only `actionKeys` (the failed actions of `previousRunId`);
   * every other action is carried over from `carried` as already done and is not called again.
   */
  retry?: DlqRetry;
  /**
   * Per-entity ordering: the workflow id of the previous event of the same entity that a
   * `per_entity` observer matched. The run waits (activity `awaitPredecessor`) until that workflow
   * has closed before running its `per_entity` observers' actions.
   */
  predecessorWorkflowId?: string;
  /**
   * Observers that matched but skipped this event in their dedup window (set by the listener, see
   * `listener/dedup-starter.ts`): their actions are not in `matches`. `duplicateOf` is the event
   * that opened the window.
   */
  deduplicated?: DedupSkip[];
}

/** One observer's dedup-window skip of an event. */
export interface DedupSkip {
  observer: string;
  duplicateOf: string;
}

/** Input of the `awaitPredecessor` activity (implemented in `src/activities/ordering.ts`). */
export interface AwaitPredecessorInput {
  workflowId: string;
}

/** Result of `awaitPredecessor`: how the predecessor ended ('not_found' when it is unknown or no longer retained). */
export interface AwaitPredecessorResult {
  status: 'completed' | 'failed' | 'terminated' | 'cancelled' | 'timed_out' | 'continued_as_new' | 'not_found';
  waitedMs: number;
}

/** The ordering activity the worker registers next to the action activities. */
export interface OrderingActivities {
  awaitPredecessor(input: AwaitPredecessorInput): Promise<AwaitPredecessorResult>;
}

export interface DlqRetry {
  previousRunId: string;
  /** Action keys to run again. */
  actionKeys: string[];
  /** The outcomes of actions that already succeeded in earlier runs (copied into this run's result). */
  carried: ActionOutcome[];
  /** 1 for the first DLQ retry of this workflow id, 2 for the next, ... */
  retryNumber: number;
}

/** What happened to one action in a run. */
export interface ActionOutcome {
  /** `<observer>:<index>`: names the action in results, idempotency keys and DLQ retries. */
  key: string;
  observer: string;
  type: ActionType;
  /**
   * succeeded: this run called it and it succeeded; carried: it succeeded in an earlier run
   * (DLQ retry) and was not called again; failed: permanent failure or retries exhausted.
   */
  status: 'succeeded' | 'carried' | 'failed';
  failurePolicy: FailurePolicy;
  /** Attempts this run made (0 for carried). */
  attempts: number;
  /** The activity result, on success. */
  result?: ActionResult;
  /**
   * Set when the action result cache answered (the action has `cache:`): the action was not
   * performed by this run; `result` is the outcome of this event's run. See `result.cache`.
   */
  cachedFrom?: string;
  /** On failure: the error type (e.g. HttpClientError), its last message and Temporal's retry state. */
  error?: { type: string; message: string; retryState?: string; nonRetryable: boolean };
}

/**
 * The run's summary: the workflow result on success, and the single `details` entry of the
 * `ActionsFailed` ApplicationFailure when a `dlq` observer's action failed.
 */
export interface ProcessChangeEventResult {
  eventId: string;
  entityType: string;
  entityId: string | null;
  kind: string;
  /**
   * succeeded: every action succeeded (or was carried); tolerated: some failed, all of them under a
   * `log` / `alert` failure policy; failed: a `dlq` observer's action failed (the run fails).
   */
  status: 'succeeded' | 'tolerated' | 'failed';
  observers: string[];
  actions: ActionOutcome[];
  /** Keys of the failed actions (any policy). */
  failedActions: string[];
  /** Present on a DLQ retry run. */
  retryNumber?: number;
}

/**
 * The largest workflow input the listener starts, as JSON bytes: the payload size a Temporal
 * cluster accepts by default (2 MB per blob). A bigger event is recorded as a bad row instead of
 * being retried forever.
 */
export const MAX_WORKFLOW_INPUT_BYTES = 2 * 1024 * 1024;
