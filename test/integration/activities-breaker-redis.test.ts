import { randomUUID } from 'node:crypto';
import { type ApplicationFailure } from '@temporalio/common';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import {
  InMemoryBreakerStore,
  RedisBreakerStore,
  closeActivities,
  createActivities,
  type BreakerConfig,
  type CircuitBreakerStore,
  type ObserverActivities,
} from '../../src/activities';
import type { BreakerPermit } from '../../src/activities/breaker';
import { activityEnv, captureLogger, orderEvent, startHttpReceiver, type HttpReceiver } from '../helpers/receivers';

jest.setTimeout(30_000);

const T = 'hooks.example.com:443';
const cfg: Partial<BreakerConfig> = { failureRateThreshold: 0.5, minimumCalls: 4, windowSize: 4, openDurationMs: 1_000, halfOpenProbes: 2 };

let redis: Redis;
let redis2: Redis;
beforeAll(() => {
  redis = new Redis('redis://127.0.0.1:6379');
  redis2 = new Redis('redis://127.0.0.1:6379');
});
afterAll(async () => {
  await redis.quit();
  await redis2.quit();
});

const prefixes: string[] = [];
function prefix(): string {
  const p = `test:activities:breaker:${randomUUID()}:`;
  prefixes.push(p);
  return p;
}
afterEach(async () => {
  for (const p of prefixes.splice(0)) {
    const keys = await redis.keys(`${p}*`);
    if (keys.length) await redis.del(...keys);
  }
});

async function call(store: CircuitBreakerStore, now: number, outcome: 'success' | 'failure') {
  const d = await store.acquire(T, now);
  if (d.allowed) await store.record(T, d, outcome, now);
  return d;
}

// The same rules, checked against both stores, so the Lua and TypeScript machines cannot drift apart.
describe.each([
  ['in-memory', (c: Partial<BreakerConfig>) => new InMemoryBreakerStore(c)],
  ['redis', (c: Partial<BreakerConfig>) => new RedisBreakerStore(redis, c, { prefix: prefix() })],
] as const)('%s breaker store', (_name, make) => {
  it('opens at the failure threshold once minimumCalls are in the window', async () => {
    const store = make(cfg);
    for (const o of ['failure', 'success', 'failure'] as const) await call(store, 10, o);
    expect((await store.inspect(T, 10)).state).toBe('closed');
    await call(store, 10, 'success');
    expect(await store.inspect(T, 10)).toMatchObject({ state: 'open', openUntil: 1_010, generation: 1 });
    expect(await store.acquire(T, 600)).toEqual({ allowed: false, state: 'open', retryAfterMs: 410 });
  });

  it('slides a count window', async () => {
    const store = make(cfg);
    for (const o of ['failure', 'success', 'success', 'success', 'success'] as const) await call(store, 0, o);
    expect(await store.inspect(T, 0)).toMatchObject({ state: 'closed', calls: 4, failures: 0 });
  });

  it('slides a time window', async () => {
    const store = make({ ...cfg, windowSize: undefined, windowMs: 100 });
    for (let i = 0; i < 3; i++) await call(store, 0, 'failure');
    await call(store, 150, 'success');
    expect(await store.inspect(T, 150)).toMatchObject({ state: 'closed', calls: 1, failures: 0 });
  });

  it('goes half-open, limits probes, and closes after all succeed', async () => {
    const store = make(cfg);
    for (let i = 0; i < 4; i++) await call(store, 0, 'failure');
    const p1 = await store.acquire(T, 1_000);
    const p2 = await store.acquire(T, 1_000);
    expect(p1).toMatchObject({ allowed: true, state: 'half_open', probe: true, generation: 2 });
    expect(p2).toMatchObject({ allowed: true, probe: true });
    expect(await store.acquire(T, 1_000)).toEqual({ allowed: false, state: 'half_open', retryAfterMs: 1_000 });
    expect(await store.record(T, p1 as BreakerPermit, 'success', 1_001)).toBe('half_open');
    expect(await store.record(T, p2 as BreakerPermit, 'success', 1_002)).toBe('closed');
    expect(await store.inspect(T, 1_002)).toMatchObject({ state: 'closed', generation: 3, calls: 0 });
  });

  it('reopens on a failed probe and ignores stale permits', async () => {
    const store = make(cfg);
    const stale = (await store.acquire(T, 0)) as BreakerPermit;
    for (let i = 0; i < 4; i++) await call(store, 0, 'failure');
    const probe = (await store.acquire(T, 1_000)) as BreakerPermit;
    expect(await store.record(T, stale, 'failure', 1_000)).toBe('half_open');
    expect(await store.record(T, probe, 'failure', 1_001)).toBe('open');
    expect(await store.inspect(T, 1_001)).toMatchObject({ state: 'open', openUntil: 2_001 });
  });

  it('frees probe slots on neutral outcomes and after a lost probe', async () => {
    const store = make({ ...cfg, halfOpenProbes: 1 });
    for (let i = 0; i < 4; i++) await call(store, 0, 'failure');
    const probe = (await store.acquire(T, 1_000)) as BreakerPermit;
    expect((await store.acquire(T, 1_001)).allowed).toBe(false);
    await store.record(T, probe, 'neutral', 1_002);
    expect((await store.acquire(T, 1_003)).allowed).toBe(true);
    expect((await store.acquire(T, 1_500)).allowed).toBe(false);
    expect((await store.acquire(T, 2_003)).allowed).toBe(true);
  });
});

describe('RedisBreakerStore shared by several workers', () => {
  it('shares state between clients and transitions atomically under concurrency', async () => {
    const p = prefix();
    const a = new RedisBreakerStore(redis, { ...cfg, minimumCalls: 10, windowSize: 100, halfOpenProbes: 3 }, { prefix: p });
    const b = new RedisBreakerStore(redis2, { ...cfg, minimumCalls: 10, windowSize: 100, halfOpenProbes: 3 }, { prefix: p });
    const permits = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).acquire(T, 0)));
    await Promise.all(permits.map((d, i) => (i % 2 ? a : b).record(T, d as BreakerPermit, 'failure', 0)));
    // Opened exactly once: later failures of the same generation were ignored.
    expect(await b.inspect(T, 0)).toMatchObject({ state: 'open', generation: 1 });
    expect((await a.acquire(T, 10)).allowed).toBe(false);

    const probes = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).acquire(T, 1_000)));
    expect(probes.filter((d) => d.allowed)).toHaveLength(3);
  });
});

describe('webhook activities on two workers sharing a Redis breaker', () => {
  let receiver: HttpReceiver;
  const workers: Array<{ acts: ObserverActivities; registry: Registry }> = [];

  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => closeActivities(w.acts)));
    await receiver.close();
  });

  it('opens on a dead target, calls nothing while open, and delivers after recovery', async () => {
    receiver = await startHttpReceiver((_req, res) => {
      res.statusCode = 503;
      res.end();
    });
    const p = prefix();
    for (const client of [redis, redis2]) {
      const registry = new Registry();
      const store = new RedisBreakerStore(client, { failureRateThreshold: 0.5, minimumCalls: 3, windowSize: 10, openDurationMs: 1_500, halfOpenProbes: 1 }, { prefix: p });
      workers.push({ acts: createActivities({ env: {}, log: captureLogger().log, breaker: store, ssrf: { allow: ['127.0.0.1/32'] }, metrics: registry }), registry });
    }
    const [w1, w2] = workers as [(typeof workers)[0], (typeof workers)[0]];
    const action = { type: 'webhook' as const, key: 'dead:0', url: `${receiver.url}/hook` };
    const attempt = (w: typeof w1) =>
      activityEnv()
        .run(w.acts.runWebhook, { event: orderEvent(), action })
        .catch((e: unknown) => e as ApplicationFailure);
    const gauge = async (w: typeof w1) => (await w.registry.getSingleMetric('observer_circuit_breaker_state')!.get()).values.find((v) => v.labels.target === `127.0.0.1:${receiver.port}`)?.value;

    for (let i = 0; i < 3; i++) expect(await attempt(w1)).toMatchObject({ type: 'HttpServerError' });
    expect(receiver.requests).toHaveLength(3);

    const refused = (await attempt(w2)) as ApplicationFailure;
    expect(refused).toMatchObject({ type: 'CircuitOpen', nonRetryable: false });
    expect(refused.nextRetryDelay).toBeGreaterThan(0);
    expect(refused.nextRetryDelay).toBeLessThanOrEqual(1_500);
    expect(receiver.requests).toHaveLength(3);
    expect(await gauge(w2)).toBe(1);

    receiver.respond((_req, res) => {
      res.end('ok');
    });
    await new Promise((r) => setTimeout(r, Number(refused.nextRetryDelay) + 50));
    await expect(attempt(w2)).resolves.toMatchObject({ status_code: 200 });
    expect(await gauge(w2)).toBe(0);
    await expect(attempt(w1)).resolves.toMatchObject({ status_code: 200 });
    expect(receiver.requests).toHaveLength(5);
  });
});
