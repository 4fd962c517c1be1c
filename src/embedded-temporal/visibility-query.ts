/**
 * The visibility list-filter language of `ListWorkflowExecutions` / `CountWorkflowExecutions`,
 * evaluated in memory against visibility records.
 *
 * It follows what a real Temporal server with SQL/Elasticsearch visibility accepts, so that SDK
 * clients, the CLI and the UI can send their usual queries to the embedded server. A query is
 * parsed once into a tree of closures; `matches`/`compare` then run without re-parsing.
 */

export type SearchAttributeType = 'Keyword' | 'KeywordList' | 'Text' | 'Int' | 'Double' | 'Bool' | 'Datetime';

export type ExecutionStatusName =
  | 'Running'
  | 'Completed'
  | 'Failed'
  | 'Canceled'
  | 'Terminated'
  | 'ContinuedAsNew'
  | 'TimedOut';

export interface VisibilityRecord {
  workflowId: string;
  runId: string;
  workflowType: string;
  taskQueue: string;
  status: ExecutionStatusName;
  /** epoch ms */
  startTime: number;
  /** epoch ms */
  executionTime: number;
  /** epoch ms, null while the run is open */
  closeTime: number | null;
  historyLength: number;
  /** Parent execution (child workflows only; absent otherwise, so `ParentWorkflowId IS NULL` holds). */
  parentWorkflowId?: string;
  parentRunId?: string;
  /** Root of the execution tree; defaults to the record's own ids when absent. */
  rootWorkflowId?: string;
  rootRunId?: string;
  stateTransitionCount?: number;
  historySizeBytes?: number;
  /** custom search attributes, already decoded: Keyword/Text → string, KeywordList → string[], Int/Double → number, Bool → boolean, Datetime → epoch ms number */
  searchAttributes: Record<string, unknown>;
}

/** A list filter that cannot be parsed or does not type-check; maps to gRPC INVALID_ARGUMENT. */
export class ListQueryError extends Error {
  /** 1-based character position of the offending token in the query, when known. */
  readonly column: number | undefined;

  constructor(message: string, column?: number) {
    super(message);
    this.name = 'ListQueryError';
    this.column = column;
  }
}

export interface CompiledListQuery {
  matches(record: VisibilityRecord): boolean;
  /** comparator implementing ORDER BY (or the default order) */
  compare(a: VisibilityRecord, b: VisibilityRecord): number;
  /**
   * Set when the query ends with `GROUP BY ExecutionStatus` (the UI's per-status counts).
   * Temporal accepts GROUP BY only in CountWorkflowExecutions, so List callers should reject it.
   */
  readonly groupBy?: 'ExecutionStatus';
}

// ---------------------------------------------------------------------------------------------
// Attributes

type Getter = (r: VisibilityRecord) => unknown;

interface AttrDef {
  readonly name: string;
  readonly type: SearchAttributeType;
  /** Returns the value normalised to the JS type of `type`, or undefined when absent. */
  readonly get: Getter;
  /** System attributes whose literals are not plain values of their type. */
  readonly special?: 'status' | 'duration';
}

/** Index + 1 is the proto enum value, which Temporal also accepts as an integer literal. */
const STATUS_NAMES: readonly ExecutionStatusName[] = [
  'Running',
  'Completed',
  'Failed',
  'Canceled',
  'Terminated',
  'ContinuedAsNew',
  'TimedOut',
];

const STATUS_BY_SPELLING: ReadonlyMap<string, ExecutionStatusName> = new Map(
  STATUS_NAMES.flatMap((name) => [
    [name.toLowerCase(), name] as const,
    // The proto enum spelling, e.g. WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW.
    [`workflow_execution_status_${name.replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase()}`, name] as const,
  ]),
);

const SYSTEM_ATTRIBUTES: ReadonlyMap<string, AttrDef> = new Map(
  (
    [
      { name: 'WorkflowId', type: 'Keyword', get: (r) => r.workflowId },
      { name: 'RunId', type: 'Keyword', get: (r) => r.runId },
      { name: 'WorkflowType', type: 'Keyword', get: (r) => r.workflowType },
      { name: 'TaskQueue', type: 'Keyword', get: (r) => r.taskQueue },
      { name: 'ExecutionStatus', type: 'Keyword', get: (r) => r.status, special: 'status' },
      { name: 'StartTime', type: 'Datetime', get: (r) => r.startTime },
      { name: 'ExecutionTime', type: 'Datetime', get: (r) => r.executionTime },
      { name: 'CloseTime', type: 'Datetime', get: (r) => r.closeTime ?? undefined },
      { name: 'HistoryLength', type: 'Int', get: (r) => r.historyLength },
      {
        name: 'ExecutionDuration',
        type: 'Int',
        // Temporal defines it as close minus execution time, and leaves it unset for open runs.
        get: (r) => (r.closeTime === null ? undefined : r.closeTime - r.executionTime),
        special: 'duration',
      },
      // The Web UI's "Parent Workflows" view and its workflow-tree queries filter on these.
      { name: 'ParentWorkflowId', type: 'Keyword', get: (r) => r.parentWorkflowId },
      { name: 'ParentRunId', type: 'Keyword', get: (r) => r.parentRunId },
      { name: 'RootWorkflowId', type: 'Keyword', get: (r) => r.rootWorkflowId ?? r.workflowId },
      { name: 'RootRunId', type: 'Keyword', get: (r) => r.rootRunId ?? r.runId },
      { name: 'StateTransitionCount', type: 'Int', get: (r) => r.stateTransitionCount },
      { name: 'HistorySizeBytes', type: 'Int', get: (r) => r.historySizeBytes },
    ] satisfies AttrDef[]
  ).map((d) => [d.name, d]),
);

/**
 * Server-maintained attributes that live in `searchAttributes` rather than in record fields
 * (schedules, versioning, batch jobs). Queries from the SDK/CLI/UI use them without registering them.
 */
const PREDEFINED_ATTRIBUTES: ReadonlyMap<string, SearchAttributeType> = new Map([
  ['TemporalChangeVersion', 'KeywordList'],
  ['BinaryChecksums', 'KeywordList'],
  ['BuildIds', 'KeywordList'],
  ['BatcherNamespace', 'Keyword'],
  ['BatcherUser', 'Keyword'],
  ['TemporalScheduledStartTime', 'Datetime'],
  ['TemporalScheduledById', 'Keyword'],
  ['TemporalSchedulePaused', 'Bool'],
  ['TemporalNamespaceDivision', 'Keyword'],
  ['TemporalPauseInfo', 'KeywordList'],
  ['TemporalReportedProblems', 'KeywordList'],
  ['TemporalWorkerDeploymentVersion', 'Keyword'],
  ['TemporalWorkflowVersioningBehavior', 'Keyword'],
  ['TemporalWorkerDeployment', 'Keyword'],
  ['TemporalUsedWorkerDeploymentVersions', 'KeywordList'],
]);

/**
 * Every attribute the server maintains itself (system and predefined), name → type: what
 * `ListSearchAttributes` reports as `systemAttributes`, as a real server does.
 */
export function systemSearchAttributes(): ReadonlyMap<string, SearchAttributeType> {
  return new Map<string, SearchAttributeType>([
    ...[...SYSTEM_ATTRIBUTES.values()].map((d) => [d.name, d.type] as const),
    ...PREDEFINED_ATTRIBUTES,
  ]);
}

const ATTRIBUTE_TYPES: ReadonlySet<string> = new Set<SearchAttributeType>([
  'Keyword',
  'KeywordList',
  'Text',
  'Int',
  'Double',
  'Bool',
  'Datetime',
]);

/** Values of the wrong JS type are treated as absent so a bad record can never throw mid-scan. */
function customGetter(name: string, type: SearchAttributeType): Getter {
  switch (type) {
    case 'Keyword':
    case 'Text':
      return (r) => {
        const v = r.searchAttributes[name];
        return typeof v === 'string' ? v : undefined;
      };
    case 'KeywordList':
      return (r) => {
        const v = r.searchAttributes[name];
        // An empty list is "not set" in Elasticsearch; a lone string is how Temporal encodes a one-item list.
        if (Array.isArray(v)) return v.length > 0 ? v : undefined;
        return typeof v === 'string' ? [v] : undefined;
      };
    case 'Int':
    case 'Double':
    case 'Datetime':
      return (r) => {
        const v = r.searchAttributes[name];
        return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
      };
    case 'Bool':
      return (r) => {
        const v = r.searchAttributes[name];
        return typeof v === 'boolean' ? v : undefined;
      };
  }
}

function makeResolver(registry: ReadonlyMap<string, SearchAttributeType>): (name: string, col: number) => AttrDef {
  const cache = new Map<string, AttrDef>();
  return (name, col) => {
    const system = SYSTEM_ATTRIBUTES.get(name);
    if (system) return system;
    const cached = cache.get(name);
    if (cached) return cached;
    const type = registry.get(name) ?? PREDEFINED_ATTRIBUTES.get(name);
    if (type === undefined) {
      const lower = name.toLowerCase();
      const known = [...SYSTEM_ATTRIBUTES.keys(), ...registry.keys(), ...PREDEFINED_ATTRIBUTES.keys()];
      const suggestion = known.find((k) => k.toLowerCase() === lower);
      throw fail(`unknown search attribute '${name}'`, col, suggestion ? `did you mean '${suggestion}'?` : undefined);
    }
    if (!ATTRIBUTE_TYPES.has(type)) {
      throw fail(`search attribute '${name}' has unsupported type '${String(type)}'`, col);
    }
    const def: AttrDef = { name, type, get: customGetter(name, type) };
    cache.set(name, def);
    return def;
  };
}

// ---------------------------------------------------------------------------------------------
// Errors

function fail(problem: string, column: number, hint?: string): ListQueryError {
  return new ListQueryError(`invalid query: ${problem} at column ${column}${hint ? ` (${hint})` : ''}`, column);
}

// ---------------------------------------------------------------------------------------------
// Lexer

type TokenKind = 'word' | 'name' | 'string' | 'number' | 'op' | '(' | ')' | ',' | 'eof';

interface Token {
  readonly kind: TokenKind;
  /** Decoded text: the word as written, the unquoted name/string, the number's source, or the operator. */
  readonly text: string;
  /** Upper-cased text of a word, for case-insensitive keyword checks. */
  readonly upper: string;
  readonly col: number;
}

const WORD_RE = /[\p{L}_][\p{L}\p{N}_]*/uy;
const NUMBER_RE = /[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/y;
/** What may not touch a number: catches unquoted durations ('1h') and datetimes (2024-01-01T…). */
const GLUED_TO_NUMBER_RE = /[\p{L}\p{N}_:.+-]+/uy;
const SPACE_RE = /\s/;
const BACKSLASH_ESCAPES: Readonly<Record<string, string>> = {
  n: '\n',
  t: '\t',
  r: '\r',
  b: '\b',
  '0': '\0',
  Z: '\x1a',
};

function tokenize(query: string): Token[] {
  const tokens: Token[] = [];
  const push = (kind: TokenKind, text: string, col: number): void => {
    tokens.push({ kind, text, upper: kind === 'word' ? text.toUpperCase() : '', col });
  };
  let i = 0;
  while (i < query.length) {
    const c = query.charAt(i);
    const next = query.charAt(i + 1);
    const col = i + 1;
    if (SPACE_RE.test(c)) {
      i++;
    } else if (c === '(' || c === ')' || c === ',') {
      push(c, c, col);
      i++;
    } else if (c === '=') {
      if (next === '=') throw fail(`operator '==' is not supported`, col, `use '='`);
      push('op', '=', col);
      i++;
    } else if (c === '!') {
      if (next !== '=') throw fail(`unexpected character '!'`, col);
      push('op', '!=', col);
      i += 2;
    } else if (c === '<' || c === '>') {
      if (c === '<' && next === '>') throw fail(`operator '<>' is not supported`, col, `use '!='`);
      const op = next === '=' ? `${c}=` : c;
      push('op', op, col);
      i += op.length;
    } else if (c === "'" || c === '"') {
      const [text, end] = readQuoted(query, i, c, true, 'unterminated string');
      push('string', text, col);
      i = end;
    } else if (c === '`') {
      const [text, end] = readQuoted(query, i, c, false, 'unterminated quoted attribute name');
      if (text === '') throw fail('empty attribute name', col);
      push('name', text, col);
      i = end;
    } else if (startsNumber(c, next, query.charAt(i + 2))) {
      NUMBER_RE.lastIndex = i;
      const m = NUMBER_RE.exec(query);
      let end = i + (m ? m[0].length : 1);
      GLUED_TO_NUMBER_RE.lastIndex = end;
      const glued = GLUED_TO_NUMBER_RE.exec(query);
      if (glued) {
        end += glued[0].length;
        throw fail(`invalid number '${query.slice(i, end)}'`, col, 'quote durations and datetimes as strings');
      }
      push('number', query.slice(i, end), col);
      i = end;
    } else {
      WORD_RE.lastIndex = i;
      const m = WORD_RE.exec(query);
      if (!m) throw fail(`unexpected character '${String.fromCodePoint(query.codePointAt(i) ?? 0)}'`, col);
      push('word', m[0], col);
      i += m[0].length;
    }
  }
  push('eof', '', query.length + 1);
  return tokens;
}

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}

function startsNumber(c: string, next: string, afterNext: string): boolean {
  if (isDigit(c)) return true;
  if (c === '.') return isDigit(next);
  if (c === '-' || c === '+') return isDigit(next) || (next === '.' && isDigit(afterNext));
  return false;
}

/** Reads a quoted string or name starting at `start`; returns the decoded text and the index after the closing quote. */
function readQuoted(query: string, start: number, quote: string, backslashEscapes: boolean, unterminated: string): [string, number] {
  let out = '';
  let j = start + 1;
  for (;;) {
    if (j >= query.length) throw fail(unterminated, start + 1);
    const ch = query.charAt(j);
    if (ch === quote) {
      if (query.charAt(j + 1) !== quote) return [out, j + 1];
      out += quote;
      j += 2;
    } else if (ch === '\\' && backslashEscapes) {
      if (j + 1 >= query.length) throw fail(unterminated, start + 1);
      const esc = query.charAt(j + 1);
      // MySQL rules, which Temporal's parser follows: unknown escapes stand for the character itself.
      out += BACKSLASH_ESCAPES[esc] ?? esc;
      j += 2;
    } else {
      out += ch;
      j++;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Literals

type Literal =
  | { readonly kind: 'string'; readonly value: string; readonly col: number }
  | { readonly kind: 'number'; readonly value: number; readonly text: string; readonly col: number }
  | { readonly kind: 'bool'; readonly value: boolean; readonly col: number };

type Scalar = string | number | boolean;

function describeLiteral(lit: Literal): string {
  switch (lit.kind) {
    case 'string':
      return `'${lit.value}'`;
    case 'number':
      return lit.text;
    case 'bool':
      return String(lit.value);
  }
}

function invalidValue(lit: Literal, what: string, attr: AttrDef, hint?: string): ListQueryError {
  return fail(`${describeLiteral(lit)} is not a valid ${what} for attribute '${attr.name}'`, lit.col, hint);
}

const NUMERIC_STRING_RE = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER_RE = /^[+-]?\d+$/;
const RFC3339_RE =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

/**
 * Nanoseconds → milliseconds for comparison with records, which hold whole milliseconds.
 * A sub-millisecond remainder is collapsed to the middle of its millisecond: every whole-ms value
 * compares with it exactly as with the true instant, whereas adding the remainder as a float can
 * round onto the next whole millisecond at epoch magnitudes (doubles keep ~0.2µs there).
 */
function nanosToMs(ns: bigint): number {
  const whole = ns / 1_000_000n;
  const rest = ns % 1_000_000n;
  if (rest === 0n) return Number(whole);
  return Number(rest > 0n ? whole : whole - 1n) + 0.5;
}

/** RFC 3339 as Go's RFC3339Nano layout parses it → epoch ms (see nanosToMs), or undefined when invalid. */
function parseRfc3339(text: string): number | undefined {
  const m = RFC3339_RE.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const date = new Date(0);
  // setUTCFullYear rather than Date.UTC, which maps years 0–99 to 1900–1999.
  date.setUTCFullYear(year, month - 1, day);
  if (date.getUTCDate() !== day) return undefined;
  date.setUTCHours(hour, minute, second, 0);
  let ms = date.getTime();
  if (m[8]) {
    const offHours = Number(m[9]);
    const offMinutes = Number(m[10]);
    if (offHours > 23 || offMinutes > 59) return undefined;
    ms -= (m[8] === '-' ? -1 : 1) * (offHours * 60 + offMinutes) * 60_000;
  }
  const fraction = m[7];
  return fraction ? nanosToMs(BigInt(ms) * 1_000_000n + BigInt(fraction.padEnd(9, '0'))) : ms;
}

const DURATION_UNIT_NS: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n,
  'μs': 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
  d: 86_400_000_000_000n,
  w: 604_800_000_000_000n,
};
const GO_DURATION_RE = /^[+-]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h|d|w))+$/i;
const GO_DURATION_PART_RE = /(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h|d|w)/gi;
const HHMMSS_RE = /^(\d+):([0-5]\d):([0-5]\d)$/;

/**
 * What Temporal accepts for ExecutionDuration strings: integer nanoseconds, Go durations
 * ('1h30m', '1.5s', '2d') and 'hh:mm:ss'. Computed in integer nanoseconds, as Go does, so that
 * '1.1s' is exactly 1100 ms.
 */
function parseDurationNanos(text: string): bigint | undefined {
  const t = text.trim();
  if (INTEGER_RE.test(t)) return BigInt(t.replace(/^\+/, ''));
  const hms = HHMMSS_RE.exec(t);
  if (hms) return BigInt((Number(hms[1]) * 60 + Number(hms[2])) * 60 + Number(hms[3])) * 1_000_000_000n;
  if (!GO_DURATION_RE.test(t)) return undefined;
  let total = 0n;
  for (const [, whole = '', fraction = '', unit = ''] of t.matchAll(GO_DURATION_PART_RE)) {
    const scale = DURATION_UNIT_NS[unit.toLowerCase()] ?? 0n;
    total += BigInt(whole || '0') * scale;
    if (fraction) total += (BigInt(fraction) * scale) / 10n ** BigInt(fraction.length);
  }
  return t.startsWith('-') ? -total : total;
}

/** An integer literal as exact nanoseconds (the text, since large values exceed double precision). */
function integerNanos(lit: Literal): bigint | undefined {
  if (lit.kind !== 'number') return undefined;
  if (INTEGER_RE.test(lit.text)) return BigInt(lit.text.replace(/^\+/, ''));
  return Number.isInteger(lit.value) ? BigInt(lit.value) : undefined;
}

/** Converts a literal to the normalised JS value the attribute's getter returns, or throws. */
function coerce(attr: AttrDef, lit: Literal): Scalar {
  if (attr.special === 'status') {
    if (lit.kind === 'string') {
      const status = STATUS_BY_SPELLING.get(lit.value.toLowerCase());
      if (status) return status;
    } else if (lit.kind === 'number' && Number.isInteger(lit.value)) {
      const status = STATUS_NAMES[lit.value - 1];
      if (status && lit.value >= 1) return status;
    }
    throw fail(`${describeLiteral(lit)} is not a valid ExecutionStatus`, lit.col, `expected one of ${STATUS_NAMES.join(', ')}`);
  }
  if (attr.special === 'duration') {
    const ns = lit.kind === 'string' ? parseDurationNanos(lit.value) : integerNanos(lit);
    if (ns === undefined) {
      throw invalidValue(lit, 'duration', attr, "use integer nanoseconds or a duration such as '1h30m', '250ms' or '00:05:00'");
    }
    return nanosToMs(ns);
  }
  switch (attr.type) {
    case 'Keyword':
    case 'KeywordList':
    case 'Text':
      if (lit.kind === 'string') return lit.value;
      throw invalidValue(lit, attr.type, attr, 'quote string values');
    case 'Int':
    case 'Double':
      if (lit.kind === 'number') return lit.value;
      if (lit.kind === 'string' && NUMERIC_STRING_RE.test(lit.value.trim())) return Number(lit.value.trim());
      throw invalidValue(lit, attr.type, attr);
    case 'Bool':
      if (lit.kind === 'bool') return lit.value;
      if (lit.kind === 'string') {
        const lower = lit.value.toLowerCase();
        if (lower === 'true' || lower === 'false') return lower === 'true';
      }
      throw invalidValue(lit, 'Bool', attr, 'use true or false');
    case 'Datetime': {
      let ms: number | undefined;
      if (lit.kind === 'string') {
        ms = parseRfc3339(lit.value);
      } else if (lit.kind === 'number' && INTEGER_RE.test(lit.text)) {
        // Temporal reads integer datetimes as Unix nanoseconds.
        ms = nanosToMs(BigInt(lit.text.replace(/^\+/, '')));
      }
      if (ms === undefined) throw invalidValue(lit, 'Datetime', attr, "use RFC 3339 such as '2024-01-02T03:04:05Z'");
      return ms;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Conditions

type Predicate = (r: VisibilityRecord) => boolean;

/**
 * Both polarities of a comparison. Negation is pushed down to the leaves so that, as in SQL,
 * a record missing the attribute fails the comparison and its negation alike.
 */
interface Condition {
  readonly pos: Predicate;
  readonly neg: Predicate;
}

type Node =
  | { readonly kind: 'cond'; readonly cond: Condition }
  | { readonly kind: 'and' | 'or'; readonly items: readonly Node[] }
  | { readonly kind: 'not'; readonly item: Node };

/** The positive operators; `!=`, NOT IN, NOT BETWEEN, NOT STARTS_WITH and IS NOT NULL are their negations. */
type BaseOp = '=' | '<' | '<=' | '>' | '>=' | 'IN' | 'BETWEEN' | 'STARTS_WITH';

/** Per-type operators, as Temporal's query converter allows them (plus STARTS_WITH on KeywordList). */
const SUPPORTED_OPS: Readonly<Record<SearchAttributeType, ReadonlySet<BaseOp>>> = {
  Keyword: new Set<BaseOp>(['=', '<', '<=', '>', '>=', 'IN', 'BETWEEN', 'STARTS_WITH']),
  KeywordList: new Set<BaseOp>(['=', 'IN', 'STARTS_WITH']),
  Text: new Set<BaseOp>(['=']),
  Int: new Set<BaseOp>(['=', '<', '<=', '>', '>=', 'IN', 'BETWEEN']),
  Double: new Set<BaseOp>(['=', '<', '<=', '>', '>=', 'IN', 'BETWEEN']),
  Datetime: new Set<BaseOp>(['=', '<', '<=', '>', '>=', 'IN', 'BETWEEN']),
  Bool: new Set<BaseOp>(['=', 'IN']),
};

function condition<T>(get: Getter, test: (v: T) => boolean): Condition {
  const typedGet = get as (r: VisibilityRecord) => T | undefined;
  return {
    pos: (r) => {
      const v = typedGet(r);
      return v !== undefined && test(v);
    },
    neg: (r) => {
      const v = typedGet(r);
      return v !== undefined && !test(v);
    },
  };
}

function isNullCondition(get: Getter): Condition {
  return { pos: (r) => get(r) === undefined, neg: (r) => get(r) !== undefined };
}

function membership(values: readonly Scalar[]): (v: Scalar) => boolean {
  // A linear scan beats hashing for the short lists queries usually carry.
  if (values.length <= 8) return (v) => values.includes(v);
  const set = new Set(values);
  return (v) => set.has(v);
}

function scalarTest(op: BaseOp, values: readonly Scalar[]): (v: Scalar) => boolean {
  const x = values[0] as Scalar;
  switch (op) {
    case '=':
      return (v) => v === x;
    case '<':
      return (v) => v < x;
    case '<=':
      return (v) => v <= x;
    case '>':
      return (v) => v > x;
    case '>=':
      return (v) => v >= x;
    case 'IN':
      return membership(values);
    case 'BETWEEN': {
      const hi = values[1] as Scalar;
      return (v) => v >= x && v <= hi;
    }
    case 'STARTS_WITH': {
      const prefix = String(x);
      return (v) => (v as string).startsWith(prefix);
    }
  }
}

function keywordListTest(op: BaseOp, values: readonly Scalar[]): (v: readonly unknown[]) => boolean {
  switch (op) {
    case '=': {
      const x = values[0];
      return (list) => list.includes(x);
    }
    case 'IN': {
      const has = membership(values);
      return (list) => list.some((e) => has(e as Scalar));
    }
    case 'STARTS_WITH': {
      const prefix = String(values[0]);
      return (list) => list.some((e) => typeof e === 'string' && e.startsWith(prefix));
    }
    default:
      // Unreachable: SUPPORTED_OPS rejects every other operator before we get here.
      throw new Error(`unsupported KeywordList operator ${op}`);
  }
}

const ENDS_WITH_WORD_CHAR_RE = /[\p{L}\p{N}]$/u;
const STARTS_WITH_WORD_CHAR_RE = /^[\p{L}\p{N}]/u;

/** Whether `word` occurs in `text` with no letter or digit on either side. */
function containsWord(text: string, word: string): boolean {
  for (let at = text.indexOf(word); at >= 0; at = text.indexOf(word, at + 1)) {
    const end = at + word.length;
    // Two code units either side so that a surrogate pair is tested as one character.
    if (!ENDS_WITH_WORD_CHAR_RE.test(text.slice(Math.max(0, at - 2), at)) && !STARTS_WITH_WORD_CHAR_RE.test(text.slice(end, end + 2))) {
      return true;
    }
  }
  return false;
}

function textTest(attr: AttrDef, lit: Literal): (v: string) => boolean {
  const text = coerce(attr, lit) as string;
  const words = text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((w) => w !== '');
  if (words.length === 0) throw fail(`${describeLiteral(lit)} contains no words to search for in Text attribute '${attr.name}'`, lit.col);
  // Every word, whole and case-insensitive: what a full-text match on an analysed field gives.
  return (v) => {
    const lower = v.toLowerCase();
    return words.every((w) => containsWord(lower, w));
  };
}

function buildCondition(attr: AttrDef, op: BaseOp, literals: readonly Literal[]): Condition {
  if (attr.type === 'Text') return condition(attr.get, textTest(attr, literals[0] as Literal));
  // STARTS_WITH takes a raw prefix even on ExecutionStatus, where a prefix is not itself a status.
  const values =
    op === 'STARTS_WITH' ? literals.map((l) => coerce({ ...attr, special: undefined }, l)) : literals.map((l) => coerce(attr, l));
  if (attr.type === 'KeywordList') return condition(attr.get, keywordListTest(op, values));
  return condition(attr.get, scalarTest(op, values));
}

function compileNode(node: Node, negated: boolean): Predicate {
  switch (node.kind) {
    case 'cond':
      return negated ? node.cond.neg : node.cond.pos;
    case 'not':
      return compileNode(node.item, !negated);
    case 'and':
    case 'or': {
      const items = node.items.map((n) => compileNode(n, negated));
      // De Morgan: a negated AND is an OR of negations and vice versa.
      return (node.kind === 'and') !== negated ? every(items) : some(items);
    }
  }
}

function every(preds: readonly Predicate[]): Predicate {
  const [a, b] = preds;
  if (preds.length === 1 && a) return a;
  if (preds.length === 2 && a && b) return (r) => a(r) && b(r);
  return (r) => {
    for (const p of preds) if (!p(r)) return false;
    return true;
  };
}

function some(preds: readonly Predicate[]): Predicate {
  const [a, b] = preds;
  if (preds.length === 1 && a) return a;
  if (preds.length === 2 && a && b) return (r) => a(r) || b(r);
  return (r) => {
    for (const p of preds) if (p(r)) return true;
    return false;
  };
}

// ---------------------------------------------------------------------------------------------
// Ordering

interface SortKey {
  readonly get: Getter;
  readonly descending: boolean;
}

function compareValues(a: Scalar, b: Scalar): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

/** StartTime descending, then RunId: the order Temporal lists executions in when none is given. */
function defaultCompare(a: VisibilityRecord, b: VisibilityRecord): number {
  if (a.startTime !== b.startTime) return a.startTime > b.startTime ? -1 : 1;
  return compareValues(a.runId, b.runId);
}

function sortComparator(keys: readonly SortKey[]): (a: VisibilityRecord, b: VisibilityRecord) => number {
  return (a, b) => {
    for (const key of keys) {
      const va = key.get(a) as Scalar | undefined;
      const vb = key.get(b) as Scalar | undefined;
      if (va === undefined || vb === undefined) {
        // Missing values sort last in either direction, as Elasticsearch does by default.
        if (va !== vb) return va === undefined ? 1 : -1;
        continue;
      }
      const c = compareValues(va, vb);
      if (c !== 0) return key.descending ? -c : c;
    }
    // Ties fall back to the default order so that pages are stable.
    return defaultCompare(a, b);
  };
}

// ---------------------------------------------------------------------------------------------
// Parser

const RESERVED_WORDS: ReadonlySet<string> = new Set([
  'AND',
  'OR',
  'NOT',
  'IN',
  'BETWEEN',
  'IS',
  'NULL',
  'TRUE',
  'FALSE',
  'STARTS_WITH',
  'LIKE',
  'ORDER',
  'GROUP',
  'BY',
  'LIMIT',
]);

const OP_TO_BASE: Readonly<Record<string, [BaseOp, boolean]>> = {
  '=': ['=', false],
  '!=': ['=', true],
  '<': ['<', false],
  '<=': ['<=', false],
  '>': ['>', false],
  '>=': ['>=', false],
};

function describeToken(t: Token): string {
  switch (t.kind) {
    case 'eof':
      return 'end of query';
    case 'string':
      return `'${t.text}'`;
    case 'name':
      return `\`${t.text}\``;
    default:
      return t.text;
  }
}

interface ParsedQuery {
  readonly where: Node | null;
  readonly orderBy: readonly SortKey[] | null;
  readonly groupBy: 'ExecutionStatus' | undefined;
}

class Parser {
  private pos = 0;

  constructor(
    private readonly tokens: readonly Token[],
    private readonly resolve: (name: string, col: number) => AttrDef,
  ) {}

  parse(): ParsedQuery {
    let where: Node | null = null;
    if (this.peek().kind !== 'eof' && !this.atKeyword('ORDER') && !this.atKeyword('GROUP')) where = this.parseOr();
    const groupBy = this.atKeyword('GROUP') ? this.parseGroupBy() : undefined;
    const orderBy = this.atKeyword('ORDER') ? this.parseOrderBy() : null;
    const t = this.peek();
    if (t.kind !== 'eof') {
      throw fail(`unexpected ${describeToken(t)}`, t.col, where ? 'expected AND, OR, ORDER BY or end of query' : undefined);
    }
    return { where, orderBy, groupBy };
  }

  private peek(): Token {
    return this.tokens[Math.min(this.pos, this.tokens.length - 1)] as Token;
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.pos++;
    return t;
  }

  private atKeyword(keyword: string): boolean {
    const t = this.peek();
    return t.kind === 'word' && t.upper === keyword;
  }

  private expectKeyword(keyword: string, after: string): void {
    const t = this.next();
    if (t.kind !== 'word' || t.upper !== keyword) throw fail(`expected ${keyword} after ${after}`, t.col, `found ${describeToken(t)}`);
  }

  private parseOr(): Node {
    const items = [this.parseAnd()];
    while (this.atKeyword('OR')) {
      this.next();
      items.push(this.parseAnd());
    }
    return items.length === 1 ? (items[0] as Node) : { kind: 'or', items };
  }

  private parseAnd(): Node {
    const items = [this.parseUnary()];
    while (this.atKeyword('AND')) {
      this.next();
      items.push(this.parseUnary());
    }
    return items.length === 1 ? (items[0] as Node) : { kind: 'and', items };
  }

  private parseUnary(): Node {
    if (this.atKeyword('NOT')) {
      this.next();
      return { kind: 'not', item: this.parseUnary() };
    }
    const t = this.peek();
    if (t.kind === '(') {
      this.next();
      const inner = this.parseOr();
      const close = this.next();
      if (close.kind !== ')') throw fail(`expected ')'`, close.col, `to close '(' at column ${t.col}; found ${describeToken(close)}`);
      return inner;
    }
    return this.parsePredicate();
  }

  private parseAttribute(context: string): AttrDef {
    const t = this.next();
    if (t.kind === 'name' || (t.kind === 'word' && !RESERVED_WORDS.has(t.upper))) return this.resolve(t.text, t.col);
    throw fail(`expected a search attribute name${context}`, t.col, `found ${describeToken(t)}`);
  }

  private parsePredicate(): Node {
    const nameToken = this.peek();
    const attr = this.parseAttribute('');
    const opToken = this.next();
    if (opToken.kind === 'op') {
      const [op, negated] = OP_TO_BASE[opToken.text] as [BaseOp, boolean];
      this.checkOperator(attr, op, opToken.text, opToken.col);
      const value = this.parseValue(`'${opToken.text}'`);
      return this.leaf(attr, op, [value], negated);
    }
    if (opToken.kind === 'word') {
      switch (opToken.upper) {
        case 'IS':
          return this.parseIsNull(attr);
        case 'NOT': {
          const inner = this.next();
          const keyword = inner.kind === 'word' ? inner.upper : '';
          if (keyword !== 'IN' && keyword !== 'BETWEEN' && keyword !== 'STARTS_WITH') {
            throw fail('expected IN, BETWEEN or STARTS_WITH after NOT', inner.col, `found ${describeToken(inner)}`);
          }
          return this.parseKeywordOperator(attr, keyword, opToken.col, true);
        }
        case 'IN':
        case 'BETWEEN':
        case 'STARTS_WITH':
          return this.parseKeywordOperator(attr, opToken.upper, opToken.col, false);
        case 'LIKE':
          throw fail('operator LIKE is not supported', opToken.col, 'use STARTS_WITH');
      }
    }
    throw fail(
      `expected an operator after '${attr.name}'`,
      opToken.col,
      `found ${describeToken(opToken)}${nameToken.kind === 'word' && opToken.kind === 'word' ? '; quote attribute names containing spaces with backticks' : ''}`,
    );
  }

  private parseKeywordOperator(attr: AttrDef, op: 'IN' | 'BETWEEN' | 'STARTS_WITH', col: number, negated: boolean): Node {
    this.checkOperator(attr, op, negated ? `NOT ${op}` : op, col);
    if (op === 'STARTS_WITH') return this.leaf(attr, op, [this.parseValue('STARTS_WITH')], negated);
    if (op === 'BETWEEN') {
      const low = this.parseValue('BETWEEN');
      this.expectKeyword('AND', 'the BETWEEN lower bound');
      const high = this.parseValue('AND');
      return this.leaf(attr, op, [low, high], negated);
    }
    const open = this.next();
    if (open.kind !== '(') throw fail(`expected '(' after IN`, open.col, `found ${describeToken(open)}`);
    const values = [this.parseValue(`'('`)];
    for (;;) {
      const sep = this.next();
      if (sep.kind === ')') break;
      if (sep.kind !== ',') throw fail(`expected ',' or ')' in IN list`, sep.col, `found ${describeToken(sep)}`);
      values.push(this.parseValue(`','`));
    }
    return this.leaf(attr, op, values, negated);
  }

  private parseIsNull(attr: AttrDef): Node {
    let negated = false;
    if (this.atKeyword('NOT')) {
      this.next();
      negated = true;
    }
    this.expectKeyword('NULL', negated ? 'IS NOT' : 'IS');
    const node: Node = { kind: 'cond', cond: isNullCondition(attr.get) };
    return negated ? { kind: 'not', item: node } : node;
  }

  private checkOperator(attr: AttrDef, op: BaseOp, display: string, col: number): void {
    if (!SUPPORTED_OPS[attr.type].has(op)) throw fail(`operator ${display} is not supported for attribute of type ${attr.type}`, col);
  }

  private leaf(attr: AttrDef, op: BaseOp, literals: readonly Literal[], negated: boolean): Node {
    const node: Node = { kind: 'cond', cond: buildCondition(attr, op, literals) };
    return negated ? { kind: 'not', item: node } : node;
  }

  private parseValue(after: string): Literal {
    const t = this.next();
    switch (t.kind) {
      case 'string':
        return { kind: 'string', value: t.text, col: t.col };
      case 'number':
        return { kind: 'number', value: Number(t.text), text: t.text, col: t.col };
      case 'word':
        if (t.upper === 'TRUE' || t.upper === 'FALSE') return { kind: 'bool', value: t.upper === 'TRUE', col: t.col };
        if (t.upper === 'NULL') throw fail('cannot compare with NULL', t.col, 'use IS NULL or IS NOT NULL');
        if (!RESERVED_WORDS.has(t.upper)) throw fail(`expected a value after ${after}`, t.col, `did you forget to quote '${t.text}'?`);
        break;
      case 'name':
        throw fail(`expected a value after ${after}`, t.col, 'comparing two attributes is not supported');
      default:
        break;
    }
    throw fail(`expected a value after ${after}`, t.col, `found ${describeToken(t)}`);
  }

  private parseGroupBy(): 'ExecutionStatus' {
    this.next();
    this.expectKeyword('BY', 'GROUP');
    const t = this.peek();
    const attr = this.parseAttribute(' after GROUP BY');
    if (attr.name !== 'ExecutionStatus') throw fail(`GROUP BY is not supported for attribute '${attr.name}'`, t.col, 'only ExecutionStatus');
    const extra = this.peek();
    if (extra.kind === ',') throw fail('GROUP BY supports a single attribute', extra.col);
    return 'ExecutionStatus';
  }

  private parseOrderBy(): SortKey[] {
    this.next();
    this.expectKeyword('BY', 'ORDER');
    const keys: SortKey[] = [];
    for (;;) {
      const t = this.peek();
      const attr = this.parseAttribute(' after ORDER BY');
      if (attr.type === 'Text' || attr.type === 'KeywordList') {
        throw fail(`cannot ORDER BY attribute '${attr.name}' of type ${attr.type}`, t.col);
      }
      let descending = false;
      if (this.atKeyword('ASC') || this.atKeyword('DESC')) descending = this.next().upper === 'DESC';
      keys.push({ get: attr.get, descending });
      if (this.peek().kind !== ',') return keys;
      this.next();
    }
  }
}

const MATCH_ALL: Predicate = () => true;

/**
 * Compiles a visibility list filter (the `query` of ListWorkflowExecutions / CountWorkflowExecutions).
 *
 * Attribute names resolve, in order, to the built-in system attributes (WorkflowId, RunId,
 * WorkflowType, TaskQueue, ExecutionStatus, StartTime, ExecutionTime, CloseTime, HistoryLength,
 * ExecutionDuration, ParentWorkflowId, ParentRunId, RootWorkflowId, RootRunId, StateTransitionCount,
 * HistorySizeBytes), then to `registry`, then to Temporal's predefined attributes that live in
 * `searchAttributes` (TemporalChangeVersion, BuildIds, TemporalScheduledById, …).
 * ExecutionDuration integer literals are nanoseconds, as in Temporal; strings may be durations
 * such as '1h30m' or '00:05:00'. Datetime integer literals are Unix nanoseconds.
 *
 * @param query - the filter; empty or blank matches every record in the default order
 * @param registry - custom search attribute name → type
 * @returns a reusable matcher and comparator; the comparator sorts missing values last and
 *   breaks ties by StartTime descending, then RunId
 * @throws ListQueryError when the query is malformed, names an unknown attribute, uses an
 *   operator the attribute's type does not support, or has a value of the wrong type
 */
export function compileListQuery(query: string, registry: ReadonlyMap<string, SearchAttributeType>): CompiledListQuery {
  const parsed = new Parser(tokenize(query), makeResolver(registry)).parse();
  const compiled: CompiledListQuery = {
    matches: parsed.where ? compileNode(parsed.where, false) : MATCH_ALL,
    compare: parsed.orderBy ? sortComparator(parsed.orderBy) : defaultCompare,
  };
  return parsed.groupBy ? { ...compiled, groupBy: parsed.groupBy } : compiled;
}
