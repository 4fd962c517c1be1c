/**
 * `debug-event`'s view of the duplicate-event window: for each matched observer with a `dedup:`
 * window, which event holds the event's key in Redis, so an operator can see that (and why) an
 * event was skipped, and which event it duplicated.
 */
import type { Redis } from 'ioredis';
import type { ObserverConfig } from '../config';
import { dedupKeyOf, dedupStoreKey, redisNamespace } from '../events/dedup-key';
import type { ChangeEvent } from '../events/types';
import { RedisDedupStore } from '../listener/dedup-store';
import { connectRedis, RedisUnreachableError } from './redis-probe';

/** One observer's window for the event. */
export interface DedupVerdict {
  window_ms: number;
  /** The logical key (rendered template, or the default key). */
  key: string | null;
  /** Where it lives in Redis. */
  store_key: string | null;
  /**
   * holds_window: this event opened the window (its actions run); duplicate: another event holds
   * the key, so this observer skips this event; no_window: nothing held (the window expired, or the
   * event was not read yet); unchecked: the window could not be looked up (see `note`).
   */
  state: 'holds_window' | 'duplicate' | 'no_window' | 'unchecked';
  duplicate_of?: string;
  /** Time left in the window. */
  expires_in_ms?: number;
  note?: string;
}

/**
 * Looks up every windowed observer of `observers` (the matched ones) for `event`.
 *
 * @param redisUrl the listener's REDIS_URL; null → every verdict is `unchecked` (the in-process
 *   fallback cannot be seen from another process).
 */
export async function lookUpDedup(
  event: ChangeEvent,
  observers: readonly ObserverConfig[],
  o: { redisUrl: string | null; workflowIdPrefix: string; timeoutMs: number },
): Promise<Map<string, DedupVerdict>> {
  const out = new Map<string, DedupVerdict>();
  const windowed = observers.filter((obs) => obs.dedup !== null);
  if (windowed.length === 0) return out;
  let redis: Redis | null = null;
  try {
    let connectError: string | null = null;
    if (o.redisUrl !== null) {
      try {
        redis = await connectRedis(o.redisUrl, o.timeoutMs);
      } catch (err) {
        if (!(err instanceof RedisUnreachableError)) throw err;
        connectError = err.message;
      }
    }
    const store = redis ? new RedisDedupStore(redis) : null;
    for (const obs of windowed) {
      const settings = obs.dedup!;
      const base = { window_ms: settings.windowMs };
      let key: string;
      try {
        key = dedupKeyOf(settings, event);
      } catch (err) {
        out.set(obs.name, { ...base, key: null, store_key: null, state: 'unchecked', note: `the key template fails for this event (${(err as Error).message}): the listener runs the observer unchecked` });
        continue;
      }
      const storeKey = dedupStoreKey(redisNamespace(o.workflowIdPrefix), obs.name, key);
      const known = { ...base, key, store_key: storeKey };
      if (!store) {
        out.set(obs.name, { ...known, state: 'unchecked', note: connectError ?? 'no REDIS_URL (or --redis-url): the listener keeps its windows in its own memory, which cannot be seen from here' });
        continue;
      }
      const held = await store.peek(storeKey);
      if (held === null) out.set(obs.name, { ...known, state: 'no_window' });
      else if (held.eventId === event.id) out.set(obs.name, { ...known, state: 'holds_window', expires_in_ms: held.ttlMs });
      else out.set(obs.name, { ...known, state: 'duplicate', duplicate_of: held.eventId, expires_in_ms: held.ttlMs });
    }
  } finally {
    redis?.disconnect();
  }
  return out;
}

/** One line for the human output. */
export function describeDedupVerdict(v: DedupVerdict): string {
  switch (v.state) {
    case 'holds_window':
      return `dedup: this event opened the ${v.window_ms} ms window (ends in ${v.expires_in_ms} ms)`;
    case 'duplicate':
      return `dedup: DUPLICATE of event ${v.duplicate_of} (its window ends in ${v.expires_in_ms} ms): the listener skips this observer for this event`;
    case 'no_window':
      return `dedup: no window open for this key (expired, or the event is not read yet)`;
    case 'unchecked':
      return `dedup: not checked: ${v.note ?? ''}`;
  }
}
