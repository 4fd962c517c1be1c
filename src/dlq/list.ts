/** `dlq list`: the dead-letter entries, newest first, a page at a time. */
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { mapLimit } from './concurrency';
import { buildDlqQuery, decodePageToken, parseLimit, type DlqFilters } from './filters';
import { DEFAULT_WORKFLOW_ID_PREFIX, eventIdOf } from '../contract';
import { currentOnly, listRunsPage, runAttributes, type RunAttributes } from './runs';

/** One dead-letter entry: a failed `processChangeEvent` run that has not been retried. */
export interface DlqEntry extends RunAttributes {
  workflowId: string;
  runId: string;
  /** The change event's id (the workflow id without its prefix). */
  eventId: string | null;
  taskQueue: string;
  /** ISO-8601. */
  startTime: string;
  /** ISO-8601: when the run failed. */
  closeTime: string | null;
  historyLength: number;
  /** The run's static summary (what the Temporal Web UI shows), e.g. `UPDATE Order 42 → order_shipped (2 actions)`. */
  summary: string | null;
}

export interface ListDlqOptions extends DlqFilters {
  /** Entries to return (1–10 000, default 50). */
  limit?: number;
  /** `nextPageToken` of an earlier call with the same filters. */
  pageToken?: string;
  /** Also list failed runs that a later run of the same id has superseded (default false). */
  includeRetried?: boolean;
  /** Workflow id prefix, to derive event ids (default `fraiseql-event`). */
  workflowIdPrefix?: string;
  /** For `--since` durations (tests). */
  now?: number;
}

export interface ListDlqResult {
  /** The visibility query used (paste it into `temporal workflow list --query`). */
  query: string;
  entries: DlqEntry[];
  /** Pass back as `pageToken` for the next entries; null when there are no more. */
  nextPageToken: string | null;
}

/** Builds an entry from a visibility record (the summary is filled in separately). */
export function toEntry(info: WorkflowExecutionInfo, prefix: string = DEFAULT_WORKFLOW_ID_PREFIX): DlqEntry {
  return {
    workflowId: info.workflowId,
    runId: info.runId,
    eventId: eventIdOf(info.workflowId, prefix),
    ...runAttributes(info),
    taskQueue: info.taskQueue,
    startTime: info.startTime.toISOString(),
    closeTime: info.closeTime?.toISOString() ?? null,
    historyLength: info.historyLength,
    summary: null,
  };
}

/** The static summary of one run (not part of visibility records, so it costs a describe). */
async function summaryOf(client: Client, workflowId: string, runId: string): Promise<string | null> {
  try {
    return (await (await client.workflow.getHandle(workflowId, runId).describe()).staticSummary()) ?? null;
  } catch {
    // A run that expired between list and describe: the entry is still worth showing.
    return null;
  }
}

/**
 * Lists dead-letter entries: failed `processChangeEvent` runs matching the filters that are still
 * the latest run of their workflow id (a retried entry leaves the list once its retry starts).
 *
 * @throws DlqInputError naming the flag of a bad filter, limit or page token
 */
export async function listDlq(client: Client, options: ListDlqOptions = {}): Promise<ListDlqResult> {
  const limit = parseLimit(options.limit ?? 50);
  const query = buildDlqQuery(options, options.now);
  const prefix = options.workflowIdPrefix ?? DEFAULT_WORKFLOW_ID_PREFIX;
  if (options.pageToken !== undefined) decodePageToken(options.pageToken);
  const runs: WorkflowExecutionInfo[] = [];
  let token: string | null = options.pageToken ?? null;
  // Ask for exactly the entries still missing, so the token handed back never skips any.
  do {
    const page = await listRunsPage(client, query, limit - runs.length, token ?? undefined);
    runs.push(...(options.includeRetried ? page.runs : await currentOnly(client, page.runs)));
    token = page.nextPageToken;
  } while (runs.length < limit && token !== null);
  const entries = runs.map((r) => toEntry(r, prefix));
  await mapLimit(entries, 8, async (e) => {
    e.summary = await summaryOf(client, e.workflowId, e.runId);
  });
  return { query, entries, nextPageToken: token };
}
