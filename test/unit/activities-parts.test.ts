import { hasLiteral } from '../../src/activities/cache';
import { quoteFunctionName } from '../../src/activities/database';
import { ActionError } from '../../src/activities/errors';
import { SecretScope } from '../../src/activities/secrets';
import { renderField } from '../../src/activities/render';
import { templateScope } from '../../src/template';
import { orderEvent } from '../helpers/receivers';

describe('renderField', () => {
  it('renders with the one template scope', () => {
    const event = orderEvent();
    expect(renderField('{{ event.entity_type }}/{{ event.entity_id }}: {{ old.status }} → {{ new.status }}', templateScope(event), 't')).toBe(
      `Order/${event.entityId}: paid → shipped`,
    );
  });

  it('turns template errors into permanent TemplateError failures naming the field', () => {
    const scope = templateScope(orderEvent());
    for (const bad of ['{{ data.status | nosuchfilter }}', '{% if %}', '{% include "x" %}', '{{ evnt.id }}']) {
      let err: unknown;
      try {
        renderField(bad, scope, 'webhook body');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ActionError);
      expect(err).toMatchObject({ type: 'TemplateError', retryable: false });
      expect((err as Error).message).toContain('webhook body');
    }
  });
});

describe('hasLiteral', () => {
  it.each([
    ['*', false],
    ['**?', false],
    ['[abc]*', false],
    ['user:*', true],
    ['\\*', true],
    ['*x', true],
  ])('%s → %s', (pattern, expected) => expect(hasLiteral(pattern)).toBe(expected));
});

describe('quoteFunctionName', () => {
  it('quotes schema-qualified and bare names, folding case like unquoted SQL', () => {
    expect(quoteFunctionName('app.notify_order')).toBe('"app"."notify_order"');
    expect(quoteFunctionName('Notify')).toBe('"notify"');
  });
  it.each(['', 'a.b.c', 'drop table x;', 'app."x"', 'app.fn()', '1fn', 'a b'])('refuses %j', (name) => {
    expect(() => quoteFunctionName(name)).toThrow(/not \[schema\.\]identifier/);
  });
});

describe('SecretScope', () => {
  it('resolves named values, scrubs them, and names only the variable when unset', () => {
    const scope = new SecretScope({ HOOK_SECRET: 's3cr3t-value' });
    expect(scope.resolve('HOOK_SECRET', 'signing secret')).toBe('s3cr3t-value');
    expect(scope.scrub('boom s3cr3t-value boom')).toBe('boom [redacted] boom');
    expect(() => scope.resolve('MISSING_ONE', 'SMTP password')).toThrow('SMTP password: environment variable MISSING_ONE is not set');
  });

  it('scrubs the encodings of a secret, the parts of a secret URL and the SMTP login forms', () => {
    const scope = new SecretScope({ SLACK: 'https://hooks.example/services/T1/B2/tokenValue123?sig=abcdef0123' });
    scope.resolve('SLACK', 'Slack webhook URL');
    scope.rememberLogin('mailer', 'pa55-word!');
    const echoes = ['tokenValue123', 'abcdef0123', Buffer.from('pa55-word!').toString('base64'), encodeURIComponent('pa55-word!'), Buffer.from('pa55-word!').toString('hex'), Buffer.from('\u0000mailer\u0000pa55-word!').toString('base64')];
    for (const echo of echoes) expect(scope.scrub(`remote said: ${echo}.`)).toBe('remote said: [redacted].');
    // Short parts of the URL are not secrets on their own, and ordinary text is left alone.
    expect(scope.scrub('POST /services failed for T1')).toBe('POST /services failed for T1');
  });
});
