import { Registry } from 'prom-client';
import { workerMetrics } from '../../src/metrics/worker';
import { commitToNowSeconds, createObserverSinks, raiseAlert, recordEventFinished } from '../../src/worker/sinks';
import type { EventFinished } from '../../src/workflows/sinks';
import type { ActionOutcome, ProcessChangeEventResult } from '../../src/contract';
import { captureLogger } from '../helpers/receivers';

const NOW = Date.parse('2026-12-01T12:00:10.000Z');

function outcome(o: Partial<ActionOutcome> & Pick<ActionOutcome, 'key' | 'observer'>): ActionOutcome {
  return { type: 'webhook', status: 'succeeded', failurePolicy: 'dlq', attempts: 1, ...o };
}

function finished(result: Partial<ProcessChangeEventResult>, times: Partial<EventFinished> = {}): EventFinished {
  return {
    workflowId: 'fraiseql-event:e1',
    runId: 'run-1',
    commitTime: '2026-12-01T12:00:08.500Z',
    readAt: '2026-12-01T12:00:09.000Z',
    ...times,
    result: {
      eventId: 'e1', entityType: 'Order', entityId: 'o1', kind: 'UPDATE', status: 'succeeded',
      observers: ['a'], actions: [], failedActions: [], ...result,
    },
  };
}

async function value(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  return (m?.values ?? [])
    .filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l) && (v as { metricName?: string }).metricName === undefined)
    .reduce((n, v) => n + v.value, 0);
}

describe('worker sinks', () => {
  it('measures commit → now, falling back to the read time, never negative', () => {
    expect(commitToNowSeconds({ commitTime: '2026-12-01T12:00:08.500Z', readAt: '2026-12-01T12:00:09Z' }, NOW)).toBe(1.5);
    expect(commitToNowSeconds({ commitTime: null, readAt: '2026-12-01T12:00:09Z' }, NOW)).toBe(1);
    expect(commitToNowSeconds({ commitTime: '2026-12-01T12:00:20Z', readAt: '2026-12-01T12:00:09Z' }, NOW)).toBe(0);
    expect(commitToNowSeconds({ commitTime: 'garbage', readAt: 'also garbage' }, NOW)).toBeNull();
  });

  it('counts finished events by status and entity type, observes the latency, counts DLQ entries', async () => {
    const registry = new Registry();
    const deps = { metrics: workerMetrics(registry), log: captureLogger().log, clock: () => NOW };
    recordEventFinished(deps, finished({ status: 'succeeded' }));
    recordEventFinished(deps, finished({ status: 'failed', failedActions: ['a:0'] }));
    recordEventFinished(deps, finished({ status: 'tolerated', entityType: 'Product' }));
    expect(await value(registry, 'observer_events_finished_total', { status: 'succeeded', entity_type: 'Order' })).toBe(1);
    expect(await value(registry, 'observer_events_finished_total', { status: 'failed', entity_type: 'Order' })).toBe(1);
    expect(await value(registry, 'observer_events_finished_total', { status: 'tolerated', entity_type: 'Product' })).toBe(1);
    expect(await value(registry, 'observer_dlq_items_total', { entity_type: 'Order' })).toBe(1);
    expect(await value(registry, 'observer_dlq_items_total', { entity_type: 'Product' })).toBe(0);
    const text = await registry.metrics();
    expect(text).toContain('observer_event_processing_duration_seconds_sum{entity_type="Order",status="succeeded"} 1.5');
    expect(text).toContain('observer_event_processing_duration_seconds_bucket{le="2.5",entity_type="Order",status="succeeded"} 1');
    expect(text).toContain('observer_event_processing_duration_seconds_bucket{le="1",entity_type="Order",status="succeeded"} 0');
  });

  it('logs an alert at error level with event id, workflow id and the failed actions, and counts it per observer', async () => {
    const registry = new Registry();
    const captured = captureLogger();
    const deps = { metrics: workerMetrics(registry), log: captured.log, clock: () => NOW };
    raiseAlert(deps, finished({
      status: 'tolerated',
      observers: ['vip', 'audit'],
      failedActions: ['vip:0', 'vip:1', 'audit:0'],
      actions: [
        outcome({ key: 'vip:0', observer: 'vip', type: 'slack', status: 'failed', failurePolicy: 'alert', attempts: 3, error: { type: 'HttpServerError', message: 'HTTP 503', nonRetryable: false } }),
        outcome({ key: 'vip:1', observer: 'vip', status: 'failed', failurePolicy: 'alert', attempts: 1, error: { type: 'HttpClientError', message: 'HTTP 400', nonRetryable: true } }),
        outcome({ key: 'audit:0', observer: 'audit', status: 'failed', failurePolicy: 'log', error: { type: 'X', message: 'y', nonRetryable: true } }),
        outcome({ key: 'ok:0', observer: 'ok' }),
      ],
    }));
    const [line] = captured.lines();
    expect(line).toMatchObject({
      level: 50,
      event_id: 'e1',
      workflow_id: 'fraiseql-event:e1',
      observers: ['vip'],
      failed_actions: [
        { key: 'vip:0', observer: 'vip', type: 'slack', attempts: 3, error_type: 'HttpServerError', message: 'HTTP 503' },
        { key: 'vip:1', observer: 'vip', type: 'webhook', attempts: 1, error_type: 'HttpClientError', message: 'HTTP 400' },
      ],
    });
    expect(String(line?.msg)).toBe('alert: 2 action(s) failed for Order UPDATE o1 (vip)');
    expect(await value(registry, 'observer_alerts_total', { observer: 'vip' })).toBe(1);
    expect(await value(registry, 'observer_alerts_total', { observer: 'audit' })).toBe(0);
  });

  it('injects both sinks, neither called during replay', () => {
    const sinks = createObserverSinks({ metrics: workerMetrics(new Registry()), log: captureLogger().log });
    expect(sinks.observer.eventFinished.callDuringReplay).toBe(false);
    expect(sinks.observer.alert.callDuringReplay).toBe(false);
  });
});
