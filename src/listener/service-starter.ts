/**
 * The workflow starter the service's listener uses: Temporal, behind the observers' dedup windows
 * when any observer has one (Redis when REDIS_URL is set, else this process's memory).
 */
import type { Client } from '@temporalio/client';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from '../config';
import { redisNamespace } from '../events/dedup-key';
import { dedupMetrics } from '../metrics/dedup';
import { withDedupWindow } from './dedup-starter';
import { type DedupStore, openDedupStore } from './dedup-store';
import { TemporalStarter } from './temporal-starter';
import type { WorkflowStarter } from './types';

export interface ServiceStarter {
  starter: WorkflowStarter;
  /** The dedup windows' store, or null when no observer has a window. */
  dedupStore: DedupStore | null;
  /** Releases the store's connection (after the listener has stopped). */
  close(): Promise<void>;
}

/**
 * Builds the listener's starter. Registers the dedup metrics either way, so dashboards find the
 * family on every listener.
 */
export function createServiceStarter(o: { config: Config; client: Client; taskQueue: string; registry: Registry; log: Logger }): ServiceStarter {
  const env = o.config.env;
  const metrics = dedupMetrics(o.registry);
  const temporal = new TemporalStarter({ client: o.client, taskQueue: o.taskQueue });
  if (!o.config.observers.some((obs) => obs.dedup !== null)) return { starter: temporal, dedupStore: null, close: () => Promise.resolve() };
  const log = o.log.child({ component: 'dedup' });
  const opened = openDedupStore(
    env.redisUrl,
    (err) => log.warn({ err: { message: err.message } }, 'Redis connection error: dedup windows cannot be checked meanwhile, so events run unchecked'),
    (url) => new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true, connectionName: 'fraiseql-observers-dedup' }),
  );
  if (opened.store.kind === 'memory') {
    log.warn('dedup windows are kept in this process (REDIS_URL is not set): right for a single listener; they are forgotten on restart and not shared with a standby');
  }
  const starter = withDedupWindow(temporal, { store: opened.store, namespace: redisNamespace(env.workflowIdPrefix), observers: o.config.observers, metrics, log });
  return { starter, dedupStore: opened.store, close: () => opened.close() };
}
