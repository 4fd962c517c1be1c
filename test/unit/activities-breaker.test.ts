import { Registry } from 'prom-client';
import { CircuitBreaker, resolveBreakerConfig, type BreakerPermit } from '../../src/activities/breaker';
import { InMemoryBreakerStore } from '../../src/activities/breaker-memory';
import { type ActionError, permanent, transient } from '../../src/activities/errors';
import { actionMetrics } from '../../src/activities/metrics';

const T = 'hooks.example.com:443';
const config = { failureRateThreshold: 0.5, minimumCalls: 4, windowSize: 4, openDurationMs: 1_000, halfOpenProbes: 2 };

async function call(store: InMemoryBreakerStore, now: number, outcome: 'success' | 'failure' | 'neutral') {
  const d = await store.acquire(T, now);
  if (!d.allowed) return d;
  await store.record(T, d, outcome, now);
  return d;
}

describe('InMemoryBreakerStore transitions', () => {
  it('stays closed below minimumCalls, opens when the failure rate reaches the threshold', async () => {
    const store = new InMemoryBreakerStore(config);
    for (let i = 0; i < 3; i++) await call(store, 0, 'failure');
    expect((await store.inspect(T, 0)).state).toBe('closed');
    await call(store, 0, 'success');
    // 3 failures of 4 ≥ 0.5
    expect(await store.inspect(T, 0)).toMatchObject({ state: 'open', openUntil: 1_000 });
  });

  it('counts only the last windowSize calls', async () => {
    const store = new InMemoryBreakerStore(config);
    for (const o of ['failure', 'success', 'success', 'success', 'success'] as const) await call(store, 0, o);
    expect(await store.inspect(T, 0)).toMatchObject({ state: 'closed', calls: 4, failures: 0 });
  });

  it('counts only calls inside windowMs when a duration window is set', async () => {
    const store = new InMemoryBreakerStore({ ...config, windowSize: undefined, windowMs: 100 });
    await call(store, 0, 'failure');
    await call(store, 0, 'failure');
    await call(store, 0, 'failure');
    await call(store, 150, 'success'); // the failures have left the window
    expect(await store.inspect(T, 150)).toMatchObject({ state: 'closed', calls: 1, failures: 0 });
  });

  it('refuses while open with the remaining open time, then lets halfOpenProbes probes through', async () => {
    const store = new InMemoryBreakerStore(config);
    for (let i = 0; i < 4; i++) await call(store, 0, 'failure');
    expect(await store.acquire(T, 400)).toEqual({ allowed: false, state: 'open', retryAfterMs: 600 });
    const p1 = await store.acquire(T, 1_000);
    const p2 = await store.acquire(T, 1_001);
    const p3 = await store.acquire(T, 1_002);
    expect(p1).toMatchObject({ allowed: true, state: 'half_open', probe: true });
    expect(p2).toMatchObject({ allowed: true, probe: true });
    expect(p3).toMatchObject({ allowed: false, state: 'half_open', retryAfterMs: 1_000 });
    await store.record(T, p1 as BreakerPermit, 'success', 1_010);
    expect((await store.inspect(T, 1_010)).state).toBe('half_open');
    await store.record(T, p2 as BreakerPermit, 'success', 1_020);
    expect(await store.inspect(T, 1_020)).toMatchObject({ state: 'closed', calls: 0 });
  });

  it('reopens on a failed probe, for a full open period', async () => {
    const store = new InMemoryBreakerStore(config);
    for (let i = 0; i < 4; i++) await call(store, 0, 'failure');
    const probe = (await store.acquire(T, 1_000)) as BreakerPermit;
    await store.record(T, probe, 'failure', 1_005);
    expect(await store.inspect(T, 1_005)).toMatchObject({ state: 'open', openUntil: 2_005 });
  });

  it('frees a probe slot on a neutral outcome and after a lost probe times out', async () => {
    const store = new InMemoryBreakerStore({ ...config, halfOpenProbes: 1 });
    for (let i = 0; i < 4; i++) await call(store, 0, 'failure');
    const probe = (await store.acquire(T, 1_000)) as BreakerPermit;
    expect((await store.acquire(T, 1_001)).allowed).toBe(false);
    await store.record(T, probe, 'neutral', 1_002);
    const lost = await store.acquire(T, 1_003);
    expect(lost.allowed).toBe(true);
    // `lost` never reports back (its worker died); one open period later a new probe may go.
    expect((await store.acquire(T, 1_500)).allowed).toBe(false);
    expect((await store.acquire(T, 2_003)).allowed).toBe(true);
  });

  it('ignores outcomes of calls permitted before a transition', async () => {
    const store = new InMemoryBreakerStore(config);
    const early = (await store.acquire(T, 0)) as BreakerPermit;
    for (let i = 0; i < 4; i++) await call(store, 0, 'failure');
    for (let i = 0; i < 2; i++) await call(store, 1_000, 'success');
    expect((await store.inspect(T, 1_000)).state).toBe('closed');
    await store.record(T, early, 'failure', 1_001);
    expect(await store.inspect(T, 1_001)).toMatchObject({ state: 'closed', calls: 0 });
  });

  it('keeps targets apart', async () => {
    const store = new InMemoryBreakerStore(config);
    for (let i = 0; i < 4; i++) await call(store, 0, 'failure');
    expect((await store.acquire('other:80', 10)).allowed).toBe(true);
  });

  it('validates its configuration', () => {
    expect(() => resolveBreakerConfig({ failureRateThreshold: 0 })).toThrow('failureRateThreshold');
    expect(() => resolveBreakerConfig({ minimumCalls: 0 })).toThrow('minimumCalls');
    expect(() => resolveBreakerConfig({ openDurationMs: 1.5 })).toThrow('openDurationMs');
    expect(resolveBreakerConfig({ windowMs: 60_000 })).toMatchObject({ windowMs: 60_000, windowSize: 1000 });
  });
});

describe('CircuitBreaker gate', () => {
  function gate(clockStart = 0) {
    let now = clockStart;
    const registry = new Registry();
    const metrics = actionMetrics(registry);
    const store = new InMemoryBreakerStore({ ...config, halfOpenProbes: 1 });
    const breaker = new CircuitBreaker(store, { clock: () => now, onState: (t, s) => metrics.breakerState(t, s) });
    return { breaker, store, registry, advance: (ms: number) => (now += ms) };
  }

  const gauge = async (registry: Registry) => (await registry.getSingleMetric('observer_circuit_breaker_state')!.get()).values[0]?.value;

  it('does not call the target while open and fails retryable with the remaining open time', async () => {
    const { breaker, registry, advance } = gate();
    const down = jest.fn(async () => {
      throw transient('HttpServerError', 'down');
    });
    for (let i = 0; i < 4; i++) await expect(breaker.run(T, down)).rejects.toThrow('down');
    expect(await gauge(registry)).toBe(1);
    advance(250);
    const err = (await breaker.run(T, down).catch((e: unknown) => e)) as ActionError;
    expect(down).toHaveBeenCalledTimes(4);
    expect(err).toMatchObject({ type: 'CircuitOpen', retryable: true, retryAfterMs: 750 });
    expect(err.message).toContain(T);

    advance(750);
    const up = jest.fn(async () => 'delivered');
    await expect(breaker.run(T, up)).resolves.toBe('delivered');
    expect(up).toHaveBeenCalledTimes(1);
    expect(await gauge(registry)).toBe(0);
  });

  it('counts permanent failures as proof the target is up and SSRF refusals as nothing', async () => {
    const { breaker, store } = gate();
    for (let i = 0; i < 4; i++) await breaker.run(T, async () => Promise.reject(permanent('HttpClientError', '400'))).catch(() => undefined);
    expect(await store.inspect(T, 0)).toMatchObject({ state: 'closed', calls: 4, failures: 0 });
    await breaker.run(T, async () => Promise.reject(permanent('SsrfBlocked', 'no', undefined, 'neutral'))).catch(() => undefined);
    expect((await store.inspect(T, 0)).calls).toBe(4);
    await breaker.run(T, async () => Promise.reject(new Error('bug'))).catch(() => undefined);
    expect((await store.inspect(T, 0)).failures).toBe(1);
  });

  it('calls the target unguarded when the store fails', async () => {
    const failing = {
      config: resolveBreakerConfig(),
      acquire: () => Promise.reject(new Error('redis down')),
      record: () => Promise.reject(new Error('redis down')),
      inspect: () => Promise.reject(new Error('redis down')),
    };
    const errors: unknown[] = [];
    const breaker = new CircuitBreaker(failing, { onStoreError: (_t, e) => errors.push(e) });
    await expect(breaker.run(T, async () => 'ok')).resolves.toBe('ok');
    expect(errors).toHaveLength(1);
  });
});
