/**
 * The worker side of the workflow sinks (`ObserverSinks`): metrics for finished events and
 * error-level alerts. Sinks run outside the workflow sandbox and are not called during replay.
 */
import type { InjectedSinks } from '@temporalio/worker';
import type { Logger } from 'pino';
import type { WorkerMetrics } from '../metrics/worker';
import type { EventFinished, ObserverSinks } from '../workflows/sinks';

export interface SinkDeps {
  metrics: WorkerMetrics;
  log: Logger;
  /** Epoch milliseconds; default `Date.now`. */
  clock?: () => number;
  /** Also told of every finished event (the Elasticsearch audit trail); its errors are logged, never thrown. */
  onFinished?: (finished: EventFinished) => void;
}

/** Seconds from the row's commit (else the listener's read time) to `now`, or null when neither parses. */
export function commitToNowSeconds(finished: Pick<EventFinished, 'commitTime' | 'readAt'>, now: number): number | null {
  for (const iso of [finished.commitTime, finished.readAt]) {
    const t = iso ? Date.parse(iso) : Number.NaN;
    // A producer clock ahead of ours gives a negative latency: report 0 rather than drop it.
    if (Number.isFinite(t)) return Math.max(0, (now - t) / 1000);
  }
  return null;
}

/** Records one finished event in the metrics. */
export function recordEventFinished(deps: SinkDeps, finished: EventFinished): void {
  const { result } = finished;
  const entityType = result.entityType || 'unknown';
  deps.metrics.eventsFinished.inc({ status: result.status, entity_type: entityType });
  const seconds = commitToNowSeconds(finished, (deps.clock ?? Date.now)());
  if (seconds !== null) deps.metrics.eventProcessingDuration.observe({ entity_type: entityType, status: result.status }, seconds);
  if (result.status === 'failed') deps.metrics.dlqItems.inc({ entity_type: entityType });
}

/** Logs the failed `alert`-policy actions of one event at error level and counts one alert per observer. */
export function raiseAlert(deps: SinkDeps, finished: EventFinished): void {
  const { result } = finished;
  const failed = result.actions.filter((a) => a.status === 'failed' && a.failurePolicy === 'alert');
  const observers = [...new Set(failed.map((a) => a.observer))];
  for (const observer of observers) deps.metrics.alerts.inc({ observer });
  deps.log.error(
    {
      event_id: result.eventId,
      workflow_id: finished.workflowId,
      run_id: finished.runId,
      entity_type: result.entityType,
      entity_id: result.entityId,
      kind: result.kind,
      observers,
      failed_actions: failed.map((a) => ({
        key: a.key,
        observer: a.observer,
        type: a.type,
        attempts: a.attempts,
        error_type: a.error?.type,
        message: a.error?.message,
      })),
    },
    `alert: ${failed.length} action(s) failed for ${result.entityType} ${result.kind}${result.entityId ? ` ${result.entityId}` : ''} (${observers.join(', ')})`,
  );
}

/** The sinks a worker injects; neither runs during replay, so nothing is counted or alerted twice. */
export function createObserverSinks(deps: SinkDeps): InjectedSinks<ObserverSinks> {
  return {
    observer: {
      eventFinished: {
        fn: (_info, finished) => {
          recordEventFinished(deps, finished);
          try {
            deps.onFinished?.(finished);
          } catch (err) {
            deps.log.warn({ event_id: finished.result.eventId, workflow_id: finished.workflowId, err: { message: (err as Error).message } }, 'audit record failed');
          }
        },
        callDuringReplay: false,
      },
      alert: { fn: (_info, finished) => raiseAlert(deps, finished), callDuringReplay: false },
    },
  };
}
