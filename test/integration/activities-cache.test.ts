import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { InMemoryBreakerStore, closeActivities, createActivities, type CacheAction, type ObserverActivities } from '../../src/activities';
import { activityEnv, captureLogger, orderEvent } from '../helpers/receivers';

const REDIS_URL = 'redis://127.0.0.1:6379';

jest.setTimeout(30_000);

describe('runCache against a real Redis', () => {
  let redis: Redis;
  let acts: ObserverActivities;
  let prefix: string;

  beforeAll(() => {
    redis = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    await redis.quit();
  });

  beforeEach(() => {
    prefix = `test:activities:${randomUUID()}:`;
    acts = createActivities({ env: { CACHE_REDIS_URL: REDIS_URL }, log: captureLogger().log, breaker: new InMemoryBreakerStore(), ssrf: { allow: ['127.0.0.1:6379'] }, redis });
  });

  afterEach(async () => {
    await closeActivities(acts);
    const left = await redis.keys(`${prefix}*`);
    if (left.length) await redis.del(...left);
  });

  const cache = (overrides: Partial<CacheAction>): CacheAction => ({ type: 'cache', key: 'orders_cache:0', ...overrides });

  it('deletes rendered keys and pattern matches, leaving other keys alone', async () => {
    const event = orderEvent();
    const p = prefix;
    await redis.mset(`${p}order:${event.entityId}`, '1', `${p}orders:list:1`, '1', `${p}orders:list:2`, '1', `${p}customer:ada@example.com`, '1', `${p}keep`, '1');
    await redis.mset(Array.from({ length: 1200 }, (_, i) => [`${p}orders:page:${i}`, '1']).flat());
    const result = await activityEnv().run(acts.runCache, {
      event,
      action: cache({
        keys: [`${p}order:{{ event.entity_id }}`, `${p}customer:{{ data.customer.email }}`],
        patterns: [`${p}orders:list:*`, `${p}orders:page:*`],
      }),
    });
    expect(result).toMatchObject({ type: 'cache', deleted: 2 + 2 + 1200, keys: 2, patterns: 2 });
    expect(await redis.keys(`${p}*`)).toEqual([`${p}keep`]);
  });

  it('escapes glob characters of event values inside patterns', async () => {
    const event = orderEvent({ entityId: 'a*b' });
    const p = prefix;
    await redis.mset(`${p}item:a*b:1`, '1', `${p}item:a*b:2`, '1', `${p}item:aXXb:1`, '1', `${p}item:a*bc:1`, '1');
    const result = await activityEnv().run(acts.runCache, { event, action: cache({ patterns: [`${p}item:{{ event.entity_id }}:*`] }) });
    expect(result.deleted).toBe(2);
    expect((await redis.keys(`${p}*`)).sort()).toEqual([`${p}item:a*bc:1`, `${p}item:aXXb:1`]);
  });

  it('refuses a pattern that would match every key, and an undefined variable', async () => {
    await redis.set(`${prefix}x`, '1');
    const event = orderEvent({ entityId: '' });
    await expect(activityEnv().run(acts.runCache, { event, action: cache({ patterns: ['{{ event.entity_id }}*'] }) })).rejects.toMatchObject({
      type: 'UnsafePattern',
      nonRetryable: true,
    });
    await expect(activityEnv().run(acts.runCache, { event, action: cache({ patterns: [`${prefix}{{ data.nope }}*`] }) })).rejects.toMatchObject({
      type: 'TemplateError',
      nonRetryable: true,
    });
    expect(await redis.exists(`${prefix}x`)).toBe(1);
  });

  it('uses a Redis named by redis_url_env, which the SSRF policy must allow (host:port)', async () => {
    await redis.set(`${prefix}other`, '1');
    const result = await activityEnv().run(acts.runCache, { event: orderEvent(), action: cache({ keys: [`${prefix}other`], redis_url_env: 'CACHE_REDIS_URL' }) });
    expect(result.deleted).toBe(1);

    await redis.set(`${prefix}other`, '1');
    const env = { CACHE_REDIS_URL: REDIS_URL, BY_NAME: 'redis://localhost:6379/0' };
    const strict = createActivities({ env, log: captureLogger().log, breaker: new InMemoryBreakerStore(), ssrf: { allow: ['127.0.0.1:80'] }, redis });
    try {
      const blocked = (await activityEnv()
        .run(strict.runCache, { event: orderEvent(), action: cache({ keys: [`${prefix}other`], redis_url_env: 'CACHE_REDIS_URL' }) })
        .catch((e: unknown) => e)) as Error;
      expect(blocked).toMatchObject({ type: 'SsrfBlocked', nonRetryable: true });
      expect(blocked.message).toContain('add 127.0.0.1:6379 to ssrf.allow');
      await expect(activityEnv().run(strict.runCache, { event: orderEvent(), action: cache({ keys: [`${prefix}other`], redis_url_env: 'BY_NAME' }) })).rejects.toMatchObject({
        type: 'SsrfBlocked',
      });
      expect(await redis.exists(`${prefix}other`)).toBe(1);
    } finally {
      await closeActivities(strict);
    }
  });

  it('honours an ioredis keyPrefix for keys and patterns', async () => {
    const prefixed = new Redis(REDIS_URL, { keyPrefix: prefix });
    const withPrefix = createActivities({ env: {}, log: captureLogger().log, breaker: new InMemoryBreakerStore(), ssrf: { allow: [] }, redis: prefixed });
    try {
      await redis.mset(`${prefix}k1`, '1', `${prefix}list:1`, '1', `${prefix}list:2`, '1');
      const result = await activityEnv().run(withPrefix.runCache, { event: orderEvent(), action: cache({ keys: ['k1'], patterns: ['list:*'] }) });
      expect(result.deleted).toBe(3);
      expect(await redis.keys(`${prefix}*`)).toEqual([]);
    } finally {
      await closeActivities(withPrefix);
      await prefixed.quit();
    }
  });

  it('counts what it did not find (missed): named keys absent, patterns matching nothing', async () => {
    const p = prefix;
    await redis.set(`${p}present`, '1');
    const result = await activityEnv().run(acts.runCache, { event: orderEvent(), action: cache({ keys: [`${p}present`, `${p}absent`], patterns: [`${p}none:*`] }) });
    expect(result).toMatchObject({ deleted: 1, missed: 2 });
  });

  it('says that Redis at host:port is unreachable (not the client library\'s retry-limit text)', async () => {
    // A port nothing listens on: the same client settings as the worker's (src/worker/activity-deps.ts).
    // It stops reconnecting after a few tries, so nothing is left running after the test.
    const down = new Redis('redis://127.0.0.1:1', { maxRetriesPerRequest: 2, lazyConnect: true, retryStrategy: (n) => (n > 5 ? null : 20) });
    const a = createActivities({ env: {}, log: captureLogger().log, breaker: new InMemoryBreakerStore(), ssrf: { allow: [] }, redis: down });
    try {
      const err = (await activityEnv().run(a.runCache, { event: orderEvent(), action: cache({ keys: [`${prefix}x`] }) }).then(
        () => { throw new Error('expected the action to fail'); },
        (e: unknown) => e,
      )) as Error;
      expect(err.message).toMatch(/^cache invalidation failed: Redis at 127\.0\.0\.1:1 is unreachable/);
      expect(err.message).not.toMatch(/maxRetriesPerRequest|max retries per request/i);
    } finally {
      await closeActivities(a);
      down.disconnect();
    }
  });
});
