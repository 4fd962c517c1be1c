import { CHANGE_LOG_NAMESPACE, deriveEventId, uuidV5 } from '../../src/events/event-id';
import { BadRowError, rowToEvent } from '../../src/events/map-row';
import type { ChangeLogRow } from '../../src/events/types';

const UUID_V5 = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** A row as node-postgres returns it from the full FraiseQL table. */
function fullRow(overrides: Partial<ChangeLogRow> = {}): ChangeLogRow {
  return {
    pk: '42',
    id: '0B9F3C1E-6A8E-4F4B-9B0E-2C7D7E1A9F11',
    object_type: 'Order',
    modification_type: 'UPDATE',
    object_id: '7d4e1c2a-0000-4000-8000-000000000001',
    object_data: { id: 'o-1', status: 'shipped', total: 10, note: 'x' },
    object_data_before: { id: 'o-1', status: 'pending', total: 10, coupon: 'C' },
    updated_fields: null,
    created_at: new Date('2025-01-02T03:04:05.678Z'),
    commit_time: '2025-01-02T03:04:05.900Z',
    tenant_id: '11111111-1111-4111-8111-111111111111',
    fk_contact: '9001',
    fk_customer_org: '77',
    actor_type: 'human_user',
    acting_for: null,
    trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
    trace_context: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
    ...overrides,
  };
}

/** A row of the Phase 8 guides' minimal table: four columns, text object_id, no uuid id. */
function minimalRow(overrides: Partial<ChangeLogRow> = {}): ChangeLogRow {
  return { pk: '7', object_type: 'User', modification_type: 'INSERT', object_id: 'user-123', object_data: { name: 'Ada' }, ...overrides };
}

function badRowOf(row: ChangeLogRow): BadRowError {
  try {
    rowToEvent(row);
  } catch (err) {
    expect(err).toBeInstanceOf(BadRowError);
    return err as BadRowError;
  }
  throw new Error('expected a BadRowError');
}

describe('rowToEvent: the full FraiseQL contract', () => {
  it('maps every column', () => {
    const event = rowToEvent(fullRow());
    expect(event).toEqual({
      id: '0b9f3c1e-6a8e-4f4b-9b0e-2c7d7e1a9f11',
      position: '42',
      kind: 'UPDATE',
      rawKind: 'UPDATE',
      entityType: 'Order',
      entityId: '7d4e1c2a-0000-4000-8000-000000000001',
      data: { id: 'o-1', status: 'shipped', total: 10, note: 'x' },
      before: { id: 'o-1', status: 'pending', total: 10, coupon: 'C' },
      changes: { status: { old: 'pending', new: 'shipped' }, note: { old: null, new: 'x' }, coupon: { old: 'C', new: null } },
      updatedFields: null,
      tenantId: '11111111-1111-4111-8111-111111111111',
      userId: '9001',
      customerOrgId: '77',
      actor: { type: 'human_user', actingFor: null },
      createdAt: '2025-01-02T03:04:05.678Z',
      commitTime: '2025-01-02T03:04:05.900Z',
      trace: { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', context: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' } },
    });
  });

  it('is plain JSON (it travels as workflow input)', () => {
    const event = rowToEvent(fullRow());
    expect(JSON.parse(JSON.stringify(event))).toEqual(event);
  });

  it('limits changes to updated_fields when the producer lists them', () => {
    const event = rowToEvent(fullRow({ updated_fields: ['status', 'total'] }));
    expect(event.updatedFields).toEqual(['status', 'total']);
    expect(event.changes).toEqual({ status: { old: 'pending', new: 'shipped' }, total: { old: 10, new: 10 } });
  });

  it('compares nested values by content when diffing', () => {
    const event = rowToEvent(
      fullRow({ object_data: { a: { x: [1] }, b: { y: 1 } }, object_data_before: { a: { x: [1] }, b: { y: 2 } } }),
    );
    expect(event.changes).toEqual({ b: { old: { y: 2 }, new: { y: 1 } } });
  });

  it('keeps field names like __proto__ and constructor as plain data', () => {
    const event = rowToEvent(
      fullRow({ object_data: JSON.parse('{"__proto__": {"x": 1}, "constructor": 2}'), object_data_before: {}, updated_fields: null }),
    );
    expect(Object.keys(event.changes ?? {})).toEqual(['__proto__', 'constructor']);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    const listed = rowToEvent(fullRow({ object_data: {}, object_data_before: {}, updated_fields: ['constructor'] }));
    expect(listed.changes).toEqual({ constructor: { old: null, new: null } });
  });

  it('has no changes for UPDATE without a pre-image', () => {
    const event = rowToEvent(fullRow({ object_data_before: null, updated_fields: ['status'] }));
    expect(event.before).toBeNull();
    expect(event.changes).toBeNull();
    expect(event.updatedFields).toEqual(['status']);
  });

  it('uses the pre-image as the data of a DELETE', () => {
    const event = rowToEvent(fullRow({ modification_type: 'DELETE', object_data: null }));
    expect(event.kind).toBe('DELETE');
    expect(event.data).toEqual({ id: 'o-1', status: 'pending', total: 10, coupon: 'C' });
    expect(event.changes).toBeNull();
  });

  it('falls back to the logged object, then {}, for a DELETE without pre-image', () => {
    expect(rowToEvent(fullRow({ modification_type: 'DELETE', object_data_before: null, object_data: { id: 'o-1' } })).data).toEqual({ id: 'o-1' });
    expect(rowToEvent(fullRow({ modification_type: 'DELETE', object_data_before: null, object_data: null })).data).toEqual({});
  });

  it('maps NOOP and READ to CUSTOM and keeps the raw kind', () => {
    expect(rowToEvent(fullRow({ modification_type: 'NOOP' }))).toMatchObject({ kind: 'CUSTOM', rawKind: 'NOOP', changes: null });
    expect(rowToEvent(fullRow({ modification_type: 'READ' }))).toMatchObject({ kind: 'CUSTOM', rawKind: 'READ' });
    expect(rowToEvent(fullRow({ modification_type: 'CUSTOM' }))).toMatchObject({ kind: 'CUSTOM', rawKind: 'CUSTOM' });
    expect(rowToEvent(fullRow({ modification_type: ' insert ' }))).toMatchObject({ kind: 'INSERT', rawKind: 'INSERT' });
  });

  it('allows a NULL object_id', () => {
    expect(rowToEvent(fullRow({ object_id: null })).entityId).toBeNull();
  });

  it('gives {} as the data of an INSERT with no object', () => {
    expect(rowToEvent(fullRow({ modification_type: 'INSERT', object_data: null, object_data_before: null })).data).toEqual({});
  });

  it('leaves absent optional columns null', () => {
    const event = rowToEvent({ pk: '1', id: '0b9f3c1e-6a8e-4f4b-9b0e-2c7d7e1a9f11', object_type: 'Order', modification_type: 'INSERT' });
    expect(event).toMatchObject({
      entityId: null,
      tenantId: null,
      userId: null,
      customerOrgId: null,
      actor: null,
      createdAt: null,
      commitTime: null,
      trace: null,
      before: null,
      updatedFields: null,
    });
  });

  it('parses JSON that arrives as text, and a trace context that is text', () => {
    const event = rowToEvent(
      fullRow({ object_data: '{"status":"shipped"}', object_data_before: '{"status":"pending"}', trace_context: 'not json' }),
    );
    expect(event.data).toEqual({ status: 'shipped' });
    expect(event.changes).toEqual({ status: { old: 'pending', new: 'shipped' } });
    expect(event.trace).toEqual({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', context: 'not json' });
  });

  it('drops timestamps it cannot read instead of failing the row', () => {
    expect(rowToEvent(fullRow({ commit_time: 'yesterday', created_at: new Date(Number.NaN) }))).toMatchObject({ commitTime: null, createdAt: null });
  });
});

describe('rowToEvent: the minimal Phase 8 table', () => {
  it('maps the four columns and derives a stable uuid-shaped id', () => {
    const event = rowToEvent(minimalRow());
    expect(event).toMatchObject({
      position: '7',
      kind: 'INSERT',
      entityType: 'User',
      entityId: 'user-123',
      data: { name: 'Ada' },
      before: null,
      changes: null,
      tenantId: null,
    });
    expect(event.id).toMatch(UUID_V5);
    expect(event.id).toBe(rowToEvent(minimalRow()).id);
    expect(event.id).toBe(deriveEventId('core.tb_entity_change_log', '7'));
  });

  it('derives different ids for different rows and tables', () => {
    const a = rowToEvent(minimalRow({ pk: '7' })).id;
    const b = rowToEvent(minimalRow({ pk: '8' })).id;
    const c = rowToEvent(minimalRow({ pk: '7' }), { table: 'tb_entity_change_log' }).id;
    expect(new Set([a, b, c]).size).toBe(3);
    expect(rowToEvent(minimalRow(), { table: 'Public.TB_Log' }).id).toBe(deriveEventId('public.tb_log', '7'));
  });

  it('accepts any text, or a number, as object_id', () => {
    expect(rowToEvent(minimalRow({ object_id: 'sku/ABC 12' })).entityId).toBe('sku/ABC 12');
    expect(rowToEvent(minimalRow({ object_id: 12345 })).entityId).toBe('12345');
    expect(rowToEvent(minimalRow({ object_id: BigInt('9007199254740993') })).entityId).toBe('9007199254740993');
  });
});

describe('uuidV5', () => {
  it('matches the RFC 4122 reference value', () => {
    // Python: uuid.uuid5(uuid.NAMESPACE_DNS, 'python.org')
    expect(uuidV5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'python.org')).toBe('886313e1-3b8a-5372-9b90-0c9aee199e5d');
  });

  it('has a fixed project namespace (changing it would change every derived id)', () => {
    expect(CHANGE_LOG_NAMESPACE).toBe(uuidV5('6ba7b811-9dad-11d1-80b4-00c04fd430c8', 'https://github.com/fraiseql/fraiseql-observers#change-log'));
    expect(CHANGE_LOG_NAMESPACE).toMatch(UUID_V5);
  });
});

describe('rowToEvent: bad rows', () => {
  it.each<[string, Partial<ChangeLogRow>, string, string]>([
    ['unknown kind', { modification_type: 'MERGE' }, 'unknown_modification_type', "change-log row 42: unknown modification_type 'MERGE' (expected INSERT, UPDATE, DELETE, CUSTOM, NOOP or READ)"],
    ['NULL kind', { modification_type: null }, 'unknown_modification_type', 'change-log row 42: unknown modification_type NULL (expected INSERT, UPDATE, DELETE, CUSTOM, NOOP or READ)'],
    ['numeric kind', { modification_type: 1 }, 'unknown_modification_type', 'change-log row 42: unknown modification_type number 1 (expected INSERT, UPDATE, DELETE, CUSTOM, NOOP or READ)'],
    ['NULL object_type', { object_type: null }, 'null_object_type', 'change-log row 42: object_type is NULL; every row must name its entity type'],
    ['empty object_type', { object_type: '  ' }, 'null_object_type', "change-log row 42: object_type is '  '; every row must name its entity type"],
    ['empty object_id', { object_id: '' }, 'malformed_object_id', "change-log row 42: object_id '' is not an identifier (a non-empty text of at most 1024 characters)"],
    ['object object_id', { object_id: { a: 1 } }, 'malformed_object_id', 'change-log row 42: object_id an object is not an identifier (a non-empty text of at most 1024 characters)'],
    ['fractional object_id', { object_id: 1.5 }, 'malformed_object_id', 'change-log row 42: object_id number 1.5 is not an identifier (a non-empty text of at most 1024 characters)'],
    ['huge object_id', { object_id: 'x'.repeat(1025) }, 'malformed_object_id', `change-log row 42: object_id '${'x'.repeat(60)}…' is not an identifier (a non-empty text of at most 1024 characters)`],
    ['malformed id', { id: 'not-a-uuid' }, 'malformed_id', "change-log row 42: id 'not-a-uuid' is not a UUID"],
    ['array data', { object_data: [1, 2] }, 'non_object_data', 'change-log row 42: object_data must be a JSON object, got an array'],
    ['scalar data', { object_data: 5 }, 'non_object_data', 'change-log row 42: object_data must be a JSON object, got the number 5'],
    ['text JSON scalar', { object_data: '"hello"' }, 'non_object_data', 'change-log row 42: object_data must be a JSON object, got the string "hello"'],
    ['array pre-image', { object_data_before: [] }, 'non_object_data', 'change-log row 42: object_data_before must be a JSON object, got an array'],
    ['malformed JSON', { object_data: '{"status": ' }, 'malformed_json', 'change-log row 42: object_data is not valid JSON ('],
    ['malformed pre-image JSON', { object_data_before: '{nope' }, 'malformed_json', 'change-log row 42: object_data_before is not valid JSON ('],
    ['updated_fields not a list', { updated_fields: '{status}' }, 'malformed_updated_fields', "change-log row 42: updated_fields must be a text[] of field names, got '{status}'"],
    ['updated_fields with numbers', { updated_fields: ['a', 1] }, 'malformed_updated_fields', 'change-log row 42: updated_fields must be a text[] of field names, got an array'],
  ])('%s', (_name, overrides, reason, message) => {
    const err = badRowOf(fullRow(overrides));
    expect(err.reason).toBe(reason);
    expect(err.pk).toBe('42');
    expect(err.message.startsWith(message)).toBe(true);
  });

  it('keeps the JSON parse error as the cause', () => {
    expect(badRowOf(fullRow({ object_data: '{' })).cause).toBeInstanceOf(SyntaxError);
  });

  it('checks the minimal table the same way', () => {
    expect(badRowOf(minimalRow({ modification_type: 'UPSERT' })).reason).toBe('unknown_modification_type');
  });
});
