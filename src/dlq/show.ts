/** `dlq show`: one dead-letter entry in full — the event, every action's outcome, the failure. */
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import type { ChangeEvent } from '../events/types';
import type { ActionOutcome } from '../contract';
import { DlqNotFoundError } from './errors';
import { quote } from './filters';
import { DEFAULT_WORKFLOW_ID_PREFIX, eventIdOf, toWorkflowId } from '../contract';
import { isNotFound, listAllRuns, readRun, runAttributes } from './runs';

/** One action of the run, as `dlq show` reports it. */
export interface ShownAction {
  key: string;
  observer: string;
  type: string;
  status: ActionOutcome['status'];
  failurePolicy: string;
  attempts: number;
  errorType: string | null;
  errorMessage: string | null;
  retryState: string | null;
}

export interface DlqShowResult {
  workflowId: string;
  runId: string;
  eventId: string | null;
  /** This run's status (FAILED for a DLQ entry). */
  status: string;
  /** The latest run of this workflow id: when it is not this run, the entry has been retried. */
  latestRun: { runId: string; status: string };
  taskQueue: string;
  startTime: string;
  closeTime: string | null;
  historyLength: number;
  summary: string | null;
  entityType: string | null;
  kind: string | null;
  observers: string[];
  failedActions: string[];
  /** The run's failure: `ActionsFailed` and its message for a DLQ entry. */
  failure: { type: string | null; message: string } | null;
  /** The change event, from the run's input. */
  event: ChangeEvent | null;
  actions: ShownAction[];
  /** Observers the listener skipped because their condition errored. */
  conditionErrors: Array<{ observer: string; message: string }>;
  /** Set when this run was itself a DLQ retry. */
  retry: { retryNumber: number; previousRunId: string; actionKeys: string[] } | null;
}

export interface ShowDlqOptions {
  /** A specific run; default the latest failed run of the id. */
  runId?: string;
  workflowIdPrefix?: string;
}

/** What show needs of a run, from a list record or a describe. */
type RunInfo = Omit<WorkflowExecutionInfo, 'raw'>;

function shown(o: ActionOutcome): ShownAction {
  return {
    key: o.key,
    observer: o.observer,
    type: o.type,
    status: o.status,
    failurePolicy: o.failurePolicy,
    attempts: o.attempts,
    errorType: o.error?.type ?? null,
    errorMessage: o.error?.message ?? null,
    retryState: o.error?.retryState ?? null,
  };
}

/** The newest failed run of an id, or a not-found error that says what there is instead. */
async function latestFailedRun(client: Client, workflowId: string): Promise<RunInfo> {
  const { runs } = await listAllRuns(client, `WorkflowId = ${quote(workflowId)} AND ExecutionStatus = 'Failed'`, 10_000);
  const newest = runs.reduce<WorkflowExecutionInfo | undefined>(
    (best, r) => (!best || (r.closeTime?.getTime() ?? 0) > (best.closeTime?.getTime() ?? 0) ? r : best),
    undefined,
  );
  if (newest) return newest;
  try {
    const latest = await client.workflow.getHandle(workflowId).describe();
    throw new DlqNotFoundError(workflowId, `${workflowId} has no failed run: its latest run ${latest.runId} is ${latest.status.name}`);
  } catch (err) {
    if (isNotFound(err)) throw new DlqNotFoundError(workflowId, `No workflow ${workflowId} is retained by Temporal (wrong id, or past the namespace's retention)`);
    throw err;
  }
}

async function describeRun(client: Client, workflowId: string, runId?: string): Promise<RunInfo> {
  try {
    return await client.workflow.getHandle(workflowId, runId).describe();
  } catch (err) {
    if (isNotFound(err)) {
      throw new DlqNotFoundError(workflowId, runId ? `Temporal does not retain run ${runId} of ${workflowId}` : `No workflow ${workflowId} is retained by Temporal`);
    }
    throw err;
  }
}

/**
 * Shows a dead-letter entry: the change event from the run's input, each action's outcome (status,
 * attempts, error type and message), the failure and the history length.
 *
 * @param id - a workflow id, or a bare event id (the prefix is added)
 * @throws DlqNotFoundError when the id (or run) is not retained, or has no failed run
 */
export async function showDlq(client: Client, id: string, options: ShowDlqOptions = {}): Promise<DlqShowResult> {
  const prefix = options.workflowIdPrefix ?? DEFAULT_WORKFLOW_ID_PREFIX;
  const workflowId = toWorkflowId(id, prefix);
  const info = options.runId ? await describeRun(client, workflowId, options.runId) : await latestFailedRun(client, workflowId);
  const [record, described, latest] = await Promise.all([
    readRun(client, workflowId, info.runId),
    client.workflow.getHandle(workflowId, info.runId).describe(),
    describeRun(client, workflowId),
  ]);
  const summary = record.failedResult ?? record.result;
  const input = record.input;
  const attributes = runAttributes(info);
  return {
    workflowId,
    runId: info.runId,
    eventId: input?.event?.id ?? eventIdOf(workflowId, prefix),
    status: info.status.name,
    latestRun: { runId: latest.runId, status: latest.status.name },
    taskQueue: info.taskQueue,
    startTime: info.startTime.toISOString(),
    closeTime: info.closeTime?.toISOString() ?? null,
    historyLength: record.historyLength,
    summary: (await described.staticSummary()) ?? null,
    ...attributes,
    failedActions: attributes.failedActions.length > 0 ? attributes.failedActions : (summary?.failedActions ?? []),
    failure: record.failure,
    event: input?.event ?? null,
    actions: (summary?.actions ?? []).map(shown),
    conditionErrors: input?.conditionErrors ?? [],
    retry: input?.retry ? { retryNumber: input.retry.retryNumber, previousRunId: input.retry.previousRunId, actionKeys: input.retry.actionKeys } : null,
  };
}
