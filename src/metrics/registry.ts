/**
 * Metrics registries. Every component registers on a Registry it is given (never prom-client's
 * global default), so tests and several listeners in one process never share counters by accident.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

/** Create an empty registry, optionally with Node process metrics (`process_*`, `nodejs_*`). */
export function createRegistry(options: { defaultMetrics?: boolean; labels?: Record<string, string> } = {}): Registry {
  const registry = new Registry();
  if (options.labels) registry.setDefaultLabels(options.labels);
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });
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
  const m: ListenerMetrics = {
    eventsProcessed: new Counter({ name: 'observer_events_processed_total', help: 'Change-log rows read and decided by the listener', registers }),
    eventsMatched: new Counter({ name: 'observer_events_matched_total', help: 'Change events matched by at least one observer', labelNames: ['entity_type'], registers }),
    workflowsStarted: new Counter({ name: 'observer_workflows_started_total', help: 'Workflows started for matched events', labelNames: ['entity_type'], registers }),
    dedupSkips: new Counter({ name: 'observer_dedup_skips_total', help: 'Workflow starts rejected as already started (re-reads)', registers }),
    startFailures: new Counter({ name: 'observer_workflow_start_failures_total', help: 'Failed workflow start attempts (retried)', registers }),
    badRows: new Counter({ name: 'observer_bad_rows_total', help: 'Change-log rows skipped because they cannot become events', labelNames: ['reason'], registers }),
    conditionErrors: new Counter({ name: 'observer_condition_errors_total', help: 'Observer conditions that failed to evaluate (observer skipped)', labelNames: ['observer'], registers }),
    checkpointSaves: new Counter({ name: 'observer_checkpoint_saves_total', help: 'Checkpoint compare-and-swap saves', registers }),
    checkpointLagIds: new Gauge({ name: 'observer_checkpoint_lag_ids', help: 'Highest change-log position minus the saved checkpoint', registers }),
    checkpointAgeSeconds: new Gauge({ name: 'observer_checkpoint_age_seconds', help: 'Seconds the checkpoint has been behind the table head without moving', registers }),
    openGaps: new Gauge({ name: 'observer_listener_open_gaps', help: 'Change-log position ranges held open for uncommitted transactions', registers }),
    listenerHealth: new Gauge({ name: 'observer_listener_health', help: '1 when the listener is healthy', registers }),
    listenerIsLeader: new Gauge({ name: 'observer_listener_is_leader', help: '1 while this process is the leader for its listener id', registers }),
    rlsHidesRows: new Gauge({ name: 'observer_listener_rls_hides_rows', help: '1 when row-level security filters the change-log rows the listener can read', registers }),
  };
  cache.set(registry, m);
  return m;
}
