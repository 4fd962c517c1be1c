/**
 * Secrets never reach Temporal: the webhook signing secret, the SMTP password and the Slack URL
 * are set only in the environment the worker gives its activities. After runs that used them — including
 * failed attempts whose error text had the secret echoed back by the remote end — the whole
 * workflow history (every event, every payload) is searched for them, as text and as base64.
 */
import { temporal } from '@temporalio/proto';
import type { History } from '@temporalio/common/lib/proto-utils';
import { startE2eServices, startPipeline, type E2eServices, type Pipeline } from '../helpers/e2e';
import { startHttpReceiver, startSmtpReceiver, type HttpReceiver, type Responder, type SmtpReceiver } from '../helpers/receivers';

jest.setTimeout(240_000);

const SIGNING_SECRET = 'sig-Secret-7c5e0f1a9b';
const SMTP_PASSWORD = 'smtp-Pass-2b8d4e6f10';
const SLACK_TOKEN = 'slackTok3nXq9Zr71';

/** Every textual form of a history a secret could hide in. */
function historyForms(history: History): { raw: Buffer; json: string; payloads: string[] } {
  const message = temporal.api.history.v1.History.fromObject(history);
  const raw = Buffer.from(temporal.api.history.v1.History.encode(message).finish());
  const json = JSON.stringify(temporal.api.history.v1.History.toObject(message, { bytes: String, longs: String, enums: String, defaults: false }));
  // Payload data decoded: JSON inside JSON, base64 strings inside those, ...
  const payloads: string[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (node === null || typeof node !== 'object') return;
    for (const [k, v] of Object.entries(node)) {
      if (k === 'data' && typeof v === 'string') payloads.push(Buffer.from(v, 'base64').toString('utf8'));
      else visit(v);
    }
  };
  visit(JSON.parse(json));
  return { raw, json, payloads };
}

function occurrences(history: History, needle: string): string[] {
  const { raw, json, payloads } = historyForms(history);
  const forms = [needle, Buffer.from(needle).toString('base64'), Buffer.from(needle).toString('base64url'), encodeURIComponent(needle)];
  const found: string[] = [];
  for (const form of forms) {
    if (raw.includes(Buffer.from(form))) found.push(`raw bytes contain ${form}`);
    if (json.includes(form)) found.push(`JSON form contains ${form}`);
    if (payloads.some((p) => p.includes(form))) found.push(`a decoded payload contains ${form}`);
  }
  return found;
}

describe('secrets stay out of workflow history', () => {
  let services: E2eServices;
  let hooks: HttpReceiver;
  let slack: HttpReceiver;
  let smtp: SmtpReceiver;
  let leakySmtp: SmtpReceiver;
  let pipeline: Pipeline;

  beforeAll(async () => {
    services = await startE2eServices('e2e_secrets');
    const seen = new Set<string>();
    // First attempt of each request fails, echoing everything it received (headers, path) back.
    const echoOnce = (kind: string): Responder => (req, res) => {
      const key = `${kind}:${String(req.headers['idempotency-key'] ?? req.body)}`;
      if (!seen.has(key)) {
        seen.add(key);
        res.statusCode = 503;
        return void res.end(`${req.path} ${JSON.stringify(req.headers)}`);
      }
      res.end('ok');
    };
    hooks = await startHttpReceiver(echoOnce('hook'));
    slack = await startHttpReceiver(echoOnce('slack'));
    smtp = await startSmtpReceiver({ user: 'mailer', password: SMTP_PASSWORD });
    // A server that refuses the login and quotes the password it was sent in its reply.
    leakySmtp = await startSmtpReceiver({ user: 'mailer', password: 'not-this-one', authFailureMessage: (u, p) => `login refused for ${u}/${p}` });
    pipeline = await startPipeline(services, {
      observers: `
observers:
  with_secrets:
    entity: "{{ENTITY}}"
    events: [INSERT]
    retry: { max_attempts: 3, initial_delay_ms: 50, backoff: fixed }
    actions:
      - type: webhook
        url: "${hooks.url}/hook"
        signing_secret_env: HOOK_SECRET
        standard_webhooks: false
      - type: slack
        webhook_url_env: SLACK_WEBHOOK_URL
        text: "event {{ event.id }}"
      - type: email
        to: ops@example.com
        from: shop@example.com
        subject: "event {{ event.id }}"
        body: ok
        smtp: { host: 127.0.0.1, port: ${smtp.port}, user_env: SMTP_USER, password_env: SMTP_PASSWORD }
      - type: email
        to: ops@example.com
        from: shop@example.com
        subject: "event {{ event.id }}"
        body: ok
        smtp: { host: 127.0.0.1, port: ${leakySmtp.port}, user_env: SMTP_USER, password_env: SMTP_PASSWORD }
ssrf:
  allow: ["127.0.0.1/32"]
`,
      activityEnv: { HOOK_SECRET: SIGNING_SECRET, SMTP_USER: 'mailer', SMTP_PASSWORD, SLACK_WEBHOOK_URL: `${slack.url}/services/T1/B1/${SLACK_TOKEN}` },
    });
  });
  afterAll(async () => {
    await pipeline?.stop();
    for (const r of [hooks, slack]) await r?.close();
    for (const s of [smtp, leakySmtp]) await s?.close();
    await services?.close();
  });

  it('finds neither the signing secret, the SMTP password nor the Slack URL token anywhere in the history', async () => {
    const [row] = await pipeline.insert([{ data: { n: 1 } }]);
    const outcome = await pipeline.outcome(row!.id);
    // The leaky SMTP server refused the login (permanent), so this run is a DLQ entry; the rest succeeded.
    expect(outcome.status).toBe('failed');

    // The secrets really were used: signed requests, an authenticated mail, a post to the secret URL.
    expect(hooks.requests.filter((r) => r.headers['x-fraiseql-signature-256'])).toHaveLength(2);
    expect(slack.requests.map((r) => r.path)).toEqual([`/services/T1/B1/${SLACK_TOKEN}`, `/services/T1/B1/${SLACK_TOKEN}`]);
    expect(smtp.messages).toEqual([expect.objectContaining({ user: 'mailer' })]);

    const history = await pipeline.handle(row!.id).fetchHistory();
    const types = (history.events ?? []).map((e) => temporal.api.enums.v1.EventType[e.eventType ?? 0]);
    expect(types).toContain('EVENT_TYPE_ACTIVITY_TASK_FAILED');
    expect(types).toContain('EVENT_TYPE_WORKFLOW_EXECUTION_FAILED');

    // The search works: what is legitimately there is found (the event id, the variable names, an encoding's base64).
    expect(occurrences(history, row!.id).length).toBeGreaterThan(0);
    expect(occurrences(history, 'HOOK_SECRET').length).toBeGreaterThan(0);
    expect(occurrences(history, 'SMTP_PASSWORD').length).toBeGreaterThan(0);
    expect(historyForms(history).json).toContain(Buffer.from('json/plain').toString('base64'));
    // The refusal and the failed first attempts are recorded (with the echoed secrets scrubbed out).
    expect(occurrences(history, '535 login refused for').length).toBeGreaterThan(0);
    expect(occurrences(history, 'answered 503').length).toBeGreaterThan(0);

    expect(occurrences(history, SIGNING_SECRET)).toEqual([]);
    expect(occurrences(history, SMTP_PASSWORD)).toEqual([]);
    expect(occurrences(history, SLACK_TOKEN)).toEqual([]);
  });
});
