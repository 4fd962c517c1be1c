/**
 * The one list of exported metric names (src/metrics/registry.ts): it holds every name FraiseQL's
 * guides and dashboards use, it is exactly what the components register, the second spellings
 * report the same values as the metrics they mirror, and the README's table lists it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { Client } from '@elastic/elasticsearch';
import { actionMetrics } from '../../src/activities/metrics';
import { startPeriodicGauge } from '../../src/metrics/periodic-gauge';
import { actionCacheMetrics } from '../../src/metrics/action-cache';
import { dedupMetrics } from '../../src/metrics/dedup';
import { createRegistry, EXPORTED_METRIC_NAMES, listenerMetrics, METRIC_CATALOG, METRIC_NAMES } from '../../src/metrics/registry';
import { workerMetrics } from '../../src/metrics/worker';
import { AuditSink } from '../../src/search';
import { recordEventFinished } from '../../src/worker/sinks';
import type { ProcessChangeEventResult } from '../../src/contract';

/** Contract §5 (../shared/fraiseql-contract.md) and the names FraiseQL users' dashboards query (issue 11). */
const FRAISEQL_NAMES = [
  'observer_events_processed_total', 'observer_events_matched_total', 'observer_actions_executed_total', 'observer_actions_failed_total',
  'observer_action_duration_seconds', 'observer_event_processing_duration_seconds', 'observer_cache_hits_total', 'observer_cache_misses_total',
  'observer_cache_hit_rate', 'observer_dedup_skips_total', 'observer_dlq_items_total', 'observer_listener_health',
  'observer_checkpoint_age_seconds', 'observer_job_queue_depth',
  'observer_action_executed_total', 'observer_action_failed_total', 'observer_dedup_hits_total', 'observer_events_failed_total', 'observer_listener_lag_seconds',
];

async function value(registry: ReturnType<typeof createRegistry>, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name);
  const values = (await metric?.get())?.values ?? [];
  return values.find((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))?.value;
}

function fullRegistry() {
  const registry = createRegistry();
  const listener = listenerMetrics(registry);
  const worker = workerMetrics(registry);
  dedupMetrics(registry);
  actionCacheMetrics(registry);
  const actions = actionMetrics(registry);
  const stops = [
    startPeriodicGauge({ registry, name: METRIC_NAMES.dlqSize, help: 'x', read: async () => 0, intervalMs: 60_000 }),
    startPeriodicGauge({ registry, name: METRIC_NAMES.jobQueueDepth, help: 'x', read: async () => 0, intervalMs: 60_000 }),
  ];
  const audit = new AuditSink({ client: new Client({ node: 'http://127.0.0.1:1' }), log: pino({ level: 'silent' }), metrics: registry });
  return { registry, listener, worker, actions, close: async () => { await Promise.all(stops.map((s) => s())); await audit.close(); } };
}

describe('metric catalog', () => {
  it('exports every name FraiseQL documents', () => {
    expect(FRAISEQL_NAMES.filter((n) => !EXPORTED_METRIC_NAMES.includes(n))).toEqual([]);
  });

  it('is exactly what the service registers, no more and no less', async () => {
    const r = fullRegistry();
    try {
      const registered = (await r.registry.getMetricsAsJSON()).map((m) => m.name).sort();
      expect(registered).toEqual([...EXPORTED_METRIC_NAMES].sort());
      for (const info of METRIC_CATALOG) {
        const m = (await r.registry.getMetricsAsJSON()).find((x) => x.name === info.name);
        expect([info.name, m?.type]).toEqual([info.name, info.type]);
      }
    } finally {
      await r.close();
    }
  });

  it('second spellings report exactly the values of the metrics they mirror', async () => {
    const r = fullRegistry();
    try {
      r.actions.attempt('webhook', 'notify', 0.1);
      r.actions.attempt('webhook', 'notify', 0.2, 'HttpServerError');
      const result = (status: ProcessChangeEventResult['status']): ProcessChangeEventResult => ({
        eventId: 'e', entityType: 'Order', entityId: null, kind: 'UPDATE', status, observers: [], actions: [], failedActions: [],
      });
      recordEventFinished({ metrics: r.worker, log: pino({ level: 'silent' }) }, { workflowId: 'w', runId: 'r', result: result('failed'), commitTime: null, readAt: null } as never);
      recordEventFinished({ metrics: r.worker, log: pino({ level: 'silent' }) }, { workflowId: 'w', runId: 'r', result: result('succeeded'), commitTime: null, readAt: null } as never);
      expect(await value(r.registry, 'observer_action_executed_total', { status: 'success' })).toBe(1);
      expect(await value(r.registry, 'observer_action_executed_total', { status: 'failure' })).toBe(1);
      expect(await value(r.registry, 'observer_action_failed_total', { error_type: 'HttpServerError' })).toBe(1);
      expect(await value(r.registry, 'observer_events_failed_total', { entity_type: 'Order' })).toBe(1);
      expect((await r.registry.getSingleMetric('observer_events_failed_total')?.get())?.values).toHaveLength(1);
    } finally {
      await r.close();
    }
  });

  it('is the README metric table', () => {
    const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Metrics'), readme.indexOf('## CLI'));
    const listed = [...section.matchAll(/^\| `(observer_[a-z_]+)` \|/gm)].map((m) => m[1]).sort();
    expect(listed).toEqual([...EXPORTED_METRIC_NAMES].sort());
  });
});
