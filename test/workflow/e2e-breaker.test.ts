/**
 * Circuit breaker end to end: a dead webhook target (503, or connection refused) opens the breaker;
 * while it is open no request reaches the target although events keep arriving; once the target
 * recovers every event is delivered, each exactly once, and no workflow is lost.
 */
import net from 'node:net';
import { InMemoryBreakerStore } from '../../src/activities';
import { counterValue, startE2eServices, startPipeline, type E2eServices, type Pipeline } from '../helpers/e2e';
import { waitFor } from '../helpers/pg';
import { startHttpReceiver, type HttpReceiver } from '../helpers/receivers';

jest.setTimeout(240_000);

describe('circuit breaker, end to end', () => {
  let services: E2eServices;
  let target: HttpReceiver | undefined;
  let pipeline: Pipeline | undefined;

  beforeAll(async () => {
    services = await startE2eServices('e2e_breaker');
  });
  afterEach(async () => {
    await pipeline?.stop();
    await target?.close();
    pipeline = undefined;
    target = undefined;
  });
  afterAll(async () => {
    await services?.close();
  });

  const observers = (port: number) => `
observers:
  notify:
    entity: "{{ENTITY}}"
    events: [INSERT]
    retry: { max_attempts: 100, initial_delay_ms: 100, max_delay_ms: 100, backoff: fixed }
    actions:
      - type: webhook
        url: "http://127.0.0.1:${port}/events"
ssrf:
  allow: ["127.0.0.1/32"]
`;
  // Opens after 3 calls of which half failed; stays open long enough to watch it on a loaded machine.
  const newBreaker = () => new InMemoryBreakerStore({ failureRateThreshold: 0.5, minimumCalls: 3, windowSize: 10, openDurationMs: 8000, halfOpenProbes: 1 });

  /** A target answering 503 until revived, then counting deliveries per idempotency key. */
  async function deadTarget(): Promise<{ receiver: HttpReceiver; delivered: Map<string, number>; revive(): void }> {
    let alive = false;
    const delivered = new Map<string, number>();
    const receiver = await startHttpReceiver((req, res) => {
      if (!alive) {
        res.statusCode = 503;
        return void res.end('down');
      }
      const key = String(req.headers['idempotency-key']);
      delivered.set(key, (delivered.get(key) ?? 0) + 1);
      res.end('ok');
    });
    return { receiver, delivered, revive: () => void (alive = true) };
  }

  it('opens on a dead target, calls nothing while open, and delivers every event after recovery', async () => {
    const { receiver, delivered, revive } = await deadTarget();
    target = receiver;
    const breaker = newBreaker();
    pipeline = await startPipeline(services, { breaker, observers: observers(receiver.port) });
    const breakerTarget = `127.0.0.1:${receiver.port}`;
    const refusals = () => counterValue(pipeline!.metrics, 'observer_circuit_breaker_refusals_total', { target: breakerTarget });

    // One event alone: its attempts are sequential, so nothing is in flight once the breaker opens.
    const [first] = await pipeline.insert([{ data: { n: 0 } }]);
    await waitFor('the breaker to open', async () => (await breaker.inspect(breakerTarget, Date.now())).state === 'open', 60_000, 20);
    const opened = await breaker.inspect(breakerTarget, Date.now());
    const callsWhenOpened = receiver.requests.length;
    expect(callsWhenOpened).toBeGreaterThanOrEqual(3);

    // More events while it is open: their attempts are refused by the breaker, not sent.
    const more = await pipeline.insert([1, 2, 3].map((n) => ({ data: { n } })));
    await waitFor('three calls refused by the open breaker', async () => (await refusals()) >= 3, 60_000, 20);
    const still = await breaker.inspect(breakerTarget, Date.now());
    // Same generation = no transition since it opened (no half-open probe has been let through).
    expect(still).toMatchObject({ state: 'open', generation: opened.generation });
    expect(receiver.requests.length).toBe(callsWhenOpened);

    // Recovery: the half-open probe succeeds, the breaker closes, every parked event is delivered.
    revive();
    const events = [first!, ...more];
    for (const row of events) {
      const outcome = await pipeline.outcome(row.id);
      expect(outcome.status).toBe('completed');
    }
    expect((await breaker.inspect(breakerTarget, Date.now())).state).toBe('closed');
    expect(Object.fromEntries(delivered)).toEqual(Object.fromEntries(events.map((r) => [`${r.id}:notify:0`, 1])));
  });
  it('opens on connection refused, sends nothing to the target that comes back while open, then delivers', async () => {
    // A port with nothing listening: every attempt is refused (NetworkError, retryable).
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port: p } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(p));
      });
    });
    const breaker = newBreaker();
    pipeline = await startPipeline(services, { breaker, observers: observers(port) });
    const breakerTarget = `127.0.0.1:${port}`;
    const networkErrors = () => counterValue(pipeline!.metrics, 'observer_actions_failed_total', { error_type: 'NetworkError' });
    const refusals = () => counterValue(pipeline!.metrics, 'observer_circuit_breaker_refusals_total', { target: breakerTarget });

    const [first] = await pipeline.insert([{ data: { n: 0 } }]);
    await waitFor('the breaker to open', async () => (await breaker.inspect(breakerTarget, Date.now())).state === 'open', 60_000, 20);
    const opened = await breaker.inspect(breakerTarget, Date.now());
    expect(await networkErrors()).toBeGreaterThanOrEqual(3);

    // The target is back, but the breaker is still open: nothing may reach it until the window ends.
    const receiver = await startHttpReceiver(undefined, { port });
    target = receiver;
    const more = await pipeline.insert([1, 2].map((n) => ({ data: { n } })));
    await waitFor('calls refused by the open breaker', async () => (await refusals()) >= 2, 60_000, 20);
    expect(await breaker.inspect(breakerTarget, Date.now())).toMatchObject({ state: 'open', generation: opened.generation });
    expect(receiver.requests).toHaveLength(0);

    const events = [first!, ...more];
    for (const row of events) expect((await pipeline.outcome(row.id)).status).toBe('completed');
    expect((await breaker.inspect(breakerTarget, Date.now())).state).toBe('closed');
    expect(receiver.requests.map((r) => r.headers['idempotency-key']).sort()).toEqual(events.map((r) => `${r.id}:notify:0`).sort());
  });

  it('an open breaker does not use up attempts: with the default retry policy, a target down for three open windows loses nothing', async () => {
    const { receiver, delivered, revive } = await deadTarget();
    target = receiver;
    // Short open windows so three of them pass quickly; the retry policy is the default (5 attempts).
    const breaker = new InMemoryBreakerStore({ failureRateThreshold: 0.5, minimumCalls: 3, windowSize: 10, openDurationMs: 2500, halfOpenProbes: 1 });
    pipeline = await startPipeline(services, {
      breaker,
      observers: `
observers:
  notify:
    entity: "{{ENTITY}}"
    events: [INSERT]
    actions:
      - type: webhook
        url: "http://127.0.0.1:${receiver.port}/events"
ssrf:
  allow: ["127.0.0.1:${receiver.port}"]
`,
    });
    const breakerTarget = `127.0.0.1:${receiver.port}`;
    const events = await pipeline.insert(Array.from({ length: 3 }, (_, n) => ({ data: { n } })));
    await waitFor('the breaker to open', async () => (await breaker.inspect(breakerTarget, Date.now())).state === 'open', 60_000, 20);
    events.push(...(await pipeline.insert(Array.from({ length: 17 }, (_, n) => ({ data: { n: n + 3 } })))));
    // Down for three open windows: each ends with one half-open probe, which fails and re-opens it.
    const callsWhenOpened = receiver.requests.length;
    await waitFor('three failed half-open probes', async () => receiver.requests.length >= callsWhenOpened + 3, 120_000, 50);
    expect(await counterValue(pipeline.metrics, 'observer_circuit_breaker_refusals_total', { target: breakerTarget })).toBeGreaterThan(20);
    revive();

    for (const row of events) {
      const outcome = await pipeline.outcome(row.id);
      expect(outcome.status).toBe('completed');
    }
    expect(Object.fromEntries(delivered)).toEqual(Object.fromEntries(events.map((r) => [`${r.id}:notify:0`, 1])));
    // No attempt ended because of a refusal.
    expect(await counterValue(pipeline.metrics, 'observer_actions_failed_total', { error_type: 'CircuitOpen' })).toBe(0);
  });
});
