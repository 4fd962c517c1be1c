/**
 * What `cache-stats` reports about the action result cache in Redis: per action key, the outcomes
 * cached now (and claims in progress), and the hits and misses every worker counted.
 */
import type { Redis } from 'ioredis';
import { cacheKeys } from './result-cache-store';

/** One action's cache. */
export interface ActionCacheStats {
  /** `<observer>:<index>`. */
  action: string;
  /** Outcomes standing in for the action now. */
  entries: number;
  /** Runs performing the action right now (others with the same key wait for them). */
  pending: number;
  hits: number;
  misses: number;
  /** hits / (hits + misses); null before the first run. */
  hitRate: number | null;
}

/**
 * Reads the stats of every action that has a counter or an entry under `namespace`, plus the
 * actions named in `actions` (so a configured action with no traffic yet shows zeros).
 */
export async function readResultCacheStats(redis: Redis, namespace: string, actions: readonly string[] = []): Promise<ActionCacheStats[]> {
  const keys = cacheKeys(namespace);
  const counts = await redis.hgetall(keys.stats);
  const byAction = new Map<string, ActionCacheStats>();
  const get = (action: string): ActionCacheStats => {
    let s = byAction.get(action);
    if (!s) {
      s = { action, entries: 0, pending: 0, hits: 0, misses: 0, hitRate: null };
      byAction.set(action, s);
    }
    return s;
  };
  for (const a of actions) get(a);
  for (const [field, value] of Object.entries(counts)) {
    const cut = field.lastIndexOf('|');
    const what = field.slice(cut + 1);
    if (cut < 0 || (what !== 'hits' && what !== 'misses')) continue;
    get(field.slice(0, cut))[what] = Number(value);
  }
  // Entries: <namespace>:cache:entry:<action key>:<digest>; the digest has no ':'.
  const prefix = keys.entryPrefix;
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${globEscape(prefix)}*`, 'COUNT', 1000);
    cursor = next;
    if (found.length === 0) continue;
    const values = await redis.mget(...found);
    found.forEach((key, i) => {
      const rest = key.slice(prefix.length);
      const action = rest.slice(0, rest.lastIndexOf(':'));
      const s = get(action);
      if (values[i]?.startsWith('{"s":"pending"')) s.pending += 1;
      else if (values[i] !== null && values[i] !== undefined) s.entries += 1;
    });
  } while (cursor !== '0');
  for (const s of byAction.values()) s.hitRate = s.hits + s.misses === 0 ? null : s.hits / (s.hits + s.misses);
  return [...byAction.values()].sort((a, b) => a.action.localeCompare(b.action));
}

function globEscape(value: string): string {
  return value.replace(/[*?[\]\\]/g, (ch) => `\\${ch}`);
}
