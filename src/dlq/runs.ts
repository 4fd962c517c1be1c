/**
 * Reading runs of `processChangeEvent` through Temporal: visibility pages, each workflow id's
 * latest run, and one run's input and outcome decoded with the client's data converter.
 */
import { ApplicationFailure, type Client, type WorkflowExecutionInfo } from '@temporalio/client';
import { executionInfoFromRaw } from '@temporalio/client/lib/helpers';
import { decodeArrayFromPayloads, decodeOptionalFailureToOptionalError } from '@temporalio/common/lib/internal-non-workflow/codec-helpers';
import { temporal } from '@temporalio/proto';
import { ChangeLogPosition, EntityType, EventKind, FailedActions, ObserverNames } from '../temporal/search-attributes';
import { ACTIONS_FAILED, type ProcessChangeEventInput, type ProcessChangeEventResult } from '../contract';
import { DlqNotFoundError } from './errors';
import { decodePageToken, runsOfQuery } from './filters';
import { CLOSE_EVENTS } from '../temporal/history-events';

/** One page of a visibility list. */
export interface RunsPage {
  runs: WorkflowExecutionInfo[];
  /** Opaque (base64) token of the next page, or null on the last page. */
  nextPageToken: string | null;
}

/** The search attributes this service sets on its runs, decoded. */
export interface RunAttributes {
  entityType: string | null;
  kind: string | null;
  observers: string[];
  failedActions: string[];
  /** The change-log position (decimal string). */
  position: string | null;
}

/** Reads the search attributes the listener and the workflow set (absent ones as null / []). */
export function runAttributes(info: Pick<WorkflowExecutionInfo, 'typedSearchAttributes'>): RunAttributes {
  const sa = info.typedSearchAttributes;
  const position = sa.get(ChangeLogPosition);
  return {
    entityType: sa.get(EntityType) ?? null,
    kind: sa.get(EventKind) ?? null,
    observers: sa.get(ObserverNames) ?? [],
    failedActions: sa.get(FailedActions) ?? [],
    position: position === undefined ? null : String(position),
  };
}

/**
 * One page of ListWorkflowExecutions. The SDK's `list()` hides page tokens; `dlq list` hands them
 * out so a script can walk a large DLQ page by page.
 */
export async function listRunsPage(client: Client, query: string, pageSize: number, pageToken?: string): Promise<RunsPage> {
  const nextPageToken = decodePageToken(pageToken);
  const namespace = client.options.namespace;
  const response = await client.workflowService.listWorkflowExecutions({ namespace, query, pageSize, nextPageToken });
  const runs = await Promise.all(
    (response.executions ?? []).map((raw) => executionInfoFromRaw(raw, client.options.loadedDataConverter, raw, namespace)),
  );
  const next = response.nextPageToken;
  return { runs, nextPageToken: next && next.length > 0 ? Buffer.from(next).toString('base64') : null };
}

/** Every run a query matches, page by page, stopping after `max` runs. */
export async function listAllRuns(client: Client, query: string, max: number): Promise<{ runs: WorkflowExecutionInfo[]; truncated: boolean }> {
  const runs: WorkflowExecutionInfo[] = [];
  let token: string | undefined;
  for (;;) {
    const page = await listRunsPage(client, query, Math.min(1000, max - runs.length + 1), token);
    runs.push(...page.runs);
    if (runs.length > max) return { runs: runs.slice(0, max), truncated: true };
    if (page.nextPageToken === null) return { runs, truncated: false };
    token = page.nextPageToken;
  }
}

/** Ids per IN (...) query: keeps queries far below any server's length limit. */
const IDS_PER_QUERY = 100;

/**
 * The latest run (by start time) of each workflow id, from visibility. A failed run that is not
 * the latest of its id has been retried (the retry is running, completed, or failed in its turn),
 * so it is no longer a dead-letter entry.
 */
export async function latestRunsOf(client: Client, workflowIds: Iterable<string>): Promise<Map<string, WorkflowExecutionInfo>> {
  const ids = [...new Set(workflowIds)];
  const latest = new Map<string, WorkflowExecutionInfo>();
  for (let i = 0; i < ids.length; i += IDS_PER_QUERY) {
    const chunk = ids.slice(i, i + IDS_PER_QUERY);
    const { runs } = await listAllRuns(client, runsOfQuery(chunk), 100_000);
    for (const run of runs) {
      const seen = latest.get(run.workflowId);
      if (!seen || run.startTime.getTime() > seen.startTime.getTime()) latest.set(run.workflowId, run);
    }
  }
  return latest;
}

/** Keeps the failed runs that are still the latest run of their workflow id. */
export async function currentOnly(client: Client, runs: readonly WorkflowExecutionInfo[]): Promise<WorkflowExecutionInfo[]> {
  if (runs.length === 0) return [];
  const latest = await latestRunsOf(client, runs.map((r) => r.workflowId));
  // An id missing from the answer is a visibility lag on a real cluster: keep the run rather than hide it.
  return runs.filter((r) => (latest.get(r.workflowId)?.runId ?? r.runId) === r.runId);
}

/** How a run ended, decoded from its close event. */
export interface RunOutcome {
  /** The workflow result (completed runs). */
  result: ProcessChangeEventResult | null;
  /** The failure (failed runs): its type (`ActionsFailed` for a DLQ entry) and message. */
  failure: { type: string | null; message: string } | null;
  /** The per-action summary of an `ActionsFailed` failure (its single `details` entry). */
  failedResult: ProcessChangeEventResult | null;
}

/** A run's history decoded: the workflow input of its first event and how it closed. */
export interface RunRecord extends RunOutcome {
  input: ProcessChangeEventInput | null;
  historyLength: number;
}

function isResult(value: unknown): value is ProcessChangeEventResult {
  return typeof value === 'object' && value !== null && Array.isArray((value as { actions?: unknown }).actions);
}

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const E = temporal.api.enums.v1.EventType;

async function outcomeOf(client: Client, close: HistoryEvent | undefined): Promise<RunOutcome> {
  const converter = client.options.loadedDataConverter;
  const none: RunOutcome = { result: null, failure: null, failedResult: null };
  if (!close) return none;
  if (close.eventType === E.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED) {
    const [value] = await decodeArrayFromPayloads(converter, close.workflowExecutionCompletedEventAttributes?.result?.payloads);
    return { ...none, result: isResult(value) ? value : null };
  }
  if (close.eventType === E.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED) {
    const err = await decodeOptionalFailureToOptionalError(converter, close.workflowExecutionFailedEventAttributes?.failure);
    if (!err) return none;
    const type = err instanceof ApplicationFailure ? (err.type ?? null) : err.name;
    const detail = err instanceof ApplicationFailure && type === ACTIONS_FAILED ? err.details?.[0] : undefined;
    return { ...none, failure: { type, message: err.message }, failedResult: isResult(detail) ? detail : null };
  }
  return none;
}

/**
 * Reads one run's history: the workflow input and how it closed.
 *
 * @throws DlqNotFoundError when Temporal does not retain that run
 */
export async function readRun(client: Client, workflowId: string, runId: string): Promise<RunRecord> {
  let events: HistoryEvent[];
  try {
    events = (await client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
  } catch (err) {
    if (isNotFound(err)) throw new DlqNotFoundError(workflowId, `Temporal does not retain run ${runId} of ${workflowId}`);
    throw err;
  }
  const started = events[0]?.workflowExecutionStartedEventAttributes;
  const [input] = started ? await decodeArrayFromPayloads(client.options.loadedDataConverter, started.input?.payloads) : [];
  const last = events.at(-1);
  const closed = last && typeof last.eventType === 'number' && CLOSE_EVENTS.has(last.eventType) ? last : undefined;
  return {
    input: typeof input === 'object' && input !== null ? (input as ProcessChangeEventInput) : null,
    historyLength: events.length,
    ...(await outcomeOf(client, closed)),
  };
}

/** Reads only how a run closed (one history event), for commands that scan many runs. */
export async function readOutcome(client: Client, workflowId: string, runId: string): Promise<RunOutcome> {
  const response = await client.workflowService.getWorkflowExecutionHistory({
    namespace: client.options.namespace,
    execution: { workflowId, runId },
    historyEventFilterType: temporal.api.enums.v1.HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT,
  });
  return await outcomeOf(client, response.history?.events?.[0] ?? undefined);
}


/** True for the SDK's WorkflowNotFoundError and a raw gRPC NOT_FOUND. */
export function isNotFound(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { name?: unknown; code?: unknown; cause?: unknown };
  return e.name === 'WorkflowNotFoundError' || e.name === 'NamespaceNotFoundError' || e.code === 5 || (e.cause !== undefined && isNotFound(e.cause));
}
