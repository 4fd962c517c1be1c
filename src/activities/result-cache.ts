/**
 * The action result cache (FraiseQL Phase 8.4): an action with `cache: { ttl_ms, key }` is
 * performed at most once per key within `ttl_ms`; later runs record the cached outcome instead
 * (`cache.hit: true` on their result, naming the event that performed it). Typical use: one
 * cache-invalidation webhook per entity per five minutes, however many changes arrive.
 *
 * Keys are scoped to the action (`<observer>:<index>`): two actions never share outcomes. The
 * default key is `action:<type>:<entity type>:<entity id>`; a `key` template (rendered through the
 * event template module, so a missing field is an error, not an empty key) replaces it.
 *
 * Only successes are cached. While one run performs the action, others for the same key wait for
 * its outcome (up to half their attempt timeout, then a retryable `ResultCacheBusy`) instead of
 * performing it too; if that run fails, its claim is freed and the next one performs the action.
 * When the cache cannot be used (store unreachable, key template failing for this event), the
 * action is performed uncached: the cache saves calls, it never loses one.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { renderTemplate } from '../template';
import type { ChangeEvent } from '../events/types';
import type { ActionCacheMetrics } from '../metrics/action-cache';
import { ErrorType, messageOf, transient } from './errors';
import { cacheKeys, type ResultCacheStore } from './result-cache-store';
import type { Outcome } from './runtime';
import { type ActionInput, type ActionResult, type ActionType, actionTimeoutMs } from '../contract';

/** Dependencies of a {@link ResultCache}. */
export interface ResultCacheDeps {
  store: ResultCacheStore;
  /** Prefix of every key (see `redisNamespace`). */
  namespace: string;
  metrics: ActionCacheMetrics;
  log: Logger;
  clock: () => number;
  /** How often a waiting run looks for the outcome of the run performing the action (default 100 ms). */
  pollMs?: number;
}

/** One attempt's context. */
export interface CachedAttempt {
  observer: string;
  log: Logger;
  signal: AbortSignal | undefined;
  /** Called while waiting (the activity heartbeat), when running in a worker. */
  heartbeat?: () => void;
}

/** The default logical key; null when the event names no entity (nothing to key on). */
export function defaultCacheKey(type: ActionType, event: ChangeEvent): string | null {
  return event.entityId === null ? null : `action:${type}:${event.entityType}:${event.entityId}`;
}

/** Runs actions through the cache. One per activities object. */
export class ResultCache {
  private readonly keys: ReturnType<typeof cacheKeys>;
  private readonly pollMs: number;

  constructor(private readonly d: ResultCacheDeps) {
    this.keys = cacheKeys(d.namespace);
    this.pollMs = d.pollMs ?? 100;
  }

  /** `perform` unless a valid outcome for the action's key is cached; see the module comment. */
  async run<R extends ActionResult>(input: ActionInput, type: ActionType, at: CachedAttempt, perform: () => Promise<Outcome<R>>): Promise<Outcome<R>> {
    const settings = input.action.cache;
    if (!settings) return perform();
    const { event, action } = input;
    let logical: string | null;
    try {
      logical = settings.key === undefined ? defaultCacheKey(type, event) : renderTemplate(settings.key, event, 'key');
    } catch (err) {
      this.d.metrics.error(type, at.observer, 'key_template');
      at.log.warn({ err: messageOf(err) }, `cache key of action ${action.key} failed for this event; performing it uncached`);
      return perform();
    }
    if (logical === null) {
      at.log.debug('event without an entity id: the default cache key needs one; performing the action uncached');
      return perform();
    }
    const storeKey = this.keys.entry(action.key, createHash('sha256').update(logical).digest('hex').slice(0, 40));
    // The same owner for every attempt of this event's action: a retry takes its own pending claim back.
    const owner = `${event.id}:${action.key}`;
    const attemptMs = actionTimeoutMs(action);
    const waitUntil = this.d.clock() + attemptMs / 2;

    for (;;) {
      let claim;
      try {
        claim = await this.d.store.claim(storeKey, owner, attemptMs + 5_000);
      } catch (err) {
        this.d.metrics.error(type, at.observer, 'store_unavailable');
        at.log.warn({ err: messageOf(err), store: this.d.store.kind }, `action result cache unavailable; performing ${action.key} uncached`);
        return perform();
      }
      if (claim.state === 'done') {
        this.d.metrics.hit(type, at.observer);
        this.countShared(action.key, 'hits', at.log);
        const { duration_ms: _d, attempt: _a, cache: _c, ...cached } = claim.entry.result;
        const age = Math.max(0, this.d.clock() - claim.entry.at);
        at.log.debug({ cached_from: claim.entry.eventId, age_ms: age }, 'action not performed: cached outcome reused');
        return { ...(cached as unknown as Outcome<R>), key: action.key, cache: { hit: true, key: logical, event_id: claim.entry.eventId, age_ms: age } };
      }
      if (claim.state === 'claimed') {
        this.d.metrics.miss(type, at.observer);
        this.countShared(action.key, 'misses', at.log);
        let outcome: Outcome<R>;
        try {
          outcome = await perform();
        } catch (err) {
          await this.d.store.abandon(storeKey, owner).catch(() => undefined);
          throw err;
        }
        const result = { ...outcome, cache: { hit: false, key: logical, ttl_ms: settings.ttl_ms } };
        const entry = { eventId: event.id, at: this.d.clock(), result: { ...result, duration_ms: 0 } as unknown as ActionResult };
        // Performed already: a failure to store the outcome must not fail (and so repeat) the action.
        await this.d.store.complete(storeKey, owner, entry, settings.ttl_ms).catch((err: unknown) => {
          this.d.metrics.error(type, at.observer, 'store_unavailable');
          at.log.warn({ err: messageOf(err) }, `cannot store the outcome of ${action.key} in the result cache; the next run performs it again`);
        });
        return result;
      }
      if (this.d.clock() >= waitUntil) {
        throw transient(ErrorType.ResultCacheBusy, `another run (${claim.owner}) is performing the same cached action (cache key ${JSON.stringify(logical)}); will look for its outcome again`);
      }
      at.heartbeat?.();
      await pause(this.pollMs, at.signal);
    }
  }

  private countShared(actionKey: string, what: 'hits' | 'misses', log: Logger): void {
    this.d.store.count(actionKey, what).catch((err: unknown) => log.debug({ err: messageOf(err) }, 'cannot update the shared cache counts'));
  }
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason ?? new Error('cancelled'));
    const timer = setTimeout(done, ms);
    function done(): void {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }
    function onAbort(): void {
      clearTimeout(timer);
      reject(signal?.reason ?? new Error('cancelled'));
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
