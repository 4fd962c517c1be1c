/**
 * Metrics registries, and the one list of every metric name the service exports
 * ({@link METRIC_CATALOG}): dashboards, alert rules, `metrics --metric NAME` and the README table
 * are checked against it. Every component registers on a Registry it is given (never prom-client's
 * global default), so tests and several listeners in one process never share counters by accident.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry, type LabelValues } from 'prom-client';

/** Who serves a metric: listener and worker roles, or every `start` process. */
export type MetricRole = 'listener' | 'worker' | 'service';

/** One exported metric. */
export interface MetricInfo {
  name: string;
  type: 'counter' | 'gauge' | 'histogram';
  labels: readonly string[];
  role: MetricRole;
  help: string;
  /**
   * Set on the second spelling of a metric FraiseQL documents under two names: the value is
   * exactly that of `aliasOf` (restricted to `where`), so either name works in a dashboard.
   */
  aliasOf?: string;
  where?: Readonly<Record<string, string>>;
}

/** Every `observer_*` metric name, by role in the code. Renaming one here renames it everywhere. */
export const METRIC_NAMES = {
  eventsProcessed: 'observer_events_processed_total',
  eventsMatched: 'observer_events_matched_total',
  workflowsStarted: 'observer_workflows_started_total',
  dedupSkips: 'observer_dedup_skips_total',
  dedupHits: 'observer_dedup_hits_total',
  dedupMisses: 'observer_dedup_misses_total',
  dedupErrors: 'observer_dedup_errors_total',
  startFailures: 'observer_workflow_start_failures_total',
  badRows: 'observer_bad_rows_total',
  conditionErrors: 'observer_condition_errors_total',
  checkpointSaves: 'observer_checkpoint_saves_total',
  checkpointLagIds: 'observer_checkpoint_lag_ids',
  checkpointAgeSeconds: 'observer_checkpoint_age_seconds',
  listenerLagSeconds: 'observer_listener_lag_seconds',
  openGaps: 'observer_listener_open_gaps',
  listenerHealth: 'observer_listener_health',
  listenerIsLeader: 'observer_listener_is_leader',
  rlsHidesRows: 'observer_listener_rls_hides_rows',
  actionsExecuted: 'observer_actions_executed_total',
  actionExecuted: 'observer_action_executed_total',
  actionsFailed: 'observer_actions_failed_total',
  actionFailed: 'observer_action_failed_total',
  actionDuration: 'observer_action_duration_seconds',
  breakerState: 'observer_circuit_breaker_state',
  breakerRefusals: 'observer_circuit_breaker_refusals_total',
  cacheHits: 'observer_cache_hits_total',
  cacheMisses: 'observer_cache_misses_total',
  cacheErrors: 'observer_cache_errors_total',
  cacheHitRate: 'observer_cache_hit_rate',
  eventsFinished: 'observer_events_finished_total',
  eventsFailed: 'observer_events_failed_total',
  eventProcessingDuration: 'observer_event_processing_duration_seconds',
  dlqItems: 'observer_dlq_items_total',
  dlqSize: 'observer_dlq_size',
  jobQueueDepth: 'observer_job_queue_depth',
  alerts: 'observer_alerts_total',
  auditDocuments: 'observer_audit_documents_total',
  auditFailures: 'observer_audit_failures_total',
} as const;

const N = METRIC_NAMES;

/** Every exported metric: name, type, labels, which role serves it and what it counts. */
export const METRIC_CATALOG: readonly MetricInfo[] = [
  { name: N.eventsProcessed, type: 'counter', labels: [], role: 'listener', help: 'Change-log rows read and decided by the listener' },
  { name: N.eventsMatched, type: 'counter', labels: ['entity_type'], role: 'listener', help: 'Change events matched by at least one observer' },
  { name: N.workflowsStarted, type: 'counter', labels: ['entity_type'], role: 'listener', help: 'Workflows started for matched events' },
  { name: N.dedupSkips, type: 'counter', labels: [], role: 'listener', help: 'Workflow starts rejected as already started (re-reads)' },
  { name: N.dedupHits, type: 'counter', labels: ['observer'], role: 'listener', help: 'Events skipped by an observer because an identical event opened its dedup window' },
  { name: N.dedupMisses, type: 'counter', labels: ['observer'], role: 'listener', help: 'Events checked against an observer dedup window and not found there' },
  { name: N.dedupErrors, type: 'counter', labels: ['observer', 'reason'], role: 'listener', help: 'Dedup window checks that failed (the event ran unchecked)' },
  { name: N.startFailures, type: 'counter', labels: [], role: 'listener', help: 'Failed workflow start attempts (retried)' },
  { name: N.badRows, type: 'counter', labels: ['reason'], role: 'listener', help: 'Change-log rows skipped because they cannot become events' },
  { name: N.conditionErrors, type: 'counter', labels: ['observer'], role: 'listener', help: 'Observer conditions that failed to evaluate (observer skipped)' },
  { name: N.checkpointSaves, type: 'counter', labels: [], role: 'listener', help: 'Checkpoint compare-and-swap saves' },
  { name: N.checkpointLagIds, type: 'gauge', labels: [], role: 'listener', help: 'Highest change-log position minus the saved checkpoint' },
  { name: N.checkpointAgeSeconds, type: 'gauge', labels: [], role: 'listener', help: 'Seconds the checkpoint has been behind the table head without moving' },
  { name: N.listenerLagSeconds, type: 'gauge', labels: [], role: 'listener', help: 'Age in seconds of the oldest change-log row after the saved checkpoint (0 when caught up)' },
  { name: N.openGaps, type: 'gauge', labels: [], role: 'listener', help: 'Change-log position ranges held open for uncommitted transactions' },
  { name: N.listenerHealth, type: 'gauge', labels: [], role: 'listener', help: '1 when the listener is healthy' },
  { name: N.listenerIsLeader, type: 'gauge', labels: [], role: 'listener', help: '1 while this process is the leader for its listener id' },
  { name: N.rlsHidesRows, type: 'gauge', labels: [], role: 'listener', help: '1 when row-level security filters the change-log rows the listener can read' },
  { name: N.actionsExecuted, type: 'counter', labels: ['action_type', 'observer', 'status'], role: 'worker', help: 'Action attempts by outcome' },
  { name: N.actionExecuted, type: 'counter', labels: ['action_type', 'observer', 'status'], role: 'worker', help: 'Same as observer_actions_executed_total (FraiseQL\'s other name)', aliasOf: N.actionsExecuted },
  { name: N.actionsFailed, type: 'counter', labels: ['action_type', 'observer', 'error_type'], role: 'worker', help: 'Failed action attempts by error type' },
  { name: N.actionFailed, type: 'counter', labels: ['action_type', 'observer', 'error_type'], role: 'worker', help: 'Same as observer_actions_failed_total (FraiseQL\'s other name)', aliasOf: N.actionsFailed },
  { name: N.actionDuration, type: 'histogram', labels: ['action_type'], role: 'worker', help: 'Duration of one action attempt' },
  { name: N.breakerState, type: 'gauge', labels: ['target'], role: 'worker', help: 'Circuit breaker state per target (0 closed, 1 open, 2 half-open)' },
  { name: N.breakerRefusals, type: 'counter', labels: ['target'], role: 'worker', help: 'Calls refused by an open or half-open circuit breaker (not attempts: the attempt waits)' },
  { name: N.cacheHits, type: 'counter', labels: ['action_type', 'observer'], role: 'worker', help: 'Actions not performed because a cached outcome of the same action and key was still valid' },
  { name: N.cacheMisses, type: 'counter', labels: ['action_type', 'observer'], role: 'worker', help: 'Cached actions performed because no valid outcome was cached for their key' },
  { name: N.cacheErrors, type: 'counter', labels: ['action_type', 'observer', 'reason'], role: 'worker', help: 'Cached actions performed uncached because the cache could not be used' },
  { name: N.cacheHitRate, type: 'gauge', labels: ['action_type', 'observer'], role: 'worker', help: 'Share of cached actions answered from the cache (hits / (hits + misses)) since the process started' },
  { name: N.eventsFinished, type: 'counter', labels: ['status', 'entity_type'], role: 'worker', help: 'Change events whose actions all finished, by result status' },
  { name: N.eventsFailed, type: 'counter', labels: ['entity_type'], role: 'worker', help: 'Change events whose run failed: observer_events_finished_total{status="failed"}', aliasOf: N.eventsFinished, where: { status: 'failed' } },
  { name: N.eventProcessingDuration, type: 'histogram', labels: ['entity_type', 'status'], role: 'worker', help: 'Seconds from the change-log row commit to the completion of its last action' },
  { name: N.dlqItems, type: 'counter', labels: ['entity_type'], role: 'worker', help: 'Events that ended in the dead-letter queue (failed workflow runs)' },
  { name: N.dlqSize, type: 'gauge', labels: [], role: 'service', help: 'Dead-letter entries: failed processChangeEvent runs not yet retried (from Temporal visibility)' },
  { name: N.jobQueueDepth, type: 'gauge', labels: [], role: 'service', help: 'Change events accepted by Temporal whose actions have not all finished (running workflows)' },
  { name: N.alerts, type: 'counter', labels: ['observer'], role: 'worker', help: 'Alerts raised for failed actions of observers with failure_policy alert' },
  { name: N.auditDocuments, type: 'counter', labels: ['status'], role: 'worker', help: 'Audit documents accepted by Elasticsearch' },
  { name: N.auditFailures, type: 'counter', labels: ['reason'], role: 'worker', help: 'Audit documents Elasticsearch did not accept (dropped)' },
];

/** Every exported metric name (what dashboards and alert rules may query). */
export const EXPORTED_METRIC_NAMES: readonly string[] = METRIC_CATALOG.map((m) => m.name);

/** The catalog entry of `name`, if the service exports it. */
export function metricInfo(name: string): MetricInfo | undefined {
  return METRIC_CATALOG.find((m) => m.name === name);
}

function infoOf(name: string): MetricInfo {
  const info = metricInfo(name);
  if (!info) throw new Error(`internal: metric ${name} is not in METRIC_CATALOG`);
  return info;
}

/**
 * Registers the second spellings ({@link MetricInfo.aliasOf}) on `registry`: each is a counter
 * whose value is copied from its source at scrape time, so the two names can never disagree.
 * A source not registered on this registry (another role) yields no samples.
 */
function registerAliases(registry: Registry): void {
  for (const info of METRIC_CATALOG) {
    const source = info.aliasOf;
    if (!source || registry.getSingleMetric(info.name)) continue;
    const where = info.where ?? {};
    new Counter({
      name: info.name,
      help: info.help,
      labelNames: [...info.labels],
      registers: [registry],
      async collect() {
        this.reset();
        const metric = registry.getSingleMetric(source);
        if (!metric) return;
        for (const v of (await metric.get()).values) {
          if (Object.entries(where).some(([k, want]) => String(v.labels[k]) !== want)) continue;
          const labels: LabelValues<string> = {};
          for (const l of info.labels) if (v.labels[l] !== undefined) labels[l] = v.labels[l];
          this.inc(labels, v.value);
        }
      },
    });
  }
}

/** Create an empty registry (with the alias metrics), optionally with Node process metrics (`process_*`, `nodejs_*`). */
export function createRegistry(options: { defaultMetrics?: boolean; labels?: Record<string, string> } = {}): Registry {
  const registry = new Registry();
  if (options.labels) registry.setDefaultLabels(options.labels);
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });
  registerAliases(registry);
  return registry;
}

/** The listener's metrics (names from the FraiseQL contract where one exists). */
export interface ListenerMetrics {
  /** Rows read and decided (started, skipped or bad). */
  eventsProcessed: Counter;
  /** Rows some observer wanted, by entity type. */
  eventsMatched: Counter<'entity_type'>;
  /** Workflows the starter acknowledged as new, by entity type. */
  workflowsStarted: Counter<'entity_type'>;
  /** Starts answered "already started" (re-reads after restart or failover). */
  dedupSkips: Counter;
  /** Failed start attempts (retried; the checkpoint waits). */
  startFailures: Counter;
  badRows: Counter<'reason'>;
  /** For the row handler's builder: conditions that errored, by observer. */
  conditionErrors: Counter<'observer'>;
  checkpointSaves: Counter;
  /** Highest position in the table minus the saved checkpoint. */
  checkpointLagIds: Gauge;
  /** Seconds since the saved checkpoint last moved while rows were waiting behind it (0 when caught up). */
  checkpointAgeSeconds: Gauge;
  /** Age of the oldest change-log row after the saved checkpoint (0 when caught up). */
  listenerLagSeconds: Gauge;
  /** Open gaps (positions a running transaction may still fill). */
  openGaps: Gauge;
  /** 1 while the listener can do its job (leader reading, or standby with a live lease session). */
  listenerHealth: Gauge;
  listenerIsLeader: Gauge;
  /** 1 when row-level security filters what the listener can read. */
  rlsHidesRows: Gauge;
}

const cache = new WeakMap<Registry, ListenerMetrics>();

/** The listener metrics on `registry`, registered on first use (idempotent per registry). */
export function listenerMetrics(registry: Registry): ListenerMetrics {
  const existing = cache.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const counter = <L extends string = never>(name: string) => new Counter<L>({ name, help: infoOf(name).help, labelNames: infoOf(name).labels as L[], registers });
  const gauge = (name: string) => new Gauge({ name, help: infoOf(name).help, registers });
  const m: ListenerMetrics = {
    eventsProcessed: counter(N.eventsProcessed),
    eventsMatched: counter<'entity_type'>(N.eventsMatched),
    workflowsStarted: counter<'entity_type'>(N.workflowsStarted),
    dedupSkips: counter(N.dedupSkips),
    startFailures: counter(N.startFailures),
    badRows: counter<'reason'>(N.badRows),
    conditionErrors: counter<'observer'>(N.conditionErrors),
    checkpointSaves: counter(N.checkpointSaves),
    checkpointLagIds: gauge(N.checkpointLagIds),
    checkpointAgeSeconds: gauge(N.checkpointAgeSeconds),
    listenerLagSeconds: gauge(N.listenerLagSeconds),
    openGaps: gauge(N.openGaps),
    listenerHealth: gauge(N.listenerHealth),
    listenerIsLeader: gauge(N.listenerIsLeader),
    rlsHidesRows: gauge(N.rlsHidesRows),
  };
  cache.set(registry, m);
  return m;
}
