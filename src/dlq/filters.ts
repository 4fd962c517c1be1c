/**
 * DLQ filters → a Temporal visibility query. Values are validated (a bad one is reported with the
 * flag it came from) and quoted, so a filter can never change the query's structure.
 */
import { PROCESS_CHANGE_EVENT } from '../contract';
import { DlqInputError } from './errors';

/** Which dead-letter entries to look at. Every field is optional; together they narrow (AND). */
export interface DlqFilters {
  /** Only entries this observer took part in (`ObserverNames`). */
  observer?: string;
  /** Only entries of this entity type (`EntityType`). */
  entity?: string;
  /** Only runs that failed at or after this time: a Date, an ISO-8601 time, or a duration back from now (`30m`, `2h`, `7d`). */
  since?: string | Date;
}

/** The query that finds failed `processChangeEvent` runs, the raw material of the DLQ. */
export const FAILED_RUNS_QUERY = `WorkflowType = ${quote(PROCESS_CHANGE_EVENT)} AND ExecutionStatus = 'Failed'`;

const MAX_VALUE_LENGTH = 255;
// Control characters have no business in an observer or entity name and would only hide in a terminal.
const CONTROL_RE = /\p{Cc}/u;
const DURATION_RE = /^(\d{1,9})\s*(s|m|h|d|w)$/i;
const UNIT_MS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const ISO_RE = /^\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:[Zz]|[+-]\d{2}:?\d{2})?)?$/;

/** A string literal of the visibility query language (single quotes doubled, backslashes escaped). */
export function quote(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

function keyword(flag: string, value: string): string {
  const v = value.trim();
  if (v === '') throw new DlqInputError(flag, 'must not be empty');
  if (v.length > MAX_VALUE_LENGTH) throw new DlqInputError(flag, `must be at most ${MAX_VALUE_LENGTH} characters, got ${v.length}`);
  if (CONTROL_RE.test(v)) throw new DlqInputError(flag, `must not contain control characters, got ${JSON.stringify(v)}`);
  return v;
}

/** V8's Date.parse rolls 2025-02-30 over to March; a typo like that should be an error instead. */
function isCalendarDate(v: string): boolean {
  const [y, m, d] = v.slice(0, 10).split('-').map(Number) as [number, number, number];
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

/**
 * `--since` as an instant: a Date, an ISO-8601 time (`2025-01-31`, `2025-01-31T12:00:00Z`), or a
 * duration back from `now` (`90s`, `30m`, `2h`, `7d`, `1w`).
 *
 * @throws DlqInputError naming `--since` for anything else
 */
export function parseSince(value: string | Date, now: number = Date.now()): Date {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new DlqInputError('--since', 'is an invalid Date');
    return value;
  }
  const v = value.trim();
  const rel = DURATION_RE.exec(v);
  if (rel) return new Date(now - Number(rel[1]) * (UNIT_MS[(rel[2] as string).toLowerCase()] as number));
  if (ISO_RE.test(v)) {
    // A date without a zone means UTC (Date.parse would read a date-time without one as local time).
    const withZone = /[Tt ]\d{2}:\d{2}/.test(v) && !/(?:[Zz]|[+-]\d{2}:?\d{2})$/.test(v) ? `${v}Z` : v;
    const ms = Date.parse(withZone.replace(' ', 'T'));
    if (!Number.isNaN(ms) && isCalendarDate(v)) return new Date(ms);
  }
  throw new DlqInputError('--since', `expected an ISO-8601 time (2025-01-31 or 2025-01-31T12:00:00Z) or a duration back from now (30m, 2h, 7d), got ${JSON.stringify(value)}`);
}

/**
 * Validates a page size / entry cap.
 *
 * @throws DlqInputError naming `flag` when it is not a whole number in [1, max]
 */
export function parseLimit(value: number, flag = '--limit', max = 10_000): number {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new DlqInputError(flag, `expected a whole number from 1 to ${max}, got ${String(value)}`);
  }
  return value;
}

/**
 * Validates a rate of retries per second.
 *
 * @throws DlqInputError naming `--rate` unless it is a number from 0.01 to 1000
 */
export function parseRate(value: number): number {
  if (!Number.isFinite(value) || value < 0.01 || value > 1000) throw new DlqInputError('--rate', `expected retries per second from 0.01 to 1000, got ${String(value)}`);
  return value;
}

/**
 * The visibility query for the failed runs the filters select.
 *
 * @throws DlqInputError naming the flag of a bad filter value
 */
export function buildDlqQuery(filters: DlqFilters = {}, now: number = Date.now()): string {
  const parts = [FAILED_RUNS_QUERY];
  if (filters.observer !== undefined) parts.push(`ObserverNames = ${quote(keyword('--observer', filters.observer))}`);
  if (filters.entity !== undefined) parts.push(`EntityType = ${quote(keyword('--entity', filters.entity))}`);
  if (filters.since !== undefined) parts.push(`CloseTime >= ${quote(parseSince(filters.since, now).toISOString())}`);
  return parts.join(' AND ');
}

/**
 * A page token handed out by `listRunsPage`, back to bytes.
 *
 * @throws DlqInputError naming `--page-token` when it is not one
 */
export function decodePageToken(token: string | undefined): Uint8Array | undefined {
  if (token === undefined || token === '') return undefined;
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(token)) throw new DlqInputError('--page-token', 'is not a page token printed by an earlier `dlq list`');
  return Buffer.from(token, 'base64');
}

/** A query that lists every run of these workflow ids (to find each id's latest run). */
export function runsOfQuery(workflowIds: readonly string[]): string {
  return `WorkflowType = ${quote(PROCESS_CHANGE_EVENT)} AND WorkflowId IN (${workflowIds.map(quote).join(', ')})`;
}
