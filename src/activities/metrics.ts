/**
 * Action metrics, created per prom-client registry (never in the global one), with the names the
 * FraiseQL dashboards use. Values count activity attempts; labels never carry event ids.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { BREAKER_STATE_VALUE, type BreakerStateName } from './breaker';

export interface ActionMetrics {
  attempt(actionType: string, observer: string, seconds: number, errorType?: string): void;
  breakerState(target: string, state: BreakerStateName): void;
  /** A call the breaker refused (the attempt then waited, or failed when its wait budget was spent). */
  breakerRefusal(target: string): void;
}

const NOOP: ActionMetrics = { attempt: () => undefined, breakerState: () => undefined, breakerRefusal: () => undefined };

/**
 * Returns recorders bound to `registry` (no-ops without one). Metrics already registered under the
 * same names (e.g. by the metrics module) are reused, so both can share a registry.
 */
export function actionMetrics(registry?: Registry): ActionMetrics {
  if (!registry) return NOOP;
  const executed = reuse(registry, 'observer_actions_executed_total', () =>
    new Counter({ name: 'observer_actions_executed_total', help: 'Action attempts by outcome', labelNames: ['action_type', 'observer', 'status'], registers: [registry] }),
  );
  const failed = reuse(registry, 'observer_actions_failed_total', () =>
    new Counter({ name: 'observer_actions_failed_total', help: 'Failed action attempts by error type', labelNames: ['action_type', 'observer', 'error_type'], registers: [registry] }),
  );
  const duration = reuse(registry, 'observer_action_duration_seconds', () =>
    new Histogram({
      name: 'observer_action_duration_seconds',
      help: 'Duration of one action attempt',
      labelNames: ['action_type'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
  );
  const breaker = reuse(registry, 'observer_circuit_breaker_state', () =>
    new Gauge({ name: 'observer_circuit_breaker_state', help: 'Circuit breaker state per target (0 closed, 1 open, 2 half-open)', labelNames: ['target'], registers: [registry] }),
  );
  const refusals = reuse(registry, 'observer_circuit_breaker_refusals_total', () =>
    new Counter({ name: 'observer_circuit_breaker_refusals_total', help: 'Calls refused by an open or half-open circuit breaker (not attempts: the attempt waits)', labelNames: ['target'], registers: [registry] }),
  );
  return {
    attempt(actionType, observer, seconds, errorType) {
      executed.inc({ action_type: actionType, observer, status: errorType ? 'failure' : 'success' });
      if (errorType) failed.inc({ action_type: actionType, observer, error_type: errorType });
      duration.observe({ action_type: actionType }, seconds);
    },
    breakerState(target, state) {
      breaker.set({ target }, BREAKER_STATE_VALUE[state]);
    },
    breakerRefusal(target) {
      refusals.inc({ target });
    },
  };
}

function reuse<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}
