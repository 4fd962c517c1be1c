/**
 * The `observer_dlq_size` gauge: dead-letter entries currently in Temporal (failed
 * `processChangeEvent` runs that no later run of the same id has replaced), refreshed on a timer.
 */
import type { Client } from '@temporalio/client';
import type { Registry } from 'prom-client';
import { startPeriodicGauge } from '../metrics/periodic-gauge';
import { FAILED_RUNS_QUERY } from './filters';
import { currentOnly, listAllRuns } from './runs';

export const DLQ_SIZE_METRIC = 'observer_dlq_size';

/** Above this many failed runs the gauge reports the raw count instead of listing them all each time. */
export const EXACT_COUNT_LIMIT = 10_000;

/**
 * Counts the dead-letter entries. CountWorkflowExecutions gives the failed runs; when there are
 * some, those whose id has a later run (retried) are subtracted, which needs a list of them. Past
 * {@link EXACT_COUNT_LIMIT} failed runs the raw count is returned, to keep each refresh cheap.
 */
export async function countDlqEntries(client: Client, exactLimit: number = EXACT_COUNT_LIMIT): Promise<number> {
  const { count } = await client.workflow.count(FAILED_RUNS_QUERY);
  if (count === 0 || count > exactLimit) return count;
  const { runs } = await listAllRuns(client, FAILED_RUNS_QUERY, exactLimit);
  return (await currentOnly(client, runs)).length;
}

export interface DlqGaugeOptions {
  /** Called when a refresh fails (Temporal unreachable); the gauge keeps its last value. */
  onError?: (err: unknown) => void;
  exactLimit?: number;
}

/**
 * Keeps `observer_dlq_size` fresh: refreshes at once, then every `intervalMs`. Refreshes never
 * overlap, and the timer does not keep the process alive.
 *
 * @returns a function that stops the refreshes (and waits for one in flight)
 */
export function startDlqGauge(client: Client, registry: Registry, intervalMs: number, options: DlqGaugeOptions = {}): () => Promise<void> {
  if (!Number.isFinite(intervalMs) || intervalMs < 100) throw new RangeError(`DLQ gauge interval must be at least 100 ms, got ${String(intervalMs)}`);
  return startPeriodicGauge({
    registry,
    name: DLQ_SIZE_METRIC,
    help: 'Dead-letter entries: failed processChangeEvent runs not yet retried (from Temporal visibility)',
    read: () => countDlqEntries(client, options.exactLimit),
    intervalMs,
    onError: options.onError,
  });
}
