/**
 * Where the duplicate-event window remembers keys: Redis (`SET NX PX` semantics, shared by every
 * listener of a deployment and surviving restarts and failover), or this process's memory (the
 * documented fallback without Redis: one listener, forgotten on restart).
 *
 * The value of a key is the id of the event that opened the window, so a re-read or a retried
 * start of that same event is never taken for its own duplicate, and `debug-event` can say which
 * event a skipped one duplicated.
 */
import type { Redis } from 'ioredis';

/** The event holding a key, and how long its window still runs. */
export interface DedupHolder {
  eventId: string;
  ttlMs: number;
}

export interface DedupStore {
  /** `redis` or `memory`, for logs and `debug-event`. */
  readonly kind: 'redis' | 'memory';
  /**
   * Opens a window of `windowMs` on `key` for `eventId` unless one is open. Returns null when the
   * key is now (or was already) held by `eventId`, else the id of the event that holds it.
   */
  claim(key: string, eventId: string, windowMs: number): Promise<string | null>;
  /** Closes the window on `key` if `eventId` holds it (its start failed: never let a failed start hide later events). */
  release(key: string, eventId: string): Promise<void>;
  /** Who holds `key`, or null. */
  peek(key: string): Promise<DedupHolder | null>;
}

// GET then SET NX PX in one step: an own key is not refreshed, so the window stays anchored at the first event.
const CLAIM = `
local holder = redis.call('GET', KEYS[1])
if holder then
  if holder == ARGV[1] then return false end
  return holder
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** Keys in Redis, shared by every listener that uses the same Redis and namespace. */
export class RedisDedupStore implements DedupStore {
  readonly kind = 'redis';

  constructor(private readonly redis: Redis) {}

  async claim(key: string, eventId: string, windowMs: number): Promise<string | null> {
    const holder = (await this.redis.eval(CLAIM, 1, key, eventId, String(windowMs))) as string | null;
    return typeof holder === 'string' ? holder : null;
  }

  async release(key: string, eventId: string): Promise<void> {
    await this.redis.eval(RELEASE, 1, key, eventId);
  }

  async peek(key: string): Promise<DedupHolder | null> {
    const [[, holder], [, ttl]] = (await this.redis.multi().get(key).pttl(key).exec()) as [[unknown, string | null], [unknown, number]];
    return holder === null ? null : { eventId: holder, ttlMs: Math.max(0, ttl) };
  }
}

/**
 * Keys in this process only: right for a single listener, forgotten on restart (a duplicate whose
 * original was read before the restart then runs; nothing is ever skipped wrongly).
 */
export class MemoryDedupStore implements DedupStore {
  readonly kind = 'memory';
  private readonly keys = new Map<string, { eventId: string; expiresAt: number }>();

  constructor(
    private readonly clock: () => number = Date.now,
    /** Bound on remembered keys; expired ones go first, then the oldest. */
    private readonly maxKeys = 1_000_000,
  ) {}

  claim(key: string, eventId: string, windowMs: number): Promise<string | null> {
    const now = this.clock();
    const held = this.live(key, now);
    if (held) return Promise.resolve(held.eventId === eventId ? null : held.eventId);
    this.keys.set(key, { eventId, expiresAt: now + windowMs });
    if (this.keys.size > this.maxKeys) this.evict(now);
    return Promise.resolve(null);
  }

  release(key: string, eventId: string): Promise<void> {
    if (this.keys.get(key)?.eventId === eventId) this.keys.delete(key);
    return Promise.resolve();
  }

  peek(key: string): Promise<DedupHolder | null> {
    const now = this.clock();
    const held = this.live(key, now);
    return Promise.resolve(held ? { eventId: held.eventId, ttlMs: held.expiresAt - now } : null);
  }

  private live(key: string, now: number): { eventId: string; expiresAt: number } | null {
    const held = this.keys.get(key);
    if (!held) return null;
    if (held.expiresAt > now) return held;
    this.keys.delete(key);
    return null;
  }

  private evict(now: number): void {
    for (const [key, held] of this.keys) if (held.expiresAt <= now) this.keys.delete(key);
    // Map order is insertion order: the oldest windows go first.
    for (const key of this.keys.keys()) {
      if (this.keys.size <= this.maxKeys) break;
      this.keys.delete(key);
    }
  }
}

/** A store and how to release it. */
export interface OpenDedupStore {
  store: DedupStore;
  close(): Promise<void>;
}

/**
 * The store a listener uses: Redis at `redisUrl` (its own connection, few retries per command so
 * an outage makes a check fail fast instead of stalling starts), else this process's memory.
 */
export function openDedupStore(redisUrl: string | null, onError: (err: Error) => void, createRedis: (url: string) => Redis): OpenDedupStore {
  if (redisUrl === null) return { store: new MemoryDedupStore(), close: () => Promise.resolve() };
  const redis = createRedis(redisUrl);
  redis.on('error', onError);
  return {
    store: new RedisDedupStore(redis),
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
