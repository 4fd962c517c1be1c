/**
 * `dlq retry` / `dlq retry-all`: a new run of the same workflow id that re-runs only the failed
 * actions and carries the succeeded ones over, so no target is ever called twice for one event
 * by a retry.
 */
import { type Client, type WorkflowExecutionDescription, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { TypedSearchAttributes, type SearchAttributePair } from '@temporalio/common';
import { ChangeLogPosition, EntityType, EventKind, ObserverNames } from '../temporal/search-attributes';
import { ACTIONS_FAILED, PROCESS_CHANGE_EVENT, type ActionOutcome, type ProcessChangeEventInput } from '../contract';
import type { CompiledObservers } from '../events/match';
import { mapLimit } from './concurrency';
import { rematchEvent, type ActionChange } from './rematch';
import { DlqError, DlqNotFoundError, DlqRetryRefusedError } from './errors';
import { parseLimit, parseRate, type DlqFilters } from './filters';
import { DEFAULT_WORKFLOW_ID_PREFIX, toWorkflowId } from '../contract';
import { listDlqEntries } from './entries';
import { isNotFound, readRun } from './runs';

/** What a retry does (or, in a dry run, would do). */
export interface RetryPlan {
  workflowId: string;
  /** The failed run this retry replaces. */
  previousRunId: string;
  /** 1 for the first DLQ retry of this id, 2 for the next, ... */
  retryNumber: number;
  /** The failed actions the new run calls again. */
  actionKeys: string[];
  /** Actions that already succeeded: carried over as done, not called again. */
  carriedKeys: string[];
  taskQueue: string;
  /** The new run's static summary. */
  summary: string;
  /** With the current config: what it changes, action by action (absent: the frozen config is reused). */
  configChanges?: ActionChange[];
}

/** A started retry. */
export interface RetryDlqResult extends RetryPlan {
  /** Run id of the new run. */
  runId: string;
}

export interface RetryDlqOptions {
  /** Task queue of the new run; default the failed run's own queue. */
  taskQueue?: string;
  workflowIdPrefix?: string;
  /**
   * Match the event again against these observers (the current file) instead of re-running the
   * configuration frozen into the failed run: a fixed URL, retry policy or timeout applies. Actions
   * that already succeeded are still carried over; action keys, and so idempotency keys, stay.
   */
  currentObservers?: CompiledObservers;
}

interface PreparedRetry {
  plan: RetryPlan;
  input: ProcessChangeEventInput;
  searchAttributes: SearchAttributePair[];
}

const RETRY_SUMMARY_RE = /^DLQ retry #\d+ \([^)]*\) — /;

async function describeLatest(client: Client, workflowId: string): Promise<WorkflowExecutionDescription> {
  try {
    return await client.workflow.getHandle(workflowId).describe();
  } catch (err) {
    if (isNotFound(err)) throw new DlqNotFoundError(workflowId, `No workflow ${workflowId} is retained by Temporal (wrong id, or past the namespace's retention)`);
    throw err;
  }
}

function refuseUnlessFailed(workflowId: string, latest: WorkflowExecutionDescription, summary: string | undefined): void {
  const retryNote = summary && RETRY_SUMMARY_RE.test(summary) ? ` (${summary.slice(0, summary.indexOf(' ('))})` : '';
  switch (latest.status.name) {
    case 'FAILED':
      return;
    case 'RUNNING':
      throw new DlqRetryRefusedError(workflowId, 'running', `${workflowId}: its latest run ${latest.runId} is still running${retryNote}; it is retried only if it fails`);
    case 'COMPLETED':
      throw new DlqRetryRefusedError(workflowId, 'completed', `${workflowId}: its latest run ${latest.runId} completed${retryNote}; it is no longer in the DLQ and is not retried again`);
    default:
      throw new DlqRetryRefusedError(workflowId, 'not_failed', `${workflowId}: its latest run ${latest.runId} ended ${latest.status.name}, not FAILED; only failed runs are DLQ entries`);
  }
}

function sameSearchAttributes(latest: WorkflowExecutionDescription, currentObservers?: string[]): SearchAttributePair[] {
  const sa = latest.typedSearchAttributes;
  const pairs: SearchAttributePair[] = [];
  const entity = sa.get(EntityType);
  const kind = sa.get(EventKind);
  const observers = currentObservers ?? sa.get(ObserverNames);
  const position = sa.get(ChangeLogPosition);
  if (entity !== undefined) pairs.push({ key: EntityType, value: entity });
  if (kind !== undefined) pairs.push({ key: EventKind, value: kind });
  if (observers !== undefined) pairs.push({ key: ObserverNames, value: observers });
  if (position !== undefined) pairs.push({ key: ChangeLogPosition, value: position });
  return pairs;
}

/**
 * Works out the retry of an id's latest run without starting anything (what `--dry-run` shows).
 *
 * @throws DlqRetryRefusedError when the latest run is not a failed `processChangeEvent` run with an
 *   `ActionsFailed` summary (still running, already retried and completed, terminated, ...)
 * @throws DlqNotFoundError when Temporal retains no such workflow
 */
export async function planRetry(client: Client, id: string, options: RetryDlqOptions = {}): Promise<PreparedRetry> {
  const workflowId = toWorkflowId(id, options.workflowIdPrefix ?? DEFAULT_WORKFLOW_ID_PREFIX);
  const latest = await describeLatest(client, workflowId);
  const previousSummary = await latest.staticSummary();
  refuseUnlessFailed(workflowId, latest, previousSummary);
  if (latest.type !== PROCESS_CHANGE_EVENT) {
    throw new DlqRetryRefusedError(workflowId, 'not_dlq_entry', `${workflowId} is a ${latest.type} workflow, not ${PROCESS_CHANGE_EVENT}; the DLQ retries change events only`);
  }
  const run = await readRun(client, workflowId, latest.runId);
  const failed = run.failedResult;
  if (!failed || !run.input) {
    const why = run.failure ? `failed with ${run.failure.type ?? 'an error'} (${run.failure.message})` : 'has no readable failure';
    throw new DlqRetryRefusedError(
      workflowId,
      'not_dlq_entry',
      `${workflowId}: run ${latest.runId} ${why}, not with an ${ACTIONS_FAILED} summary, so which actions already succeeded is unknown; not retrying (see \`dlq show ${workflowId}\`)`,
    );
  }
  let actionKeys = failed.actions.filter((a) => a.status === 'failed').map((a) => a.key);
  if (actionKeys.length === 0) {
    throw new DlqRetryRefusedError(workflowId, 'not_dlq_entry', `${workflowId}: run ${latest.runId} failed with no failed action recorded; nothing to re-run`);
  }
  // What succeeded in this run or was carried into it is done: the retry copies it and never calls it again.
  const carried: ActionOutcome[] = failed.actions
    .filter((a) => a.status === 'succeeded' || a.status === 'carried')
    .map((a) => ({ ...a, status: 'carried', attempts: 0 }));
  let base: ProcessChangeEventInput = run.input;
  let configChanges: ActionChange[] | undefined;
  if (options.currentObservers) {
    const r = rematchEvent(run.input.event, run.input.matches, options.currentObservers, new Set(carried.map((a) => a.key)));
    if (r.actionKeys.length === 0) {
      throw new DlqRetryRefusedError(
        workflowId,
        'nothing_to_run',
        `${workflowId}: with the current observers file no action of this event is left to run (every matching action already succeeded, or no observer matches it now); not retrying`,
      );
    }
    actionKeys = r.actionKeys;
    configChanges = r.changes;
    base = { ...run.input, matches: r.matches, conditionErrors: r.conditionErrors };
  }
  const retryNumber = (run.input.retry?.retryNumber ?? 0) + 1;
  const original = (previousSummary ?? '').replace(RETRY_SUMMARY_RE, '');
  const summary = `DLQ retry #${retryNumber} (re-runs ${actionKeys.join(', ')}) — ${original || workflowId}`;
  return {
    plan: {
      workflowId,
      previousRunId: latest.runId,
      retryNumber,
      actionKeys,
      carriedKeys: carried.map((a) => a.key),
      taskQueue: options.taskQueue ?? latest.taskQueue,
      summary,
      ...(configChanges ? { configChanges } : {}),
    },
    input: { ...base, retry: { previousRunId: latest.runId, actionKeys, carried, retryNumber } },
    searchAttributes: sameSearchAttributes(latest, configChanges ? base.matches.map((m) => m.observer) : undefined),
  };
}

/**
 * Retries a dead-letter entry: starts a new run of the same workflow id (allowed only because the
 * latest run failed) that re-runs only the failed actions, with the same search attributes and a
 * summary saying it is a DLQ retry.
 *
 * @param id - a workflow id, or a bare event id (the prefix is added)
 * @throws DlqRetryRefusedError when the latest run is not a failed DLQ entry, or another retry won the race
 * @throws DlqNotFoundError when Temporal retains no such workflow
 */
export async function retryDlq(client: Client, id: string, options: RetryDlqOptions = {}): Promise<RetryDlqResult> {
  const { plan, input, searchAttributes } = await planRetry(client, id, options);
  try {
    const handle = await client.workflow.start(PROCESS_CHANGE_EVENT, {
      workflowId: plan.workflowId,
      taskQueue: plan.taskQueue,
      args: [input],
      // Temporal itself enforces "only after a failure": a retry that races another one (or one
      // that already completed) is refused by the server, so an entry is never retried twice.
      workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
      workflowIdConflictPolicy: 'FAIL',
      typedSearchAttributes: new TypedSearchAttributes(searchAttributes),
      staticSummary: plan.summary,
    });
    return { ...plan, runId: handle.firstExecutionRunId };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw new DlqRetryRefusedError(plan.workflowId, 'already_retrying', `${plan.workflowId}: another run started after ${plan.previousRunId} failed (a concurrent retry); not retrying twice`);
    }
    throw err;
  }
}

/** One entry of a `retry-all`. */
export interface RetryAllItem {
  workflowId: string;
  /** The failed run. */
  previousRunId: string;
  /** would_retry: dry run; retried: new run started; refused: not retryable now (see message); failed: the start errored. */
  status: 'would_retry' | 'retried' | 'refused' | 'failed';
  actionKeys: string[];
  carriedKeys: string[];
  retryNumber: number | null;
  /** The new run (status retried). */
  runId: string | null;
  message: string | null;
  /** With the current config: what it changes (see {@link RetryPlan.configChanges}). */
  configChanges?: ActionChange[];
}

export interface RetryAllOptions {
  /** Change nothing; report what would be retried. */
  dryRun?: boolean;
  /** Retries started per second (default 10; 0.01–1000). */
  ratePerSecond?: number;
  /** At most this many entries (default 1000; 1–10 000). */
  limit?: number;
  taskQueue?: string;
  workflowIdPrefix?: string;
  /** As for {@link retryDlq}: re-match every entry against the current observers. */
  currentObservers?: CompiledObservers;
  /** Called as each entry is done, for progress output. */
  onItem?: (item: RetryAllItem) => void;
  now?: number;
  /** Pacing (tests): the clock and the sleep the rate limit uses. */
  clock?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface RetryAllResult {
  dryRun: boolean;
  query: string;
  /** Entries found (after `limit`). */
  matched: number;
  /** More entries matched than `limit`. */
  truncated: boolean;
  items: RetryAllItem[];
  counts: { wouldRetry: number; retried: number; refused: number; failed: number };
}

const changesOf = (plan: RetryPlan): Pick<RetryAllItem, 'configChanges'> => (plan.configChanges ? { configChanges: plan.configChanges } : {});

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function refusedItem(workflowId: string, previousRunId: string, err: unknown): RetryAllItem {
  const known = err instanceof DlqError;
  return {
    workflowId,
    previousRunId,
    status: known ? 'refused' : 'failed',
    actionKeys: [],
    carriedKeys: [],
    retryNumber: null,
    runId: null,
    message: err instanceof Error ? err.message : String(err),
  };
}

/**
 * Retries every dead-letter entry the filters select, at most `ratePerSecond` starts per second.
 * A dry run reads the entries and their failures and starts nothing.
 *
 * @throws DlqInputError naming the flag of a bad filter, rate or limit
 */
export async function retryAll(client: Client, filters: DlqFilters, options: RetryAllOptions = {}): Promise<RetryAllResult> {
  const rate = parseRate(options.ratePerSecond ?? 10);
  const limit = parseLimit(options.limit ?? 1000);
  const sleep = options.sleep ?? realSleep;
  const listed = await listDlqEntries(client, filters, limit, options.now);
  const { query, entries } = listed;
  const retryOptions: RetryDlqOptions = { taskQueue: options.taskQueue, workflowIdPrefix: options.workflowIdPrefix, currentObservers: options.currentObservers };
  const report = (item: RetryAllItem): RetryAllItem => {
    options.onItem?.(item);
    return item;
  };
  let items: RetryAllItem[];
  if (options.dryRun) {
    items = await mapLimit(entries, 4, async (e) => {
      try {
        const { plan } = await planRetry(client, e.workflowId, retryOptions);
        return report({ workflowId: e.workflowId, previousRunId: plan.previousRunId, status: 'would_retry', actionKeys: plan.actionKeys, carriedKeys: plan.carriedKeys, retryNumber: plan.retryNumber, runId: null, message: null, ...changesOf(plan) });
      } catch (err) {
        return report(refusedItem(e.workflowId, e.runId, err));
      }
    });
  } else {
    items = [];
    const intervalMs = 1000 / rate;
    const clock = options.clock ?? Date.now;
    const began = clock();
    for (const [i, e] of entries.entries()) {
      // Paced from the start, not between calls, so slow starts do not lower the rate further.
      const wait = began + i * intervalMs - clock();
      if (wait > 0) await sleep(wait);
      try {
        const r = await retryDlq(client, e.workflowId, retryOptions);
        items.push(report({ workflowId: r.workflowId, previousRunId: r.previousRunId, status: 'retried', actionKeys: r.actionKeys, carriedKeys: r.carriedKeys, retryNumber: r.retryNumber, runId: r.runId, message: null, ...changesOf(r) }));
      } catch (err) {
        items.push(report(refusedItem(e.workflowId, e.runId, err)));
      }
    }
  }
  const count = (s: RetryAllItem['status']): number => items.filter((i) => i.status === s).length;
  return {
    dryRun: options.dryRun === true,
    query,
    matched: entries.length,
    truncated: listed.truncated,
    items,
    counts: { wouldRetry: count('would_retry'), retried: count('retried'), refused: count('refused'), failed: count('failed') },
  };
}
