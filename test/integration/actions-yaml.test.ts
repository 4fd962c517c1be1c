/**
 * One table per action type: an observers file in, the exact request / mail / SQL call / Redis
 * call / log line out. The action goes the whole way it goes in production: YAML → schema →
 * matcher snapshot (the workflow input) → activity → a real receiver, SMTP server, PostgreSQL,
 * Redis (watched with MONITOR) or log.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Pool, QueryConfig } from 'pg';
import { InMemoryBreakerStore, closeActivities, createActivities, type ObserverActivities } from '../../src/activities';
import { checkObserversYaml } from '../../src/config';
import type { ActionSnapshot } from '../../src/contract';
import type { ChangeEvent } from '../../src/events';
import { compileObservers, matchEvent } from '../../src/events';
import { createTestDatabase, waitFor, type TestDatabase } from '../helpers/pg';
import { activityEnv, captureLogger, orderEvent, startHttpReceiver, startSmtpReceiver, type HttpReceiver, type SmtpReceiver } from '../helpers/receivers';

jest.setTimeout(30_000);

const EVENT_ID = '7d0c5b9e-1f2a-4c3b-8d4e-5f6a7b8c9d0e';
const ENTITY_ID = 'ord-17';
const event: ChangeEvent = orderEvent({
  id: EVENT_ID,
  entityId: ENTITY_ID,
  customerOrgId: 'org-9',
  data: { status: 'shipped', total: 99.5, name: 'Ada "AL"', email: 'ada@example.com', tag: 'v*1' },
  before: { status: 'paid' },
});

/** The action snapshots the listener would put into the workflow input. */
function snapshot(actionYaml: string, top = ''): ActionSnapshot {
  const yaml = `${top}observers:\n  o:\n    entity: Order\n    events: [UPDATE]\n    actions:\n      - ${actionYaml.trim().split('\n').join('\n        ')}\n`;
  const parsed = checkObserversYaml(yaml, 'observers.yaml');
  if ('issues' in parsed) throw new Error(JSON.stringify(parsed.issues));
  const [match] = matchEvent(event, compileObservers(parsed.value)).matches;
  return match!.actions[0]!;
}

describe('YAML in, exact call out', () => {
  let receiver: HttpReceiver;
  let smtp: SmtpReceiver;
  let db: TestDatabase;
  let redis: Redis;
  let monitor: Awaited<ReturnType<Redis['monitor']>>;
  const redisCalls: string[][] = [];
  const sqlCalls: Array<{ text: string; values: unknown[] }> = [];
  let logs: ReturnType<typeof captureLogger>;
  let acts: ObserverActivities;
  const schema = `yaml_${randomBytes(4).toString('hex')}`;
  const prefix = `test:yaml:${randomBytes(4).toString('hex')}:`;

  beforeAll(async () => {
    receiver = await startHttpReceiver();
    smtp = await startSmtpReceiver({ user: 'mailer', password: 'smtp-password-1' });
    db = await createTestDatabase('actions_yaml');
    await db.pool.query(`CREATE SCHEMA ${schema}; CREATE FUNCTION ${schema}.on_order(p jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT jsonb_build_object('ok', p->>'id') $$`);
    // A real pool whose queries are also written down (they still run against PostgreSQL).
    const pool = db.pool;
    const query = pool.query.bind(pool) as (text: string | QueryConfig, values?: unknown[]) => Promise<unknown>;
    (pool as unknown as { query: typeof query }).query = (text, values) => {
      sqlCalls.push({ text: typeof text === 'string' ? text : text.text, values: values ?? [] });
      return query(text, values);
    };
    redis = new Redis('redis://127.0.0.1:6379');
    monitor = await new Redis('redis://127.0.0.1:6379').monitor();
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args.some((a) => a.includes(prefix))) redisCalls.push(args);
    });
    logs = captureLogger();
    acts = createActivities({
      env: { API_TOKEN: 'Bearer t0ken-value', HOOK_SECRET: 'fraiseql-secret-1', SLACK_URL: `${receiver.url}/services/T1/B2/slacktoken123`, SMTP_USER: 'mailer', SMTP_PASSWORD: 'smtp-password-1' },
      log: logs.log,
      breaker: new InMemoryBreakerStore(),
      ssrf: { allow: [`127.0.0.1:${receiver.port}`, `127.0.0.1:${smtp.port}`] },
      redis,
      db: pool as Pool,
      clock: () => 1_700_000_000_000,
    });
  });

  afterAll(async () => {
    await closeActivities(acts);
    monitor.disconnect();
    await redis.quit();
    await receiver.close();
    await smtp.close();
    await db.drop();
  });

  const run = (action: ActionSnapshot) => activityEnv().run(acts.runAction, { event, action });

  it.each([
    {
      name: 'default body, signed, with headers and headers_env',
      yaml: `
type: webhook
url: "URL/orders/{{ event.entity_id }}?org={{ event.customer_org_id }}"
headers: { X-Change: "{{ old.status }}->{{ new.status }}" }
headers_env: { Authorization: API_TOKEN }
signing_secret_env: HOOK_SECRET`,
      request: {
        method: 'POST',
        path: `/orders/${ENTITY_ID}?org=org-9`,
        headers: {
          'x-change': 'paid->shipped',
          authorization: 'Bearer t0ken-value',
          'idempotency-key': `${EVENT_ID}:o:0`,
          'x-fraiseql-event-id': EVENT_ID,
          'content-type': 'application/json',
          'user-agent': 'fraiseql-observers',
          'x-fraiseql-signature-256': expect.stringMatching(/^t=1700000000,v1=[0-9a-f]{64}$/),
        },
        body: expect.stringContaining(`{"id":"${EVENT_ID}","kind":"UPDATE","raw_kind":"UPDATE","entity_type":"Order","entity_id":"${ENTITY_ID}"`),
      },
    },
    {
      name: 'JSON body template, PUT',
      yaml: `
type: webhook
method: put
url: "URL/users"
body: '{"name": "{{ data.name }}", "total": {{ data.total }}, "coupon": {{ data.coupon | json }}}'`,
      request: { method: 'PUT', path: '/users', headers: { 'content-type': 'application/json' }, body: '{"name": "Ada \\"AL\\"", "total": 99.5, "coupon": null}' },
    },
    {
      name: 'text body with its own content type',
      yaml: `
type: webhook
url: "URL/text"
headers: { Content-Type: text/plain }
body: "{{ event.entity_type }} {{ data.name }}"`,
      request: { method: 'POST', path: '/text', headers: { 'content-type': 'text/plain' }, body: 'Order Ada "AL"' },
    },
  ])('webhook: $name', async ({ yaml, request }) => {
    receiver.requests.length = 0;
    await run(snapshot(yaml.replace('URL', receiver.url)));
    expect(receiver.requests).toEqual([expect.objectContaining({ method: request.method, path: request.path, headers: expect.objectContaining(request.headers), body: request.body })]);
  });

  it.each([
    {
      yaml: `
type: slack
webhook_url_env: SLACK_URL
text: "{{ event.entity_type }} {{ event.entity_id }} is {{ data.status }}"
blocks: [{ type: section, text: { type: mrkdwn, text: "*{{ data.name }}*" } }]`,
      body: { text: `Order ${ENTITY_ID} is shipped`, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*Ada "AL"*' } }] },
    },
    { yaml: 'type: slack\nwebhook_url_env: SLACK_URL', body: { text: `Order UPDATE ${ENTITY_ID}` } },
  ])('slack: $yaml', async ({ yaml, body }) => {
    receiver.requests.length = 0;
    await run(snapshot(yaml));
    expect(receiver.requests).toHaveLength(1);
    expect(receiver.requests[0]).toMatchObject({ method: 'POST', path: '/services/T1/B2/slacktoken123', headers: { 'content-type': 'application/json' } });
    expect(JSON.parse(receiver.requests[0]!.body)).toEqual(body);
  });

  it.each([
    {
      yaml: `
type: email
to: "{{ data.email }}"
cc: ["audit@example.com", { list: "a@example.com, b@example.com" }]
reply_to: "support+{{ event.entity_id }}@example.com"
from: "Shop <shop@example.com>"
subject: "Order {{ event.entity_id }}: {{ old.status }} -> {{ new.status }}"
body: "Total {{ data.total }}"
smtp: { host: 127.0.0.1, port: PORT, user_env: SMTP_USER, password_env: SMTP_PASSWORD }`,
      envelope: { from: 'shop@example.com', to: ['ada@example.com', 'audit@example.com', 'a@example.com', 'b@example.com'], user: 'mailer' },
      lines: ['From: Shop <shop@example.com>', 'To: ada@example.com', 'Cc: audit@example.com, a@example.com, b@example.com', `Reply-To: support+${ENTITY_ID}@example.com`, `Subject: Order ${ENTITY_ID}: paid -> shipped`, 'Total 99.5'],
    },
  ])('email: one mail', async ({ yaml, envelope, lines }) => {
    smtp.messages.length = 0;
    await run(snapshot(yaml.replace('PORT', String(smtp.port))));
    expect(smtp.messages).toHaveLength(1);
    expect(smtp.messages[0]).toMatchObject(envelope);
    for (const line of lines) expect(smtp.messages[0]!.raw).toContain(line);
  });

  it.each([
    {
      yaml: `type: cache\nkeys: ["${'P'}order:{{ event.entity_id }}"]\npatterns: ["${'P'}tag:{{ data.tag }}:*"]`,
      // MONITOR prints a backslash doubled: the pattern sent is `tag:v\*1:*` (the event's `*` escaped).
      calls: [['unlink', 'Porder:ord-17'], ['scan', '0', 'MATCH', 'Ptag:v\\\\*1:*', 'COUNT', '1000']],
    },
  ])('cache: $yaml', async ({ yaml, calls }) => {
    redisCalls.length = 0;
    await run(snapshot(yaml.replaceAll('P', prefix)));
    const expected = calls.map((c) => c.map((a) => a.replaceAll('P', prefix)));
    await waitFor('MONITOR to report the calls', async () => redisCalls.length >= expected.length, 5_000, 10);
    expect(redisCalls.map((c) => [c[0]!.toLowerCase(), ...c.slice(1)])).toEqual(expected);
  });

  it('database: one SELECT of the function with the envelope as jsonb', async () => {
    sqlCalls.length = 0;
    const result = await run(snapshot(`type: database\nfunction: ${schema}.On_Order`));
    expect(sqlCalls).toHaveLength(1);
    expect(sqlCalls[0]!.text).toBe(`SELECT "${schema}"."on_order"($1::jsonb) AS result`);
    expect(JSON.parse(sqlCalls[0]!.values[0] as string)).toMatchObject({ id: EVENT_ID, kind: 'UPDATE', entity_type: 'Order', entity_id: ENTITY_ID, data: event.data, old: event.before });
    expect(result).toMatchObject({ returned: { ok: EVENT_ID } });
  });

  it.each([
    { yaml: 'type: log\nlevel: warn\nmessage: "{{ event.entity_type }} {{ event.entity_id }} {{ changes.status.old }}->{{ changes.status.new }}"', level: 40, msg: `Order ${ENTITY_ID} paid->shipped` },
    { yaml: 'type: log', level: 30, msg: `Order UPDATE ${ENTITY_ID}` },
  ])('log: $yaml', async ({ yaml, level, msg }) => {
    await run(snapshot(yaml));
    logs.log.flush();
    const line = logs.lines().filter((l) => l.event_id === EVENT_ID && l.entity_id === ENTITY_ID).at(-1);
    expect(line).toMatchObject({ level, msg, kind: 'UPDATE', action_key: 'o:0', observer: 'o' });
  });
});
