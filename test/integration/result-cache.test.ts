/**
 * The action result cache at the activity layer, against a real Redis and a webhook receiver on
 * loopback (and the in-process fallback): within the TTL a repeated action for the same key is not
 * performed and the cached outcome is returned with `cache.hit`; keys are per entity (default) or
 * templated; failures are not cached; a burst for one key performs the action once; another action
 * never shares outcomes; an unreachable store or a failing key template performs the action.
 */
import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import {
  InMemoryBreakerStore,
  MemoryResultCacheStore,
  RedisResultCacheStore,
  cacheKeys,
  closeActivities,
  createActivities,
  type LogAction,
  type ObserverActivities,
  type ResultCacheStore,
  type WebhookAction,
} from '../../src/activities';
import { activityEnv, captureLogger, orderEvent, startHttpReceiver, type HttpReceiver } from '../helpers/receivers';

jest.setTimeout(30_000);

let redis: Redis;
beforeAll(() => {
  redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
});
afterAll(async () => {
  await redis.quit();
});
const namespaces: string[] = [];
afterEach(async () => {
  for (const ns of namespaces.splice(0)) {
    const keys = await redis.keys(`${ns}:*`);
    if (keys.length) await redis.del(...keys);
  }
});

async function counter(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values.filter((v) => Object.entries(labels).every(([k, want]) => (v.labels as Record<string, unknown>)[k] === want)).reduce((n, v) => n + v.value, 0);
}

describe.each([
  ['redis', (ns: string): ResultCacheStore => new RedisResultCacheStore(redis, cacheKeys(ns).stats)],
  ['memory', (): ResultCacheStore => new MemoryResultCacheStore()],
] as const)('action result cache (%s store)', (kind, makeStore) => {
  let receiver: HttpReceiver;
  let acts: ObserverActivities;
  let registry: Registry;
  let ns: string;
  let status = 200;

  beforeEach(async () => {
    status = 200;
    receiver = await startHttpReceiver((_req, res) => {
      res.statusCode = status;
      res.end(status === 200 ? 'ok' : 'down');
    });
    registry = new Registry();
    ns = `test:fo:${randomUUID()}`;
    namespaces.push(ns);
    acts = createActivities({
      env: {},
      log: captureLogger().log,
      breaker: new InMemoryBreakerStore({ minimumCalls: 1000 }),
      ssrf: { allow: ['127.0.0.1/32'] },
      metrics: registry,
      resultCache: makeStore(ns),
      cacheNamespace: ns,
    });
  });
  afterEach(async () => {
    await closeActivities(acts);
    await receiver.close();
  });

  const hook = (overrides: Partial<WebhookAction> = {}): WebhookAction => ({
    type: 'webhook',
    key: 'invalidate:0',
    url: `${receiver.url}/invalidate`,
    cache: { ttl_ms: 60_000 },
    ...overrides,
  });

  it('performs the action once per entity within the TTL and records the cached outcome', async () => {
    const entityId = randomUUID();
    const first = orderEvent({ entityId });
    const second = orderEvent({ entityId, data: { status: 'delivered' } });
    const a = await activityEnv(1).run(acts.runWebhook, { event: first, action: hook() });
    const b = await activityEnv(1).run(acts.runWebhook, { event: second, action: hook() });
    expect(receiver.requests).toHaveLength(1);
    expect(a.cache).toEqual({ hit: false, key: `action:webhook:Order:${entityId}`, ttl_ms: 60_000 });
    expect(b.cache).toMatchObject({ hit: true, key: `action:webhook:Order:${entityId}`, event_id: first.id });
    expect(b.cache!.age_ms).toBeGreaterThanOrEqual(0);
    // The cached outcome is the first run's (its status and idempotency key), not a new call.
    expect(b).toMatchObject({ type: 'webhook', key: 'invalidate:0', status_code: 200, idempotency_key: a.idempotency_key });
    // Another entity is another key.
    await activityEnv(1).run(acts.runWebhook, { event: orderEvent(), action: hook() });
    expect(receiver.requests).toHaveLength(2);
    expect(await counter(registry, 'observer_cache_hits_total', { action_type: 'webhook', observer: 'invalidate' })).toBe(1);
    expect(await counter(registry, 'observer_cache_misses_total', { action_type: 'webhook', observer: 'invalidate' })).toBe(2);
    expect(await counter(registry, 'observer_cache_hit_rate', { action_type: 'webhook', observer: 'invalidate' })).toBeCloseTo(1 / 3, 5);
    if (kind === 'redis') {
      expect(await redis.hgetall(cacheKeys(ns).stats)).toEqual({ 'invalidate:0|hits': '1', 'invalidate:0|misses': '2' });
    }
  });

  it('performs the action again once the TTL has passed', async () => {
    const entityId = randomUUID();
    const action = hook({ cache: { ttl_ms: 300 } });
    await activityEnv(1).run(acts.runWebhook, { event: orderEvent({ entityId }), action });
    expect((await activityEnv(1).run(acts.runWebhook, { event: orderEvent({ entityId }), action })).cache?.hit).toBe(true);
    const deadline = Date.now() + 10_000;
    let later;
    do {
      later = await activityEnv(1).run(acts.runWebhook, { event: orderEvent({ entityId }), action });
    } while (later.cache?.hit && Date.now() < deadline);
    expect(later.cache).toMatchObject({ hit: false });
    expect(receiver.requests).toHaveLength(2);
  });

  it('a key template decides what counts as the same action', async () => {
    const action: LogAction = { type: 'log', key: 'per_status:0', message: 'x', cache: { ttl_ms: 60_000, key: 'status:{{ data.status }}' } };
    const r1 = await activityEnv(1).run(acts.runLog, { event: orderEvent({ data: { status: 'paid' } }), action });
    const r2 = await activityEnv(1).run(acts.runLog, { event: orderEvent({ data: { status: 'paid' } }), action });
    const r3 = await activityEnv(1).run(acts.runLog, { event: orderEvent({ data: { status: 'shipped' } }), action });
    expect([r1.cache?.hit, r2.cache?.hit, r3.cache?.hit]).toEqual([false, true, false]);
    expect(r2.cache?.key).toBe('status:paid');
  });

  it('does not cache failures: the next run performs the action', async () => {
    const entityId = randomUUID();
    status = 503;
    await expect(activityEnv(1).run(acts.runWebhook, { event: orderEvent({ entityId }), action: hook() })).rejects.toBeInstanceOf(ApplicationFailure);
    status = 200;
    const next = await activityEnv(1).run(acts.runWebhook, { event: orderEvent({ entityId }), action: hook() });
    expect(next.cache?.hit).toBe(false);
    expect(receiver.requests).toHaveLength(2);
  });

  it('a burst of events for one key performs the action once; the others wait for its outcome', async () => {
    const entityId = randomUUID();
    receiver.respond(async (_req, res) => {
      await new Promise((r) => setTimeout(r, 300));
      res.end('ok');
    });
    const events = Array.from({ length: 5 }, () => orderEvent({ entityId }));
    const results = await Promise.all(events.map((event) => activityEnv(1).run(acts.runWebhook, { event, action: hook() })));
    expect(receiver.requests).toHaveLength(1);
    const performed = results.filter((r) => !r.cache?.hit);
    expect(performed).toHaveLength(1);
    const performer = events[results.indexOf(performed[0]!)]!;
    expect(results.filter((r) => r.cache?.hit).map((r) => r.cache?.event_id)).toEqual([performer.id, performer.id, performer.id, performer.id]);
  });

  it('another action never reuses this one\'s outcome', async () => {
    const event = orderEvent();
    await activityEnv(1).run(acts.runWebhook, { event, action: hook() });
    const other = await activityEnv(1).run(acts.runWebhook, { event, action: hook({ key: 'other_observer:0' }) });
    expect(other.cache?.hit).toBe(false);
    expect(receiver.requests).toHaveLength(2);
  });

  it('an action without cache: is always performed', async () => {
    const event = orderEvent();
    const plain = hook({ cache: undefined });
    await activityEnv(1).run(acts.runWebhook, { event, action: plain });
    const again = await activityEnv(1).run(acts.runWebhook, { event, action: plain });
    expect(again.cache).toBeUndefined();
    expect(receiver.requests).toHaveLength(2);
  });

  it('a key template failing for an event performs the action uncached', async () => {
    const action = hook({ cache: { ttl_ms: 60_000, key: '{{ data.missing_field }}' } });
    const r = await activityEnv(1).run(acts.runWebhook, { event: orderEvent(), action });
    expect(r.cache).toBeUndefined();
    expect(await counter(registry, 'observer_cache_errors_total', { reason: 'key_template' })).toBe(1);
  });
});

describe('action result cache without its store', () => {
  it('an unreachable Redis performs the action and counts the error', async () => {
    const dead = new Redis({ host: '127.0.0.1', port: 1, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    dead.on('error', () => undefined);
    const registry = new Registry();
    const acts = createActivities({
      env: {}, log: captureLogger().log, breaker: new InMemoryBreakerStore(), ssrf: { allow: [] }, metrics: registry,
      resultCache: new RedisResultCacheStore(dead, 'unused'),
    });
    try {
      const action: LogAction = { type: 'log', key: 'l:0', cache: { ttl_ms: 1000 } };
      const r = await activityEnv(1).run(acts.runLog, { event: orderEvent(), action });
      expect(r).toMatchObject({ type: 'log', level: 'info' });
      expect(r.cache).toBeUndefined();
      expect(await counter(registry, 'observer_cache_errors_total', { reason: 'store_unavailable' })).toBe(1);
    } finally {
      await closeActivities(acts);
      dead.disconnect();
    }
  });
});
