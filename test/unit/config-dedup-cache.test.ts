/**
 * The observers file's `dedup:` (per observer) and `cache:` (per action) sections: parsed values
 * and the error, with its path, for every bad input.
 */
import { ConfigError, parseObserversYaml, type ConfigIssue } from '../../src/config';
import { compileObservers } from '../../src/events/match';

function issuesOf(text: string): ConfigIssue[] {
  try {
    parseObserversYaml(text, 'observers.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map(({ path, message }) => ({ path, message }));
  }
  throw new Error('expected the file to be invalid');
}

const observer = (extra: string, action = '      - type: log') => `observers:\n  orders:\n    entity: Order\n    events: [UPDATE]\n${extra}    actions:\n${action}\n`;

describe('dedup:', () => {
  it('parses a window with and without a key template', () => {
    const file = parseObserversYaml(
      `observers:
  a:
    entity: Order
    events: [INSERT]
    dedup: { window_ms: 60000 }
    actions: [{ type: log }]
  b:
    entity: Order
    events: [INSERT]
    dedup: { window_ms: 1000, key: "{{ event.entity_id }}:{{ data.status }}" }
    actions: [{ type: log }]
  c:
    entity: Order
    events: [INSERT]
    actions: [{ type: log }]
`,
      'observers.yaml',
    );
    expect(file.observers.map((o) => o.dedup)).toEqual([{ windowMs: 60000, key: null }, { windowMs: 1000, key: '{{ event.entity_id }}:{{ data.status }}' }, null]);
  });

  it.each([
    ['    dedup: { window_ms: 0 }\n', 'observers.orders.dedup.window_ms', /greater than 0/],
    ['    dedup: { window_ms: 604800001 }\n', 'observers.orders.dedup.window_ms', /at most 604800000/],
    ['    dedup: { window_ms: 1.5 }\n', 'observers.orders.dedup.window_ms', /whole number/],
    ['    dedup: { key: "{{ data.id }}" }\n', 'observers.orders.dedup.window_ms', /required/],
    ['    dedup: { window_ms: 1000, key: "{{ data.id" }\n', 'observers.orders.dedup.key', /invalid template/],
    ['    dedup: { window_ms: 1000, key: "{{ payload.id }}" }\n', 'observers.orders.dedup.key', /unknown variable 'payload'/],
    ['    dedup: { window_ms: 1000, ttl: 5 }\n', 'observers.orders.dedup.ttl', /unknown field \(expected one of window_ms, key\)/],
    ['    dedup: 60000\n', 'observers.orders.dedup', /expected a map/],
  ])('rejects %j', (extra, path, message) => {
    const issues = issuesOf(observer(extra));
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toBe(path);
    expect(issues[0]!.message).toMatch(message);
  });
});

describe('cache: on an action', () => {
  it('parses on every action type and travels in the action snapshot', () => {
    const file = parseObserversYaml(
      observer('', `      - type: webhook
        url: "https://hooks.example.com/invalidate/{{ event.entity_id }}"
        cache: { ttl_ms: 300000 }
      - type: log
        cache: { ttl_ms: 1000, key: "log:{{ data.status }}" }
      - type: database
        function: app.fn_x`),
      'observers.yaml',
    );
    const actions = file.observers[0]!.actions;
    expect(actions.map((a) => a.cache)).toEqual([{ ttl_ms: 300000 }, { ttl_ms: 1000, key: 'log:{{ data.status }}' }, undefined]);
    const snapshot = compileObservers(file).observers[0]!.match.actions;
    expect(snapshot[0]).toMatchObject({ key: 'orders:0', type: 'webhook', cache: { ttl_ms: 300000 } });
    expect(snapshot[2]).not.toHaveProperty('cache');
  });

  it.each([
    ['cache: { ttl_ms: -1 }', 'observers.orders.actions[0].cache.ttl_ms', /greater than 0/],
    ['cache: { ttl_ms: 86400001 }', 'observers.orders.actions[0].cache.ttl_ms', /at most 86400000/],
    ['cache: {}', 'observers.orders.actions[0].cache.ttl_ms', /required/],
    ['cache: { ttl_ms: 1000, key: "{% if %}" }', 'observers.orders.actions[0].cache.key', /invalid template/],
    ['cache: { ttl_ms: 1000, scope: global }', 'observers.orders.actions[0].cache.scope', /unknown field/],
  ])('rejects %j', (line, path, message) => {
    const issues = issuesOf(observer('', `      - type: log\n        ${line}`));
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toBe(path);
    expect(issues[0]!.message).toMatch(message);
  });
});
