import { type ApplicationFailure } from '@temporalio/common';
import { InMemoryBreakerStore, closeActivities, createActivities, type ObserverActivities, type SlackAction } from '../../src/activities';
import { activityEnv, captureLogger, orderEvent, startHttpReceiver, type HttpReceiver } from '../helpers/receivers';

jest.setTimeout(30_000);

const PATH_SECRET = '/services/T0000/B0000/XyZsecretTokenValue42';

describe('runSlack against a local incoming-webhook receiver', () => {
  let receiver: HttpReceiver;
  let acts: ObserverActivities;
  let logs: ReturnType<typeof captureLogger>;

  beforeEach(async () => {
    receiver = await startHttpReceiver();
    logs = captureLogger();
    acts = createActivities({
      env: { SLACK_WEBHOOK_URL: `${receiver.url}${PATH_SECRET}` },
      log: logs.log,
      breaker: new InMemoryBreakerStore(),
      ssrf: { allow: ['127.0.0.1/32'] },
    });
  });

  afterEach(async () => {
    await closeActivities(acts);
    await receiver.close();
  });

  const slack = (overrides: Partial<SlackAction> = {}): SlackAction => ({ type: 'slack', key: 'ops:1', webhook_url_env: 'SLACK_WEBHOOK_URL', ...overrides });

  it('posts rendered text and blocks as JSON to the URL from the environment', async () => {
    const event = orderEvent();
    const result = await activityEnv().run(acts.runSlack, {
      event,
      action: slack({
        text: 'Order {{ event.entity_id }} is {{ data.status }}',
        blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*{{ data.customer.name }}*: {{ old.status }} → {{ data.status }}' } }],
      }),
    });
    expect(result).toMatchObject({ type: 'slack', key: 'ops:1', status_code: 200 });
    const req = receiver.requests[0]!;
    expect(req.path).toBe(PATH_SECRET);
    expect(req.headers['content-type']).toBe('application/json');
    expect(JSON.parse(req.body)).toEqual({
      text: `Order ${event.entityId} is shipped`,
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*Ada*: paid → shipped' } }],
    });
  });

  it('renders the string leaves of blocks and defaults the text', async () => {
    const event = orderEvent();
    await activityEnv().run(acts.runSlack, { event, action: slack({ blocks: [{ type: 'divider', block_id: '{{ event.entity_type }}' }] }) });
    await activityEnv().run(acts.runSlack, { event, action: slack() });
    expect(JSON.parse(receiver.requests[0]!.body)).toEqual({ blocks: [{ type: 'divider', block_id: 'Order' }] });
    expect(JSON.parse(receiver.requests[1]!.body)).toEqual({ text: `Order UPDATE ${event.entityId}` });
  });

  it('never reveals the webhook URL path in failures or logs', async () => {
    receiver.respond((req, res) => {
      res.statusCode = 404;
      res.end(`no_service for ${req.path}`);
    });
    const err = (await activityEnv()
      .run(acts.runSlack, { event: orderEvent(), action: slack() })
      .catch((e: unknown) => e)) as ApplicationFailure;
    expect(err).toMatchObject({ type: 'HttpClientError', nonRetryable: true });
    expect(err.message).toContain(`Slack webhook (${receiver.url}/…) answered 404`);
    expect(err.message).not.toContain('XyZsecretTokenValue42');
    expect(logs.text()).not.toContain('XyZsecretTokenValue42');
  });

  it('fails permanently when the variable is unset, and refuses a non-allowlisted URL by origin only', async () => {
    const missing = (await activityEnv()
      .run(acts.runSlack, { event: orderEvent(), action: slack({ webhook_url_env: 'NO_SUCH_SLACK_URL' }) })
      .catch((e: unknown) => e)) as ApplicationFailure;
    expect(missing).toMatchObject({ type: 'MissingSecret', nonRetryable: true });

    const strict = createActivities({ env: { SLACK_WEBHOOK_URL: `${receiver.url}${PATH_SECRET}` }, log: logs.log, breaker: new InMemoryBreakerStore(), ssrf: { allow: [] } });
    const blocked = (await activityEnv()
      .run(strict.runSlack, { event: orderEvent(), action: slack() })
      .catch((e: unknown) => e)) as ApplicationFailure;
    await closeActivities(strict);
    expect(blocked).toMatchObject({ type: 'SsrfBlocked', nonRetryable: true });
    expect(blocked.message).toContain('127.0.0.1');
    expect(blocked.message).not.toContain('XyZsecretTokenValue42');
    expect(receiver.requests).toHaveLength(0);
  });
});
