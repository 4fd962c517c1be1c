/**
 * `observer_job_queue_depth`: change events accepted by Temporal whose actions have not all
 * finished yet (running `processChangeEvent` workflows on the task queue), refreshed on a timer
 * from visibility. It rises when workers fall behind or a target is down and retries pile up.
 */
import type { Client } from '@temporalio/client';
import type { Registry } from 'prom-client';
import { startPeriodicGauge } from '../metrics/periodic-gauge';
import { PROCESS_CHANGE_EVENT } from '../contract';
import { METRIC_NAMES } from '../metrics/registry';

export const QUEUE_DEPTH_METRIC = METRIC_NAMES.jobQueueDepth;

/** The visibility query behind the gauge. */
export function queueDepthQuery(taskQueue: string): string {
  return `WorkflowType = '${PROCESS_CHANGE_EVENT}' AND ExecutionStatus = 'Running' AND TaskQueue = '${taskQueue.replace(/'/g, "\\'")}'`;
}

/**
 * Refreshes the gauge at once, then every `intervalMs` (never overlapping; the timer does not keep
 * the process alive). Failed refreshes keep the last value and go to `onError`.
 *
 * @returns a function that stops the refreshes and waits for one in flight
 */
export function startQueueDepthGauge(
  client: Client,
  registry: Registry,
  taskQueue: string,
  intervalMs: number,
  onError: (err: unknown) => void = () => undefined,
): () => Promise<void> {
  const query = queueDepthQuery(taskQueue);
  return startPeriodicGauge({
    registry,
    name: QUEUE_DEPTH_METRIC,
    help: 'Change events accepted by Temporal whose actions have not all finished (running workflows)',
    read: async () => (await client.workflow.count(query)).count,
    intervalMs,
    onError,
  });
}
