/**
 * Circuit breaker end to end: a dead webhook target (503) opens the breaker; while it is open no
 * request reaches the target although events keep arriving; once the target recovers every event
 * is delivered, each exactly once, and no workflow is lost.
 */
import { InMemoryBreakerStore } from '../../src/activities';
import { counterValue, startE2eServices, startPipeline, type E2eServices, type Pipeline } from '../helpers/e2e';
import { waitFor } from '../helpers/pg';
import { startHttpReceiver, type HttpReceiver } from '../helpers/receivers';

jest.setTimeout(240_000);

describe('circuit breaker, end to end', () => {
  let services: E2eServices;
  let target: HttpReceiver;
  let pipeline: Pipeline | undefined;

  beforeAll(async () => {
    services = await startE2eServices('e2e_breaker');
  });
  afterAll(async () => {
    await pipeline?.stop();
    await target?.close();
    await services?.close();
  });

  it('opens on a dead target, calls nothing while open, and delivers every event after recovery', async () => {
    let alive = false;
    const delivered = new Map<string, number>();
    target = await startHttpReceiver((req, res) => {
      if (!alive) {
        res.statusCode = 503;
        return void res.end('down');
      }
      const key = String(req.headers['idempotency-key']);
      delivered.set(key, (delivered.get(key) ?? 0) + 1);
      res.end('ok');
    });
    // Opens after 3 calls of which half failed; stays open long enough to watch it on a loaded machine.
    const breaker = new InMemoryBreakerStore({ failureRateThreshold: 0.5, minimumCalls: 3, windowSize: 10, openDurationMs: 8000, halfOpenProbes: 1 });
    pipeline = await startPipeline(services, {
      breaker,
      observers: `
observers:
  notify:
    entity: "{{ENTITY}}"
    events: [INSERT]
    retry: { max_attempts: 100, initial_delay_ms: 100, max_delay_ms: 100, backoff: fixed }
    actions:
      - type: webhook
        url: "${target.url}/events"
ssrf:
  allow: ["127.0.0.1/32"]
`,
    });
    const breakerTarget = `127.0.0.1:${target.port}`;
    const circuitOpenFailures = () => counterValue(pipeline!.metrics, 'observer_actions_failed_total', { error_type: 'CircuitOpen' });

    // One event alone: its attempts are sequential, so nothing is in flight once the breaker opens.
    const [first] = await pipeline.insert([{ data: { n: 0 } }]);
    await waitFor('the breaker to open', async () => (await breaker.inspect(breakerTarget, Date.now())).state === 'open', 60_000, 20);
    const opened = await breaker.inspect(breakerTarget, Date.now());
    const callsWhenOpened = target.requests.length;
    expect(callsWhenOpened).toBeGreaterThanOrEqual(3);

    // More events while it is open: their attempts are refused by the breaker, not sent.
    const more = await pipeline.insert([1, 2, 3].map((n) => ({ data: { n } })));
    await waitFor('three attempts refused by the open breaker', async () => (await circuitOpenFailures()) >= 3, 60_000, 20);
    const still = await breaker.inspect(breakerTarget, Date.now());
    // Same generation = no transition since it opened (no half-open probe has been let through).
    expect(still).toMatchObject({ state: 'open', generation: opened.generation });
    expect(target.requests.length).toBe(callsWhenOpened);

    // Recovery: the half-open probe succeeds, the breaker closes, every parked event is delivered.
    alive = true;
    const events = [first!, ...more];
    for (const row of events) {
      const outcome = await pipeline.outcome(row.id);
      expect(outcome.status).toBe('completed');
    }
    expect((await breaker.inspect(breakerTarget, Date.now())).state).toBe('closed');
    expect(Object.fromEntries(delivered)).toEqual(Object.fromEntries(events.map((r) => [`${r.id}:notify:0`, 1])));
  });
});
