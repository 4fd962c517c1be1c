/**
 * Metrics of the duplicate-event window (FraiseQL's names), registered per registry like every
 * other family. Labelled by observer only: never by event id or key.
 */
import { Counter, type Registry } from 'prom-client';

export interface DedupMetrics {
  /** Events an observer skipped: their key was already held by another event within the window. */
  hits: Counter<'observer'>;
  /** Events that opened a window (or re-read / retried events that hold one). */
  misses: Counter<'observer'>;
  /** Windows that could not be checked (store unreachable, key template failed): the event ran. */
  errors: Counter<'observer' | 'reason'>;
}

const cache = new WeakMap<Registry, DedupMetrics>();

/** The dedup metrics on `registry`, registered on first use (idempotent per registry). */
export function dedupMetrics(registry: Registry): DedupMetrics {
  const existing = cache.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const m: DedupMetrics = {
    hits: new Counter({ name: 'observer_dedup_hits_total', help: 'Events skipped by an observer because an identical event opened its dedup window', labelNames: ['observer'], registers }),
    misses: new Counter({ name: 'observer_dedup_misses_total', help: 'Events checked against an observer dedup window and not found there', labelNames: ['observer'], registers }),
    errors: new Counter({ name: 'observer_dedup_errors_total', help: 'Dedup window checks that failed (the event ran unchecked)', labelNames: ['observer', 'reason'], registers }),
  };
  cache.set(registry, m);
  return m;
}
