/**
 * The one definition of "in the dead-letter queue", used by `dlq list`, `dlq stats`,
 * `dlq retry-all`, `status` and the `observer_dlq_size` gauge: a `processChangeEvent` run that
 * ended Failed ({@link FAILED_RUNS_QUERY}, narrowed by the filters) and is still the latest run of
 * its workflow id. A failed run that a later run of the same id replaced (a DLQ retry, running,
 * completed or failed in its turn) is not an entry; the later run is, if it failed.
 */
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { buildDlqQuery, FAILED_RUNS_QUERY, type DlqFilters } from './filters';
import { currentOnly, listAllRuns } from './runs';

/** Above this many failed runs, {@link countDlqEntries} reports the raw count instead of listing them all. */
export const EXACT_COUNT_LIMIT = 10_000;

/** The entries the filters select, at most `limit` failed runs read (`truncated` when more matched). */
export async function listDlqEntries(
  client: Client,
  filters: DlqFilters,
  limit: number,
  now?: number,
): Promise<{ query: string; entries: WorkflowExecutionInfo[]; truncated: boolean }> {
  const query = buildDlqQuery(filters, now);
  const listed = await listAllRuns(client, query, limit);
  return { query, entries: await currentOnly(client, listed.runs), truncated: listed.truncated };
}

/**
 * Counts the dead-letter entries. CountWorkflowExecutions gives the failed runs; when there are
 * some, those whose id has a later run (retried) are subtracted, which needs a list of them. Past
 * {@link EXACT_COUNT_LIMIT} failed runs the raw count is returned, to keep each count cheap.
 */
export async function countDlqEntries(client: Client, exactLimit: number = EXACT_COUNT_LIMIT): Promise<number> {
  const { count } = await client.workflow.count(FAILED_RUNS_QUERY);
  if (count === 0 || count > exactLimit) return count;
  const { runs } = await listAllRuns(client, FAILED_RUNS_QUERY, exactLimit);
  return (await currentOnly(client, runs)).length;
}
