/**
 * The observers file's `breaker:` settings reach the circuit breaker the worker's activities use:
 * with `minimum_calls: 1` and `failure_rate_threshold: 1`, one failed call opens it, and the next
 * call is refused without reaching the target.
 */
import { ApplicationFailure } from '@temporalio/common';
import { Registry } from 'prom-client';
import { closeActivities, createActivities, type WebhookAction } from '../../src/activities';
import { parseConfig } from '../../src/config';
import { createActivityResources } from '../../src/worker/activity-deps';
import { activityEnv, captureLogger, orderEvent, startHttpReceiver } from '../helpers/receivers';

test('breaker settings from the observers file govern the worker breaker', async () => {
  const receiver = await startHttpReceiver((_req, res) => {
    res.statusCode = 503;
    res.end();
  });
  const text = `
ssrf: { allow: [127.0.0.1/32] }
breaker: { failure_rate_threshold: 1, minimum_calls: 1, open_duration_ms: 60000 }
observers:
  hook:
    entity: Order
    events: [UPDATE]
    actions:
      - { type: webhook, url: "${receiver.url}/x" }
`;
  const config = parseConfig({ env: { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres' }, text, source: 'observers.yaml' });
  const resources = createActivityResources({ config, env: {}, log: captureLogger().log, registry: new Registry() });
  const acts = createActivities(resources.deps);
  const action: WebhookAction = { key: 'hook:0', type: 'webhook', url: `${receiver.url}/x` };
  const run = () => activityEnv().run(acts.runWebhook, { event: orderEvent(), action }).then(() => undefined, (e: unknown) => e as ApplicationFailure);
  try {
    const first = await run();
    expect(first).toBeInstanceOf(ApplicationFailure);
    expect(first?.type).toBe('HttpServerError');
    const second = await run();
    expect(second?.type).toBe('CircuitOpen');
    expect(Number(second?.nextRetryDelay)).toBeGreaterThan(50_000);
    expect(receiver.requests).toHaveLength(1);
  } finally {
    await closeActivities(acts);
    await resources.close();
    await receiver.close();
  }
});
