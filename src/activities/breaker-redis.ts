/**
 * Breaker state shared by every worker through Redis. Each decision and each outcome is one Lua
 * script, so transitions are atomic even when many workers hit the same target at once.
 * The rules mirror `breaker-memory.ts`.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import {
  type BreakerConfig,
  type BreakerDecision,
  type BreakerOutcome,
  type BreakerPermit,
  type BreakerSnapshot,
  type BreakerStateName,
  type CircuitBreakerStore,
  type ResolvedBreakerConfig,
  resolveBreakerConfig,
} from './breaker';

// Hash fields: st state, gen generation, ou open-until, pi probes issued, ps probe successes, pd probe deadline.
const ACQUIRE = `
local now = tonumber(ARGV[1])
local openMs = tonumber(ARGV[2])
local probes = tonumber(ARGV[3])
local retry = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
local v = redis.call('HMGET', KEYS[1], 'st', 'gen', 'ou', 'pi', 'ps', 'pd')
local st = v[1] or 'closed'
local gen = tonumber(v[2] or '0')
local ou = tonumber(v[3] or '0')
local pi = tonumber(v[4] or '0')
local ps = tonumber(v[5] or '0')
local pd = tonumber(v[6] or '0')
if st == 'open' then
  if now < ou then return {0, 'open', ou - now, gen, 0} end
  st = 'half_open'; gen = gen + 1; pi = 0; ps = 0; pd = now + openMs
end
if st == 'half_open' then
  if pi > ps and now >= pd then pi = ps; pd = now + openMs end
  local allowed = 0
  if pi < probes then pi = pi + 1; allowed = 1 end
  redis.call('HSET', KEYS[1], 'st', st, 'gen', gen, 'pi', pi, 'ps', ps, 'pd', pd)
  redis.call('PEXPIRE', KEYS[1], ttl)
  if allowed == 1 then return {1, 'half_open', 0, gen, 1} end
  return {0, 'half_open', retry, gen, 0}
end
return {1, 'closed', 0, gen, 0}
`;

const RECORD = `
local now = tonumber(ARGV[1])
local outcome = ARGV[2]
local pgen = tonumber(ARGV[3])
local probe = ARGV[4] == '1'
local threshold = tonumber(ARGV[5])
local minCalls = tonumber(ARGV[6])
local size = tonumber(ARGV[7])
local windowMs = tonumber(ARGV[8])
local openMs = tonumber(ARGV[9])
local probes = tonumber(ARGV[10])
local ttl = tonumber(ARGV[11])
local v = redis.call('HMGET', KEYS[1], 'st', 'gen', 'pi', 'ps')
local st = v[1] or 'closed'
local gen = tonumber(v[2] or '0')
local pi = tonumber(v[3] or '0')
local ps = tonumber(v[4] or '0')
if pgen ~= gen then return st end
local function open()
  redis.call('HSET', KEYS[1], 'st', 'open', 'gen', gen + 1, 'ou', now + openMs, 'pi', 0, 'ps', 0)
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('DEL', KEYS[2])
  return 'open'
end
if st == 'closed' then
  if outcome == 'neutral' then return st end
  local failed = '0'
  if outcome == 'failure' then failed = '1' end
  redis.call('LPUSH', KEYS[2], ARGV[1] .. ':' .. failed)
  redis.call('LTRIM', KEYS[2], 0, size - 1)
  redis.call('PEXPIRE', KEYS[2], ttl)
  local calls = 0
  local failures = 0
  for _, e in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
    local sep = string.find(e, ':', 1, true)
    if windowMs == 0 or tonumber(string.sub(e, 1, sep - 1)) > now - windowMs then
      calls = calls + 1
      if string.sub(e, sep + 1) == '1' then failures = failures + 1 end
    end
  end
  if calls >= minCalls and failures / calls >= threshold then return open() end
  return st
end
if st == 'half_open' and probe then
  if outcome == 'neutral' then
    redis.call('HSET', KEYS[1], 'pi', math.max(ps, pi - 1))
    return st
  end
  if outcome == 'failure' then return open() end
  ps = ps + 1
  if ps >= probes then
    redis.call('HSET', KEYS[1], 'st', 'closed', 'gen', gen + 1, 'pi', 0, 'ps', 0)
    redis.call('PEXPIRE', KEYS[1], ttl)
    redis.call('DEL', KEYS[2])
    return 'closed'
  end
  redis.call('HSET', KEYS[1], 'ps', ps)
  return st
end
return st
`;

interface Script {
  source: string;
  sha: string;
}

const script = (source: string): Script => ({ source, sha: createHash('sha1').update(source).digest('hex') });
const SCRIPTS = { acquire: script(ACQUIRE), record: script(RECORD) };

export interface RedisBreakerStoreOptions {
  /** Key prefix; default `fraiseql-observers:breaker:`. */
  prefix?: string;
}

/** Breaker state in Redis, shared by all workers that use the same prefix. */
export class RedisBreakerStore implements CircuitBreakerStore {
  readonly config: ResolvedBreakerConfig;
  private readonly prefix: string;
  private readonly ttlMs: number;

  constructor(
    private readonly redis: Redis,
    config: Partial<BreakerConfig> = {},
    options: RedisBreakerStoreOptions = {},
  ) {
    this.config = resolveBreakerConfig(config);
    this.prefix = options.prefix ?? 'fraiseql-observers:breaker:';
    // Idle targets expire; an open breaker always outlives its open period.
    this.ttlMs = Math.max(this.config.openDurationMs * 4, this.config.windowMs * 2, 3_600_000);
  }

  async acquire(target: string, now: number): Promise<BreakerDecision> {
    const c = this.config;
    const [allowed, state, retryAfterMs, generation, probe] = (await this.eval(SCRIPTS.acquire, [this.stateKey(target)], [
      now,
      c.openDurationMs,
      c.halfOpenProbes,
      c.halfOpenRetryMs,
      this.ttlMs,
    ])) as [number, string, number, number, number];
    if (allowed === 1) return { allowed: true, state: state as 'closed' | 'half_open', probe: probe === 1, generation: Number(generation) };
    return { allowed: false, state: state as 'open' | 'half_open', retryAfterMs: Number(retryAfterMs) };
  }

  async record(target: string, permit: BreakerPermit, outcome: BreakerOutcome, now: number): Promise<BreakerStateName> {
    const c = this.config;
    const state = await this.eval(SCRIPTS.record, [this.stateKey(target), this.windowKey(target)], [
      now,
      outcome,
      permit.generation,
      permit.probe ? 1 : 0,
      c.failureRateThreshold,
      c.minimumCalls,
      c.windowSize,
      c.windowMs,
      c.openDurationMs,
      c.halfOpenProbes,
      this.ttlMs,
    ]);
    return state as BreakerStateName;
  }

  async inspect(target: string, now: number): Promise<BreakerSnapshot> {
    const [[, fields], [, entries]] = (await this.redis
      .multi()
      .hmget(this.stateKey(target), 'st', 'gen', 'ou')
      .lrange(this.windowKey(target), 0, -1)
      .exec()) as [[unknown, Array<string | null>], [unknown, string[]]];
    const state = (fields[0] ?? 'closed') as BreakerStateName;
    const since = this.config.windowMs > 0 ? now - this.config.windowMs : -Infinity;
    let calls = 0;
    let failures = 0;
    for (const e of entries) {
      const [at, failed] = e.split(':');
      if (Number(at) <= since) continue;
      calls += 1;
      if (failed === '1') failures += 1;
    }
    return { state, generation: Number(fields[1] ?? 0), calls, failures, openUntil: state === 'open' ? Number(fields[2]) : null };
  }

  /** Removes the state of `target` (tests, operator reset). */
  async reset(target: string): Promise<void> {
    await this.redis.del(this.stateKey(target), this.windowKey(target));
  }

  // Hash tags keep both keys of a target in one Redis Cluster slot, as multi-key scripts require.
  private stateKey(target: string): string {
    return `${this.prefix}{${target}}`;
  }

  private windowKey(target: string): string {
    return `${this.prefix}{${target}}:window`;
  }

  private async eval(s: Script, keys: string[], args: Array<string | number>): Promise<unknown> {
    try {
      return await this.redis.evalsha(s.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
      return this.redis.eval(s.source, keys.length, ...keys, ...args);
    }
  }
}
