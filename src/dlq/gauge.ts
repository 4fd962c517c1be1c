/**
 * The `observer_dlq_size` gauge: dead-letter entries currently in Temporal (failed
 * `processChangeEvent` runs that no later run of the same id has replaced), refreshed on a timer.
 */
import type { Client } from '@temporalio/client';
import type { Registry } from 'prom-client';
import { startPeriodicGauge } from '../metrics/periodic-gauge';
import { METRIC_NAMES } from '../metrics/registry';
import { countDlqEntries } from './entries';

export { countDlqEntries, EXACT_COUNT_LIMIT } from './entries';

export const DLQ_SIZE_METRIC = METRIC_NAMES.dlqSize;

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
