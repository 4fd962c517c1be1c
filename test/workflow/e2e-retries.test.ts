/**
 * End to end through listener, embedded Temporal and worker: how a webhook target's answers drive
 * retries. 503 twice then 200 → delivered on the third attempt; 400 → straight to the DLQ (the run
 * fails) without a retry; `Retry-After` → the next attempt waits at least that long, although the
 * observer's own backoff is far shorter.
 */
import { ApplicationFailure } from '@temporalio/common';
import { ACTIONS_FAILED, type ProcessChangeEventResult } from '../../src/contract';
import { startE2eServices, startPipeline, type E2eServices, type Pipeline } from '../helpers/e2e';
import { startHttpReceiver, type HttpReceiver } from '../helpers/receivers';

jest.setTimeout(240_000);

const RETRY_AFTER_SECONDS = 2;

describe('retries, end to end', () => {
  let services: E2eServices;
  let target: HttpReceiver;
  let pipeline: Pipeline;

  beforeAll(async () => {
    services = await startE2eServices('e2e_retries');
    // One receiver, one behaviour per path; attempts are counted per idempotency key.
    const attempts = new Map<string, number>();
    target = await startHttpReceiver((req, res) => {
      const key = String(req.headers['idempotency-key']);
      const n = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, n);
      if (req.path === '/flaky' && n <= 2) {
        res.statusCode = 503;
        return void res.end('warming up');
      }
      if (req.path === '/reject') {
        res.statusCode = 400;
        return void res.end('unknown order');
      }
      if (req.path === '/busy' && n === 1) {
        res.statusCode = 503;
        res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
        return void res.end('busy');
      }
      res.end('ok');
    });
    // Backoff of 50 ms, fixed: anything much longer between attempts comes from somewhere else.
    pipeline = await startPipeline(services, {
      observers: `
observers:
  hook:
    entity: "{{ENTITY}}"
    events: [INSERT]
    retry: { max_attempts: 5, initial_delay_ms: 50, max_delay_ms: 50, backoff: fixed }
    failure_policy: dlq
    actions:
      - type: webhook
        url: "${target.url}/{{ data.path }}"
ssrf:
  allow: ["127.0.0.1/32"]
`,
    });
  });
  afterAll(async () => {
    await pipeline?.stop();
    await target?.close();
    await services?.close();
  });

  const requestsFor = (eventId: string) => target.requests.filter((r) => r.headers['idempotency-key'] === `${eventId}:hook:0`);

  it('delivers to a target that fails twice with 503 once it recovers (3 attempts, run completes)', async () => {
    const [row] = await pipeline.insert([{ data: { path: 'flaky' } }]);
    const outcome = await pipeline.outcome(row!.id);
    expect(outcome.status).toBe('completed');
    if (outcome.status !== 'completed') return;
    expect(outcome.result.status).toBe('succeeded');
    expect(outcome.result.actions).toEqual([expect.objectContaining({ key: 'hook:0', status: 'succeeded', attempts: 3 })]);
    const reqs = requestsFor(row!.id);
    expect(reqs).toHaveLength(3);
    // The same event body on every attempt.
    expect(new Set(reqs.map((r) => r.body)).size).toBe(1);
    expect(JSON.parse(reqs[0]!.body)).toMatchObject({ id: row!.id });
  });

  it('sends a target answering 400 to the DLQ at once: one request, run Failed with ActionsFailed naming HttpClientError', async () => {
    const [row] = await pipeline.insert([{ data: { path: 'reject' } }]);
    const outcome = await pipeline.outcome(row!.id);
    expect(outcome.status).toBe('failed');
    if (outcome.status !== 'failed') return;
    const failure = outcome.error.cause;
    expect(failure).toBeInstanceOf(ApplicationFailure);
    const app = failure as ApplicationFailure;
    expect(app.type).toBe(ACTIONS_FAILED);
    expect(app.message).toContain('HttpClientError');
    const summary = app.details?.[0] as ProcessChangeEventResult;
    expect(summary).toMatchObject({ eventId: row!.id, status: 'failed', failedActions: ['hook:0'] });
    expect(summary.actions).toEqual([
      expect.objectContaining({ key: 'hook:0', status: 'failed', attempts: 1, error: expect.objectContaining({ type: 'HttpClientError', nonRetryable: true }) }),
    ]);
    expect(summary.actions[0]!.error!.message).toContain('400');
    expect(requestsFor(row!.id)).toHaveLength(1);
    const described = await pipeline.handle(row!.id).describe();
    expect(described.status.name).toBe('FAILED');
  });

  it('honours Retry-After: the second attempt comes at least that long after the first', async () => {
    const [row] = await pipeline.insert([{ data: { path: 'busy' } }]);
    const outcome = await pipeline.outcome(row!.id);
    expect(outcome.status).toBe('completed');
    const reqs = requestsFor(row!.id);
    expect(reqs).toHaveLength(2);
    const gapMs = reqs[1]!.receivedAt - reqs[0]!.receivedAt;
    // The first timestamp is taken before the 503 is even sent, so the gap cannot be shorter
    // than the delay unless Retry-After was ignored (the policy alone would wait 50 ms).
    expect(gapMs).toBeGreaterThanOrEqual(RETRY_AFTER_SECONDS * 1000);
  });
});
