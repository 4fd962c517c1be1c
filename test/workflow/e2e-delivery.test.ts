/**
 * End to end: rows committed to core.tb_entity_change_log are read by the real listener, started
 * as processChangeEvent on the embedded Temporal server and run by a real worker, whose activities
 * reach real local services: a signed webhook, a Slack incoming webhook, an SMTP server, Redis and
 * a SQL function. Then: the actions of one event run in parallel.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { startE2eServices, startPipeline, type E2eServices, type Pipeline } from '../helpers/e2e';
import { nowMs, startHttpReceiver, startSmtpReceiver, type HttpReceiver, type RecordedRequest, type SmtpReceiver } from '../helpers/receivers';
import { waitFor } from '../helpers/pg';

jest.setTimeout(240_000);

const SIGNING_SECRET = 'whk-signing-secret-e2e-4d1f';
const SMTP_PASSWORD = 'smtp-password-e2e-93ab';
const SLACK_PATH = '/services/T000/B000/e2eSlackToken';

/** Checks `X-FraiseQL-Signature-256: t=<s>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` independently of the service's code. */
function verifySignature(req: RecordedRequest, secret: string): boolean {
  const header = String(req.headers['x-fraiseql-signature-256'] ?? '');
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (!m) return false;
  const expected = createHmac('sha256', secret).update(`${m[1]}.${req.body}`).digest('hex');
  return expected === m[2];
}

describe('change-log rows → every action type, delivered', () => {
  let services: E2eServices;
  let hooks: HttpReceiver;
  let slack: HttpReceiver;
  let smtp: SmtpReceiver;
  let redis: Redis;
  const pipelines: Pipeline[] = [];

  beforeAll(async () => {
    services = await startE2eServices('e2e_delivery');
    hooks = await startHttpReceiver();
    slack = await startHttpReceiver();
    smtp = await startSmtpReceiver({ user: 'mailer', password: SMTP_PASSWORD });
    redis = new Redis('redis://127.0.0.1:6379');
    await services.db.pool.query(`
      CREATE SCHEMA e2e;
      CREATE TABLE e2e.calls (payload jsonb NOT NULL, called_at timestamptz NOT NULL DEFAULT clock_timestamp());
      CREATE FUNCTION e2e.record_event(p jsonb) RETURNS jsonb LANGUAGE sql AS
        $$ INSERT INTO e2e.calls (payload) VALUES (p); SELECT jsonb_build_object('seen', p->>'id') $$;
    `);
  });
  afterAll(async () => {
    for (const p of pipelines) await p.stop();
    await redis?.quit();
    await smtp?.close();
    await slack?.close();
    await hooks?.close();
    await services?.close();
  });

  it('delivers a signed webhook, a Slack message, an email, cache invalidation and a SQL call per row', async () => {
    const prefix = `e2e:${randomUUID()}:`;
    const pipeline = await startPipeline(services, {
      observers: `
observers:
  order_created:
    entity: "{{ENTITY}}"
    events: [INSERT]
    retry: { max_attempts: 3, initial_delay_ms: 100, backoff: fixed }
    actions:
      - type: webhook
        url: "${hooks.url}/hooks/{{ event.entity_id }}"
        signing_secret_env: HOOK_SECRET
      - type: slack
        webhook_url_env: SLACK_WEBHOOK_URL
        text: "New {{ event.entity_type }} {{ event.entity_id }} for {{ data.customer.name }}: {{ data.total }}"
      - type: email
        to: "{{ data.customer.email }}"
        from: "Shop <shop@example.com>"
        subject: "Order {{ event.entity_id }} received"
        body: "Hello {{ data.customer.name }}, we got your order of {{ data.total }} EUR."
        smtp: { host: 127.0.0.1, port: ${smtp.port}, user_env: SMTP_USER, password_env: SMTP_PASSWORD }
      - type: cache
        keys: ["${prefix}order:{{ event.entity_id }}"]
        patterns: ["${prefix}customer:{{ data.customer.name }}:*"]
      - type: database
        function: e2e.record_event
ssrf:
  allow: ["127.0.0.1/32"]
`,
      activityEnv: { HOOK_SECRET: SIGNING_SECRET, SLACK_WEBHOOK_URL: `${slack.url}${SLACK_PATH}`, SMTP_USER: 'mailer', SMTP_PASSWORD },
      serviceEnv: { REDIS_URL: 'redis://127.0.0.1:6379' },
    });
    pipelines.push(pipeline);

    const people = [
      { name: 'Ada', email: 'ada@example.com', total: 12.5 },
      { name: 'Grace', email: 'grace@example.com', total: 99 },
      { name: 'Linus', email: 'linus@example.com', total: 7 },
    ];
    const objectIds = people.map(() => randomUUID());
    // Keys each event must invalidate, and neighbours it must leave alone.
    for (const [i, p] of people.entries()) {
      await redis.mset(`${prefix}order:${objectIds[i]}`, '1', `${prefix}customer:${p.name}:1`, '1', `${prefix}customer:${p.name}:page:2`, '1');
    }
    await redis.mset(`${prefix}order:someone-else`, '1', `${prefix}customer:Adam:1`, '1', `${prefix}other`, '1');

    const rows = await pipeline.insert(people.map((p, i) => ({ objectId: objectIds[i], data: { total: p.total, customer: { name: p.name, email: p.email } } })));
    for (const row of rows) {
      const outcome = await pipeline.outcome(row.id);
      expect(outcome.status).toBe('completed');
      if (outcome.status !== 'completed') continue;
      expect(outcome.result).toMatchObject({ eventId: row.id, status: 'succeeded', failedActions: [], observers: ['order_created'] });
      expect(outcome.result.actions.map((a) => [a.key, a.type, a.status])).toEqual([
        ['order_created:0', 'webhook', 'succeeded'],
        ['order_created:1', 'slack', 'succeeded'],
        ['order_created:2', 'email', 'succeeded'],
        ['order_created:3', 'cache', 'succeeded'],
        ['order_created:4', 'database', 'succeeded'],
      ]);
    }

    for (const [i, row] of rows.entries()) {
      const person = people[i]!;
      const data = { total: person.total, customer: { name: person.name, email: person.email } };

      // Webhook: path from the template, the default body is the event envelope with its id, signed, idempotent.
      const hook = hooks.requests.filter((r) => r.path === `/hooks/${row.objectId}`);
      expect(hook).toHaveLength(1);
      const req = hook[0]!;
      expect(req.method).toBe('POST');
      expect(req.headers['content-type']).toBe('application/json');
      expect(req.headers['idempotency-key']).toBe(`${row.id}:order_created:0`);
      expect(verifySignature(req, SIGNING_SECRET)).toBe(true);
      expect(verifySignature(req, 'some-other-secret')).toBe(false);
      expect(JSON.parse(req.body)).toMatchObject({ id: row.id, kind: 'INSERT', entity_type: pipeline.entity, entity_id: row.objectId, data, position: row.pk });

      // Slack: the URL (a secret) came from the environment; the text is rendered.
      const posts = slack.requests.filter((r) => r.body.includes(row.objectId));
      expect(posts).toHaveLength(1);
      expect(posts[0]!.path).toBe(SLACK_PATH);
      expect(JSON.parse(posts[0]!.body)).toEqual({ text: `New ${pipeline.entity} ${row.objectId} for ${person.name}: ${person.total}` });

      // Email: rendered recipient, subject and body, authenticated with the password from the environment.
      const mails = smtp.messages.filter((m) => m.to.includes(person.email));
      expect(mails).toHaveLength(1);
      expect(mails[0]).toMatchObject({ user: 'mailer', from: 'shop@example.com', to: [person.email] });
      expect(mails[0]!.raw).toContain(`Subject: Order ${row.objectId} received`);
      expect(mails[0]!.raw).toContain(`Hello ${person.name}, we got your order of ${person.total} EUR.`);
    }

    // Cache: the exact keys and the glob matches are gone; the neighbours are not.
    expect((await redis.keys(`${prefix}*`)).sort()).toEqual([`${prefix}customer:Adam:1`, `${prefix}order:someone-else`, `${prefix}other`]);
    await redis.del(`${prefix}customer:Adam:1`, `${prefix}order:someone-else`, `${prefix}other`);

    // SQL function: called once per event with the envelope as jsonb.
    const calls = (await services.db.pool.query<{ payload: Record<string, unknown> }>(`SELECT payload FROM e2e.calls`)).rows.map((r) => r.payload);
    expect(calls).toHaveLength(3);
    for (const [i, row] of rows.entries()) {
      expect(calls.filter((c) => c.id === row.id)).toEqual([
        expect.objectContaining({ id: row.id, kind: 'INSERT', entity_type: pipeline.entity, entity_id: row.objectId, data: expect.objectContaining({ total: people[i]!.total }) }),
      ]);
    }
  });

  it('runs the actions of one event in parallel: all three requests start before any finishes', async () => {
    // Each request is answered after 100 ms at the earliest, and only once all three have arrived
    // (or 20 s passed). Run in parallel, all three arrive within the 100 ms; run one after another,
    // the first would be answered alone after 20 s, before the second was sent, and the check fails.
    const started: Array<{ path: string; at: number }> = [];
    const finished: Array<{ path: string; at: number }> = [];
    const arrived = new Set<string>();
    const slow = await startHttpReceiver(async (req, res) => {
      arrived.add(req.path);
      started.push({ path: req.path, at: req.receivedAt });
      await new Promise((r) => setTimeout(r, 100));
      await waitFor('all three requests', () => arrived.size >= 3, 20_000, 5).catch(() => undefined);
      finished.push({ path: req.path, at: nowMs() });
      res.end('ok');
    });
    try {
      const pipeline = await startPipeline(services, {
        observers: `
observers:
  fan_out:
    entity: "{{ENTITY}}"
    events: [INSERT]
    retry: { max_attempts: 1 }
    actions:
      - { type: webhook, url: "${slow.url}/a", timeout_ms: 60000 }
      - { type: webhook, url: "${slow.url}/b", timeout_ms: 60000 }
      - { type: webhook, url: "${slow.url}/c", timeout_ms: 60000 }
ssrf:
  allow: ["127.0.0.1"]
`,
      });
      pipelines.push(pipeline);
      const [row] = await pipeline.insert([{ data: { n: 1 } }]);
      const outcome = await pipeline.outcome(row!.id);
      expect(outcome.status).toBe('completed');
      expect(started.map((s) => s.path).sort()).toEqual(['/a', '/b', '/c']);
      expect(finished).toHaveLength(3);
      const lastStart = Math.max(...started.map((s) => s.at));
      const firstFinish = Math.min(...finished.map((f) => f.at));
      expect(lastStart).toBeLessThan(firstFinish);
    } finally {
      await slow.close();
    }
  });
});
