import { ConditionEvalError, compileCondition, type ConditionSubject } from '../../src/events/condition';

const order = {
  id: 'o-1',
  status: 'shipped',
  total: 1250.5,
  qty: 3,
  paid: true,
  note: null,
  tags: ['rush', 'gift'],
  items: [{ sku: 'A-1', qty: 2 }],
  customer: { tier: 'gold', email: 'ada@example.com', address: null },
};

const insert: ConditionSubject = { data: order, before: null, updatedFields: null };
const update: ConditionSubject = {
  data: order,
  before: { ...order, status: 'pending', total: 1000, customer: { ...order.customer, tier: 'silver' } },
  updatedFields: null,
};
const updateFieldsOnly: ConditionSubject = { data: order, before: null, updatedFields: ['status'] };

function run(source: string, subject: ConditionSubject): boolean {
  return compileCondition(source)(subject);
}

function evalErrorOf(source: string, subject: ConditionSubject): ConditionEvalError {
  try {
    run(source, subject);
  } catch (err) {
    expect(err).toBeInstanceOf(ConditionEvalError);
    return err as ConditionEvalError;
  }
  throw new Error(`expected ${source} to fail`);
}

describe('condition evaluation: comparisons', () => {
  it.each([
    ["status == 'shipped'", true],
    ["status != 'shipped'", false],
    ['total > 1000', true],
    ['total >= 1250.5', true],
    ['total < 1250.5', false],
    ['total <= 1250.5', true],
    ['qty == 3', true],
    ['qty == 3.0', true],
    ["qty == '3'", false],
    ['paid == true', true],
    ['paid != false', true],
    ['note == null', true],
    ['note != null', false],
    ['paid == null', false],
    ["customer.tier == 'gold'", true],
    ['customer.address == null', true],
    ["items.0.sku == 'A-1'", true],
    ['items.0.qty < qty', true],
    ["tags.1 == 'gift'", true],
    ["status > 'pending'", true],
    ["status < 'a'", false],
    ["new.status == 'shipped'", true],
  ])('%s → %s', (source, expected) => {
    expect(run(source, insert)).toBe(expected);
  });

  it('compares structured values by content', () => {
    const subject: ConditionSubject = { data: { a: { x: [1, 2] }, b: { x: [1, 2] }, c: { x: [2, 1] } }, before: null, updatedFields: null };
    expect(run('a == b', subject)).toBe(true);
    expect(run('a == c', subject)).toBe(false);
    expect(run('a != c', subject)).toBe(true);
  });
});

describe('condition evaluation: boolean logic', () => {
  it.each([
    ["status == 'shipped' && paid", true],
    ["status == 'pending' && paid", false],
    ["status == 'pending' || paid", true],
    ["status == 'pending' || !paid", false],
    ['!paid', false],
    ['!(qty > 5)', true],
    ['true', true],
    ['false || false', false],
    ['paid && (qty == 1 || qty == 3)', true],
  ])('%s → %s', (source, expected) => {
    expect(run(source, insert)).toBe(expected);
  });

  it('short-circuits, so has_field can guard a missing field', () => {
    expect(run("has_field('coupon') && coupon == 'X'", insert)).toBe(false);
    expect(run("!has_field('coupon') || coupon == 'X'", insert)).toBe(true);
  });
});

describe('condition evaluation: functions', () => {
  it('has_field tests presence (null counts as present)', () => {
    expect(run("has_field('status')", insert)).toBe(true);
    expect(run("has_field('note')", insert)).toBe(true);
    expect(run("has_field('coupon')", insert)).toBe(false);
    expect(run("has_field('customer.tier')", insert)).toBe(true);
    expect(run("has_field('customer.address.city')", insert)).toBe(false);
    expect(run("has_field('items.0.sku')", insert)).toBe(true);
    expect(run("has_field('items.5')", insert)).toBe(false);
    expect(run("has_field('old.status')", insert)).toBe(false);
    expect(run("has_field('old.status')", update)).toBe(true);
  });

  it('has_field never reaches through to JavaScript internals', () => {
    expect(run("has_field('constructor')", insert)).toBe(false);
    expect(run("has_field('tags.length')", insert)).toBe(false);
    expect(run("has_field('status.length')", insert)).toBe(false);
  });

  it('field_changed compares the images', () => {
    expect(run("field_changed('status')", update)).toBe(true);
    expect(run("field_changed('qty')", update)).toBe(false);
    expect(run("field_changed('customer.tier')", update)).toBe(true);
    expect(run("field_changed('customer.email')", update)).toBe(false);
    expect(run("field_changed('coupon')", update)).toBe(false);
  });

  it('field_changed counts a field that appears or disappears as changed', () => {
    const subject: ConditionSubject = { data: { a: 1 }, before: { b: 1 }, updatedFields: null };
    expect(run("field_changed('a')", subject)).toBe(true);
    expect(run("field_changed('b')", subject)).toBe(true);
  });

  it('field_changed falls back to updated_fields when there is no pre-image', () => {
    expect(run("field_changed('status')", updateFieldsOnly)).toBe(true);
    expect(run("field_changed('qty')", updateFieldsOnly)).toBe(false);
    expect(run("field_changed_to('status', 'shipped')", updateFieldsOnly)).toBe(true);
    expect(run("field_changed_to('status', 'pending')", updateFieldsOnly)).toBe(false);
  });

  it('field_changed_to and field_changed_from', () => {
    expect(run("field_changed_to('status', 'shipped')", update)).toBe(true);
    expect(run("field_changed_to('status', 'pending')", update)).toBe(false);
    expect(run("field_changed_from('status', 'pending')", update)).toBe(true);
    expect(run("field_changed_from('status', 'shipped')", update)).toBe(false);
    expect(run('field_changed_to(\'total\', 1250.5)', update)).toBe(true);
    expect(run("field_changed_to('qty', 3)", update)).toBe(false); // unchanged, even though the value matches
  });

  it('old. and new. read the two images', () => {
    expect(run("old.status == 'pending' && new.status == 'shipped'", update)).toBe(true);
    expect(run('new.total > old.total', update)).toBe(true);
    expect(run("old.customer.tier == 'silver'", update)).toBe(true);
  });
});

describe('condition evaluation: errors skip the observer instead of meaning false', () => {
  it.each<[string, ConditionSubject, string]>([
    ["coupon == 'X'", insert, "field 'coupon' is missing from the event data; test it with has_field('coupon') (at column 1)"],
    ["customer.region == 'EU'", insert, "field 'customer.region' is missing from the event data; test it with has_field('customer.region') (at column 1)"],
    ['customer.address.city == 1', insert, "field 'customer.address.city' is missing from the event data; test it with has_field('customer.address.city') (at column 1)"],
    ['items.3.sku == 1', insert, "field 'items.3.sku' is missing from the event data; test it with has_field('items.3.sku') (at column 1)"],
    ["old.coupon == 'X'", update, "field 'old.coupon' is missing from the pre-image; test it with has_field('old.coupon') (at column 1)"],
    ["old.status == 'pending'", insert, 'old.status needs the pre-image (object_data_before), which this event does not have (at column 1)'],
    ["field_changed('status')", insert, "field_changed('status') needs the pre-image (object_data_before), which this event does not have (at column 1)"],
    [
      "paid && field_changed_to('status', 'shipped')",
      insert,
      "field_changed_to('status', 'shipped') needs the pre-image (object_data_before), which this event does not have (at column 9)",
    ],
    [
      "field_changed_from('status', 'pending')",
      updateFieldsOnly,
      "field_changed_from('status', 'pending') needs the pre-image (object_data_before), which this event does not have (at column 1)",
    ],
    [
      "field_changed('customer.tier')",
      updateFieldsOnly,
      "field_changed('customer.tier') needs the pre-image (object_data_before), which this event does not have (at column 1)",
    ],
    ["total > '1000'", insert, "cannot order the number 1250.5 and the string '1000' with '>' (at column 7)"],
    ['note < 1', insert, "cannot order null and the number 1 with '<' (at column 6)"],
    ['customer >= 1', insert, "cannot order an object and the number 1 with '>=' (at column 10)"],
    ['status && paid', insert, "expected true or false, got the string 'shipped' (at column 1)"],
    ['!qty', insert, 'expected true or false, got the number 3 (at column 2)'],
    ['paid || note', { ...insert, data: { ...order, paid: false } }, 'expected true or false, got null (at column 9)'],
    ['tags', insert, 'expected true or false, got a list (at column 1)'],
  ])('%s', (source, subject, message) => {
    expect(evalErrorOf(source, subject).message).toBe(message);
  });

  it('carries the column of the failing sub-expression', () => {
    expect(evalErrorOf("paid && coupon == 'X'", insert).column).toBe(9);
  });
});
