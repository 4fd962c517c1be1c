/**
 * SSRF guard end to end: webhooks to loopback / private / metadata addresses that the observers
 * file's `ssrf.allow` does not list end in the DLQ as SsrfBlocked without a single request reaching
 * them (real listeners on those addresses count), while an allowlisted loopback target is delivered.
 */
import { ApplicationFailure } from '@temporalio/common';
import { ACTIONS_FAILED, type ProcessChangeEventResult } from '../../src/contract';
import { startE2eServices, startPipeline, type E2eServices, type Pipeline } from '../helpers/e2e';
import { startHttpReceiver, type HttpReceiver } from '../helpers/receivers';

jest.setTimeout(240_000);

describe('SSRF guard, end to end', () => {
  let services: E2eServices;
  let allowed: HttpReceiver;
  let loopback2: HttpReceiver;
  let loopback6: HttpReceiver;
  let pipeline: Pipeline;

  beforeAll(async () => {
    services = await startE2eServices('e2e_ssrf');
    allowed = await startHttpReceiver();
    loopback2 = await startHttpReceiver(undefined, { host: '127.0.0.2' });
    loopback6 = await startHttpReceiver(undefined, { host: '::1' });
    pipeline = await startPipeline(services, {
      observers: `
observers:
  internal:
    entity: "{{ENTITY}}"
    events: [INSERT]
    condition: "target == 'private'"
    retry: { max_attempts: 5, initial_delay_ms: 50, backoff: fixed }
    actions:
      - { type: webhook, url: "${loopback2.url}/hook" }
      - { type: webhook, url: "${loopback6.url}/hook" }
      - { type: webhook, url: "http://169.254.169.254/latest/meta-data/" }
  partner:
    entity: "{{ENTITY}}"
    events: [INSERT]
    condition: "target == 'allowed'"
    actions:
      - { type: webhook, url: "${allowed.url}/hook" }
ssrf:
  allow: ["127.0.0.1/32"]
`,
    });
  });
  afterAll(async () => {
    await pipeline?.stop();
    for (const r of [allowed, loopback2, loopback6]) await r?.close();
    await services?.close();
  });

  it('refuses targets outside ssrf.allow (DLQ, SsrfBlocked, no request sent) and delivers an allowlisted one', async () => {
    const [blocked, ok] = await pipeline.insert([{ data: { target: 'private' } }, { data: { target: 'allowed' } }]);

    const refused = await pipeline.outcome(blocked!.id);
    expect(refused.status).toBe('failed');
    if (refused.status !== 'failed') return;
    const failure = refused.error.cause as ApplicationFailure;
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure.type).toBe(ACTIONS_FAILED);
    expect(failure.message).toContain('SsrfBlocked');
    const summary = failure.details?.[0] as ProcessChangeEventResult;
    expect(summary.failedActions.sort()).toEqual(['internal:0', 'internal:1', 'internal:2']);
    for (const action of summary.actions) {
      // Permanent: refused on the first attempt, never retried.
      expect(action).toMatchObject({ status: 'failed', attempts: 1, error: { type: 'SsrfBlocked', nonRetryable: true } });
    }
    const messages = summary.actions.map((a) => a.error!.message);
    expect(messages[0]).toContain('127.0.0.2');
    expect(messages[1]).toContain('::1');
    expect(messages[2]).toContain('169.254.169.254');
    expect(loopback2.requests).toHaveLength(0);
    expect(loopback6.requests).toHaveLength(0);

    const delivered = await pipeline.outcome(ok!.id);
    expect(delivered).toMatchObject({ status: 'completed', result: { status: 'succeeded', observers: ['partner'] } });
    expect(allowed.requests.map((r) => r.headers['idempotency-key'])).toEqual([`${ok!.id}:partner:0`]);
  });
});
