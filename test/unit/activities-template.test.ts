import { hasLiteral } from '../../src/activities/cache';
import { quoteFunctionName } from '../../src/activities/database';
import { ActionError } from '../../src/activities/errors';
import { SecretScope } from '../../src/activities/secrets';
import { TemplateRenderer, eventEnvelope, globEscape, templateContext } from '../../src/activities/template';
import { orderEvent } from '../helpers/receivers';

describe('templateContext', () => {
  it('exposes event, data, old and changes', () => {
    const event = orderEvent();
    const ctx = templateContext(event);
    expect(ctx.event).toMatchObject({ id: event.id, kind: 'UPDATE', entity_type: 'Order', entity_id: event.entityId });
    expect(ctx.data).toBe(event.data);
    expect(ctx.old).toEqual({ status: 'paid' });
    expect(ctx.changes).toEqual({ status: { old: 'paid', new: 'shipped' } });
  });

  it('renders liquid over it', () => {
    const event = orderEvent();
    const r = new TemplateRenderer();
    const ctx = templateContext(event);
    expect(r.render('{{ event.entity_type }}/{{ event.entity_id }}: {{ old.status }} → {{ data.status }} ({{ data.customer.email }})', ctx, 't')).toBe(
      `Order/${event.entityId}: paid → shipped (ada@example.com)`,
    );
    expect(r.render('{{ data | json }}', ctx, 't')).toBe(JSON.stringify(event.data));
    expect(r.render('{{ data.missing }}x', ctx, 't')).toBe('x');
  });

  it('turns template errors into permanent TemplateError failures', () => {
    const r = new TemplateRenderer();
    const ctx = templateContext(orderEvent());
    for (const bad of ['{{ data.status | nosuchfilter }}', '{% if %}', '{% include "x" %}']) {
      const err = (() => {
        try {
          r.render(bad, ctx, 'webhook body');
        } catch (e) {
          return e as ActionError;
        }
        return undefined;
      })();
      expect(err).toMatchObject({ type: 'TemplateError', retryable: false });
      expect(err?.message).toContain('webhook body');
    }
  });

  it('escapes glob metacharacters of values in glob mode only, and refuses undefined variables there', () => {
    const r = new TemplateRenderer();
    const ctx = templateContext(orderEvent({ entityId: 'a*b?[c]\\d' }));
    expect(r.render('order:{{ event.entity_id }}:*', ctx, 'p', 'glob')).toBe('order:a\\*b\\?\\[c\\]\\\\d:*');
    expect(r.render('order:{{ event.entity_id }}', ctx, 'k', 'key')).toBe('order:a*b?[c]\\d');
    expect(() => r.render('order:{{ data.nope }}:*', ctx, 'p', 'glob')).toThrow(ActionError);
    expect(globEscape('plain')).toBe('plain');
  });
});

describe('eventEnvelope', () => {
  it('carries the event id and the payload', () => {
    const event = orderEvent();
    expect(eventEnvelope(event)).toMatchObject({ id: event.id, kind: 'UPDATE', entity_type: 'Order', data: event.data, old: event.before });
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
});
