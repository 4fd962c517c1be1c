/**
 * `fraiseql-observers cache-stats` against the local Redis: counts and entries written the way the
 * workers write them, without and with an observers file, and a clear error (with its exit code)
 * for a missing, malformed or unreachable Redis.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { RedisResultCacheStore, cacheKeys } from '../../src/activities';
import CacheStats, { type CacheStatsResult } from '../../src/cli/commands/cache-stats';
import { runCommand } from '../helpers/run-command';

jest.setTimeout(30_000);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

beforeAll(() => {
  // oclif's Config.load asks wsl-utils for the platform through a dynamic import() that Jest's VM refuses.
  const oclifOs = require(path.join(path.dirname(require.resolve('@oclif/core')), 'util/os.js'));
  jest.spyOn(oclifOs, 'getPlatform').mockResolvedValue(process.platform);
});

function cacheStats(argv: string[]) {
  return runCommand<CacheStatsResult>(CacheStats, argv);
}

describe('cache-stats', () => {
  let redis: Redis;
  let dir: string;
  const prefix = `cache-stats-${randomUUID()}`;
  const ns = `fo:${prefix}`;

  beforeAll(async () => {
    redis = new Redis(REDIS_URL);
    dir = mkdtempSync(path.join(tmpdir(), 'fo-cache-stats-'));
    // What two workers left behind: one outcome and one run in progress for a:0, counts for a:0 and b:1.
    const store = new RedisResultCacheStore(redis, cacheKeys(ns).stats);
    const keys = cacheKeys(ns);
    await store.claim(keys.entry('a:0', 'd1'), 'e1:a:0', 60_000);
    await store.complete(keys.entry('a:0', 'd1'), 'e1:a:0', { eventId: 'e1', at: Date.now(), result: { type: 'log', key: 'a:0', level: 'info', duration_ms: 1 } }, 60_000);
    await store.claim(keys.entry('a:0', 'd2'), 'e2:a:0', 60_000);
    for (const what of ['misses', 'misses', 'hits', 'hits', 'hits', 'hits'] as const) await store.count('a:0', what);
    await store.count('b:1', 'misses');
  });
  afterAll(async () => {
    const keys = await redis.keys(`${ns}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports every action found in Redis', async () => {
    const { result, error } = await cacheStats(['--redis-url', REDIS_URL, '--workflow-id-prefix', prefix, '--json']);
    expect(error).toBeUndefined();
    expect(result).toEqual({
      redis: '127.0.0.1:6379',
      namespace: ns,
      actions: [
        { action: 'a:0', type: null, ttlMs: null, keyTemplate: null, entries: 1, pending: 1, hits: 4, misses: 2, hitRate: 4 / 6 },
        { action: 'b:1', type: null, ttlMs: null, keyTemplate: null, entries: 0, pending: 0, hits: 0, misses: 1, hitRate: 0 },
      ],
      totals: { entries: 1, pending: 1, hits: 4, misses: 3, hitRate: 4 / 7 },
    });
  });

  it('with --config lists the file\'s cached actions, with traffic or not, and flags the ones it no longer has', async () => {
    const file = path.join(dir, 'observers.yaml');
    writeFileSync(file, `observers:
  a:
    entity: Order
    events: [UPDATE]
    actions:
      - type: log
        cache: { ttl_ms: 60000 }
  quiet:
    entity: Order
    events: [UPDATE]
    actions:
      - type: log
      - type: log
        cache: { ttl_ms: 1000, key: "{{ data.status }}" }
`);
    const { result, stdout, error } = await cacheStats(['--config', file, '--redis-url', REDIS_URL, '--workflow-id-prefix', prefix]);
    expect(error).toBeUndefined();
    expect(result?.actions.map((a) => [a.action, a.type, a.ttlMs, a.keyTemplate])).toEqual([
      ['a:0', 'log', 60000, null], ['b:1', null, null, null], ['quiet:1', 'log', 1000, '{{ data.status }}'],
    ]);
    expect(stdout).toMatch(/a:0 .*log .*60000 ms .*default .*1 .*1 .*4 .*2 .*66\.7 %/);
    expect(stdout).toMatch(/b:1 .*\(not in the file\)/);
    expect(stdout).toContain('Total: 1 cached, 4 hits, 3 misses, hit rate 57.1 %');
  });

  it('says what to set when there is no Redis, and names an unreachable or malformed one', async () => {
    const saved = process.env.REDIS_URL;
    delete process.env.REDIS_URL;
    try {
      const none = await cacheStats([]);
      expect(none.error?.message).toContain('set REDIS_URL or pass --redis-url');
      expect(none.error?.oclif?.exit).toBe(2);
      const dead = await cacheStats(['--redis-url', 'redis://127.0.0.1:1', '--timeout', '500']);
      expect(dead.error?.message).toContain('Redis at 127.0.0.1:1 is unreachable');
      expect(dead.error?.oclif?.exit).toBe(3); // the exit-code table's 'unavailable'
      const bad = await cacheStats(['--redis-url', 'http://user:pw@127.0.0.1:6379']);
      expect(bad.error?.message).toContain('expected a redis:// or rediss:// URL');
      expect(bad.error?.message).not.toContain('pw');
      expect(bad.error?.oclif?.exit).toBe(2);
      const badPrefix = await cacheStats(['--redis-url', REDIS_URL, '--workflow-id-prefix', 'has space']);
      expect(badPrefix.error?.message).toContain('--workflow-id-prefix');
    } finally {
      if (saved !== undefined) process.env.REDIS_URL = saved;
    }
  });
});
