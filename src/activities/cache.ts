/**
 * Cache action: delete Redis keys and glob patterns rendered from the event. Values interpolated
 * into patterns are glob-escaped, and a pattern that is nothing but wildcards is refused, so event
 * data can never turn an invalidation into a flush.
 */
import type { Redis } from 'ioredis';
import type { ActionInput, CacheAction, CacheResult } from '../contract';
import { globEscape, templateScope } from '../template';
import { isRedisConnectionFailure, unreachableMessage } from '../redis/health';
import { ErrorType, messageOf, permanent, transient } from './errors';
import { renderField } from './render';
import type { Attempt, ActionRuntime, Outcome } from './runtime';

const BATCH = 500;
const SCAN_COUNT = 1000;

/** Whether a glob pattern has at least one literal (non-wildcard) character. */
export function hasLiteral(pattern: string): boolean {
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '\\') return true;
    if (inClass) {
      if (ch === ']') inClass = false;
    } else if (ch === '[') inClass = true;
    else if (ch !== '*' && ch !== '?') return true;
  }
  return false;
}

/** Deletes the rendered keys, then every key matching each rendered pattern (SCAN + UNLINK in batches). */
export async function executeCache(rt: ActionRuntime, input: ActionInput<CacheAction>, at: Attempt): Promise<Outcome<CacheResult>> {
  const { event, action } = input;
  const scope = templateScope(event);
  const keys = (action.keys ?? []).map((k, i) => renderField(k, scope, `cache keys[${i}]`, 'key'));
  const patterns = (action.patterns ?? []).map((p, i) => renderField(p, scope, `cache patterns[${i}]`, 'glob'));
  keys.forEach((k, i) => {
    if (k === '') throw permanent(ErrorType.InvalidAction, `cache keys[${i}] rendered empty`);
  });
  patterns.forEach((p, i) => {
    if (!hasLiteral(p)) throw permanent(ErrorType.UnsafePattern, `cache patterns[${i}] rendered to ${JSON.stringify(p)}, which matches every key; refused`);
  });
  const redis = action.redis_url_env ? await actionRedis(rt, action.redis_url_env, at) : rt.redis;
  if (!redis) throw permanent(ErrorType.NotConfigured, 'cache action: no Redis is configured for the worker and no redis_url_env is set');

  let deleted = 0;
  // Named keys that did not exist and patterns that matched nothing: observer_cache_misses_total.
  let missed = 0;
  try {
    for (let i = 0; i < keys.length; i += BATCH) {
      const batch = keys.slice(i, i + BATCH);
      const n = await redis.unlink(...batch);
      deleted += n;
      missed += batch.length - n;
    }
    for (const pattern of patterns) {
      const n = await unlinkMatching(redis, pattern);
      deleted += n;
      if (n === 0) missed += 1;
    }
  } catch (err) {
    // "Redis at host:port is unreachable", not the client library's retry-limit text.
    const why = isRedisConnectionFailure(redis, err) ? unreachableMessage(redis, err) : messageOf(err);
    throw transient(ErrorType.CacheError, `cache invalidation failed: ${why}`);
  }
  return { type: 'cache', key: action.key, deleted, missed, keys: keys.length, patterns: patterns.length };
}

/**
 * The client for the Redis URL in `variable`, connected to the address the SSRF guard accepted
 * (the same policy as webhooks: a private Redis needs an `ssrf.allow` entry, ideally `host:port`).
 */
async function actionRedis(rt: ActionRuntime, variable: string, at: Attempt): Promise<Redis> {
  const raw = at.secrets.resolve(variable, 'cache Redis URL');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw permanent(ErrorType.InvalidUrl, `cache Redis URL in ${variable} is not a valid URL`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw permanent(ErrorType.InvalidUrl, `cache Redis URL in ${variable} must start with redis:// or rediss://`);
  const port = url.port === '' ? 6379 : Number(url.port);
  const checked = await rt.guard.checkHost(url.hostname, port, `cache Redis (${variable})`);
  return rt.redisFor(raw, checked.addresses[0]?.address ?? checked.hostname);
}

async function unlinkMatching(redis: Redis, pattern: string): Promise<number> {
  // SCAN is not a key command, so ioredis does not apply keyPrefix to MATCH or strip it from replies.
  const prefix = redis.options.keyPrefix ?? '';
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', globEscape(prefix) + pattern, 'COUNT', SCAN_COUNT);
    cursor = next;
    const names = found.map((k) => (prefix && k.startsWith(prefix) ? k.slice(prefix.length) : k));
    for (let i = 0; i < names.length; i += BATCH) deleted += await redis.unlink(...names.slice(i, i + BATCH));
  } while (cursor !== '0');
  return deleted;
}
