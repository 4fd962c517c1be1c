/**
 * Sinks: how workflow code reports to the worker process without I/O of its own. The worker
 * implements them (metrics, logs, alerts); calls are not recorded in history and are not repeated
 * during replay, so a replayed workflow never counts or alerts twice.
 */
import type { Sinks } from '@temporalio/workflow';
import type { ProcessChangeEventResult } from '../contract';

/** Reported once when a run has every action outcome. */
export interface EventFinished {
  workflowId: string;
  runId: string;
  result: ProcessChangeEventResult;
  /** The change-log row's commit time (or created_at) and the listener's read time, ISO-8601. */
  commitTime: string | null;
  readAt: string;
}

export interface ObserverSinks extends Sinks {
  observer: {
    /** Metrics: events finished by status, end-to-end latency (commit → last action), DLQ entries. */
    eventFinished(finished: EventFinished): void;
    /** A failed action whose observer's failure policy is `alert`: the worker logs it at error level and counts it. */
    alert(finished: EventFinished): void;
  };
}
