import {
  compileListQuery,
  ListQueryError,
  type SearchAttributeType,
  type VisibilityRecord,
} from '../../src/embedded-temporal/visibility-query';

const registry: ReadonlyMap<string, SearchAttributeType> = new Map<string, SearchAttributeType>([
  ['CustomKeyword', 'Keyword'],
  ['Tags', 'KeywordList'],
  ['Description', 'Text'],
  ['Count', 'Int'],
  ['Score', 'Double'],
  ['Flag', 'Bool'],
  ['DueAt', 'Datetime'],
  ['Custom Attr', 'Keyword'],
  ['Odd`Name', 'Keyword'],
]);

const T0 = Date.parse('2024-01-02T03:04:05Z');

let seq = 0;
function rec(workflowId: string, overrides: Partial<VisibilityRecord> = {}): VisibilityRecord {
  seq++;
  return {
    workflowId,
    runId: `run-${workflowId}`,
    workflowType: 'OrderWorkflow',
    taskQueue: 'main',
    status: 'Running',
    startTime: T0 + seq,
    executionTime: T0 + seq,
    closeTime: null,
    historyLength: 10,
    searchAttributes: {},
    ...overrides,
  };
}

function sa(workflowId: string, searchAttributes: Record<string, unknown>, overrides: Partial<VisibilityRecord> = {}): VisibilityRecord {
  return rec(workflowId, { ...overrides, searchAttributes });
}

/** Workflow ids of the records the query selects, in the order it sorts them. */
function run(query: string, records: readonly VisibilityRecord[]): string[] {
  const q = compileListQuery(query, registry);
  return records
    .filter((r) => q.matches(r))
    .sort((a, b) => q.compare(a, b))
    .map((r) => r.workflowId);
}

/** Workflow ids selected, sorted alphabetically (for tests that are only about filtering). */
function pick(query: string, records: readonly VisibilityRecord[]): string[] {
  const q = compileListQuery(query, registry);
  return records
    .filter((r) => q.matches(r))
    .map((r) => r.workflowId)
    .sort();
}

function errorOf(query: string, reg: ReadonlyMap<string, SearchAttributeType> = registry): ListQueryError {
  try {
    compileListQuery(query, reg);
  } catch (err) {
    expect(err).toBeInstanceOf(ListQueryError);
    return err as ListQueryError;
  }
  throw new Error(`expected ${JSON.stringify(query)} to be rejected`);
}

function expectError(query: string, message: string, column?: number): void {
  const err = errorOf(query);
  expect(err.message).toBe(message);
  expect(err.name).toBe('ListQueryError');
  if (column !== undefined) expect(err.column).toBe(column);
}

describe('ListQueryError', () => {
  it('is an Error with its own name and an optional column', () => {
    const err = new ListQueryError('invalid query: boom', 3);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('ListQueryError');
    expect(err.message).toBe('invalid query: boom');
    expect(err.column).toBe(3);
    expect(new ListQueryError('x').column).toBeUndefined();
  });
});

describe('empty query and default order', () => {
  const a = rec('a', { startTime: 100, runId: 'r2' });
  const b = rec('b', { startTime: 300, runId: 'r1' });
  const c = rec('c', { startTime: 100, runId: 'r1' });
  const d = rec('d', { startTime: 200, runId: 'r9' });

  it.each(['', '   ', '\n\t '])('%j matches everything, StartTime DESC then RunId', (q) => {
    expect(run(q, [a, b, c, d])).toEqual(['b', 'd', 'c', 'a']);
  });

  it('uses the default order when only a filter is given', () => {
    expect(run("TaskQueue = 'main'", [a, b, c, d])).toEqual(['b', 'd', 'c', 'a']);
  });

  it('default compare is 0 only for records with the same start time and run id', () => {
    const q = compileListQuery('', registry);
    expect(q.compare(a, { ...a, workflowId: 'other' })).toBe(0);
    expect(q.compare(a, c)).toBeGreaterThan(0);
    expect(q.compare(c, a)).toBeLessThan(0);
  });

  it('has no groupBy unless asked', () => {
    expect(compileListQuery('', registry).groupBy).toBeUndefined();
    expect('groupBy' in compileListQuery("WorkflowId = 'x' ORDER BY RunId", registry)).toBe(false);
  });
});

describe('Keyword attributes', () => {
  const records = [
    sa('a', { CustomKeyword: 'apple' }),
    sa('b', { CustomKeyword: 'banana' }),
    sa('c', { CustomKeyword: 'cherry' }),
    sa('d', { CustomKeyword: 'Apple' }),
    sa('e', {}),
  ];

  it.each([
    ["CustomKeyword = 'apple'", ['a']],
    ["CustomKeyword != 'apple'", ['b', 'c', 'd']],
    ["CustomKeyword < 'banana'", ['a', 'd']],
    ["CustomKeyword <= 'banana'", ['a', 'b', 'd']],
    ["CustomKeyword > 'banana'", ['c']],
    ["CustomKeyword >= 'banana'", ['b', 'c']],
    ["CustomKeyword IN ('apple', 'cherry', 'kiwi')", ['a', 'c']],
    ["CustomKeyword NOT IN ('apple', 'cherry')", ['b', 'd']],
    ["CustomKeyword BETWEEN 'b' AND 'c'", ['b']],
    ["CustomKeyword BETWEEN 'apple' AND 'banana'", ['a', 'b']],
    ["CustomKeyword NOT BETWEEN 'apple' AND 'banana'", ['c', 'd']],
    ["CustomKeyword BETWEEN 'z' AND 'a'", []],
    ["CustomKeyword STARTS_WITH 'ap'", ['a']],
    ["CustomKeyword STARTS_WITH 'Ap'", ['d']],
    ["CustomKeyword STARTS_WITH ''", ['a', 'b', 'c', 'd']],
    ["CustomKeyword NOT STARTS_WITH 'ap'", ['b', 'c', 'd']],
    ['CustomKeyword IS NULL', ['e']],
    ['CustomKeyword IS NOT NULL', ['a', 'b', 'c', 'd']],
  ])('%s', (q, expected) => {
    expect(pick(q, records)).toEqual(expected);
  });

  it('compares exactly (case-sensitive, no trimming)', () => {
    const r = [sa('x', { CustomKeyword: 'Value ' }), sa('y', { CustomKeyword: 'value' })];
    expect(pick("CustomKeyword = 'value'", r)).toEqual(['y']);
    expect(pick("CustomKeyword = 'Value '", r)).toEqual(['x']);
  });

  it('handles long IN lists', () => {
    const values = Array.from({ length: 50 }, (_, i) => `'v${i}'`).join(', ');
    const r = [sa('in', { CustomKeyword: 'v42' }), sa('out', { CustomKeyword: 'v50' })];
    expect(pick(`CustomKeyword IN (${values})`, r)).toEqual(['in']);
    expect(pick(`CustomKeyword NOT IN (${values})`, r)).toEqual(['out']);
  });

  it('supports the system Keyword attributes', () => {
    const r = [
      rec('wf-1', { runId: 'run-1', workflowType: 'A', taskQueue: 'q1' }),
      rec('wf-2', { runId: 'run-2', workflowType: 'B', taskQueue: 'q2' }),
      rec('other', { runId: 'run-3', workflowType: 'A', taskQueue: 'q2' }),
    ];
    expect(pick("WorkflowId = 'wf-1'", r)).toEqual(['wf-1']);
    expect(pick("WorkflowId STARTS_WITH 'wf-'", r)).toEqual(['wf-1', 'wf-2']);
    expect(pick("RunId IN ('run-2', 'run-3')", r)).toEqual(['other', 'wf-2']);
    expect(pick("WorkflowType = 'A'", r)).toEqual(['other', 'wf-1']);
    expect(pick("TaskQueue != 'q1'", r)).toEqual(['other', 'wf-2']);
    expect(pick("WorkflowId > 'wf-1'", r)).toEqual(['wf-2']);
    expect(pick('WorkflowId IS NULL', r)).toEqual([]);
  });

  it('rejects unquoted and non-string values', () => {
    expectError('CustomKeyword = 5', "invalid query: 5 is not a valid Keyword for attribute 'CustomKeyword' at column 17 (quote string values)", 17);
    expectError('WorkflowId = true', "invalid query: true is not a valid Keyword for attribute 'WorkflowId' at column 14 (quote string values)");
    expectError("CustomKeyword STARTS_WITH 1", "invalid query: 1 is not a valid Keyword for attribute 'CustomKeyword' at column 27 (quote string values)");
  });
});

describe('ExecutionStatus', () => {
  const r = [
    rec('run', { status: 'Running' }),
    rec('done', { status: 'Completed' }),
    rec('fail', { status: 'Failed' }),
    rec('can', { status: 'Canceled' }),
    rec('term', { status: 'Terminated' }),
    rec('can2', { status: 'ContinuedAsNew' }),
    rec('to', { status: 'TimedOut' }),
  ];

  it.each([
    ["ExecutionStatus = 'Running'", ['run']],
    ["ExecutionStatus = 'running'", ['run']],
    ['ExecutionStatus = "COMPLETED"', ['done']],
    ["ExecutionStatus = 'WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW'", ['can2']],
    ["ExecutionStatus = 'ContinuedAsNew'", ['can2']],
    ["ExecutionStatus = 'TimedOut'", ['to']],
    ['ExecutionStatus = 3', ['fail']],
    ['ExecutionStatus = 7', ['to']],
    ["ExecutionStatus != 'Running'", ['can', 'can2', 'done', 'fail', 'term', 'to']],
    ["ExecutionStatus IN ('Failed', 'Terminated', 4)", ['can', 'fail', 'term']],
    ["ExecutionStatus NOT IN ('Running', 'Completed', 'Failed', 'Canceled', 'Terminated')", ['can2', 'to']],
    ["ExecutionStatus STARTS_WITH 'C'", ['can', 'can2', 'done']],
    ['ExecutionStatus IS NOT NULL', ['can', 'can2', 'done', 'fail', 'run', 'term', 'to']],
  ])('%s', (q, expected) => {
    expect(pick(q, r)).toEqual(expected);
  });

  it('rejects unknown statuses', () => {
    expectError(
      "ExecutionStatus = 'Paused'",
      "invalid query: 'Paused' is not a valid ExecutionStatus at column 19 (expected one of Running, Completed, Failed, Canceled, Terminated, ContinuedAsNew, TimedOut)",
    );
    expect(errorOf('ExecutionStatus = 0').message).toContain('0 is not a valid ExecutionStatus at column 19');
    expect(errorOf('ExecutionStatus = 8').message).toContain('8 is not a valid ExecutionStatus');
    expect(errorOf('ExecutionStatus = 1.5').message).toContain('1.5 is not a valid ExecutionStatus');
    expect(errorOf("ExecutionStatus IN ('Running', 'Nope')").message).toContain("'Nope' is not a valid ExecutionStatus at column 32");
  });
});

describe('KeywordList attributes', () => {
  const records = [
    sa('ab', { Tags: ['alpha', 'beta'] }),
    sa('bc', { Tags: ['beta', 'gamma'] }),
    sa('single', { Tags: 'alpha' }),
    sa('empty', { Tags: [] }),
    sa('none', {}),
  ];

  it.each([
    ["Tags = 'alpha'", ['ab', 'single']],
    ["Tags = 'beta'", ['ab', 'bc']],
    ["Tags = 'alp'", []],
    ["Tags != 'alpha'", ['bc']],
    ["Tags IN ('gamma', 'alpha')", ['ab', 'bc', 'single']],
    ["Tags IN ('delta')", []],
    ["Tags NOT IN ('alpha', 'delta')", ['bc']],
    ["Tags STARTS_WITH 'gam'", ['bc']],
    ["Tags STARTS_WITH 'a'", ['ab', 'single']],
    ["Tags NOT STARTS_WITH 'a'", ['bc']],
    ['Tags IS NULL', ['empty', 'none']],
    ['Tags IS NOT NULL', ['ab', 'bc', 'single']],
  ])('%s', (q, expected) => {
    expect(pick(q, records)).toEqual(expected);
  });

  it('ignores non-string elements', () => {
    const r = [sa('mixed', { Tags: [1, null, 'ok'] })];
    expect(pick("Tags STARTS_WITH 'o'", r)).toEqual(['mixed']);
    expect(pick("Tags = 'ok'", r)).toEqual(['mixed']);
    expect(pick("Tags = '1'", r)).toEqual([]);
  });

  it.each([
    ["Tags > 'a'", 'invalid query: operator > is not supported for attribute of type KeywordList at column 6'],
    ["Tags <= 'a'", 'invalid query: operator <= is not supported for attribute of type KeywordList at column 6'],
    ["Tags BETWEEN 'a' AND 'b'", 'invalid query: operator BETWEEN is not supported for attribute of type KeywordList at column 6'],
    ["Tags NOT BETWEEN 'a' AND 'b'", 'invalid query: operator NOT BETWEEN is not supported for attribute of type KeywordList at column 6'],
    ['Tags = 1', "invalid query: 1 is not a valid KeywordList for attribute 'Tags' at column 8 (quote string values)"],
  ])('rejects %s', (q, message) => {
    expectError(q, message);
  });
});

describe('Text attributes', () => {
  const records = [
    sa('t1', { Description: 'The quick brown fox jumps over the lazy dog' }),
    sa('t2', { Description: 'Quick-thinking FOXES, brown bears' }),
    sa('t3', { Description: 'nothing to see' }),
    sa('t4', {}),
  ];

  it.each([
    ["Description = 'quick'", ['t1', 't2']],
    ["Description = 'QUICK brown'", ['t1', 't2']],
    ["Description = 'brown quick'", ['t1', 't2']],
    ["Description = 'quick fox'", ['t1']],
    ["Description = 'fox'", ['t1']],
    ["Description = 'foxes'", ['t2']],
    ["Description = 'qui'", []],
    ["Description = 'lazy, dog!'", ['t1']],
    ["Description != 'quick'", ['t3']],
    ['Description IS NULL', ['t4']],
  ])('%s', (q, expected) => {
    expect(pick(q, records)).toEqual(expected);
  });

  it('matches non-ASCII words as whole words', () => {
    const r = [
      sa('de', { Description: 'Größe über alles' }),
      sa('de2', { Description: 'Größenwahn' }),
      sa('emoji', { Description: '😀fox😀 x' }),
      sa('glued', { Description: 'fox𝐀' }),
      sa('repeat', { Description: 'foxfox fox' }),
    ];
    expect(pick("Description = 'größe'", r)).toEqual(['de']);
    expect(pick("Description = 'ÜBER'", r)).toEqual(['de']);
    // 😀 is not a letter, so it separates words; 𝐀 (a surrogate pair) is a letter and does not.
    expect(pick("Description = 'fox'", r)).toEqual(['emoji', 'repeat']);
  });

  it.each([
    ["Description IN ('a')", 'invalid query: operator IN is not supported for attribute of type Text at column 13'],
    ["Description NOT IN ('a')", 'invalid query: operator NOT IN is not supported for attribute of type Text at column 13'],
    ["Description STARTS_WITH 'a'", 'invalid query: operator STARTS_WITH is not supported for attribute of type Text at column 13'],
    ["Description > 'a'", 'invalid query: operator > is not supported for attribute of type Text at column 13'],
    ["Description BETWEEN 'a' AND 'b'", 'invalid query: operator BETWEEN is not supported for attribute of type Text at column 13'],
    ["Description = ' - '", "invalid query: ' - ' contains no words to search for in Text attribute 'Description' at column 15"],
    ["Description = ''", "invalid query: '' contains no words to search for in Text attribute 'Description' at column 15"],
    ['Description = 3', "invalid query: 3 is not a valid Text for attribute 'Description' at column 15 (quote string values)"],
  ])('rejects %s', (q, message) => {
    expectError(q, message);
  });
});

describe('Int attributes', () => {
  const records = [sa('n1', { Count: -5 }), sa('n2', { Count: 0 }), sa('n3', { Count: 7 }), sa('n4', { Count: 42 }), sa('n5', {})];

  it.each([
    ['Count = 7', ['n3']],
    ["Count = '7'", ['n3']],
    ["Count = ' 7 '", ['n3']],
    ['Count = 7.0', ['n3']],
    ['Count = -5', ['n1']],
    ["Count = '-5'", ['n1']],
    ['Count != 7', ['n1', 'n2', 'n4']],
    ['Count > 0', ['n3', 'n4']],
    ['Count >= 0', ['n2', 'n3', 'n4']],
    ['Count < 0', ['n1']],
    ['Count <= 7', ['n1', 'n2', 'n3']],
    ['Count > 6.5', ['n3', 'n4']],
    ['Count > -10', ['n1', 'n2', 'n3', 'n4']],
    ['Count > +6', ['n3', 'n4']],
    ['Count IN (0, 42, 1000)', ['n2', 'n4']],
    ["Count IN ('0', 42)", ['n2', 'n4']],
    ['Count NOT IN (0, 42)', ['n1', 'n3']],
    ['Count BETWEEN 0 AND 7', ['n2', 'n3']],
    ['Count NOT BETWEEN 0 AND 7', ['n1', 'n4']],
    ['Count BETWEEN -5 AND -5', ['n1']],
    ['Count IS NULL', ['n5']],
    ['Count IS NOT NULL', ['n1', 'n2', 'n3', 'n4']],
    ['Count>=7', ['n3', 'n4']],
    ['Count > 4.2e1', []],
    ['Count >= 4.2E1', ['n4']],
  ])('%s', (q, expected) => {
    expect(pick(q, records)).toEqual(expected);
  });

  it('treats HistoryLength as a system Int', () => {
    const r = [rec('short', { historyLength: 3 }), rec('long', { historyLength: 3000 })];
    expect(pick('HistoryLength > 100', r)).toEqual(['long']);
    expect(pick('HistoryLength BETWEEN 1 AND 10', r)).toEqual(['short']);
  });

  it.each([
    ["Count = 'abc'", "invalid query: 'abc' is not a valid Int for attribute 'Count' at column 9"],
    ["Count = ''", "invalid query: '' is not a valid Int for attribute 'Count' at column 9"],
    ["Count = '1h'", "invalid query: '1h' is not a valid Int for attribute 'Count' at column 9"],
    ['Count = true', "invalid query: true is not a valid Int for attribute 'Count' at column 9"],
    ["Count STARTS_WITH '1'", 'invalid query: operator STARTS_WITH is not supported for attribute of type Int at column 7'],
    ["Count NOT STARTS_WITH '1'", 'invalid query: operator NOT STARTS_WITH is not supported for attribute of type Int at column 7'],
    ["Count BETWEEN 1 AND 'x'", "invalid query: 'x' is not a valid Int for attribute 'Count' at column 21"],
  ])('rejects %s', (q, message) => {
    expectError(q, message);
  });
});

describe('Double attributes', () => {
  const records = [sa('d1', { Score: 0.5 }), sa('d2', { Score: 1.25 }), sa('d3', { Score: -3 }), sa('d4', { Score: Number.NaN }), sa('d5', {})];

  it.each([
    ['Score = 0.5', ['d1']],
    ['Score = .5', ['d1']],
    ["Score = '1.25'", ['d2']],
    ['Score != 0.5', ['d2', 'd3']],
    ['Score > 0.5', ['d2']],
    ['Score >= 0.5', ['d1', 'd2']],
    ['Score < 0', ['d3']],
    ['Score <= 1.25', ['d1', 'd2', 'd3']],
    ['Score > -3.5', ['d1', 'd2', 'd3']],
    ['Score IN (1.25, -3)', ['d2', 'd3']],
    ['Score NOT IN (1.25)', ['d1', 'd3']],
    ['Score BETWEEN 0 AND 1', ['d1']],
    ['Score NOT BETWEEN 0 AND 1', ['d2', 'd3']],
    ['Score IS NULL', ['d4', 'd5']],
    ['Score = 5e-1', ['d1']],
  ])('%s', (q, expected) => {
    expect(pick(q, records)).toEqual(expected);
  });

  it('rejects non-numbers and string operators', () => {
    expectError("Score > 'x1'", "invalid query: 'x1' is not a valid Double for attribute 'Score' at column 9");
    expectError("Score STARTS_WITH '1'", 'invalid query: operator STARTS_WITH is not supported for attribute of type Double at column 7');
  });
});

describe('Bool attributes', () => {
  const records = [sa('yes', { Flag: true }), sa('no', { Flag: false }), sa('str', { Flag: 'true' }), sa('unset', {})];

  it.each([
    ['Flag = true', ['yes']],
    ['Flag = TRUE', ['yes']],
    ['Flag = false', ['no']],
    ["Flag = 'true'", ['yes']],
    ['Flag = "False"', ['no']],
    ['Flag != true', ['no']],
    ['Flag IN (true, false)', ['no', 'yes']],
    ['Flag NOT IN (true)', ['no']],
    ['Flag IS NULL', ['str', 'unset']],
    ['Flag IS NOT NULL', ['no', 'yes']],
  ])('%s', (q, expected) => {
    expect(pick(q, records)).toEqual(expected);
  });

  it.each([
    ['Flag = 1', "invalid query: 1 is not a valid Bool for attribute 'Flag' at column 8 (use true or false)"],
    ["Flag = 'yes'", "invalid query: 'yes' is not a valid Bool for attribute 'Flag' at column 8 (use true or false)"],
    ['Flag > false', 'invalid query: operator > is not supported for attribute of type Bool at column 6'],
    ['Flag BETWEEN false AND true', 'invalid query: operator BETWEEN is not supported for attribute of type Bool at column 6'],
    ["Flag STARTS_WITH 't'", 'invalid query: operator STARTS_WITH is not supported for attribute of type Bool at column 6'],
  ])('rejects %s', (q, message) => {
    expectError(q, message);
  });
});

describe('Datetime attributes', () => {
  const jan1 = Date.parse('2024-01-01T00:00:00Z');
  const records = [
    sa('early', { DueAt: jan1 }),
    sa('exact', { DueAt: jan1 + 3_600_000 }),
    sa('milli', { DueAt: jan1 + 3_600_000 + 500 }),
    sa('late', { DueAt: Date.parse('2024-06-01T00:00:00Z') }),
    sa('unset', {}),
  ];

  it.each([
    ["DueAt = '2024-01-01T01:00:00Z'", ['exact']],
    ["DueAt = '2024-01-01T01:00:00.000Z'", ['exact']],
    ["DueAt = '2024-01-01T01:00:00.500Z'", ['milli']],
    ["DueAt = '2024-01-01T01:00:00.5Z'", ['milli']],
    ["DueAt = '2024-01-01T01:00:00.500000000Z'", ['milli']],
    ["DueAt = '2024-01-01T01:00:00.5001Z'", []],
    ["DueAt = '2024-01-01T03:00:00+02:00'", ['exact']],
    ["DueAt = '2023-12-31T20:00:00-05:00'", ['exact']],
    ["DueAt = '2024-01-01t01:00:00z'", ['exact']],
    ["DueAt != '2024-01-01T01:00:00Z'", ['early', 'late', 'milli']],
    ["DueAt > '2024-01-01T01:00:00Z'", ['late', 'milli']],
    ["DueAt > '2024-01-01T01:00:00.4999Z'", ['late', 'milli']],
    ["DueAt >= '2024-01-01T01:00:00Z'", ['exact', 'late', 'milli']],
    ["DueAt < '2024-01-01T01:00:00.0001Z'", ['early', 'exact']],
    ["DueAt <= '2024-01-01T01:00:00Z'", ['early', 'exact']],
    ["DueAt BETWEEN '2024-01-01T00:30:00Z' AND '2024-01-01T01:00:00.5Z'", ['exact', 'milli']],
    ["DueAt NOT BETWEEN '2024-01-01T00:30:00Z' AND '2024-01-01T01:00:00.5Z'", ['early', 'late']],
    ["DueAt IN ('2024-01-01T00:00:00Z', '2024-06-01T02:00:00+02:00')", ['early', 'late']],
    ["DueAt NOT IN ('2024-01-01T00:00:00Z')", ['exact', 'late', 'milli']],
    [`DueAt = ${(jan1 + 3_600_000) * 1_000_000}`, ['exact']],
    [`DueAt > ${BigInt(jan1 + 3_600_000) * 1_000_000n + 499_999_999n}`, ['late', 'milli']],
    ['DueAt IS NULL', ['unset']],
  ])('%s', (q, expected) => {
    expect(pick(q, records)).toEqual(expected);
  });

  it('supports StartTime, ExecutionTime and CloseTime', () => {
    const open = rec('open', { startTime: jan1, executionTime: jan1 + 60_000, closeTime: null });
    const closed = rec('closed', { startTime: jan1 + 1000, executionTime: jan1 + 1000, closeTime: jan1 + 120_000 });
    const r = [open, closed];
    expect(pick("StartTime > '2024-01-01T00:00:00Z'", r)).toEqual(['closed']);
    expect(pick("StartTime >= '2024-01-01T00:00:00Z'", r)).toEqual(['closed', 'open']);
    expect(pick("ExecutionTime > '2024-01-01T00:00:30Z'", r)).toEqual(['open']);
    expect(pick('CloseTime IS NULL', r)).toEqual(['open']);
    expect(pick('CloseTime IS NOT NULL', r)).toEqual(['closed']);
    expect(pick("CloseTime < '2030-01-01T00:00:00Z'", r)).toEqual(['closed']);
    expect(pick("CloseTime != '2030-01-01T00:00:00Z'", r)).toEqual(['closed']);
  });

  it.each([
    ["DueAt > 'yesterday'", "invalid query: 'yesterday' is not a valid Datetime for attribute 'DueAt' at column 9 (use RFC 3339 such as '2024-01-02T03:04:05Z')"],
    ["DueAt > '2024-01-02'", "invalid query: '2024-01-02' is not a valid Datetime for attribute 'DueAt' at column 9 (use RFC 3339 such as '2024-01-02T03:04:05Z')"],
    ["StartTime > '2024-01-02T03:04:05'", "invalid query: '2024-01-02T03:04:05' is not a valid Datetime for attribute 'StartTime' at column 13 (use RFC 3339 such as '2024-01-02T03:04:05Z')"],
    ["DueAt > '2024-13-02T03:04:05Z'", "invalid query: '2024-13-02T03:04:05Z' is not a valid Datetime for attribute 'DueAt' at column 9 (use RFC 3339 such as '2024-01-02T03:04:05Z')"],
    ["DueAt > '2023-02-29T03:04:05Z'", "invalid query: '2023-02-29T03:04:05Z' is not a valid Datetime for attribute 'DueAt' at column 9 (use RFC 3339 such as '2024-01-02T03:04:05Z')"],
    ['DueAt > 1.5', "invalid query: 1.5 is not a valid Datetime for attribute 'DueAt' at column 9 (use RFC 3339 such as '2024-01-02T03:04:05Z')"],
    ['DueAt > true', "invalid query: true is not a valid Datetime for attribute 'DueAt' at column 9 (use RFC 3339 such as '2024-01-02T03:04:05Z')"],
    ["DueAt STARTS_WITH '2024'", 'invalid query: operator STARTS_WITH is not supported for attribute of type Datetime at column 7'],
  ])('rejects %s', (q, message) => {
    expectError(q, message);
  });
});

describe('RFC 3339 literals', () => {
  const dueAt = (query: string, ms: number): boolean => compileListQuery(query, registry).matches(sa('x', { DueAt: ms }));

  it.each([
    ['2024-01-02T03:04:05Z', Date.UTC(2024, 0, 2, 3, 4, 5)],
    ['2024-01-02T03:04:05.123Z', Date.UTC(2024, 0, 2, 3, 4, 5, 123)],
    ['2024-01-02T03:04:05.1Z', Date.UTC(2024, 0, 2, 3, 4, 5, 100)],
    ['2024-01-02T03:04:05+05:30', Date.UTC(2024, 0, 1, 21, 34, 5)],
    ['2024-01-02T03:04:05.250-00:45', Date.UTC(2024, 0, 2, 3, 49, 5, 250)],
    ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
    ['1969-12-31T23:59:59.999Z', -1],
    ['0001-01-01T00:00:00Z', -62135596800000],
    ['0099-03-01T00:00:00Z', -59037897600000],
  ])('%s is the instant %d', (text, ms) => {
    expect(dueAt(`DueAt = '${text}'`, ms)).toBe(true);
    expect(dueAt(`DueAt = '${text}'`, ms + 1)).toBe(false);
    expect(dueAt(`DueAt = '${text}'`, ms - 1)).toBe(false);
  });

  it.each([
    ['2024-01-02T03:04:05.123456789Z', Date.UTC(2024, 0, 2, 3, 4, 5, 123)],
    ['2024-01-02T03:04:05.999999999Z', Date.UTC(2024, 0, 2, 3, 4, 5, 999)],
    ['2024-01-02T03:04:05.000001Z', Date.UTC(2024, 0, 2, 3, 4, 5)],
    ['1969-12-31T23:59:59.9999Z', -1],
  ])('%s lies strictly inside millisecond %d', (text, ms) => {
    expect(dueAt(`DueAt = '${text}'`, ms)).toBe(false);
    expect(dueAt(`DueAt > '${text}'`, ms)).toBe(false);
    expect(dueAt(`DueAt < '${text}'`, ms)).toBe(true);
    expect(dueAt(`DueAt > '${text}'`, ms + 1)).toBe(true);
    expect(dueAt(`DueAt <= '${text}'`, ms + 1)).toBe(false);
  });

  it.each([
    '2024-01-02 03:04:05Z',
    '2024-01-02T24:00:00Z',
    '2024-01-02T03:60:05Z',
    '2024-01-02T03:04:60Z',
    '2024-04-31T00:00:00Z',
    '2024-00-10T00:00:00Z',
    '2024-01-00T00:00:00Z',
    '2024-01-02T03:04:05+24:00',
    '2024-01-02T03:04:05+05:60',
    '2024-01-02T03:04:05.Z',
    '2024-01-02T03:04:05.1234567890Z',
    '24-01-02T03:04:05Z',
    ' 2024-01-02T03:04:05Z',
  ])('rejects %j', (text) => {
    expect(errorOf(`DueAt = '${text}'`).message).toContain(`is not a valid Datetime for attribute 'DueAt' at column 9`);
  });
});

describe('ExecutionDuration', () => {
  const r = [
    rec('fast', { executionTime: 1000, closeTime: 1000 + 500 }),
    rec('minute', { executionTime: 1000, closeTime: 1000 + 60_000 }),
    rec('slow', { executionTime: 1000, closeTime: 1000 + 2 * 3_600_000 }),
    rec('open', { executionTime: 1000, closeTime: null }),
  ];

  it.each([
    ['ExecutionDuration > 1000000000', ['minute', 'slow']],
    ['ExecutionDuration = 500000000', ['fast']],
    ["ExecutionDuration = '500000000'", ['fast']],
    ["ExecutionDuration = '500ms'", ['fast']],
    ["ExecutionDuration = '0.5s'", ['fast']],
    ["ExecutionDuration = '1m'", ['minute']],
    ["ExecutionDuration = '00:01:00'", ['minute']],
    ["ExecutionDuration > '1h'", ['slow']],
    ["ExecutionDuration = '1h60m'", ['slow']],
    ["ExecutionDuration >= '2H'", ['slow']],
    ["ExecutionDuration < '1d'", ['fast', 'minute', 'slow']],
    ["ExecutionDuration < '500000us'", []],
    ["ExecutionDuration BETWEEN '1s' AND '2h'", ['minute', 'slow']],
    ["ExecutionDuration NOT BETWEEN '1s' AND '1h'", ['fast', 'slow']],
    ["ExecutionDuration IN ('500ms', '1m')", ['fast', 'minute']],
    ["ExecutionDuration != '1m'", ['fast', 'slow']],
    ['ExecutionDuration IS NULL', ['open']],
    ["ExecutionDuration > '-1s'", ['fast', 'minute', 'slow']],
    ['ExecutionDuration = 5e8', ['fast']],
    ['ExecutionDuration > 499999999', ['fast', 'minute', 'slow']],
    ['ExecutionDuration < 500000001', ['fast']],
    ['ExecutionDuration > 500000001', ['minute', 'slow']],
    ["ExecutionDuration = '.5s'", ['fast']],
    ["ExecutionDuration = '0.0001m'", []],
    ["ExecutionDuration = '59.5s500ms'", ['minute']],
    ["ExecutionDuration = '1h30m' OR ExecutionDuration = '0h2h'", ['slow']],
  ])('%s', (q, expected) => {
    expect(pick(q, r)).toEqual(expected);
  });

  it('computes fractional durations exactly', () => {
    const q = compileListQuery("ExecutionDuration = '1.1s'", registry);
    expect(q.matches(rec('x', { executionTime: 0, closeTime: 1100 }))).toBe(true);
    expect(compileListQuery("ExecutionDuration = '0.3s'", registry).matches(rec('y', { executionTime: 0, closeTime: 300 }))).toBe(true);
  });

  it.each(["'soon'", "'1x'", "'1h-2m'", "'01:75:00'", "''", "'h'", "'1.5.5s'", 'true', '1.5'])('rejects %s', (value) => {
    expectError(
      `ExecutionDuration > ${value}`,
      `invalid query: ${value} is not a valid duration for attribute 'ExecutionDuration' at column 21 (use integer nanoseconds or a duration such as '1h30m', '250ms' or '00:05:00')`,
    );
  });
});

describe('missing attributes', () => {
  const present = sa('present', { Count: 1, CustomKeyword: 'k', Tags: ['k'], Description: 'k', Flag: true, DueAt: 5, Score: 1 });
  const missing = sa('missing', {});

  it.each([
    'Count = 2',
    'Count != 2',
    'Count < 2',
    'Count IN (2)',
    'Count NOT IN (2)',
    'Count BETWEEN 5 AND 6',
    'Count NOT BETWEEN 5 AND 6',
    "CustomKeyword != 'x'",
    "CustomKeyword NOT STARTS_WITH 'x'",
    "Tags != 'x'",
    "Tags NOT IN ('x')",
    "Tags NOT STARTS_WITH 'x'",
    "Description != 'x'",
    'Flag != false',
    "DueAt != '2024-01-01T00:00:00Z'",
    'Score NOT IN (2)',
    'NOT Count = 2',
    'NOT (Count = 2)',
    'NOT (Count = 2 OR Count = 3)',
    'NOT (Count = 1 AND Count = 2)',
  ])('%s never matches a record without the attribute', (q) => {
    expect(pick(q, [missing])).toEqual([]);
  });

  it('IS NULL matches and negations of IS NULL follow it', () => {
    expect(pick('Count IS NULL', [present, missing])).toEqual(['missing']);
    expect(pick('NOT Count IS NULL', [present, missing])).toEqual(['present']);
    expect(pick('NOT Count IS NOT NULL', [present, missing])).toEqual(['missing']);
    expect(pick('Count IS NULL OR Count != 1', [present, missing])).toEqual(['missing']);
  });

  it('treats wrongly typed stored values as missing', () => {
    const odd = sa('odd', { Count: '5', CustomKeyword: 5, Flag: 'yes', DueAt: '2024-01-01T00:00:00Z', Score: Infinity, Tags: 7 });
    expect(pick('Count IS NULL AND CustomKeyword IS NULL AND Flag IS NULL AND DueAt IS NULL AND Score IS NULL AND Tags IS NULL', [odd])).toEqual(['odd']);
    expect(pick('Count = 5 OR Count != 5', [odd])).toEqual([]);
  });

  it('treats null and undefined as missing', () => {
    const r = [sa('n', { CustomKeyword: null }), sa('u', { CustomKeyword: undefined })];
    expect(pick('CustomKeyword IS NULL', r)).toEqual(['n', 'u']);
  });
});

describe('boolean logic', () => {
  const r = [
    sa('a1', { CustomKeyword: 'a', Count: 1 }),
    sa('a2', { CustomKeyword: 'a', Count: 2 }),
    sa('b1', { CustomKeyword: 'b', Count: 1 }),
    sa('b2', { CustomKeyword: 'b', Count: 2 }),
    sa('c1', { CustomKeyword: 'c', Count: 1 }),
  ];

  it.each([
    ["CustomKeyword = 'a' AND Count = 1", ['a1']],
    ["CustomKeyword = 'a' OR Count = 1", ['a1', 'a2', 'b1', 'c1']],
    // AND binds tighter than OR.
    ["CustomKeyword = 'a' OR CustomKeyword = 'b' AND Count = 2", ['a1', 'a2', 'b2']],
    ["CustomKeyword = 'b' AND Count = 2 OR CustomKeyword = 'a'", ['a1', 'a2', 'b2']],
    ["(CustomKeyword = 'a' OR CustomKeyword = 'b') AND Count = 2", ['a2', 'b2']],
    ["((CustomKeyword = 'a') OR ((CustomKeyword = 'b'))) AND (Count = 2)", ['a2', 'b2']],
    ["CustomKeyword = 'a' AND Count = 1 OR CustomKeyword = 'b' AND Count = 2 OR CustomKeyword = 'c'", ['a1', 'b2', 'c1']],
    ["CustomKeyword = 'a' AND (Count = 1 OR Count = 2) AND Count != 2", ['a1']],
    ["NOT CustomKeyword = 'a'", ['b1', 'b2', 'c1']],
    ["NOT CustomKeyword = 'a' AND Count = 1", ['b1', 'c1']],
    ["NOT (CustomKeyword = 'a' AND Count = 1)", ['a2', 'b1', 'b2', 'c1']],
    ["NOT (CustomKeyword = 'a' OR Count = 1)", ['b2']],
    ["NOT NOT CustomKeyword = 'a'", ['a1', 'a2']],
    ["NOT (CustomKeyword IN ('a', 'b'))", ['c1']],
    ["NOT (CustomKeyword NOT IN ('a', 'b'))", ['a1', 'a2', 'b1', 'b2']],
    ['NOT (Count BETWEEN 2 AND 3)', ['a1', 'b1', 'c1']],
    ["Count = 1 AND Count = 1 AND Count = 1 AND CustomKeyword != 'c'", ['a1', 'b1']],
    ["Count = 9 OR Count = 8 OR Count = 7 OR CustomKeyword = 'c'", ['c1']],
  ])('%s', (q, expected) => {
    expect(pick(q, r)).toEqual(expected);
  });

  it('keeps BETWEEN ... AND apart from the logical AND', () => {
    expect(pick("Count BETWEEN 1 AND 1 AND CustomKeyword = 'b'", r)).toEqual(['b1']);
    expect(pick("CustomKeyword = 'c' OR Count BETWEEN 2 AND 5 AND CustomKeyword = 'a'", r)).toEqual(['a2', 'c1']);
  });
});

describe('lexical details', () => {
  it('accepts keywords in any case', () => {
    const r = [sa('x', { CustomKeyword: 'a', Count: 1, Tags: ['t'] }), sa('y', { CustomKeyword: 'b' })];
    expect(pick("CustomKeyword = 'a' and Count = 1 Or CustomKeyword = 'b'", r)).toEqual(['x', 'y']);
    expect(pick("CustomKeyword in ('a') aNd Count between 0 And 2", r)).toEqual(['x']);
    expect(pick("CustomKeyword not in ('a')", r)).toEqual(['y']);
    expect(pick("CustomKeyword starts_with 'b'", r)).toEqual(['y']);
    expect(pick("Tags Not Starts_With 'q'", r)).toEqual(['x']);
    expect(pick('Count is not null', r)).toEqual(['x']);
    expect(pick('Count Is Null', r)).toEqual(['y']);
    expect(pick('not Count is null', r)).toEqual(['x']);
    expect(run("CustomKeyword IS NOT NULL order by CustomKeyword desc", r)).toEqual(['y', 'x']);
  });

  it('treats attribute names as case-sensitive, with a hint', () => {
    expectError("customkeyword = 'a'", "invalid query: unknown search attribute 'customkeyword' at column 1 (did you mean 'CustomKeyword'?)", 1);
    expectError("workflowid = 'a'", "invalid query: unknown search attribute 'workflowid' at column 1 (did you mean 'WorkflowId'?)");
  });

  it('accepts single- and double-quoted strings with escapes', () => {
    const r = [
      sa('apos', { CustomKeyword: "it's" }),
      sa('quote', { CustomKeyword: 'say "hi"' }),
      sa('back', { CustomKeyword: 'a\\b' }),
      sa('nl', { CustomKeyword: 'line1\nline2' }),
      sa('tab', { CustomKeyword: 'a\tb' }),
      sa('plain', { CustomKeyword: 'plain' }),
    ];
    expect(pick("CustomKeyword = 'it''s'", r)).toEqual(['apos']);
    expect(pick("CustomKeyword = 'it\\'s'", r)).toEqual(['apos']);
    expect(pick('CustomKeyword = "it\'s"', r)).toEqual(['apos']);
    expect(pick('CustomKeyword = "say ""hi"""', r)).toEqual(['quote']);
    expect(pick('CustomKeyword = "say \\"hi\\""', r)).toEqual(['quote']);
    expect(pick("CustomKeyword = 'say \"hi\"'", r)).toEqual(['quote']);
    expect(pick("CustomKeyword = 'a\\\\b'", r)).toEqual(['back']);
    expect(pick("CustomKeyword = 'line1\\nline2'", r)).toEqual(['nl']);
    expect(pick("CustomKeyword = 'a\\tb'", r)).toEqual(['tab']);
    expect(pick("CustomKeyword = 'pl\\ain'", r)).toEqual(['plain']);
    expect(pick('CustomKeyword = "plain"', r)).toEqual(['plain']);
  });

  it('accepts back-quoted attribute names', () => {
    const r = [sa('x', { 'Custom Attr': 'v', 'Odd`Name': 'w' }), rec('y')];
    expect(pick("`Custom Attr` = 'v'", r)).toEqual(['x']);
    expect(pick("`Odd``Name` = 'w'", r)).toEqual(['x']);
    expect(pick("`WorkflowId` = 'y'", r)).toEqual(['y']);
    expect(pick("`Custom Attr` IS NULL", r)).toEqual(['y']);
    expect(run('ORDER BY `Custom Attr`', r)).toEqual(['x', 'y']);
  });

  it('tolerates any whitespace and no whitespace', () => {
    const r = [sa('x', { CustomKeyword: 'a', Count: 3 })];
    expect(pick("\n  CustomKeyword='a'\tAND(Count>=3)\r\n", r)).toEqual(['x']);
    expect(pick("CustomKeyword IN('a','b')AND(Count BETWEEN 1 AND 5)", r)).toEqual(['x']);
  });

  it('accepts unicode in strings and attribute names', () => {
    const reg = new Map<string, SearchAttributeType>([['Größe', 'Keyword']]);
    const q = compileListQuery("Größe = 'ßü😀'", reg);
    expect(q.matches(sa('x', { Größe: 'ßü😀' }))).toBe(true);
    expect(q.matches(sa('y', { Größe: 'ssu' }))).toBe(false);
  });
});

describe('execution tree and size attributes', () => {
  const child = rec('child', { parentWorkflowId: 'parent', parentRunId: 'run-parent', rootWorkflowId: 'root', rootRunId: 'run-root', stateTransitionCount: 12, historySizeBytes: 4096 });
  const top = rec('top', { stateTransitionCount: 3, historySizeBytes: 900 });

  it('filters on the parent: absent on a run without one (the Web UI\'s "Parent Workflows" view)', () => {
    expect(pick('`ParentWorkflowId` is null', [child, top])).toEqual(['top']);
    expect(pick("ParentWorkflowId = 'parent' AND ParentRunId = 'run-parent'", [child, top])).toEqual(['child']);
  });

  it('takes a run without a recorded root as its own root', () => {
    expect(pick('RootWorkflowId = "top" AND RootRunId = "run-top"', [child, top])).toEqual(['top']);
    expect(pick("RootWorkflowId = 'root'", [child, top])).toEqual(['child']);
  });

  it('compares and orders by StateTransitionCount and HistorySizeBytes as integers', () => {
    expect(pick('StateTransitionCount > 5', [child, top])).toEqual(['child']);
    expect(pick('HistorySizeBytes BETWEEN 100 AND 1000', [child, top])).toEqual(['top']);
    expect(run('ORDER BY HistorySizeBytes DESC', [top, child])).toEqual(['child', 'top']);
    expect(pick('StateTransitionCount IS NULL', [rec('unknown')])).toEqual(['unknown']);
  });

  it('rejects values of the wrong type', () => {
    expect(errorOf("HistorySizeBytes = 'big'", registry).message).toMatch(/^invalid query: 'big' is not a valid .* for attribute 'HistorySizeBytes'/);
  });
});

describe('attribute resolution', () => {
  it('resolves Temporal predefined attributes from searchAttributes', () => {
    const empty = new Map<string, SearchAttributeType>();
    const scheduled = sa('s', { TemporalScheduledById: 'sched-1', TemporalChangeVersion: ['v1-1'], TemporalSchedulePaused: false });
    const other = rec('o');
    const q = compileListQuery("TemporalScheduledById = 'sched-1' AND TemporalChangeVersion = 'v1-1' AND TemporalSchedulePaused = false", empty);
    expect(q.matches(scheduled)).toBe(true);
    expect(q.matches(other)).toBe(false);
    expect(compileListQuery("BuildIds STARTS_WITH 'unversioned'", empty).matches(sa('b', { BuildIds: ['unversioned'] }))).toBe(true);
    expect(compileListQuery('TemporalScheduledStartTime IS NULL', empty).matches(other)).toBe(true);
  });

  it('lets the registry override a predefined attribute but not a system one', () => {
    const reg = new Map<string, SearchAttributeType>([
      ['TemporalChangeVersion', 'Keyword'],
      ['WorkflowId', 'Int'],
    ]);
    expect(compileListQuery("TemporalChangeVersion > 'a'", reg).matches(sa('x', { TemporalChangeVersion: 'b' }))).toBe(true);
    expect(compileListQuery("WorkflowId = 'x'", reg).matches(rec('x'))).toBe(true);
  });

  it('rejects registry entries with an unknown type', () => {
    const reg = new Map([['Weird', 'Blob' as SearchAttributeType]]);
    expect(errorOf("Weird = 'x'", reg).message).toBe("invalid query: search attribute 'Weird' has unsupported type 'Blob' at column 1");
  });

  it('reports unknown attributes', () => {
    expectError("Foo = 'x'", "invalid query: unknown search attribute 'Foo' at column 1", 1);
    expectError("WorkflowId = 'x' AND Nope IS NULL", "invalid query: unknown search attribute 'Nope' at column 22", 22);
    expectError('ORDER BY Missing', "invalid query: unknown search attribute 'Missing' at column 10", 10);
    expectError('`Not There` IS NULL', "invalid query: unknown search attribute 'Not There' at column 1");
  });
});

describe('ORDER BY', () => {
  const r = [
    sa('a', { Count: 2, CustomKeyword: 'x', Flag: true }, { startTime: 10, runId: 'r-a', status: 'Failed' }),
    sa('b', { Count: 1, CustomKeyword: 'y', Flag: false }, { startTime: 20, runId: 'r-b', status: 'Completed' }),
    sa('c', { Count: 2, CustomKeyword: 'y' }, { startTime: 30, runId: 'r-c', status: 'Running' }),
    sa('d', { CustomKeyword: 'x' }, { startTime: 40, runId: 'r-d', status: 'Completed' }),
    sa('e', { Count: 1, CustomKeyword: 'x' }, { startTime: 20, runId: 'r-e', status: 'Running' }),
  ];

  it.each([
    ['ORDER BY Count', ['b', 'e', 'c', 'a', 'd']],
    ['ORDER BY Count ASC', ['b', 'e', 'c', 'a', 'd']],
    ['ORDER BY Count DESC', ['c', 'a', 'b', 'e', 'd']],
    ['ORDER BY Count DESC, StartTime ASC', ['a', 'c', 'b', 'e', 'd']],
    ['ORDER BY CustomKeyword, Count DESC', ['a', 'e', 'd', 'c', 'b']],
    ['ORDER BY CustomKeyword DESC, Count ASC, RunId DESC', ['b', 'c', 'e', 'a', 'd']],
    ['ORDER BY StartTime', ['a', 'b', 'e', 'c', 'd']],
    ['ORDER BY StartTime DESC', ['d', 'c', 'b', 'e', 'a']],
    ['ORDER BY RunId DESC', ['e', 'd', 'c', 'b', 'a']],
    ['ORDER BY WorkflowId', ['a', 'b', 'c', 'd', 'e']],
    ['ORDER BY Flag DESC', ['a', 'b', 'd', 'c', 'e']],
    ['ORDER BY ExecutionStatus', ['d', 'b', 'a', 'c', 'e']],
    ['ORDER BY CloseTime', ['d', 'c', 'b', 'e', 'a']],
    ["CustomKeyword = 'x' ORDER BY StartTime", ['a', 'e', 'd']],
    ["CustomKeyword = 'y' OR Count = 2 ORDER BY Count DESC, StartTime", ['a', 'c', 'b']],
    ['order by Count desc', ['c', 'a', 'b', 'e', 'd']],
  ])('%s', (q, expected) => {
    expect(run(q, r)).toEqual(expected);
  });

  it('sorts missing values last in both directions', () => {
    const q1 = compileListQuery('ORDER BY Count ASC', registry);
    const q2 = compileListQuery('ORDER BY Count DESC', registry);
    const [, , , d, e] = r as [VisibilityRecord, VisibilityRecord, VisibilityRecord, VisibilityRecord, VisibilityRecord];
    expect(q1.compare(d, e)).toBeGreaterThan(0);
    expect(q2.compare(d, e)).toBeGreaterThan(0);
    expect(q1.compare(e, d)).toBeLessThan(0);
  });

  it('sorts by Datetime attributes as instants', () => {
    const t = [sa('late', { DueAt: 2000 }), sa('early', { DueAt: -5 }), sa('mid', { DueAt: 1000 })];
    expect(run('ORDER BY DueAt', t)).toEqual(['early', 'mid', 'late']);
    expect(run('ORDER BY DueAt DESC', t)).toEqual(['late', 'mid', 'early']);
  });

  it.each([
    ['ORDER BY Tags', "invalid query: cannot ORDER BY attribute 'Tags' of type KeywordList at column 10"],
    ['ORDER BY Count, Description DESC', "invalid query: cannot ORDER BY attribute 'Description' of type Text at column 17"],
    ['ORDER Count', 'invalid query: expected BY after ORDER at column 7 (found Count)'],
    ['ORDER BY', 'invalid query: expected a search attribute name after ORDER BY at column 9 (found end of query)'],
    ['ORDER BY Count,', 'invalid query: expected a search attribute name after ORDER BY at column 16 (found end of query)'],
    ['ORDER BY Count DESC DESC', 'invalid query: unexpected DESC at column 21'],
    ["ORDER BY Count WorkflowId = 'x'", 'invalid query: unexpected WorkflowId at column 16'],
    ["ORDER BY Count AND WorkflowId = 'x'", 'invalid query: unexpected AND at column 16'],
    ["Count = 1 ORDER BY 'Count'", "invalid query: expected a search attribute name after ORDER BY at column 20 (found 'Count')"],
  ])('rejects %s', (q, message) => {
    expectError(q, message);
  });
});

describe('GROUP BY', () => {
  it('exposes GROUP BY ExecutionStatus for counts', () => {
    expect(compileListQuery('GROUP BY ExecutionStatus', registry).groupBy).toBe('ExecutionStatus');
    const q = compileListQuery("WorkflowType = 'A' group by ExecutionStatus", registry);
    expect(q.groupBy).toBe('ExecutionStatus');
    expect(q.matches(rec('x', { workflowType: 'A' }))).toBe(true);
    expect(q.matches(rec('y', { workflowType: 'B' }))).toBe(false);
  });

  it.each([
    ['GROUP BY WorkflowType', "invalid query: GROUP BY is not supported for attribute 'WorkflowType' at column 10 (only ExecutionStatus)"],
    ['GROUP BY ExecutionStatus, WorkflowType', 'invalid query: GROUP BY supports a single attribute at column 25'],
    ['GROUP ExecutionStatus', 'invalid query: expected BY after GROUP at column 7 (found ExecutionStatus)'],
    ['ORDER BY StartTime GROUP BY ExecutionStatus', 'invalid query: unexpected GROUP at column 20'],
  ])('rejects %s', (q, message) => {
    expectError(q, message);
  });
});

describe('syntax errors', () => {
  it.each([
    ["WorkflowId = 'abc", 'invalid query: unterminated string at column 14', 14],
    ["WorkflowId = 'abc\\'", 'invalid query: unterminated string at column 14', 14],
    ['WorkflowId = "abc\'', 'invalid query: unterminated string at column 14', 14],
    ["`WorkflowId = 'x'", 'invalid query: unterminated quoted attribute name at column 1', 1],
    ["`` = 'x'", 'invalid query: empty attribute name at column 1', 1],
    ['WorkflowId = ', "invalid query: expected a value after '=' at column 14 (found end of query)", 14],
    ["WorkflowId =  AND RunId = 'x'", "invalid query: expected a value after '=' at column 15 (found AND)", 15],
    ['WorkflowType = MyWorkflow', "invalid query: expected a value after '=' at column 16 (did you forget to quote 'MyWorkflow'?)", 16],
    ['WorkflowId = RunId', "invalid query: expected a value after '=' at column 14 (did you forget to quote 'RunId'?)", 14],
    ['WorkflowId = `RunId`', "invalid query: expected a value after '=' at column 14 (comparing two attributes is not supported)", 14],
    ['WorkflowId = (', "invalid query: expected a value after '=' at column 14 (found ()", 14],
    ['WorkflowId = NULL', 'invalid query: cannot compare with NULL at column 14 (use IS NULL or IS NOT NULL)', 14],
    ['WorkflowId != null', 'invalid query: cannot compare with NULL at column 15 (use IS NULL or IS NOT NULL)', 15],
    ["WorkflowId == 'x'", "invalid query: operator '==' is not supported at column 12 (use '=')", 12],
    ["WorkflowId <> 'x'", "invalid query: operator '<>' is not supported at column 12 (use '!=')", 12],
    ["WorkflowId ! 'x'", "invalid query: unexpected character '!' at column 12", 12],
    ["WorkflowId = 'x' # comment", "invalid query: unexpected character '#' at column 18", 18],
    ["WorkflowId = 'x' ;", "invalid query: unexpected character ';' at column 18", 18],
    ["WorkflowId 'x'", "invalid query: expected an operator after 'WorkflowId' at column 12 (found 'x')", 12],
    ['WorkflowId', "invalid query: expected an operator after 'WorkflowId' at column 11 (found end of query)", 11],
    ["Custom Attr = 'x'", "invalid query: unknown search attribute 'Custom' at column 1", 1],
    ["CustomKeyword Attr = 'x'", "invalid query: expected an operator after 'CustomKeyword' at column 15 (found Attr; quote attribute names containing spaces with backticks)", 15],
    ["WorkflowId LIKE 'x%'", 'invalid query: operator LIKE is not supported at column 12 (use STARTS_WITH)', 12],
    ["WorkflowId NOT 'x'", "invalid query: expected IN, BETWEEN or STARTS_WITH after NOT at column 16 (found 'x')", 16],
    ["WorkflowId NOT LIKE 'x'", 'invalid query: expected IN, BETWEEN or STARTS_WITH after NOT at column 16 (found LIKE)', 16],
    ['WorkflowId IS', 'invalid query: expected NULL after IS at column 14 (found end of query)', 14],
    ["WorkflowId IS 'x'", "invalid query: expected NULL after IS at column 15 (found 'x')", 15],
    ['WorkflowId IS NOT 5', 'invalid query: expected NULL after IS NOT at column 19 (found 5)', 19],
    ["WorkflowId IN 'x'", "invalid query: expected '(' after IN at column 15 (found 'x')", 15],
    ['WorkflowId IN ()', "invalid query: expected a value after '(' at column 16 (found ))", 16],
    ["WorkflowId IN ('a',)", "invalid query: expected a value after ',' at column 20 (found ))", 20],
    ["WorkflowId IN ('a' 'b')", "invalid query: expected ',' or ')' in IN list at column 20 (found 'b')", 20],
    ["WorkflowId IN ('a'", "invalid query: expected ',' or ')' in IN list at column 19 (found end of query)", 19],
    ["WorkflowId BETWEEN 'a'", 'invalid query: expected AND after the BETWEEN lower bound at column 23 (found end of query)', 23],
    ["WorkflowId BETWEEN 'a' OR 'b'", "invalid query: expected AND after the BETWEEN lower bound at column 24 (found OR)", 24],
    ["WorkflowId BETWEEN 'a' AND", 'invalid query: expected a value after AND at column 27 (found end of query)', 27],
    ["WorkflowId BETWEEN AND 'b'", 'invalid query: expected a value after BETWEEN at column 20 (found AND)', 20],
    ['WorkflowId STARTS_WITH', 'invalid query: expected a value after STARTS_WITH at column 23 (found end of query)', 23],
    ["WorkflowId = 'a' AND", 'invalid query: expected a search attribute name at column 21 (found end of query)', 21],
    ["WorkflowId = 'a' OR OR RunId = 'b'", 'invalid query: expected a search attribute name at column 21 (found OR)', 21],
    ["AND WorkflowId = 'a'", 'invalid query: expected a search attribute name at column 1 (found AND)', 1],
    ["= 'a'", 'invalid query: expected a search attribute name at column 1 (found =)', 1],
    ["'a' = WorkflowId", "invalid query: expected a search attribute name at column 1 (found 'a')", 1],
    ['5 = Count', 'invalid query: expected a search attribute name at column 1 (found 5)', 1],
    ['NOT', 'invalid query: expected a search attribute name at column 4 (found end of query)', 4],
    ["WorkflowId = 'a' RunId = 'b'", 'invalid query: unexpected RunId at column 18 (expected AND, OR, ORDER BY or end of query)', 18],
    ["WorkflowId = 'a')", 'invalid query: unexpected ) at column 17 (expected AND, OR, ORDER BY or end of query)', 17],
    ["WorkflowId = 'a' LIMIT 10", 'invalid query: unexpected LIMIT at column 18 (expected AND, OR, ORDER BY or end of query)', 18],
    ["(WorkflowId = 'a'", "invalid query: expected ')' at column 18 (to close '(' at column 1; found end of query)", 18],
    ["((WorkflowId = 'a') OR RunId = 'b'", "invalid query: expected ')' at column 35 (to close '(' at column 1; found end of query)", 35],
    ["(WorkflowId = 'a' RunId = 'b')", "invalid query: expected ')' at column 19 (to close '(' at column 1; found RunId)", 19],
    ['()', 'invalid query: expected a search attribute name at column 2 (found ))', 2],
    ['Count > 1h', "invalid query: invalid number '1h' at column 9 (quote durations and datetimes as strings)", 9],
    ['StartTime > 2024-01-01T00:00:00Z', "invalid query: invalid number '2024-01-01T00:00:00Z' at column 13 (quote durations and datetimes as strings)", 13],
    ['Count IN (1,2.5.1)', "invalid query: invalid number '2.5.1' at column 13 (quote durations and datetimes as strings)", 13],
    ['Count = - 1', "invalid query: unexpected character '-' at column 9", 9],
    ['Count = 0x1F', "invalid query: invalid number '0x1F' at column 9 (quote durations and datetimes as strings)", 9],
  ])('%j', (q, message, column) => {
    expectError(q, message, column);
  });

  it('reports the first problem in source order', () => {
    expect(errorOf("Count STARTS_WITH 'abc' AND Foo = 1").message).toBe(
      'invalid query: operator STARTS_WITH is not supported for attribute of type Int at column 7',
    );
    expect(errorOf("Foo STARTS_WITH 'abc").message).toBe('invalid query: unterminated string at column 17');
  });
});

describe('robustness', () => {
  it('throws only ListQueryError for arbitrary and mutated input', () => {
    const fragments = [
      "WorkflowId = 'a'", 'Count > -2.5', "Tags IN ('a', 'b')", "Description != 'a b'", 'Flag = true',
      "DueAt BETWEEN '2024-01-01T00:00:00Z' AND 5", "ExecutionStatus NOT IN ('Running', 3)", "ExecutionDuration >= '1h'",
      "`Custom Attr` NOT STARTS_WITH 'x'", 'CloseTime IS NOT NULL', "NOT (RunId < 'm' OR Score <= 1)", 'Count IS NULL',
    ];
    const pieces = [
      'WorkflowId', 'Count', 'Tags', 'Description', 'Flag', 'DueAt', 'ExecutionStatus', 'ExecutionDuration', 'Foo',
      '=', '!=', '<', '>=', 'IN', 'NOT', 'BETWEEN', 'AND', 'OR', 'IS', 'NULL', 'STARTS_WITH', 'ORDER', 'BY', 'GROUP',
      'DESC', ',', '(', ')', "'a'", "'1'", '1', '-2.5', 'true', "'2024-01-01T00:00:00Z'", "'1h'", '`Custom Attr`', "'", '`',
      '\\', '"', '!', '<>', '.', '-', '1e', '😀',
    ];
    let state = 12345;
    const rand = (n: number): number => {
      state = (state * 1103515245 + 12345) % 2147483648;
      // The low bits of this generator cycle quickly; use the high ones.
      return (state >>> 8) % n;
    };
    const choose = <T>(xs: readonly T[]): T => xs[rand(xs.length)] as T;
    const sample = [rec('x'), sa('y', { Count: 1, Tags: ['a'], Description: 'a b', Flag: true, DueAt: 0 }, { closeTime: 5 })];
    const problems: string[] = [];
    let compiled = 0;
    let rejected = 0;
    for (let i = 0; i < 1500; i++) {
      const parts = Array.from({ length: 1 + rand(3) }, () => choose(fragments)).join(rand(2) ? ' AND ' : ' OR ');
      let text = rand(4) === 0 ? `${parts} ORDER BY ${choose(['Count', 'StartTime DESC', 'RunId, Flag DESC'])}` : parts;
      // Mutate half of the queries: insert, delete or replace a character or a piece.
      if (rand(2)) {
        const at = rand(text.length + 1);
        const cut = rand(3);
        text = text.slice(0, at) + (rand(2) ? choose(pieces) : '') + text.slice(at + cut);
      }
      let query;
      try {
        query = compileListQuery(text, registry);
      } catch (err) {
        // Plain checks rather than expect() per iteration: this loop runs a thousand times.
        const ok =
          err instanceof ListQueryError &&
          /^invalid query: .* at column \d+/.test(err.message) &&
          err.column !== undefined &&
          err.column >= 1 &&
          err.column <= text.length + 1;
        if (!ok) problems.push(`${JSON.stringify(text)} threw ${String(err)}`);
        rejected++;
        continue;
      }
      compiled++;
      for (const r of sample) {
        if (typeof query.matches(r) !== 'boolean' || query.compare(r, r) !== 0) problems.push(`${JSON.stringify(text)} misbehaves`);
      }
    }
    expect(problems).toEqual([]);
    expect(compiled).toBeGreaterThan(300);
    expect(rejected).toBeGreaterThan(300);
  });

  it('compiles once and evaluates many records quickly', () => {
    const q = compileListQuery(
      "(WorkflowType = 'OrderWorkflow' OR Tags IN ('a', 'b')) AND Count BETWEEN 10 AND 5000 AND NOT ExecutionStatus = 'Failed' ORDER BY Count DESC",
      registry,
    );
    const records = Array.from({ length: 20_000 }, (_, i) =>
      sa(`w${i}`, { Count: i, Tags: i % 2 ? ['a'] : ['c'] }, { workflowType: i % 3 ? 'OrderWorkflow' : 'Other' }),
    );
    const selected = records.filter((r) => q.matches(r)).sort((a, b) => q.compare(a, b));
    // Counts 10..5000, minus those that are neither OrderWorkflow nor tagged 'a' (multiples of 6).
    expect(selected.length).toBe(4991 - 832);
    expect(selected[0]?.workflowId).toBe('w5000');
  });
});
