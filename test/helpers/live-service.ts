/**
 * The service as `fraiseql-observers start` runs it (`startService`, role `all`: embedded Temporal,
 * listener, worker, metrics endpoint, audit trail), on free ports and its own database, so tests
 * can read the metric families its registry really exports — the names dashboards and alert rules
 * must use — and scrape its /metrics text.
 */
import pino from 'pino';
import type { Registry } from 'prom-client';
import { parseConfig } from '../../src/config';
import { migrate } from '../../src/db/migrate';
import { startService, type RunningService } from '../../src/worker/service';
import { cachedWorkflowBundle } from './bundle';
import type { ExportedFamily } from './promql';
import { createTestDatabase, type TestDatabase } from './pg';

/** Observers that use every optional feature whose metrics are registered only when configured. */
const OBSERVERS = `
observers:
  live_metrics:
    entity: LiveMetricsProbe
    events: [INSERT, UPDATE]
    dedup: { window_ms: 1000 }
    actions:
      - type: log
        message: "{{ event.entity_id }}"
        cache: { ttl_ms: 1000 }
`;

export interface LiveService {
  service: RunningService;
  db: TestDatabase;
  /** Every family on the service's registry, with its type and label names. */
  families(): ExportedFamily[];
  /** The /metrics text, as Prometheus scrapes it. */
  scrape(): Promise<string>;
  stop(): Promise<void>;
}

/** Label names of a prom-client metric (not part of its public typings, but set by every metric type). */
function labelNamesOf(metric: unknown): string[] {
  const names = (metric as { labelNames?: unknown }).labelNames;
  return Array.isArray(names) ? names.map(String) : [];
}

/** The families of a registry, as the name checks want them. */
export function familiesOf(registry: Registry): ExportedFamily[] {
  return registry.getMetricsAsArray().map((m) => ({ name: m.name, type: String(m.type), labels: labelNamesOf(m) }));
}

/**
 * Starts the whole service. REDIS_URL (the local Redis) and ELASTICSEARCH_URL (a closed loopback
 * port: no event is written, so nothing is sent) are set so the optional parts register their
 * metrics too.
 */
export async function startLiveService(label: string): Promise<LiveService> {
  const db = await createTestDatabase(label);
  let service: RunningService | undefined;
  try {
    await migrate({ pool: db.pool });
    const env = {
      DATABASE_URL: db.url,
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      ELASTICSEARCH_URL: 'http://127.0.0.1:9',
      LISTENER_ID: `live-${label}`,
      TEMPORAL_TASK_QUEUE: `live-${label}-${process.pid}`,
    };
    const config = parseConfig({ env, text: OBSERVERS, source: 'observers.yaml' });
    service = await startService({
      config,
      role: 'all',
      env,
      log: pino({ level: 'silent' }),
      embeddedTemporalPort: 0,
      metricsPort: 0,
      workflowBundle: await cachedWorkflowBundle(require.resolve('../../src/workflows')),
    });
  } catch (err) {
    await db.drop().catch(() => undefined);
    throw err;
  }
  const running = service;
  return {
    service: running,
    db,
    families: () => familiesOf(running.registry),
    async scrape() {
      const res = await fetch(running.metricsUrl);
      if (!res.ok) throw new Error(`${running.metricsUrl} answered ${res.status}`);
      return await res.text();
    },
    async stop() {
      await running.stop();
      await db.drop();
    },
  };
}
