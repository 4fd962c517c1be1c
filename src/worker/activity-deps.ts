/**
 * The long-lived clients the action activities use, built from the frozen config: a pg pool for
 * `database` actions, Redis (when REDIS_URL is set) for `cache` actions and the shared circuit
 * breaker state, the SSRF allowlist of the observers file, and the metrics registry.
 */
import { Redis } from 'ioredis';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import {
  type ActivityDeps, type CircuitBreakerStore, InMemoryBreakerStore, MemoryResultCacheStore, RedisBreakerStore, RedisResultCacheStore, type ResultCacheStore, cacheKeys,
} from '../activities';
import { redisNamespace } from '../events/dedup-key';
import type { Config } from '../config';
import { createPool } from '../db/pool';
import { watchRedis } from '../redis/health';

export interface ActivityResources {
  deps: ActivityDeps;
  /** Ends the pool and the Redis client created here. */
  close(): Promise<void>;
}

export interface ActivityResourceOptions {
  config: Config;
  /** Where `*_env` secrets are resolved at run time (usually `process.env`). */
  env: Record<string, string | undefined>;
  log: Logger;
  registry: Registry;
  /** Size of the pool for `database` actions; default min(10, activity slots). */
  poolSize?: number;
}

/** Creates the activities' dependencies. Nothing connects until an action needs it. */
export function createActivityResources(o: ActivityResourceOptions): ActivityResources {
  const { config, log } = o;
  const db: Pool = createPool({
    connectionString: config.env.databaseUrl,
    max: o.poolSize ?? Math.min(10, config.env.workerMaxConcurrentActivities),
    application_name: 'fraiseql-observers-worker',
    logger: log,
  });
  let redis: Redis | undefined;
  let breaker: CircuitBreakerStore;
  const cacheNamespace = redisNamespace(config.env.workflowIdPrefix);
  let resultCache: ResultCacheStore = new MemoryResultCacheStore();
  if (config.env.redisUrl) {
    // Few retries per command: a Redis outage must fail an attempt (retried by Temporal), not hang it.
    redis = new Redis(config.env.redisUrl, { maxRetriesPerRequest: 2, lazyConnect: true, connectionName: 'fraiseql-observers-worker' });
    watchRedis(redis, log, 'cache actions and the shared circuit-breaker state');
    breaker = new RedisBreakerStore(redis, { ...config.breaker });
    resultCache = new RedisResultCacheStore(redis, cacheKeys(cacheNamespace).stats);
  } else {
    breaker = new InMemoryBreakerStore({ ...config.breaker });
    if (config.observers.some((o) => o.actions.some((a) => a.cache !== undefined))) {
      log.warn('actions with cache: keep their outcomes in this worker only (REDIS_URL is not set): other workers perform them again, and a restart forgets them');
    }
  }
  const deps: ActivityDeps = {
    env: o.env,
    log,
    breaker,
    ssrf: { allow: config.ssrf.allow },
    redis,
    db,
    metrics: o.registry,
    resultCache,
    cacheNamespace,
  };
  let closed = false;
  return {
    deps,
    async close() {
      if (closed) return;
      closed = true;
      await db.end().catch(() => undefined);
      if (redis) await redis.quit().catch(() => redis?.disconnect());
    },
  };
}
