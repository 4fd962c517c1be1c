/** `dlq stats`: how many dead-letter entries there are, by observer, error type and entity type. */
import type { Client } from '@temporalio/client';
import { mapLimit } from './concurrency';
import { listDlqEntries } from './entries';
import { parseLimit, type DlqFilters } from './filters';
import { readOutcome, runAttributes } from './runs';

export interface DlqStats {
  query: string;
  /** Dead-letter entries (failed runs not yet retried). */
  entries: number;
  /** Failed actions across those entries. */
  failedActions: number;
  /** Per observer: entries in which one of its actions failed, and how many of its actions failed. */
  byObserver: Array<{ observer: string; entries: number; failedActions: number }>;
  /** Per error type of the failed actions (HttpClientError, Timeout, ...). */
  byErrorType: Array<{ errorType: string; failedActions: number }>;
  byEntityType: Array<{ entityType: string; entries: number }>;
  /** ISO-8601 close times of the oldest and newest entry. */
  oldest: string | null;
  newest: string | null;
  /** More entries matched than `limit`; the counts cover the first `limit`. */
  truncated: boolean;
}

export interface DlqStatsOptions {
  /** Entries to read at most (default 10 000). */
  limit?: number;
  now?: number;
}

function bump(map: Map<string, number>, key: string, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

const byCount = <T extends object>(rows: T[], count: (r: T) => number, name: (r: T) => string): T[] =>
  rows.sort((a, b) => count(b) - count(a) || name(a).localeCompare(name(b)));

/**
 * Counts the dead-letter entries the filters select. Error types come from each entry's failure
 * summary (one history event read per entry).
 *
 * @throws DlqInputError naming the flag of a bad filter or limit
 */
export async function dlqStats(client: Client, filters: DlqFilters = {}, options: DlqStatsOptions = {}): Promise<DlqStats> {
  const limit = parseLimit(options.limit ?? 10_000);
  const listed = await listDlqEntries(client, filters, limit, options.now);
  const { query, entries } = listed;
  const outcomes = await mapLimit(entries, 8, (e) => readOutcome(client, e.workflowId, e.runId));

  const observerEntries = new Map<string, number>();
  const observerActions = new Map<string, number>();
  const errorTypes = new Map<string, number>();
  const entityTypes = new Map<string, number>();
  let failedActions = 0;
  let oldest: number | null = null;
  let newest: number | null = null;
  entries.forEach((e, i) => {
    const attrs = runAttributes(e);
    bump(entityTypes, attrs.entityType ?? '(unknown)');
    const closed = e.closeTime?.getTime();
    if (closed !== undefined) {
      oldest = oldest === null ? closed : Math.min(oldest, closed);
      newest = newest === null ? closed : Math.max(newest, closed);
    }
    const failed = outcomes[i]?.failedResult?.actions.filter((a) => a.status === 'failed');
    // Without a readable summary, the FailedActions search attribute still names the actions.
    const actions = failed ?? attrs.failedActions.map((key) => ({ key, observer: key.slice(0, key.lastIndexOf(':')) || key, error: undefined }));
    const type = outcomes[i]?.failure?.type ?? '(unknown)';
    const observersHere = new Set<string>();
    for (const a of actions) {
      failedActions += 1;
      observersHere.add(a.observer);
      bump(observerActions, a.observer);
      bump(errorTypes, a.error?.type ?? type);
    }
    for (const o of observersHere) bump(observerEntries, o);
  });

  return {
    query,
    entries: entries.length,
    failedActions,
    byObserver: byCount(
      [...observerEntries].map(([observer, n]) => ({ observer, entries: n, failedActions: observerActions.get(observer) ?? 0 })),
      (r) => r.entries,
      (r) => r.observer,
    ),
    byErrorType: byCount([...errorTypes].map(([errorType, n]) => ({ errorType, failedActions: n })), (r) => r.failedActions, (r) => r.errorType),
    byEntityType: byCount([...entityTypes].map(([entityType, n]) => ({ entityType, entries: n })), (r) => r.entries, (r) => r.entityType),
    oldest: oldest === null ? null : new Date(oldest).toISOString(),
    newest: newest === null ? null : new Date(newest).toISOString(),
    truncated: listed.truncated,
  };
}
