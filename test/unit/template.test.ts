import { rowToEvent } from '../../src/events/map-row';
import { TEMPLATE_LIMITS, TemplateRenderError, TemplateSyntaxError, eventEnvelope, globEscape, parseTemplate, renderTemplate, templateScope } from '../../src/template';

const event = rowToEvent({
  pk: '42',
  id: '0b9f3c1e-6a8e-4f4b-9b0e-2c7d7e1a9f11',
  object_type: 'Order',
  modification_type: 'UPDATE',
  object_id: 'o-1',
  object_data: { status: 'shipped', number: 'A-17', n: 100_000_000, customer: { email: 'ada@example.com', name: 'Ada "AL" L' }, tag: 'a*b?' },
  object_data_before: { status: 'pending', number: 'A-17', customer: { email: 'ada@example.com', name: 'Ada "AL" L' }, tag: 'a*b?' },
  tenant_id: 't-1',
  fk_customer_org: 'org-9',
});

describe('the template scope', () => {
  it('is the same for every field: event.*, data, old, new, changes', () => {
    expect(renderTemplate('{{ event.id }} {{ event.kind }} {{ event.entity_type }}/{{ event.entity_id }} t={{ event.tenant_id }}', event)).toBe(
      '0b9f3c1e-6a8e-4f4b-9b0e-2c7d7e1a9f11 UPDATE Order/o-1 t=t-1',
    );
    expect(renderTemplate('{{ data.customer.email }}', event)).toBe('ada@example.com');
    expect(renderTemplate('{{ old.status }} -> {{ new.status }} org={{ event.customer_org_id }}', event)).toBe('pending -> shipped org=org-9');
    expect(renderTemplate('{{ changes.status.old }}/{{ changes.status.new }}', event)).toBe('pending/shipped');
    expect(renderTemplate('{% if data.status == "shipped" %}yes{% endif %}', event)).toBe('yes');
  });

  it('exposes snake_case event fields', () => {
    expect(Object.keys(templateScope(event).event)).toEqual(
      expect.arrayContaining(['id', 'kind', 'entity_type', 'entity_id', 'tenant_id', 'user_id', 'customer_org_id', 'created_at', 'commit_time', 'data', 'before', 'changes']),
    );
  });

  it('the default envelope carries the event id and the payload', () => {
    expect(eventEnvelope(event)).toMatchObject({ id: event.id, kind: 'UPDATE', entity_type: 'Order', data: event.data, old: event.before });
  });
});

describe('parsing (what config validation and rendering share)', () => {
  it.each([
    ['{{ data.x', 'output "{{ data.x" not closed, line:1, col:1'],
    ['{{ data.x | shout }}', 'undefined filter: shout, line:1, col:1'],
    ['{% if data.x %}open', 'tag {% if data.x %} not closed, line:1, col:1'],
    ['{% include "secrets.txt" %}', 'tag "include" not found, line:1, col:1'],
    ['{% render "x" %}', 'tag "render" not found, line:1, col:1'],
    ['{{ evnt.id }}', "unknown variable 'evnt' (expected one of event, data, old, new, changes)"],
    ['{{ process.env.HOME }}', "unknown variable 'process' (expected one of event, data, old, new, changes)"],
  ])('rejects %s', (source, message) => {
    expect(() => parseTemplate(source)).toThrow(TemplateSyntaxError);
    expect(() => parseTemplate(source)).toThrow(message);
  });

  it('allows loop and assigned variables', () => {
    expect(() => parseTemplate('{% assign n = data.number %}{% for c in data.items %}{{ c.sku }}{{ n }}{% endfor %}')).not.toThrow();
  });

  it('has no raw filter in JSON mode (it would skip the encoding)', () => {
    expect(() => parseTemplate('{"a": {{ data.x | raw }}}', 'json')).toThrow('undefined filter: raw');
    expect(() => parseTemplate('{{ data.x | raw }}', 'text')).not.toThrow();
  });
});

describe('modes', () => {
  it('text: a missing value renders empty', () => {
    expect(renderTemplate('{{ data.coupon }}x', event)).toBe('x');
  });

  it('key and glob: a missing value is an error; glob escapes values, not the literal text', () => {
    expect(() => renderTemplate('k:{{ data.coupon }}', event, 'key')).toThrow(TemplateRenderError);
    expect(() => renderTemplate('k:{{ data.coupon }}', event, 'key')).toThrow('undefined variable: data.coupon');
    expect(renderTemplate('orders:{{ data.tag }}:*', event, 'glob')).toBe('orders:a\\*b\\?:*');
    expect(renderTemplate('orders:{{ data.tag }}:*', event, 'key')).toBe('orders:a*b?:*');
    expect(globEscape('a[b]\\c')).toBe('a\\[b\\]\\\\c');
  });

  it('cannot reach JavaScript internals', () => {
    expect(() => renderTemplate('{{ data.constructor }}', event, 'key')).toThrow(TemplateRenderError);
    expect(renderTemplate('{{ data.constructor }}', event)).toBe('');
  });
});

describe('JSON mode', () => {
  const injected = rowToEvent({
    pk: '43',
    id: '1b9f3c1e-6a8e-4f4b-9b0e-2c7d7e1a9f11',
    object_type: 'User',
    modification_type: 'INSERT',
    object_id: 'u-1',
    object_data: { name: 'x", "role": "admin', tags: ['a', 'b"c'], total: 9.5, ok: true },
  });

  it('a value inside a JSON string stays inside it', () => {
    const body = renderTemplate('{"name": "{{ data.name }}", "role": "user"}', injected, 'json');
    expect(JSON.parse(body)).toEqual({ name: 'x", "role": "admin', role: 'user' });
  });

  it('a value outside a string is written as a JSON value; a missing one as null', () => {
    const body = renderTemplate('{"name": {{ data.name }}, "tags": {{ data.tags }}, "total": {{ data.total }}, "ok": {{ data.ok }}, "none": {{ data.missing }}}', injected, 'json');
    expect(JSON.parse(body)).toEqual({ name: 'x", "role": "admin', tags: ['a', 'b"c'], total: 9.5, ok: true, none: null });
  });

  it('| json writes JSON once, and null for a missing field', () => {
    expect(JSON.parse(renderTemplate('{"status": {{ data.missing | json }}, "d": {{ data | json }}}', injected, 'json'))).toEqual({ status: null, d: injected.data });
    expect(JSON.parse(renderTemplate('{"text": "tags={{ data.tags | json }}"}', injected, 'json'))).toEqual({ text: 'tags=["a","b\\"c"]' });
  });

  it('loops and literal escapes keep working', () => {
    const body = renderTemplate('{"q": "say \\"hi\\"", "tags": [{% for t in data.tags %}{% unless forloop.first %},{% endunless %}"{{ t }}"{% endfor %}]}', injected, 'json');
    expect(JSON.parse(body)).toEqual({ q: 'say "hi"', tags: ['a', 'b"c'] });
  });

  it('refuses a result that is not JSON, saying so', () => {
    expect(() => renderTemplate('hello {{ data.name }}', injected, 'json')).toThrow(/not valid JSON/);
  });
});

describe('limits', () => {
  it('a range driven by event data fails at once with a clear error instead of freezing', () => {
    const started = Date.now();
    expect(() => renderTemplate('{% for i in (1..data.n) %}x{% endfor %}', event)).toThrow(TemplateRenderError);
    expect(() => renderTemplate('{% for i in (1..data.n) %}x{% endfor %}', event)).toThrow(/memory alloc limit exceeded.*the template does too much work for one event/);
    // Not a benchmark: only that the failure is immediate rather than the 10^8 iterations.
    expect(Date.now() - started).toBeLessThan(TEMPLATE_LIMITS.renderMs * 5);
  });

  it('nested loops are bounded too', () => {
    expect(() => renderTemplate('{% for i in (1..10000) %}{% for j in (1..10000) %}{{ j }}{% endfor %}{% endfor %}', event)).toThrow(TemplateRenderError);
  });
});
