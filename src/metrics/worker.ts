/**
 * Metrics the worker records when a `processChangeEvent` run has every action outcome (reported
 * through the workflow's sinks, so a replayed workflow never counts twice). Registered per
 * registry, never in prom-client's global one; labels never carry event ids.
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import { METRIC_NAMES } from './registry';

export interface WorkerMetrics {
  /** Runs that finished, by result status (succeeded | tolerated | failed) and entity type. */
  eventsFinished: Counter<'status' | 'entity_type'>;
  /** Commit of the change-log row → completion of the event's last action. */
  eventProcessingDuration: Histogram<'entity_type' | 'status'>;
  /** Runs that ended Failed (each one is a dead-letter entry), by entity type. */
  dlqItems: Counter<'entity_type'>;
  /** Alerts raised for failed actions of observers whose failure policy is `alert`. */
  alerts: Counter<'observer'>;
}

const cache = new WeakMap<Registry, WorkerMetrics>();

/** Latency buckets from a few milliseconds (a local action) to an hour (retries with backoff). */
export const EVENT_LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

/** The worker metrics on `registry`, registered on first use (idempotent per registry). */
export function workerMetrics(registry: Registry): WorkerMetrics {
  const existing = cache.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const m: WorkerMetrics = {
    eventsFinished: new Counter({
      name: METRIC_NAMES.eventsFinished,
      help: 'Change events whose actions all finished, by result status',
      labelNames: ['status', 'entity_type'],
      registers,
    }),
    eventProcessingDuration: new Histogram({
      name: METRIC_NAMES.eventProcessingDuration,
      help: 'Seconds from the change-log row commit to the completion of its last action',
      labelNames: ['entity_type', 'status'],
      buckets: EVENT_LATENCY_BUCKETS,
      registers,
    }),
    dlqItems: new Counter({
      name: METRIC_NAMES.dlqItems,
      help: 'Events that ended in the dead-letter queue (failed workflow runs)',
      labelNames: ['entity_type'],
      registers,
    }),
    alerts: new Counter({
      name: METRIC_NAMES.alerts,
      help: 'Alerts raised for failed actions of observers with failure_policy alert',
      labelNames: ['observer'],
      registers,
    }),
  };
  cache.set(registry, m);
  return m;
}
