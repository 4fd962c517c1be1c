/**
 * Metrics of the action result cache (FraiseQL's names), per registry. `observer_cache_hit_rate`
 * is hits / (hits + misses) of this process since it started, per action type and observer,
 * computed when scraped. Labels never carry event ids or keys.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface ActionCacheMetrics {
  hit(actionType: string, observer: string): void;
  miss(actionType: string, observer: string): void;
  /** A cache that could not be used (store unreachable, key template failed): the action was performed uncached. */
  error(actionType: string, observer: string, reason: string): void;
}

const cache = new WeakMap<Registry, ActionCacheMetrics>();

/** The cache metrics on `registry`, registered on first use (idempotent per registry). */
export function actionCacheMetrics(registry: Registry): ActionCacheMetrics {
  const existing = cache.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const labelNames = ['action_type', 'observer'] as const;
  const totals = new Map<string, { labels: { action_type: string; observer: string }; hits: number; misses: number }>();
  const hits = new Counter({ name: 'observer_cache_hits_total', help: 'Actions not performed because a cached outcome of the same action and key was still valid', labelNames, registers });
  const misses = new Counter({ name: 'observer_cache_misses_total', help: 'Cached actions performed because no valid outcome was cached for their key', labelNames, registers });
  const errors = new Counter({ name: 'observer_cache_errors_total', help: 'Cached actions performed uncached because the cache could not be used', labelNames: [...labelNames, 'reason'], registers });
  new Gauge({
    name: 'observer_cache_hit_rate',
    help: 'Share of cached actions answered from the cache (hits / (hits + misses)) since the process started',
    labelNames,
    registers,
    collect() {
      for (const t of totals.values()) this.set(t.labels, t.hits / (t.hits + t.misses));
    },
  });
  const tally = (actionType: string, observer: string, what: 'hits' | 'misses') => {
    const id = `${actionType}\u0000${observer}`;
    const t = totals.get(id) ?? { labels: { action_type: actionType, observer }, hits: 0, misses: 0 };
    t[what] += 1;
    totals.set(id, t);
  };
  const m: ActionCacheMetrics = {
    hit(actionType, observer) {
      hits.inc({ action_type: actionType, observer });
      tally(actionType, observer, 'hits');
    },
    miss(actionType, observer) {
      misses.inc({ action_type: actionType, observer });
      tally(actionType, observer, 'misses');
    },
    error(actionType, observer, reason) {
      errors.inc({ action_type: actionType, observer, reason });
    },
  };
  cache.set(registry, m);
  return m;
}
