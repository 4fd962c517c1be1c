import { parseObserversYaml } from '../../src/config';
import { compileObservers, explainMatch, matchEvent } from '../../src/events/match';
import { rowToEvent } from '../../src/events/map-row';
import type { ChangeEvent, ChangeLogRow } from '../../src/events/types';

const config = parseObserversYaml(
  `
defaults:
  retry: { max_attempts: 4, max_delay_ms: 30000 }
observers:
  order_shipped:
    entity: Order
    events: [UPDATE]
    condition: "status == 'shipped' && field_changed('status')"
    timeout_ms: 60000
    ordering: per_entity
    retry: { initial_delay_ms: 500, backoff: linear }
    actions:
      - type: webhook
        url: "https://hooks.example.com/orders/{{ event.entity_id }}"
        headers_env: { Authorization: ORDERS_AUTH }
        signing_secret_env: ORDERS_SECRET
      - type: log
  any_order_change:
    entity: Order
    events: [INSERT, UPDATE, DELETE]
    failure_policy: log
    actions:
      - type: log
        message: "{{ event.kind }} {{ event.entity_id }}"
  gold_customers:
    entity: Order
    events: [INSERT, UPDATE]
    condition: "customer.tier == 'gold'"
    actions:
      - type: slack
        webhook_url_env: SLACK_URL
  everything:
    entity: "*"
    events: [DELETE, CUSTOM]
    actions:
      - type: database
        function: audit.fn_record
  switched_off:
    enabled: false
    entity: "*"
    events: [INSERT, UPDATE, DELETE, CUSTOM]
    actions:
      - type: log
`,
  'match.yaml',
);
const compiled = compileObservers(config);

function event(row: Partial<ChangeLogRow>): ChangeEvent {
  return rowToEvent({ pk: '1', object_type: 'Order', modification_type: 'UPDATE', object_id: 'o-1', ...row });
}

const names = (result: ReturnType<typeof matchEvent>): string[] => result.matches.map((m) => m.observer);

describe('matchEvent', () => {
  it('matches on entity, event kind and condition, in file order', () => {
    const shipped = event({ object_data: { status: 'shipped', customer: { tier: 'gold' } }, object_data_before: { status: 'pending', customer: { tier: 'gold' } } });
    const result = matchEvent(shipped, compiled);
    expect(names(result)).toEqual(['order_shipped', 'any_order_change', 'gold_customers']);
    expect(result.conditionErrors).toEqual([]);
  });

  it('leaves out observers whose condition is false', () => {
    const unchanged = event({ object_data: { status: 'shipped', customer: { tier: 'silver' } }, object_data_before: { status: 'shipped', customer: { tier: 'silver' } } });
    expect(names(matchEvent(unchanged, compiled))).toEqual(['any_order_change']);
  });

  it('records a condition error and skips only that observer', () => {
    const insert = event({ modification_type: 'INSERT', object_data: { status: 'new' } });
    const result = matchEvent(insert, compiled);
    expect(names(result)).toEqual(['any_order_change']);
    expect(result.conditionErrors).toEqual([
      { observer: 'gold_customers', message: "field 'customer.tier' is missing from the event data; test it with has_field('customer.tier') (at column 1)" },
    ]);
  });

  it('records field_changed without a pre-image as an error, not as false', () => {
    const result = matchEvent(event({ object_data: { status: 'shipped', customer: { tier: 'x' } } }), compiled);
    expect(result.conditionErrors).toEqual([
      { observer: 'order_shipped', message: expect.stringContaining("field_changed('status') needs the pre-image") as unknown as string },
    ]);
    expect(names(result)).toEqual(['any_order_change']);
  });

  it('applies the * wildcard to every entity type, by event kind', () => {
    expect(names(matchEvent(event({ object_type: 'Invoice', modification_type: 'DELETE' }), compiled))).toEqual(['everything']);
    expect(names(matchEvent(event({ object_type: 'Invoice', modification_type: 'NOOP' }), compiled))).toEqual(['everything']);
    expect(names(matchEvent(event({ object_type: 'Invoice', modification_type: 'INSERT' }), compiled))).toEqual([]);
    expect(names(matchEvent(event({ modification_type: 'DELETE' }), compiled))).toEqual(['any_order_change', 'everything']);
  });

  it('never matches a disabled observer', () => {
    const all = [...'abcdefghij'].map((t) => matchEvent(event({ object_type: t, modification_type: 'INSERT' }), compiled));
    expect(all.flatMap(names)).not.toContain('switched_off');
  });

  it('returns a snapshot with resolved retry, policies and plain-JSON actions', () => {
    const shipped = event({ object_data: { status: 'shipped' }, object_data_before: { status: 'pending' } });
    const [match] = matchEvent(shipped, compiled).matches;
    expect(match).toEqual({
      observer: 'order_shipped',
      retry: { maxAttempts: 4, initialDelayMs: 500, maxDelayMs: 30000, backoff: 'linear' },
      failurePolicy: 'dlq',
      ordering: 'per_entity',
      timeoutMs: 60000,
      actions: [
        {
          key: 'order_shipped:0',
          type: 'webhook',
          url: 'https://hooks.example.com/orders/{{ event.entity_id }}',
          method: 'POST',
          headers: {},
          headers_env: { Authorization: 'ORDERS_AUTH' },
          signing_secret_env: 'ORDERS_SECRET',
          standard_webhooks: false,
        },
        { key: 'order_shipped:1', type: 'log', level: 'info' },
      ],
    });
    expect(JSON.parse(JSON.stringify(match))).toEqual(match);
    expect(Object.isFrozen(match)).toBe(true);
    expect(Object.isFrozen(match?.actions[0])).toBe(true);
  });

  it('puts no secret values in the snapshot, only variable names', () => {
    process.env.ORDERS_SECRET = 'super-secret-value';
    try {
      const shipped = event({ object_data: { status: 'shipped' }, object_data_before: { status: 'pending' } });
      expect(JSON.stringify(matchEvent(shipped, compiled))).not.toContain('super-secret-value');
    } finally {
      delete process.env.ORDERS_SECRET;
    }
  });

  it('matches nothing for an entity nobody observes', () => {
    expect(matchEvent(event({ object_type: 'Nobody', modification_type: 'UPDATE' }), compiled)).toEqual({ matches: [], conditionErrors: [] });
  });
});

describe('explainMatch', () => {
  it('says why each observer did or did not apply', () => {
    const insert = event({ modification_type: 'INSERT', object_data: { status: 'new' } });
    expect(explainMatch(insert, compiled)).toEqual([
      { observer: 'order_shipped', outcome: 'event_mismatch' },
      { observer: 'any_order_change', outcome: 'matched' },
      { observer: 'gold_customers', outcome: 'condition_error', message: expect.stringContaining("field 'customer.tier' is missing") as unknown as string },
      { observer: 'everything', outcome: 'event_mismatch' },
      { observer: 'switched_off', outcome: 'disabled' },
    ]);
    const other = event({ object_type: 'Invoice', modification_type: 'UPDATE', object_data: {}, object_data_before: {} });
    expect(explainMatch(other, compiled).map((o) => o.outcome)).toEqual(['entity_mismatch', 'entity_mismatch', 'entity_mismatch', 'event_mismatch', 'disabled']);
    const silver = event({ object_data: { status: 'x', customer: { tier: 'silver' } }, object_data_before: { status: 'x', customer: { tier: 'silver' } } });
    expect(explainMatch(silver, compiled)[0]).toEqual({ observer: 'order_shipped', outcome: 'condition_false' });
  });
});
