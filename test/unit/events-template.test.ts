import { rowToEvent } from '../../src/events/map-row';
import { TemplateRenderError, TemplateSyntaxError, parseTemplate, renderTemplate, templateScope } from '../../src/events/template';

const event = rowToEvent({
  pk: '42',
  id: '0b9f3c1e-6a8e-4f4b-9b0e-2c7d7e1a9f11',
  object_type: 'Order',
  modification_type: 'UPDATE',
  object_id: 'o-1',
  object_data: { status: 'shipped', number: 'A-17', customer: { email: 'ada@example.com', name: 'Ada "AL" L' }, tag: 'a*b?' },
  object_data_before: { status: 'pending', number: 'A-17', customer: { email: 'ada@example.com', name: 'Ada "AL" L' }, tag: 'a*b?' },
  tenant_id: 't-1',
});

describe('templates', () => {
  it('see the whole event', () => {
    expect(renderTemplate('{{ event.id }} {{ event.kind }} {{ event.entity_type }}/{{ event.entity_id }} t={{ event.tenant_id }}', event)).toBe(
      '0b9f3c1e-6a8e-4f4b-9b0e-2c7d7e1a9f11 UPDATE Order/o-1 t=t-1',
    );
    expect(renderTemplate('{{ data.customer.email }}', event)).toBe('ada@example.com');
    expect(renderTemplate('{{ old.status }} -> {{ new.status }}', event)).toBe('pending -> shipped');
    expect(renderTemplate('{{ changes.status.old }}/{{ changes.status.new }}', event)).toBe('pending/shipped');
    expect(renderTemplate('{% if data.status == "shipped" %}yes{% endif %}', event)).toBe('yes');
  });

  it('can produce JSON safely with the json filter', () => {
    const body = renderTemplate('{"name": {{ data.customer.name | json }}, "id": {{ event.id | json }}}', event);
    expect(JSON.parse(body)).toEqual({ name: 'Ada "AL" L', id: event.id });
  });

  it('escape glob metacharacters of event values in cache patterns, not the literal ones', () => {
    expect(renderTemplate('orders:{{ data.tag }}:*', event, { escape: 'glob' })).toBe('orders:a\\*b\\?:*');
    expect(renderTemplate('orders:{{ data.tag }}:*', event)).toBe('orders:a*b?:*');
  });

  it('expose snake_case event fields', () => {
    expect(Object.keys(templateScope(event).event as object)).toEqual(
      expect.arrayContaining(['id', 'kind', 'entity_type', 'entity_id', 'tenant_id', 'user_id', 'created_at', 'commit_time']),
    );
  });

  it.each([
    ['{{ data.x', 'output "{{ data.x" not closed, line:1, col:1'],
    ['{{ data.x | shout }}', 'undefined filter: shout, line:1, col:1'],
    ['{% if data.x %}open', 'tag {% if data.x %} not closed, line:1, col:1'],
    ['{% include "secrets.txt" %}', 'tag "include" not found, line:1, col:1'],
    ['{% render "x" %}', 'tag "render" not found, line:1, col:1'],
    ['{{ evnt.id }}', "unknown variable 'evnt' (expected one of event, data, old, new, changes)"],
    ['{{ process.env.HOME }}', "unknown variable 'process' (expected one of event, data, old, new, changes)"],
  ])('reject %s at parse time', (source, message) => {
    expect(() => parseTemplate(source)).toThrow(TemplateSyntaxError);
    expect(() => parseTemplate(source)).toThrow(message);
  });

  it('allow loop and assigned variables', () => {
    expect(() => parseTemplate('{% assign n = data.number %}{% for c in data.items %}{{ c.sku }}{{ n }}{% endfor %}')).not.toThrow();
  });

  it('fail at render time, clearly, on a variable the event lacks', () => {
    expect(() => renderTemplate('{{ data.coupon }}', event)).toThrow(TemplateRenderError);
    expect(() => renderTemplate('{{ data.coupon }}', event)).toThrow('undefined variable: data.coupon');
  });

  it('cannot reach JavaScript internals', () => {
    expect(() => renderTemplate('{{ data.constructor }}', event)).toThrow(TemplateRenderError);
  });
});
