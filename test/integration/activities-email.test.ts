import { type ApplicationFailure } from '@temporalio/common';
import { InMemoryBreakerStore, closeActivities, createActivities, type EmailAction, type ObserverActivities } from '../../src/activities';
import { activityEnv, captureLogger, orderEvent, startSmtpReceiver, type SmtpReceiver } from '../helpers/receivers';

jest.setTimeout(30_000);

const PASSWORD = 'smtp-pa55word-from-env';

describe('runEmail against a local SMTP server', () => {
  let smtp: SmtpReceiver;
  let acts: ObserverActivities;
  let logs: ReturnType<typeof captureLogger>;

  beforeEach(async () => {
    smtp = await startSmtpReceiver({
      user: 'mailer',
      password: PASSWORD,
      rejectRecipient: (a) => (a.startsWith('bounce@') ? 550 : a.startsWith('later@') ? 451 : undefined),
    });
    logs = captureLogger();
    acts = createActivities({
      env: { SMTP_USER: 'mailer', SMTP_PASSWORD: PASSWORD, WRONG_PASSWORD: 'not-the-password' },
      log: logs.log,
      breaker: new InMemoryBreakerStore(),
      // The SMTP host goes through the SSRF policy: allow exactly this server's port.
      ssrf: { allow: [`127.0.0.1:${smtp.port}`, '127.0.0.1:1'] },
    });
  });

  afterEach(async () => {
    await closeActivities(acts);
    await smtp.close();
  });

  const email = (overrides: Partial<EmailAction> = {}): EmailAction => ({
    type: 'email',
    key: 'notify_customer:1',
    to: ['{{ data.customer.email }}'],
    cc: ['audit+{{ event.entity_type | downcase }}@example.com'],
    reply_to: 'support+{{ event.entity_id }}@example.com',
    from: 'Shop <shop@example.com>',
    subject: 'Order {{ event.entity_id }} {{ data.status }}',
    body: 'Hello {{ data.customer.name }}, your order went from {{ old.status }} to {{ data.status }}.',
    smtp: { host: '127.0.0.1', port: smtp.port, user_env: 'SMTP_USER', password_env: 'SMTP_PASSWORD' },
    timeout_ms: 5000,
    ...overrides,
  });

  it('sends the rendered message, authenticated with the password from the environment', async () => {
    const event = orderEvent();
    const result = await activityEnv().run(acts.runEmail, { event, action: email() });
    expect(result).toMatchObject({ type: 'email', accepted: ['ada@example.com', 'audit+order@example.com'], rejected: [] });
    const [mail] = smtp.messages;
    expect(mail).toMatchObject({ user: 'mailer', from: 'shop@example.com', to: ['ada@example.com', 'audit+order@example.com'] });
    expect(mail!.raw).toContain(`Subject: Order ${event.entityId} shipped`);
    expect(mail!.raw).toContain('To: ada@example.com');
    expect(mail!.raw).toContain('Cc: audit+order@example.com');
    expect(mail!.raw).toContain(`Reply-To: support+${event.entityId}@example.com`);
    expect(mail!.raw).toContain('Hello Ada, your order went from paid to shipped.');
    expect(mail!.raw.toLowerCase()).toContain(`x-fraiseql-event-id: ${event.id}`);
    expect(mail!.raw).toContain(`Message-ID: ${result.message_id}`);
    logs.log.flush();
    expect(logs.text()).not.toContain(PASSWORD);
  });

  it('keeps the same Message-ID across attempts', async () => {
    const event = orderEvent();
    const a = await activityEnv(1).run(acts.runEmail, { event, action: email() });
    const b = await activityEnv(2).run(acts.runEmail, { event, action: email() });
    expect(a.message_id).toBe(b.message_id);
  });

  it('fails permanently on a 5xx reply (bad credentials, refused recipient) and retryably on 4xx', async () => {
    const auth = (await activityEnv()
      .run(acts.runEmail, { event: orderEvent(), action: email({ smtp: { host: '127.0.0.1', port: smtp.port, user_env: 'SMTP_USER', password_env: 'WRONG_PASSWORD' } }) })
      .catch((e: unknown) => e)) as ApplicationFailure;
    expect(auth).toMatchObject({ type: 'SmtpRejected', nonRetryable: true });
    expect(auth.message).not.toContain('not-the-password');

    const bounce = (await activityEnv()
      .run(acts.runEmail, { event: orderEvent(), action: email({ to: ['bounce@example.com'], cc: undefined }) })
      .catch((e: unknown) => e)) as ApplicationFailure;
    expect(bounce).toMatchObject({ type: 'SmtpRejected', nonRetryable: true });

    const later = (await activityEnv()
      .run(acts.runEmail, { event: orderEvent(), action: email({ to: ['later@example.com'], cc: undefined }) })
      .catch((e: unknown) => e)) as ApplicationFailure;
    expect(later).toMatchObject({ type: 'SmtpError', nonRetryable: false });
    expect(smtp.messages).toHaveLength(0);
  });

  it('fails retryably when the server is unreachable', async () => {
    const down = (await activityEnv()
      .run(acts.runEmail, { event: orderEvent(), action: email({ smtp: { host: '127.0.0.1', port: 1, password_env: 'SMTP_PASSWORD' } }) })
      .catch((e: unknown) => e)) as ApplicationFailure;
    expect(down).toMatchObject({ type: 'SmtpError', nonRetryable: false });
  });

  it('a templated address field yields exactly one address; { list } says it may hold several', async () => {
    const event = orderEvent({ data: { status: 'shipped', customer: { email: 'a@x.example, attacker@evil.example', name: 'Ada' }, watchers: 'w1@example.com, w2@example.com' } });
    const refused = (await activityEnv().run(acts.runEmail, { event, action: email() }).catch((e: unknown) => e)) as ApplicationFailure;
    expect(refused).toMatchObject({ type: 'InvalidAction', nonRetryable: true });
    expect(refused.message).toBe('email to[0]: rendered to 2 addresses, but a templated address field holds exactly one (write { list: ... } for a list)');
    expect(smtp.messages).toHaveLength(0);

    const listed = await activityEnv().run(acts.runEmail, { event, action: email({ to: [{ list: '{{ data.watchers }}' }], cc: undefined }) });
    expect(listed.accepted).toEqual(['w1@example.com', 'w2@example.com']);
    expect(smtp.messages[0]!.to).toEqual(['w1@example.com', 'w2@example.com']);

    const group = orderEvent({ data: { status: 'shipped', customer: { email: 'team: a@x.example, b@x.example;', name: 'Ada' } } });
    await expect(activityEnv().run(acts.runEmail, { event: group, action: email() })).rejects.toMatchObject({ type: 'InvalidAction' });
    const from = orderEvent({ data: { status: 'shipped', customer: { email: 'ada@example.com', name: 'Ada' }, sender: 'a@x.example, b@x.example' } });
    await expect(activityEnv().run(acts.runEmail, { event: from, action: email({ from: '{{ data.sender }}' }) })).rejects.toMatchObject({
      type: 'InvalidAction',
      message: expect.stringContaining('email from: rendered to 2 addresses'),
    });
    expect(smtp.messages).toHaveLength(1);
  });

  it('sends SMTP through the SSRF policy: a private host needs host:port in ssrf.allow', async () => {
    const strict = createActivities({ env: { SMTP_USER: 'mailer', SMTP_PASSWORD: PASSWORD }, log: logs.log, breaker: new InMemoryBreakerStore(), ssrf: { allow: [] } });
    const otherPort = createActivities({ env: { SMTP_USER: 'mailer', SMTP_PASSWORD: PASSWORD }, log: logs.log, breaker: new InMemoryBreakerStore(), ssrf: { allow: ['127.0.0.1:25'] } });
    try {
      const blocked = (await activityEnv().run(strict.runEmail, { event: orderEvent(), action: email() }).catch((e: unknown) => e)) as ApplicationFailure;
      expect(blocked).toMatchObject({ type: 'SsrfBlocked', nonRetryable: true });
      expect(blocked.message).toContain(`add 127.0.0.1:${smtp.port} to ssrf.allow`);
      await expect(activityEnv().run(otherPort.runEmail, { event: orderEvent(), action: email() })).rejects.toMatchObject({ type: 'SsrfBlocked' });
      const named = (await activityEnv()
        .run(strict.runEmail, { event: orderEvent(), action: email({ smtp: { host: 'localhost', port: smtp.port } }) })
        .catch((e: unknown) => e)) as ApplicationFailure;
      expect(named).toMatchObject({ type: 'SsrfBlocked' });
      expect(smtp.messages).toHaveLength(0);
    } finally {
      await closeActivities(strict);
      await closeActivities(otherPort);
    }
  });

  it('refuses CR/LF in a rendered subject', async () => {
    const event = orderEvent({ data: { status: 'x\r\nBcc: victim@example.com', customer: { email: 'ada@example.com' } } });
    await expect(activityEnv().run(acts.runEmail, { event, action: email() })).rejects.toMatchObject({ type: 'InvalidHeader', nonRetryable: true });
  });
});
