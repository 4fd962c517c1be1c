/**
 * Cache action: delete Redis keys and glob patterns rendered from the event. Values interpolated
 * into patterns are glob-escaped, and a pattern that is nothing but wildcards is refused, so event
 * data can never turn an invalidation into a flush.
 */
import type { Redis } from 'ioredis';
import { ErrorType, messageOf, permanent, transient } from './errors';
import type { Attempt, ActionRuntime, Outcome } from './runtime';
import { globEscape, templateContext } from './template';
import type { ActionInput, CacheAction, CacheResult } from '../contract';

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
  const ctx = templateContext(event);
  const keys = (action.keys ?? []).map((k, i) => rt.renderer.render(k, ctx, `cache keys[${i}]`, 'key'));
  const patterns = (action.patterns ?? []).map((p, i) => rt.renderer.render(p, ctx, `cache patterns[${i}]`, 'glob'));
  keys.forEach((k, i) => {
    if (k === '') throw permanent(ErrorType.InvalidAction, `cache keys[${i}] rendered empty`);
  });
  patterns.forEach((p, i) => {
    if (!hasLiteral(p)) throw permanent(ErrorType.UnsafePattern, `cache patterns[${i}] rendered to ${JSON.stringify(p)}, which matches every key; refused`);
  });
  const redis = action.redis_url_env ? rt.redisFor(at.secrets.resolve(action.redis_url_env, 'cache Redis URL')) : rt.redis;
  if (!redis) throw permanent(ErrorType.NotConfigured, 'cache action: no Redis is configured for the worker and no redis_url_env is set');

  let deleted = 0;
  try {
    for (let i = 0; i < keys.length; i += BATCH) deleted += await redis.unlink(...keys.slice(i, i + BATCH));
    for (const pattern of patterns) deleted += await unlinkMatching(redis, pattern);
  } catch (err) {
    throw transient(ErrorType.CacheError, `cache invalidation failed: ${messageOf(err)}`);
  }
  return { type: 'cache', key: action.key, deleted, keys: keys.length, patterns: patterns.length };
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
