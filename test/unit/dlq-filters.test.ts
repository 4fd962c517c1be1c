/** DLQ filters → visibility query: validation names the flag, values are quoted, ids are normalised. */
import type { Client } from '@temporalio/client';
import { Registry } from 'prom-client';
import { compileListQuery, type VisibilityRecord } from '../../src/embedded-temporal/visibility-query';
import {
  buildDlqQuery,
  DlqInputError,
  eventIdOf,
  FAILED_RUNS_QUERY,
  listDlq,
  parseLimit,
  parseSince,
  quote,
  retryAll,
  startDlqGauge,
  toWorkflowId,
} from '../../src/dlq';

const NOW = Date.parse('2025-06-01T12:00:00.000Z');
const REGISTRY = new Map([
  ['EntityType', 'Keyword'],
  ['EventKind', 'Keyword'],
  ['ObserverNames', 'KeywordList'],
  ['FailedActions', 'KeywordList'],
  ['ChangeLogPosition', 'Int'],
] as const);

function record(overrides: Partial<VisibilityRecord> & { sa?: Record<string, unknown> } = {}): VisibilityRecord {
  const { sa, ...rest } = overrides;
  return {
    workflowId: 'fraiseql-event:e1',
    runId: 'r1',
    workflowType: 'processChangeEvent',
    taskQueue: 'q',
    status: 'Failed',
    startTime: NOW - 60_000,
    executionTime: NOW - 60_000,
    closeTime: NOW - 30_000,
    historyLength: 12,
    searchAttributes: { EntityType: 'Order', ObserverNames: ['order_shipped', 'audit'], ...sa },
    ...rest,
  };
}

/** Evaluate a built query with the embedded server's own parser, as Temporal would. */
const matches = (query: string, r: VisibilityRecord): boolean => compileListQuery(query, REGISTRY).matches(r);

function inputError(fn: () => unknown): DlqInputError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(DlqInputError);
    return err as DlqInputError;
  }
  throw new Error('expected a DlqInputError');
}

describe('buildDlqQuery', () => {
  it('selects failed processChangeEvent runs, narrowed by each filter', () => {
    expect(buildDlqQuery({}, NOW)).toBe(FAILED_RUNS_QUERY);
    expect(FAILED_RUNS_QUERY).toBe(`WorkflowType = 'processChangeEvent' AND ExecutionStatus = 'Failed'`);
    const q = buildDlqQuery({ observer: 'audit', entity: 'Order', since: '1h' }, NOW);
    expect(q).toBe(`${FAILED_RUNS_QUERY} AND ObserverNames = 'audit' AND EntityType = 'Order' AND CloseTime >= '2025-06-01T11:00:00.000Z'`);
    expect(matches(q, record())).toBe(true);
    expect(matches(q, record({ status: 'Completed' }))).toBe(false);
    expect(matches(q, record({ workflowType: 'other' }))).toBe(false);
    expect(matches(q, record({ sa: { ObserverNames: ['order_shipped'] } }))).toBe(false);
    expect(matches(q, record({ sa: { EntityType: 'Invoice' } }))).toBe(false);
    expect(matches(q, record({ closeTime: NOW - 2 * 3_600_000 }))).toBe(false);
  });

  it('quotes values so that they cannot change the query', () => {
    const hostile = "x' OR WorkflowType = 'y";
    const q = buildDlqQuery({ entity: hostile }, NOW);
    expect(q).toContain(`EntityType = 'x'' OR WorkflowType = ''y'`);
    expect(matches(q, record({ sa: { EntityType: hostile } }))).toBe(true);
    expect(matches(q, record())).toBe(false);
    expect(quote('a\\b')).toBe("'a\\\\b'");
    expect(matches(buildDlqQuery({ observer: 'back\\slash' }, NOW), record({ sa: { ObserverNames: ['back\\slash'] } }))).toBe(true);
  });

  it('rejects bad filter values naming the flag', () => {
    expect(inputError(() => buildDlqQuery({ observer: '  ' })).message).toBe('--observer: must not be empty');
    expect(inputError(() => buildDlqQuery({ entity: 'a\nb' })).message).toBe('--entity: must not contain control characters, got "a\\nb"');
    expect(inputError(() => buildDlqQuery({ entity: 'x'.repeat(256) })).message).toBe('--entity: must be at most 255 characters, got 256');
    const since = inputError(() => buildDlqQuery({ since: 'yesterday' }));
    expect(since.flag).toBe('--since');
    expect(since.message).toMatch(/^--since: expected an ISO-8601 time .* or a duration back from now \(30m, 2h, 7d\), got "yesterday"$/);
  });
});

describe('parseSince', () => {
  it('reads durations back from now and ISO-8601 times (UTC when no zone is given)', () => {
    expect(parseSince('90s', NOW).toISOString()).toBe('2025-06-01T11:58:30.000Z');
    expect(parseSince('30m', NOW).toISOString()).toBe('2025-06-01T11:30:00.000Z');
    expect(parseSince('2H', NOW).toISOString()).toBe('2025-06-01T10:00:00.000Z');
    expect(parseSince('7d', NOW).toISOString()).toBe('2025-05-25T12:00:00.000Z');
    expect(parseSince('1w', NOW).toISOString()).toBe('2025-05-25T12:00:00.000Z');
    expect(parseSince('2025-01-31').toISOString()).toBe('2025-01-31T00:00:00.000Z');
    expect(parseSince('2025-01-31T12:30').toISOString()).toBe('2025-01-31T12:30:00.000Z');
    expect(parseSince('2025-01-31T12:30:00+02:00').toISOString()).toBe('2025-01-31T10:30:00.000Z');
    expect(parseSince(new Date(NOW)).getTime()).toBe(NOW);
  });

  it('rejects anything else', () => {
    for (const bad of ['', '-1h', '1y', '2025-13-01', '2025-02-30T00:00:00Z', 'now', '12']) {
      expect(inputError(() => parseSince(bad, NOW)).flag).toBe('--since');
    }
    expect(inputError(() => parseSince(new Date(Number.NaN))).message).toBe('--since: is an invalid Date');
  });
});

describe('parseLimit', () => {
  it('accepts whole numbers in range and names the flag otherwise', () => {
    expect(parseLimit(1)).toBe(1);
    expect(parseLimit(10_000)).toBe(10_000);
    expect(inputError(() => parseLimit(0)).message).toBe('--limit: expected a whole number from 1 to 10000, got 0');
    expect(inputError(() => parseLimit(2.5)).message).toBe('--limit: expected a whole number from 1 to 10000, got 2.5');
    expect(inputError(() => parseLimit(10_001)).flag).toBe('--limit');
  });
});

describe('workflow ids', () => {
  it('adds the prefix to a bare event id and keeps a workflow id as is', () => {
    const id = '5f0c7a52-2d0e-4c55-9d0b-6f1f3f3c9a10';
    expect(toWorkflowId(id)).toBe(`fraiseql-event:${id}`);
    expect(toWorkflowId(` ${id} `)).toBe(`fraiseql-event:${id}`);
    expect(toWorkflowId(`fraiseql-event:${id}`)).toBe(`fraiseql-event:${id}`);
    expect(toWorkflowId(id, 'shop:events')).toBe(`shop:events:${id}`);
    expect(toWorkflowId(`other:${id}`)).toBe(`other:${id}`);
    expect(eventIdOf(`fraiseql-event:${id}`)).toBe(id);
    expect(eventIdOf(`shop:events:${id}`, 'shop:events')).toBe(id);
    expect(eventIdOf('no-prefix')).toBeNull();
  });
});

describe('input checked before Temporal is asked', () => {
  // Any call on this client fails the test: validation must come first.
  const untouchable = new Proxy({}, { get: (_t, prop) => { throw new Error(`client.${String(prop)} used`); } }) as Client;

  it('listDlq and retryAll reject bad options naming the flag', async () => {
    await expect(listDlq(untouchable, { limit: 0 })).rejects.toThrow('--limit: expected a whole number from 1 to 10000, got 0');
    await expect(listDlq(untouchable, { since: 'soon' })).rejects.toThrow(/^--since: /);
    await expect(listDlq(untouchable, { pageToken: 'not a token!' })).rejects.toThrow(/^--page-token: is not a page token/);
    await expect(retryAll(untouchable, {}, { ratePerSecond: 0 })).rejects.toThrow('--rate: expected retries per second from 0.01 to 1000, got 0');
    await expect(retryAll(untouchable, {}, { ratePerSecond: Number.NaN })).rejects.toThrow('--rate: expected retries per second from 0.01 to 1000, got NaN');
    await expect(retryAll(untouchable, { observer: '' }, { dryRun: true })).rejects.toThrow('--observer: must not be empty');
  });

  it('startDlqGauge rejects a silly interval', () => {
    expect(() => startDlqGauge(untouchable, new Registry(), 0)).toThrow('DLQ gauge interval must be at least 100 ms, got 0');
  });
});
