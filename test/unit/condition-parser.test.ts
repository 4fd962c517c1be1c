import { ConditionSyntaxError, compileCondition, parseCondition, type ConditionNode } from '../../src/events/condition';

/** A compact rendering of the tree, so precedence is visible in one string. */
function show(node: ConditionNode): string {
  switch (node.type) {
    case 'literal':
      return JSON.stringify(node.value);
    case 'path':
      return `${node.scope === 'data' ? '' : `${node.scope}:`}${node.segments.join('.')}`;
    case 'not':
      return `!(${show(node.operand)})`;
    case 'and':
    case 'or':
      return `(${show(node.left)} ${node.type === 'and' ? '&&' : '||'} ${show(node.right)})`;
    case 'compare':
      return `(${show(node.left)} ${node.op} ${show(node.right)})`;
    case 'call':
      return `${node.fn}(${node.field.scope === 'data' ? '' : `${node.field.scope}:`}${node.field.segments.join('.')}${
        node.fn === 'field_changed_to' || node.fn === 'field_changed_from' ? `, ${JSON.stringify(node.value)}` : ''
      })`;
  }
}

function syntaxErrorOf(source: string): ConditionSyntaxError {
  try {
    parseCondition(source);
  } catch (err) {
    expect(err).toBeInstanceOf(ConditionSyntaxError);
    return err as ConditionSyntaxError;
  }
  throw new Error(`expected a syntax error for: ${source}`);
}

describe('condition parser: operators and literals', () => {
  it.each([
    ["status == 'shipped'", '(status == "shipped")'],
    ['total != 0', '(total != 0)'],
    ['total < 10', '(total < 10)'],
    ['total <= 10.5', '(total <= 10.5)'],
    ['total > -3', '(total > -3)'],
    ['total >= 1e3', '(total >= 1000)'],
    ['paid == true', '(paid == true)'],
    ['paid == false', '(paid == false)'],
    ['deleted_at == null', '(deleted_at == null)'],
    ['name == "double \\"quoted\\""', '(name == "double \\"quoted\\"")'],
    ["name == 'it\\'s'", '(name == "it\'s")'],
    ["name == 'tab\\tnew\\nline\\u00e9'", '(name == "tab\\tnew\\nline\u00e9")'],
    ['a && b', '(a && b)'],
    ['a || b', '(a || b)'],
    ['!a', '!(a)'],
    ['!!a', '!(!(a))'],
    ['(a)', 'a'],
    ["customer.tier == 'gold'", '(customer.tier == "gold")'],
    ["items.0.sku == 'X'", '(items.0.sku == "X")'],
    ['items.0.1 == 2', '(items.0.1 == 2)'],
    ['flags.null == 1', '(flags.null == 1)'],
    ["old.status == 'pending'", '(old:status == "pending")'],
    ["new.status == 'shipped'", '(new:status == "shipped")'],
    ['old.customer.tier != new.customer.tier', '(old:customer.tier != new:customer.tier)'],
    ["has_field('email')", 'has_field(email)'],
    ["has_field('customer.tier')", 'has_field(customer.tier)'],
    ["has_field('old.status')", 'has_field(old:status)'],
    ["field_changed('status')", 'field_changed(status)'],
    ["field_changed_to('status', 'shipped')", 'field_changed_to(status, "shipped")'],
    ["field_changed_from('status', 'pending')", 'field_changed_from(status, "pending")'],
    ["field_changed_to('qty', -1)", 'field_changed_to(qty, -1)'],
    ["field_changed_to('paid', true)", 'field_changed_to(paid, true)'],
    ["field_changed_from('note', null)", 'field_changed_from(note, null)'],
    ['  a\n  &&\tb  ', '(a && b)'],
  ])('%s', (source, expected) => {
    expect(show(parseCondition(source))).toBe(expected);
  });
});

describe('condition parser: precedence', () => {
  it.each([
    ['a || b && c', '(a || (b && c))'],
    ['a && b || c', '((a && b) || c)'],
    ['a && b && c', '((a && b) && c)'],
    ['a || b || c', '((a || b) || c)'],
    ['(a || b) && c', '((a || b) && c)'],
    ['!a && b', '(!(a) && b)'],
    ['!(a && b)', '!((a && b))'],
    ["x == 1 && y != 'z' || !w", '(((x == 1) && (y != "z")) || !(w))'],
    ["status == 'shipped' && field_changed('status')", '((status == "shipped") && field_changed(status))'],
    ['a < 1 || a > 9 && b', '((a < 1) || ((a > 9) && b))'],
    ['!flag == false', '(!(flag) == false)'],
  ])('%s', (source, expected) => {
    expect(show(parseCondition(source))).toBe(expected);
  });
});

describe('condition parser: errors name the 1-based column', () => {
  it.each([
    ["status == 'shipped' & x", "unexpected token '&' at column 21 (did you mean '&&'?)"],
    ['a | b', "unexpected token '|' at column 3 (did you mean '||'?)"],
    ["status = 'x'", "unexpected token '=' at column 8 (did you mean '=='?)"],
    ['a @ b', "unexpected token '@' at column 3"],
    ['a - b', "unexpected token '-' at column 3"],
    ['a b', "unexpected token 'b' at column 3"],
    ['a &&', 'unexpected end of condition at column 5'],
    ['(a && b', "unexpected end of condition at column 8 (expected ')')"],
    ['(a && b c', "unexpected token 'c' at column 9 (expected ')')"],
    ['a && )', "unexpected token ')' at column 6"],
    ['== 1', "unexpected token '==' at column 1"],
    ["name == 'abc", 'unterminated string starting at column 9'],
    ["name == 'a\\qb'", "invalid escape '\\q' at column 11"],
    ["name == '\\u12'", "invalid escape '\\u12'' at column 10"],
    ['a < b < c', "unexpected token '<' at column 7 (comparisons cannot be chained; join them with && or ||)"],
    ['customer. == 1', "unexpected token '==' at column 11 (expected a field name after '.')"],
    ['old == 1', "'old' must be followed by '.' and a field name at column 1 (e.g. old.status)"],
    ['new', "'new' must be followed by '.' and a field name at column 1 (e.g. new.status)"],
    ["changed('x')", "unknown function 'changed' at column 1 (expected one of has_field, field_changed, field_changed_to, field_changed_from)"],
    ['has_field()', 'has_field expects 1 argument, got 0 at column 1'],
    ["a && has_field('x', 'y')", 'has_field expects 1 argument, got 2 at column 6'],
    ["field_changed_to('status')", 'field_changed_to expects 2 arguments, got 1 at column 1'],
    ['has_field(status)', "has_field argument 1 must be a quoted field name, e.g. 'status' at column 11"],
    ['has_field(42)', "has_field argument 1 must be a quoted field name, e.g. 'status' at column 11"],
    ["field_changed_to('status', other)", 'field_changed_to argument 2 must be a literal value at column 28'],
    ["has_field('a..b')", "invalid field name 'a..b' at column 11"],
    ["has_field('a b')", "invalid field name 'a b' at column 11"],
    ["field_changed('old.status')", "field_changed compares old and new itself; name the field without 'old.' at column 15"],
    ["'shipped'", "expected a condition but found the value 'shipped' at column 1"],
    ['1 && a', 'expected a condition but found the value 1 at column 1'],
    ['a || null', 'expected a condition but found the value null at column 6'],
    ['!0', 'expected a condition but found the value 0 at column 2'],
    ['a &&\n  b &', "unexpected token '&' at line 2, column 5 (did you mean '&&'?)"],
  ])('%s', (source, message) => {
    const err = syntaxErrorOf(source);
    expect(err.message).toBe(message);
  });

  it('reports the column as a number too', () => {
    expect(syntaxErrorOf("status == 'shipped' & x").column).toBe(21);
  });

  it('rejects an empty condition', () => {
    expect(syntaxErrorOf('   ').message).toBe('the condition is empty');
  });
});

describe('compileCondition', () => {
  it('compiles once and keeps the source', () => {
    const condition = compileCondition("status == 'shipped'");
    expect(condition.source).toBe("status == 'shipped'");
    expect(condition({ data: { status: 'shipped' }, before: null, updatedFields: null })).toBe(true);
    expect(condition({ data: { status: 'new' }, before: null, updatedFields: null })).toBe(false);
  });

  it('throws the syntax error at compile time', () => {
    expect(() => compileCondition('a &&')).toThrow(ConditionSyntaxError);
  });
});
