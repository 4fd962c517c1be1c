/**
 * The action-layer defects a hostile review found (issue 10), each reproduced against real
 * receivers on loopback: these tests failed before the fixes.
 */
import { type ApplicationFailure } from '@temporalio/common';
import { InMemoryBreakerStore, closeActivities, createActivities, type LogAction, type ObserverActivities, type SlackAction, type WebhookAction } from '../../src/activities';
import { checkObserversYaml, missingEnvReferences, type ObserversFile } from '../../src/config';
import type { ActionSnapshot } from '../../src/contract';
import { compileObservers, matchEvent } from '../../src/events';
import { activityEnv, captureLogger, orderEvent, startHttpReceiver, startSmtpReceiver, type HttpReceiver } from '../helpers/receivers';

jest.setTimeout(30_000);

const TOKEN = 'bearer-token-from-env-3f9a';
const STD_OK = `whsec_${Buffer.from('a-standard-webhooks-key-of-32-by').toString('base64')}`;

async function failure(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeDefined();
  return err as ApplicationFailure;
}

/** An observers file with one observer `o` on Order UPDATE and these actions (YAML lines, indented). */
function observersWith(actions: string): string {
  return `observers:\n  o:\n    entity: Order\n    events: [UPDATE]\n    actions:\n${actions}`;
}

function parse(yaml: string): ObserversFile {
  const result = checkObserversYaml(yaml, 'observers.yaml');
  if ('issues' in result) throw new Error(JSON.stringify(result.issues));
  return result.value;
}

/** The snapshots the listener would put into the workflow input for this event. */
function snapshotsFor(file: ObserversFile, event: ReturnType<typeof orderEvent>): ActionSnapshot[] {
  return matchEvent(event, compileObservers(file)).matches.flatMap((m) => m.actions);
}

describe('action defects (issue 10)', () => {
  let receiver: HttpReceiver;
  let other: HttpReceiver;
  let acts: ObserverActivities;
  let logs: ReturnType<typeof captureLogger>;

  beforeEach(async () => {
    receiver = await startHttpReceiver();
    other = await startHttpReceiver();
    logs = captureLogger();
    acts = createActivities({
      env: { API_TOKEN: `Bearer ${TOKEN}`, STD_OK, STD_WEAK: 'whsec_!!!!', STD_BARE: 'c2VjcmV0LWtleS1ieXRlcy0wMTIzNDU2Nzg5YWJjZA==' },
      log: logs.log,
      breaker: new InMemoryBreakerStore({ minimumCalls: 100 }),
      ssrf: { allow: [`127.0.0.1:${receiver.port}`] },
    });
  });

  afterEach(async () => {
    await closeActivities(acts);
    await receiver.close();
    await other.close();
  });

  const hook = (overrides: Partial<WebhookAction> = {}): WebhookAction => ({ type: 'webhook', key: 'o:0', method: 'POST', url: `${receiver.url}/hook`, ...overrides });

  it('1. headers_env headers are sent, with the value from the environment, and never logged', async () => {
    const file = parse(observersWith(`      - { type: webhook, url: "${receiver.url}/hook", headers_env: { Authorization: API_TOKEN } }\n`));
    const [action] = snapshotsFor(file, orderEvent());
    expect(action).toMatchObject({ headers_env: { Authorization: 'API_TOKEN' } });
    const result = await activityEnv().run(acts.runAction, { event: orderEvent(), action: action! });
    expect(receiver.requests[0]!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    logs.log.flush();
    expect(JSON.stringify(result) + logs.text()).not.toContain(TOKEN);
  });

  it('2. validation and rendering share one scope: old/new/customer_org_id render, a misspelled root is refused at load', async () => {
    const file = parse(observersWith(`      - { type: webhook, url: "${receiver.url}/hook", headers: { X-Change: "{{ old.status }} -> {{ new.status }} org={{ event.customer_org_id }}" } }\n`));
    const event = orderEvent({ customerOrgId: 'org-9' });
    await activityEnv().run(acts.runAction, { event, action: snapshotsFor(file, event)[0]! });
    expect(receiver.requests[0]!.headers['x-change']).toBe('paid -> shipped org=org-9');

    const typo = checkObserversYaml(observersWith('      - type: log\n        message: "{{ evnt.id }}"\n'), 'observers.yaml');
    expect(typo).toEqual({
      issues: [expect.objectContaining({ path: 'observers.o.actions[0].message', message: "invalid template: unknown variable 'evnt' (expected one of event, data, old, new, changes)" })],
    });
  });

  it('3. a JSON body cannot be broken out of, and | json of a missing field is null', async () => {
    const event = orderEvent({ data: { name: 'x", "role": "admin' } });
    await activityEnv().run(acts.runWebhook, { event, action: hook({ body: '{"name": "{{ data.name }}", "role": "user"}' }) });
    expect(JSON.parse(receiver.requests[0]!.body)).toEqual({ name: 'x", "role": "admin', role: 'user' });

    await activityEnv().run(acts.runWebhook, { event, action: hook({ body: '{"status": {{ data.status | json }}}' }) });
    expect(JSON.parse(receiver.requests[1]!.body)).toEqual({ status: null });

    const notJson = await failure(activityEnv().run(acts.runWebhook, { event, action: hook({ body: '{"status": {% if data.x %}1{% endif %}}' }) }));
    expect(notJson).toMatchObject({ type: 'TemplateError', nonRetryable: true });
    expect(notJson.message).toContain('webhook body: template failed: the rendered text is not valid JSON');
    expect(receiver.requests).toHaveLength(2);
  });

  it('4. a secret echoed alone by the remote end is scrubbed (Slack token, SMTP AUTH in base64)', async () => {
    const slackToken = 'XyZsecretTokenValue42';
    receiver.respond((req, res) => {
      res.statusCode = 503;
      res.end(`invalid_token: ${req.path.split('/').at(-1)}`);
    });
    const slackActs = createActivities({
      env: { SLACK_URL: `${receiver.url}/services/T0000/B0000/${slackToken}` },
      log: logs.log,
      breaker: new InMemoryBreakerStore(),
      ssrf: { allow: [`127.0.0.1:${receiver.port}`] },
    });
    const smtp = await startSmtpReceiver({
      user: 'mailer',
      password: 'right-one',
      authFailureMessage: (u, p) => `login refused: AUTH PLAIN ${Buffer.from(`\u0000${u}\u0000${p}`).toString('base64')} / ${Buffer.from(String(p)).toString('base64')}`,
    });
    const mailActs = createActivities({
      env: { SMTP_USER: 'mailer', SMTP_PASSWORD: 'wrong-smtp-password-77' },
      log: logs.log,
      breaker: new InMemoryBreakerStore(),
      ssrf: { allow: [`127.0.0.1:${smtp.port}`] },
    });
    try {
      const slack: SlackAction = { type: 'slack', key: 's:0', webhook_url_env: 'SLACK_URL' };
      const s = await failure(activityEnv().run(slackActs.runSlack, { event: orderEvent(), action: slack }));
      expect(s.type).toBe('HttpServerError');
      expect(s.message).toContain('invalid_token: [redacted]');
      const m = await failure(
        activityEnv().run(mailActs.runEmail, {
          event: orderEvent(),
          action: {
            type: 'email',
            key: 'm:0',
            to: ['ada@example.com'],
            from: 'shop@example.com',
            subject: 's',
            body: 'b',
            smtp: { host: '127.0.0.1', port: smtp.port, user_env: 'SMTP_USER', password_env: 'SMTP_PASSWORD' },
          },
        }),
      );
      expect(m.type).toBe('SmtpRejected');
      logs.log.flush();
      const leaks = [slackToken, 'wrong-smtp-password-77', Buffer.from('wrong-smtp-password-77').toString('base64'), Buffer.from('\u0000mailer\u0000wrong-smtp-password-77').toString('base64')];
      for (const text of [s.message, m.message, logs.text()]) for (const leak of leaks) expect(text).not.toContain(leak);
      expect(m.message).toContain('AUTH PLAIN [redacted]');
    } finally {
      await closeActivities(slackActs);
      await closeActivities(mailActs);
      await smtp.close();
    }
  });

  it('6. a template loop driven by event data fails the action permanently, at once', async () => {
    const action: LogAction = { type: 'log', key: 'l:0', message: '{% for i in (1..data.n) %}x{% endfor %}' };
    const f = await failure(activityEnv().run(acts.runLog, { event: orderEvent({ data: { n: 20_000_000 } }), action }));
    expect(f).toMatchObject({ type: 'TemplateError', nonRetryable: true });
    expect(f.message).toContain('the template does too much work for one event');
  });

  it('8. an allowlist entry names a port; a redirect to another port is re-checked and refused', async () => {
    expect(await activityEnv().run(acts.runWebhook, { event: orderEvent(), action: hook() })).toMatchObject({ status_code: 200 });
    const direct = await failure(activityEnv().run(acts.runWebhook, { event: orderEvent(), action: hook({ url: `${other.url}/x` }) }));
    expect(direct).toMatchObject({ type: 'SsrfBlocked', nonRetryable: true });
    expect(direct.message).toContain(`add 127.0.0.1:${other.port} to ssrf.allow`);

    receiver.respond((_req, res) => {
      res.writeHead(307, { location: `${other.url}/internal` });
      res.end();
    });
    const redirected = await failure(activityEnv().run(acts.runWebhook, { event: orderEvent(), action: hook({ body: '{"secret": "body"}' }) }));
    expect(redirected).toMatchObject({ type: 'SsrfBlocked' });
    expect(other.requests).toHaveLength(0);
  });

  it('9. weak or mis-encoded Standard Webhooks secrets are refused at start and at run time', async () => {
    const file = parse(
      observersWith(
        ['STD_WEAK', 'STD_BARE', 'STD_OK'].map((v) => `      - { type: webhook, url: "${receiver.url}/a", signing_secret_env: ${v}, standard_webhooks: true }\n`).join('') +
          `      - { type: webhook, url: "${receiver.url}/d", signing_secret_env: PLAIN }\n`,
      ),
    );
    const env = { STD_WEAK: 'whsec_!!!!', STD_BARE: 'c2VjcmV0LWtleS1ieXRlcy0wMTIzNDU2Nzg5YWJjZA==', STD_OK, PLAIN: 'any-fraiseql-secret' };
    expect(missingEnvReferences(file, env)).toEqual([
      { path: 'observers.o.actions[0].signing_secret_env', message: "environment variable STD_WEAK is not a Standard Webhooks secret: is not valid base64 after 'whsec_'" },
      {
        path: 'observers.o.actions[1].signing_secret_env',
        message: "environment variable STD_BARE is not a Standard Webhooks secret: does not start with 'whsec_' (Standard Webhooks secrets are whsec_<base64 key>)",
      },
    ]);
    const weak = await failure(activityEnv().run(acts.runWebhook, { event: orderEvent(), action: hook({ signing_secret_env: 'STD_WEAK', standard_webhooks: true }) }));
    expect(weak).toMatchObject({ type: 'InvalidAction', nonRetryable: true });
    expect(receiver.requests).toHaveLength(0);
    await activityEnv().run(acts.runWebhook, { event: orderEvent(), action: hook({ signing_secret_env: 'STD_OK', standard_webhooks: true }) });
    expect(receiver.requests[0]!.headers['webhook-signature']).toMatch(/^v1,/);
  });

  it('11. header values with control or non-Latin-1 characters are permanent InvalidHeader failures', async () => {
    for (const value of ['a\u0001b', 'price €5']) {
      const f = await failure(activityEnv().run(acts.runWebhook, { event: orderEvent({ data: { v: value } }), action: hook({ headers: { 'X-V': '{{ data.v }}' } }) }));
      expect(f).toMatchObject({ type: 'InvalidHeader', nonRetryable: true });
      expect(f.message).toMatch(/^header X-V: rendered value contains (a control character|a character outside Latin-1)/);
    }
    expect(receiver.requests).toHaveLength(0);
  });

  it('11. CR/LF in a rendered URL path is refused, not stripped', async () => {
    const f = await failure(activityEnv().run(acts.runWebhook, { event: orderEvent({ data: { p: 'a\r\nb' } }), action: hook({ url: `${receiver.url}/x/{{ data.p }}` }) }));
    expect(f).toMatchObject({ type: 'InvalidUrl', nonRetryable: true });
    expect(receiver.requests).toHaveLength(0);
  });

  it('11. a 100 KB URL is not copied whole into the failure', async () => {
    receiver.respond((_req, res) => {
      res.statusCode = 500;
      res.end('down');
    });
    const long = 'a'.repeat(100 * 1024);
    const f = await failure(activityEnv().run(acts.runWebhook, { event: orderEvent({ data: { p: long } }), action: hook({ url: `${receiver.url}/x/{{ data.p }}` }) }));
    expect(f.message.length).toBeLessThan(2_000);
    expect(f.message).toContain(`… (${receiver.url.length + 3 + long.length} characters)`);
  });
});
