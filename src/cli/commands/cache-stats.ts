import type { Redis } from 'ioredis';
import { type ActionCacheStats, readResultCacheStats } from '../../activities/result-cache-stats';
import { ConfigError, loadConfig } from '../../config';
import { redisNamespace } from '../../events/dedup-key';
import { BaseCommand, Flags } from '../base';
import { connectRedis, describeRedis, RedisUnreachableError } from '../redis-probe';

/** One action of `cache-stats --json`. */
export type CacheStatsRow = ActionCacheStats & {
  /** From --config: the action's type and cache settings; null for an action the file no longer has. */
  type: string | null;
  ttlMs: number | null;
  keyTemplate: string | null;
};

/** Result of `cache-stats`. */
export interface CacheStatsResult {
  redis: string;
  namespace: string;
  actions: CacheStatsRow[];
  totals: { entries: number; pending: number; hits: number; misses: number; hitRate: number | null };
}

const PREFIX = /^[A-Za-z0-9._:-]{1,100}$/;

/** `fraiseql-observers cache-stats`: the action result cache in Redis, per action. */
export default class CacheStats extends BaseCommand<typeof CacheStats> {
  static override summary = 'Show the action result cache: cached outcomes, hits, misses and hit rate per action';
  static override description =
    'Reads the cache that actions with `cache: { ttl_ms, key }` share through Redis: for every action (observer:index), the outcomes cached now, ' +
    'runs performing it right now, and the hits and misses counted by every worker since the counts began, with the hit rate. With --config, ' +
    'every cached action of the observers file is listed (with its TTL and key template), traffic or not. Without Redis each worker keeps ' +
    'its own cache: read observer_cache_* on its /metrics instead.';
  static override examples = [
    '<%= config.bin %> cache-stats --config observers.yaml',
    '<%= config.bin %> cache-stats --redis-url redis://cache.internal:6379 --json',
  ];
  static override flags = {
    config: Flags.string({ char: 'c', description: 'observers file: list its cached actions with their settings' }),
    'redis-url': Flags.string({ description: 'Redis the workers share (default: $REDIS_URL)' }),
    'workflow-id-prefix': Flags.string({ description: 'the deployment\'s workflow id prefix, which namespaces its Redis keys (default: $WORKFLOW_ID_PREFIX, else fraiseql-event)' }),
    timeout: Flags.integer({ default: 3000, min: 100, max: 60_000, description: 'ms to wait for Redis' }),
  };

  public async run(): Promise<CacheStatsResult> {
    const url = this.flags['redis-url'] ?? process.env.REDIS_URL;
    if (!url) {
      this.error('cache-stats reads the result cache the workers share in Redis: set REDIS_URL or pass --redis-url (without Redis each worker keeps its own cache; see observer_cache_* on its /metrics)', { exit: 2 });
    }
    if (!/^rediss?:\/\//.test(url) || !URL.canParse(url)) this.error(`--redis-url / REDIS_URL: expected a redis:// or rediss:// URL, got ${JSON.stringify(url.replace(/\/\/[^@/]*@/, '//***@'))}`, { exit: 2 });
    const prefix = this.flags['workflow-id-prefix'] ?? process.env.WORKFLOW_ID_PREFIX ?? 'fraiseql-event';
    if (!PREFIX.test(prefix)) this.error(`--workflow-id-prefix / WORKFLOW_ID_PREFIX: expected letters, digits, . _ : or -, got ${JSON.stringify(prefix)}`, { exit: 2 });

    const configured = new Map<string, { type: string; ttlMs: number; keyTemplate: string | null }>();
    if (this.flags.config) {
      try {
        const config = await loadConfig({ env: { DATABASE_URL: 'postgres://unused/unused', ...process.env }, file: this.flags.config });
        for (const o of config.observers) {
          o.actions.forEach((a, i) => {
            if (a.cache) configured.set(`${o.name}:${i}`, { type: a.type, ttlMs: a.cache.ttl_ms, keyTemplate: a.cache.key ?? null });
          });
        }
      } catch (err) {
        if (err instanceof ConfigError) this.error(err.message, { exit: 2 });
        throw err;
      }
    }

    const namespace = redisNamespace(prefix);
    let redis: Redis;
    try {
      redis = await connectRedis(url, this.flags.timeout);
    } catch (err) {
      if (err instanceof RedisUnreachableError) this.error(err.message, { exit: 1 });
      throw err;
    }
    let stats: ActionCacheStats[];
    try {
      stats = await readResultCacheStats(redis, namespace, [...configured.keys()]);
    } finally {
      redis.disconnect();
    }
    const actions: CacheStatsRow[] = stats.map((s) => {
      const c = configured.get(s.action);
      return { ...s, type: c?.type ?? null, ttlMs: c?.ttlMs ?? null, keyTemplate: c?.keyTemplate ?? null };
    });
    const sum = (f: (s: ActionCacheStats) => number) => actions.reduce((n, s) => n + f(s), 0);
    const hits = sum((s) => s.hits);
    const misses = sum((s) => s.misses);
    const result: CacheStatsResult = {
      redis: describeRedis(url),
      namespace,
      actions,
      totals: { entries: sum((s) => s.entries), pending: sum((s) => s.pending), hits, misses, hitRate: hits + misses === 0 ? null : hits / (hits + misses) },
    };
    if (!this.jsonEnabled()) this.print(result, this.flags.config !== undefined);
    return result;
  }

  private print(r: CacheStatsResult, withConfig: boolean): void {
    this.log(`Action result cache in Redis ${r.redis} (keys ${r.namespace}:cache:*)`);
    if (r.actions.length === 0) {
      this.log(withConfig ? 'No action of the observers file has cache:, and Redis holds no cached outcome.' : 'Nothing cached and no hits or misses counted yet (pass --config to list the cached actions of an observers file).');
      return;
    }
    const rate = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(1)} %`);
    this.table(
      ['action', 'type', 'ttl', 'key', 'cached now', 'in progress', 'hits', 'misses', 'hit rate'],
      r.actions.map((a) => [
        a.action, a.type ?? (withConfig ? '(not in the file)' : ''), a.ttlMs === null ? '' : `${a.ttlMs} ms`, a.keyTemplate ?? (a.type ? 'default' : ''),
        a.entries, a.pending, a.hits, a.misses, rate(a.hitRate),
      ]),
    );
    this.log(`Total: ${r.totals.entries} cached, ${r.totals.hits} hits, ${r.totals.misses} misses, hit rate ${rate(r.totals.hitRate)}`);
  }
}
