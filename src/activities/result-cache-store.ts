/**
 * Where the action result cache keeps outcomes: Redis (shared by every worker, the default when
 * REDIS_URL is set) or this process's memory (one worker; forgotten on restart).
 *
 * A key is either `pending` (an attempt is performing the action now; expires with that attempt's
 * timeout, so a crashed worker never blocks the key for longer) or `done` (the outcome, kept for
 * the action's `ttl_ms`). The pending claim is what makes a burst of events for the same key
 * perform the action once: the others wait for the outcome instead of racing to perform it too.
 */
import type { Redis } from 'ioredis';
import type { ActionResult } from '../contract';

/** An outcome standing in for the action within its TTL. */
export interface CachedOutcome {
  /** The event whose run performed the action. */
  eventId: string;
  /** When it was performed (ms since the epoch). */
  at: number;
  result: ActionResult;
}

/** What a claim found. */
export type ClaimResult =
  | { state: 'claimed' }
  | { state: 'done'; entry: CachedOutcome }
  | { state: 'pending'; owner: string };

/** Hits and misses of one action, across every worker that shares the store. */
export interface ActionCacheCounts {
  hits: number;
  misses: number;
}

export interface ResultCacheStore {
  readonly kind: 'redis' | 'memory';
  /**
   * Claims `key` for `owner` for `pendingMs` when it is free (or already pending for `owner`: a
   * retried attempt takes its own claim back), else reports the outcome or the other owner.
   */
  claim(key: string, owner: string, pendingMs: number): Promise<ClaimResult>;
  /** Stores the outcome for `ttlMs`, unless another owner has taken the key meanwhile. */
  complete(key: string, owner: string, entry: CachedOutcome, ttlMs: number): Promise<void>;
  /** Frees `key` if `owner`'s claim is still pending there (the action failed: nothing to cache). */
  abandon(key: string, owner: string): Promise<void>;
  /** Counts a hit or a miss of an action (for `cache-stats`). */
  count(actionKey: string, what: 'hits' | 'misses'): Promise<void>;
}

type Stored = { s: 'pending'; o: string } | { s: 'done'; o: string; e: string; at: number; r: ActionResult };

function parse(raw: string): Stored | null {
  try {
    const v = JSON.parse(raw) as Stored;
    return v && (v.s === 'pending' || v.s === 'done') ? v : null;
  } catch {
    return null;
  }
}

function toClaim(v: Stored | null): ClaimResult {
  if (v === null) return { state: 'claimed' };
  if (v.s === 'done') return { state: 'done', entry: { eventId: v.e, at: v.at, result: v.r } };
  return { state: 'pending', owner: v.o };
}

// Take the key when free or pending for the same owner; otherwise return what is there.
const CLAIM = `
local v = redis.call('GET', KEYS[1])
if v then
  local ok, d = pcall(cjson.decode, v)
  if ok and not (d.s == 'pending' and d.o == ARGV[1]) then return v end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return false`;

const COMPLETE = `
local v = redis.call('GET', KEYS[1])
if v then
  local ok, d = pcall(cjson.decode, v)
  if ok and (d.s ~= 'pending' or d.o ~= ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`;

const ABANDON = `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local ok, d = pcall(cjson.decode, v)
if ok and d.s == 'pending' and d.o == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** The key prefixes of a deployment's cache (see `redisNamespace`). */
export function cacheKeys(namespace: string): { entry: (actionKey: string, digest: string) => string; entryPrefix: string; stats: string } {
  return {
    entry: (actionKey, digest) => `${namespace}:cache:entry:${actionKey}:${digest}`,
    /** Every entry key starts with it (then `<action key>:<digest>`). */
    entryPrefix: `${namespace}:cache:entry:`,
    stats: `${namespace}:cache:stats`,
  };
}

/** Outcomes in Redis; hit and miss counts in one hash per deployment (`<namespace>:cache:stats`). */
export class RedisResultCacheStore implements ResultCacheStore {
  readonly kind = 'redis';

  constructor(
    private readonly redis: Redis,
    private readonly statsKey: string,
  ) {}

  async claim(key: string, owner: string, pendingMs: number): Promise<ClaimResult> {
    const pending: Stored = { s: 'pending', o: owner };
    const raw = (await this.redis.eval(CLAIM, 1, key, owner, JSON.stringify(pending), String(pendingMs))) as string | null;
    return typeof raw === 'string' ? toClaim(parse(raw)) : { state: 'claimed' };
  }

  async complete(key: string, owner: string, entry: CachedOutcome, ttlMs: number): Promise<void> {
    const done: Stored = { s: 'done', o: owner, e: entry.eventId, at: entry.at, r: entry.result };
    await this.redis.eval(COMPLETE, 1, key, owner, JSON.stringify(done), String(ttlMs));
  }

  async abandon(key: string, owner: string): Promise<void> {
    await this.redis.eval(ABANDON, 1, key, owner);
  }

  async count(actionKey: string, what: 'hits' | 'misses'): Promise<void> {
    await this.redis.hincrby(this.statsKey, `${actionKey}|${what}`, 1);
  }
}

/** Outcomes in this process (one worker); counts too. */
export class MemoryResultCacheStore implements ResultCacheStore {
  readonly kind = 'memory';
  private readonly entries = new Map<string, { v: Stored; expiresAt: number }>();
  /** Per action key. */
  readonly counts = new Map<string, ActionCacheCounts>();

  constructor(
    private readonly clock: () => number = Date.now,
    private readonly maxEntries = 100_000,
  ) {}

  claim(key: string, owner: string, pendingMs: number): Promise<ClaimResult> {
    const held = this.live(key);
    if (held && !(held.s === 'pending' && held.o === owner)) return Promise.resolve(toClaim(held));
    this.set(key, { s: 'pending', o: owner }, pendingMs);
    return Promise.resolve({ state: 'claimed' });
  }

  complete(key: string, owner: string, entry: CachedOutcome, ttlMs: number): Promise<void> {
    const held = this.live(key);
    if (!held || (held.s === 'pending' && held.o === owner)) this.set(key, { s: 'done', o: owner, e: entry.eventId, at: entry.at, r: entry.result }, ttlMs);
    return Promise.resolve();
  }

  abandon(key: string, owner: string): Promise<void> {
    const held = this.live(key);
    if (held?.s === 'pending' && held.o === owner) this.entries.delete(key);
    return Promise.resolve();
  }

  count(actionKey: string, what: 'hits' | 'misses'): Promise<void> {
    const c = this.counts.get(actionKey) ?? { hits: 0, misses: 0 };
    c[what] += 1;
    this.counts.set(actionKey, c);
    return Promise.resolve();
  }

  private live(key: string): Stored | null {
    const e = this.entries.get(key);
    if (!e) return null;
    if (e.expiresAt > this.clock()) return e.v;
    this.entries.delete(key);
    return null;
  }

  private set(key: string, v: Stored, ms: number): void {
    this.entries.delete(key);
    this.entries.set(key, { v, expiresAt: this.clock() + ms });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }
}
