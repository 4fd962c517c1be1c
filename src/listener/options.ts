/** Listener options, their defaults and validation. */
import type { ClientConfig, Pool } from 'pg';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { DEFAULT_WORKFLOW_ID_PREFIX } from '../contract';
import type { ListenerMetrics } from '../metrics/registry';
import type { Admission } from './admission';
import type { RowHandler, WorkflowStarter } from './types';

/** Options of {@link ChangeLogListener}. One of `connectionString`, `connection` or `pool` is required. */
export interface ListenerOptions {
  connectionString?: string;
  connection?: ClientConfig;
  /** Shared pool for reads and bad-row records (not closed by the listener). Dedicated sessions use its settings. */
  pool?: Pool;
  /** Change-log table, default `core.tb_entity_change_log`; may be unqualified (search_path). */
  table?: string;
  /** Cursor column; default `pk_entity_change_log`, else an integer `id`. */
  cursorColumn?: string;
  /** Identity of this logical listener: its checkpoint row and its leader lock. */
  listenerId: string;
  handler: RowHandler;
  starter: WorkflowStarter;
  /** Workflow ids are `${workflowIdPrefix}:${event.id}`. Default `fraiseql-event`. */
  workflowIdPrefix?: string;
  /** Rows per read (1..10000). Default 500. */
  batchSize?: number;
  /** Poll interval when no NOTIFY arrives. Default 1000 ms. */
  pollIntervalMs?: number;
  /** Bound on concurrent start calls (and bad-row records). Default 64. */
  maxStartsInFlight?: number;
  /** LISTEN for wake-ups. Default true. */
  notify?: boolean;
  /** Default `fraiseql_events`. */
  notifyChannel?: string;
  /** Standby lock attempt interval, at most 1000 ms. Default 1000. */
  leaseRetryMs?: number;
  /** Leader session liveness check interval. Default 1000 ms. */
  heartbeatMs?: number;
  /** After losing leadership, wait this long before competing again so a standby takes over. Default 3000 ms. */
  rejoinDelayMs?: number;
  /** Minimum interval between checkpoint saves. Default 250 ms. */
  checkpointIntervalMs?: number;
  /** Maximum open gaps; beyond it reading ahead pauses until gaps close. Default 2000. */
  maxGapRanges?: number;
  /** How long stop() waits for in-flight starts. Default 30000 ms. */
  stopTimeoutMs?: number;
  /** Checkpoint history older than this is pruned by the leader. Default 7 days. */
  historyRetentionSeconds?: number;
  /**
   * Rows at and below the checkpoint handed to the handler's `prime` when a term starts (per-entity
   * ordering across restarts and failover). Default 1000; 0 disables.
   */
  primeRows?: number;
  /** Written to `updated_by`; default `hostname:pid`. */
  instanceName?: string;
  /** Asked before each read: backpressure from the workers (see admission.ts). Default: none. */
  admission?: Admission;
  logger?: Logger;
  metrics?: Registry | ListenerMetrics;
}

/** Options with defaults applied. */
export type ResolvedListenerOptions = Required<
  Omit<ListenerOptions, 'connectionString' | 'connection' | 'pool' | 'cursorColumn' | 'logger' | 'metrics' | 'admission'>
> & Pick<ListenerOptions, 'connectionString' | 'connection' | 'pool' | 'cursorColumn' | 'admission'>;

/** Apply defaults and reject impossible values with a message naming the option. */
export function resolveListenerOptions(o: ListenerOptions, hostname: string): ResolvedListenerOptions {
  if (!o.connectionString && !o.connection && !o.pool) throw new Error('Listener needs connectionString, connection or pool');
  if (!o.listenerId) throw new Error('Listener needs a listenerId');
  const r: ResolvedListenerOptions = {
    connectionString: o.connectionString,
    connection: o.connection,
    pool: o.pool,
    cursorColumn: o.cursorColumn,
    table: o.table ?? 'core.tb_entity_change_log',
    listenerId: o.listenerId,
    handler: o.handler,
    starter: o.starter,
    workflowIdPrefix: o.workflowIdPrefix ?? DEFAULT_WORKFLOW_ID_PREFIX,
    batchSize: o.batchSize ?? 500,
    pollIntervalMs: o.pollIntervalMs ?? 1000,
    maxStartsInFlight: o.maxStartsInFlight ?? 64,
    notify: o.notify ?? true,
    notifyChannel: o.notifyChannel ?? 'fraiseql_events',
    leaseRetryMs: Math.min(o.leaseRetryMs ?? 1000, 1000),
    heartbeatMs: o.heartbeatMs ?? 1000,
    rejoinDelayMs: o.rejoinDelayMs ?? 3000,
    checkpointIntervalMs: o.checkpointIntervalMs ?? 250,
    maxGapRanges: o.maxGapRanges ?? 2000,
    stopTimeoutMs: o.stopTimeoutMs ?? 30_000,
    historyRetentionSeconds: o.historyRetentionSeconds ?? 7 * 86_400,
    primeRows: o.primeRows ?? 1000,
    instanceName: o.instanceName ?? `${hostname}:${process.pid}`,
    admission: o.admission,
  };
  const ints: Array<[keyof ResolvedListenerOptions, number, number]> = [
    ['batchSize', 1, 10_000], ['pollIntervalMs', 10, 3_600_000], ['maxStartsInFlight', 1, 100_000],
    ['leaseRetryMs', 10, 1000], ['heartbeatMs', 50, 60_000], ['rejoinDelayMs', 0, 600_000],
    ['checkpointIntervalMs', 0, 600_000], ['maxGapRanges', 1, 1_000_000], ['stopTimeoutMs', 0, 3_600_000], ['primeRows', 0, 100_000],
  ];
  for (const [k, min, max] of ints) {
    const v = r[k] as number;
    if (!Number.isInteger(v) || v < min || v > max) throw new Error(`Listener option ${k} must be an integer in [${min}, ${max}], got ${v}`);
  }
  return r;
}
