import { createHmac, timingSafeEqual } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { Registry } from 'prom-client';
import { InMemoryBreakerStore, closeActivities, createActivities, type ObserverActivities, type WebhookAction } from '../../src/activities';
import { activityEnv, captureLogger, orderEvent, startHttpReceiver, type HttpReceiver, type RecordedRequest } from '../helpers/receivers';

jest.setTimeout(30_000);

const SECRET = 'fraiseql-signing-secret-7f3a9c';
const STD_SECRET = `whsec_${Buffer.from('standard-webhooks-key-bytes-0123').toString('base64')}`;

/** The receiver's own verification, written from the header specification. */
function verifyFraiseql(req: RecordedRequest, secret: string): boolean {
  const header = String(req.headers['x-fraiseql-signature-256'] ?? '');
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (!match) return false;
  const expected = createHmac('sha256', secret).update(`${match[1]}.${req.body}`).digest();
  return timingSafeEqual(expected, Buffer.from(match[2]!, 'hex')) && Math.abs(Date.now() / 1000 - Number(match[1])) < 300;
}

function verifyStandard(req: RecordedRequest, secret: string): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const signed = `${String(req.headers['webhook-id'])}.${String(req.headers['webhook-timestamp'])}.${req.body}`;
  const expected = `v1,${createHmac('sha256', key).update(signed).digest('base64')}`;
  return String(req.headers['webhook-signature']).split(' ').includes(expected);
}

async function failure(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

describe('runWebhook against a local receiver', () => {
  let receiver: HttpReceiver;
  let acts: ObserverActivities;
  let logs: ReturnType<typeof captureLogger>;
  let registry: Registry;

  beforeEach(async () => {
    receiver = await startHttpReceiver();
    logs = captureLogger();
    registry = new Registry();
    acts = createActivities({
      env: { HOOK_SECRET: SECRET, STD_SECRET },
      log: logs.log,
      breaker: new InMemoryBreakerStore({ minimumCalls: 100 }),
      ssrf: { allow: ['127.0.0.1/32'] },
      metrics: registry,
    });
  });

  afterEach(async () => {
    await closeActivities(acts);
    await receiver.close();
  });

  const hook = (overrides: Partial<WebhookAction> = {}): WebhookAction => ({
    type: 'webhook',
    key: 'order_shipped:0',
    url: `${receiver.url}/hooks/orders`,
    method: 'POST',
    signing_secret_env: 'HOOK_SECRET',
    ...overrides,
  });

  it('delivers a signed default envelope that the receiver verifies, with a stable idempotency key', async () => {
    const verdicts: boolean[] = [];
    receiver.respond((req, res) => {
      verdicts.push(verifyFraiseql(req, SECRET));
      res.statusCode = verdicts.at(-1) ? 204 : 401;
      res.end();
    });
    const event = orderEvent();
    const first = await activityEnv(1).run(acts.runWebhook, { event, action: hook() });
    const second = await activityEnv(2).run(acts.runWebhook, { event, action: hook() });

    expect(verdicts).toEqual([true, true]);
    expect(first).toMatchObject({ type: 'webhook', key: 'order_shipped:0', status_code: 204, redirects: 0, idempotency_key: `${event.id}:order_shipped:0` });
    const [a, b] = receiver.requests as [RecordedRequest, RecordedRequest];
    expect(a.headers['idempotency-key']).toBe(`${event.id}:order_shipped:0`);
    expect(b.headers['idempotency-key']).toBe(a.headers['idempotency-key']);
    expect(second.idempotency_key).toBe(first.idempotency_key);
    expect(a.headers['content-type']).toBe('application/json');
    const body = JSON.parse(a.body) as Record<string, unknown>;
    expect(body).toMatchObject({ id: event.id, kind: 'UPDATE', entity_type: 'Order', entity_id: event.entityId, data: event.data });
  });

  it('adds Standard Webhooks headers the receiver can verify', async () => {
    const event = orderEvent();
    await activityEnv().run(acts.runWebhook, { event, action: hook({ signing_secret_env: 'STD_SECRET', standard_webhooks: true }) });
    const req = receiver.requests[0]!;
    expect(req.headers['webhook-id']).toBe(`${event.id}:order_shipped:0`);
    expect(verifyStandard(req, STD_SECRET)).toBe(true);
    expect(verifyFraiseql(req, STD_SECRET)).toBe(true);
  });

  it('renders URL, headers and body from templates', async () => {
    const event = orderEvent();
    await activityEnv().run(acts.runWebhook, {
      event,
      action: hook({
        url: `${receiver.url}/orders/{{ event.entity_id }}?status={{ data.status | url_encode }}`,
        method: 'PUT',
        headers: { 'X-Customer': '{{ data.customer.email }}', 'Content-Type': 'text/plain' },
        body: '{{ data.customer.name }} order is {{ data.status }} (was {{ old.status }})',
      }),
    });
    const req = receiver.requests[0]!;
    expect(req.method).toBe('PUT');
    expect(req.path).toBe(`/orders/${event.entityId}?status=shipped`);
    expect(req.headers['x-customer']).toBe('ada@example.com');
    expect(req.headers['content-type']).toBe('text/plain');
    expect(req.body).toBe('Ada order is shipped (was paid)');
  });

  it('fails 400 permanently (HttpClientError)', async () => {
    receiver.respond((_req, res) => {
      res.statusCode = 400;
      res.end('bad payload');
    });
    const f = await failure(activityEnv().run(acts.runWebhook, { event: orderEvent(), action: hook() }));
    expect(f).toMatchObject({ type: 'HttpClientError', nonRetryable: true });
    expect(f.message).toContain('answered 400: bad payload');
  });

  it('fails 503 retryably and 429 with Retry-After as the next retry delay', async () => {
    receiver.respond((_req, res) => {
      res.statusCode = 503;
      res.end();
    });
    expect(await failure(activityEnv().run(acts.runWebhook, { event: orderEvent(), action: hook() }))).toMatchObject({
      type: 'HttpServerError',
      nonRetryable: false,
      nextRetryDelay: undefined,
    });
    receiver.respond((_req, res) => {
      res.writeHead(429, { 'Retry-After': '3' });
      res.end();
    });
    expect(await failure(activityEnv().run(acts.runWebhook, { event: orderEvent(), action: hook() }))).toMatchObject({
      type: 'HttpRetryableStatus',
      nonRetryable: false,
      nextRetryDelay: 3000,
    });
  });

  it('refuses a rendered header value with CR/LF before sending anything', async () => {
    const event = orderEvent({ data: { note: 'x\r\nX-Injected: 1' } });
    const f = await failure(activityEnv().run(acts.runWebhook, { event, action: hook({ headers: { 'X-Note': '{{ data.note }}' } }) }));
    expect(f).toMatchObject({ type: 'InvalidHeader', nonRetryable: true });
    expect(receiver.requests).toHaveLength(0);
  });

  it('keeps at most max_response_bytes of a 2xx answer and succeeds', async () => {
    receiver.respond((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(16 * 1024, 120);
      let sent = 0;
      const pump = () => {
        while (sent < 4 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    // A 2xx answer is a success whatever its length: what is kept is cut at max_response_bytes.
    const big = await activityEnv().run(acts.runWebhook, { event: orderEvent(), action: hook({ max_response_bytes: 64 * 1024 }) });
    expect(big).toMatchObject({ status_code: 200, response_bytes: 64 * 1024, response_truncated: true });

    receiver.respond((_req, res) => {
      res.writeHead(200, { 'content-length': String(10_000) });
      res.end(Buffer.alloc(10_000));
    });
    expect(await activityEnv().run(acts.runWebhook, { event: orderEvent(), action: hook({ max_response_bytes: 1000 }) })).toMatchObject({
      status_code: 200,
      response_bytes: 1000,
      response_truncated: true,
    });
    const small = await activityEnv().run(acts.runWebhook, { event: orderEvent(), action: hook({ max_response_bytes: 20_000 }) });
    expect(small).toMatchObject({ response_bytes: 10_000 });
    expect(small).not.toHaveProperty('response_truncated');
  });

  it('times out retryably', async () => {
    receiver.respond((_req, res) => void setTimeout(() => res.end('late'), 1500));
    const f = await failure(activityEnv().run(acts.runWebhook, { event: orderEvent(), action: hook({ timeout_ms: 200 }) }));
    expect(f).toMatchObject({ type: 'Timeout', nonRetryable: false });
  });

  it('follows redirects (303 becomes GET) and reports them', async () => {
    receiver.respond((req, res) => {
      if (req.path === '/hooks/orders') {
        res.writeHead(303, { location: '/moved' });
        return void res.end();
      }
      res.end('ok');
    });
    const result = await activityEnv().run(acts.runWebhook, { event: orderEvent(), action: hook() });
    expect(result).toMatchObject({ status_code: 200, redirects: 1, url: `${receiver.url}/moved` });
    expect(receiver.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /hooks/orders', 'GET /moved']);
  });

  it('stops after 5 redirects', async () => {
    receiver.respond((req, res) => {
      res.writeHead(307, { location: `/loop${req.path.length}` });
      res.end();
    });
    expect(await failure(activityEnv().run(acts.runWebhook, { event: orderEvent(), action: hook() }))).toMatchObject({ type: 'TooManyRedirects', nonRetryable: true });
    expect(receiver.requests).toHaveLength(6);
  });

  it('fails permanently, naming the variable, when the signing secret is unset', async () => {
    const f = await failure(activityEnv().run(acts.runWebhook, { event: orderEvent(), action: hook({ signing_secret_env: 'NOT_SET_ANYWHERE' }) }));
    expect(f).toMatchObject({ type: 'MissingSecret', nonRetryable: true });
    expect(f.message).toContain('NOT_SET_ANYWHERE');
  });

  it('keeps the signing secret out of logs, failures and results, and counts attempts', async () => {
    receiver.respond((req, res) => {
      // A hostile receiver echoing everything it can back at us.
      res.statusCode = req.path.includes('fail') ? 500 : 200;
      res.end(`${SECRET} ${JSON.stringify(req.headers)}`);
    });
    const event = orderEvent();
    const ok = await activityEnv().run(acts.runWebhook, { event, action: hook() });
    const f = await failure(activityEnv().run(acts.runWebhook, { event, action: hook({ url: `${receiver.url}/fail` }) }));
    logs.log.flush();
    expect(JSON.stringify(ok)).not.toContain(SECRET);
    expect(f.message).not.toContain(SECRET);
    expect(f.message).toContain('[redacted]');
    expect(logs.text()).not.toContain(SECRET);
    expect(logs.lines().some((l) => l.event_id === event.id && l.error_type === 'HttpServerError')).toBe(true);

    const metrics = await registry.getMetricsAsJSON();
    const executed = metrics.find((m) => m.name === 'observer_actions_executed_total')!.values;
    expect(executed).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ labels: { action_type: 'webhook', observer: 'order_shipped', status: 'success' }, value: 1 }),
        expect.objectContaining({ labels: { action_type: 'webhook', observer: 'order_shipped', status: 'failure' }, value: 1 }),
      ]),
    );
    const failed = metrics.find((m) => m.name === 'observer_actions_failed_total')!.values;
    expect(failed).toEqual([expect.objectContaining({ labels: { action_type: 'webhook', observer: 'order_shipped', error_type: 'HttpServerError' }, value: 1 })]);
  });

  it('dispatches through runAction', async () => {
    const result = await activityEnv().run(acts.runAction, { event: orderEvent(), action: hook() });
    expect(result.type).toBe('webhook');
    expect(await failure(activityEnv().run(acts.runAction, { event: orderEvent(), action: { type: 'fax', key: 'x:0' } as never }))).toMatchObject({
      type: 'InvalidAction',
      nonRetryable: true,
    });
  });
});
