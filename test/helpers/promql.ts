/**
 * The metric names a PromQL expression (or a promtool series selector) reads, with the label
 * names its selectors match on. A small lexer, not a parser: enough to tell metric names apart
 * from functions, aggregation and grouping keywords, label lists, strings, durations and Grafana
 * variables, so the dashboards and alert rules can be checked against the names the service
 * really exports.
 */

/** One vector selector: `name{label="v", ...}`. */
export interface SelectorRef {
  name: string;
  /** Label names matched inside the braces (empty without braces). */
  labels: string[];
}

// Keywords that read like identifiers but are not metric names.
const KEYWORDS = new Set([
  'and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan', 'atan2', '@', 'start', 'end',
]);
// Keywords followed by a parenthesised label list.
const LABEL_LIST_BEFORE = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

/**
 * Every vector selector of `expr`, in order. `{__name__="x"}` selectors count as `x`.
 *
 * @throws Error on an unterminated string, brace or bracket (the expression is broken).
 */
export function selectorsIn(expr: string): SelectorRef[] {
  const out: SelectorRef[] = [];
  let i = 0;
  const n = expr.length;
  const skipSpace = () => {
    while (i < n && /\s/.test(expr[i]!)) i++;
  };
  const readString = (): string => {
    const quote = expr[i]!;
    let j = i + 1;
    let value = '';
    while (j < n && expr[j] !== quote) {
      if (expr[j] === '\\' && quote !== '`') j++;
      value += expr[j] ?? '';
      j++;
    }
    if (j >= n) throw new Error(`unterminated string at ${i} in ${JSON.stringify(expr)}`);
    i = j + 1;
    return value;
  };
  const readMatchers = (): { labels: string[]; name: string | null } => {
    // At '{': label matchers up to the closing brace.
    i++;
    const labels: string[] = [];
    let name: string | null = null;
    for (;;) {
      skipSpace();
      if (i >= n) throw new Error(`unterminated '{' in ${JSON.stringify(expr)}`);
      if (expr[i] === '}') {
        i++;
        return { labels, name };
      }
      if (expr[i] === ',') {
        i++;
        continue;
      }
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(expr.slice(i));
      if (!m) throw new Error(`expected a label name at ${i} in ${JSON.stringify(expr)}`);
      i += m[0].length;
      skipSpace();
      const op = /^(=~|!~|!=|=)/.exec(expr.slice(i));
      if (!op) throw new Error(`expected a label matcher operator at ${i} in ${JSON.stringify(expr)}`);
      i += op[0].length;
      skipSpace();
      if (expr[i] !== '"' && expr[i] !== "'" && expr[i] !== '`') throw new Error(`expected a quoted label value at ${i} in ${JSON.stringify(expr)}`);
      const value = readString();
      if (m[0] === '__name__' && op[0] === '=') name = value;
      else labels.push(m[0]);
    }
  };

  while (i < n) {
    const ch = expr[i]!;
    if (/\s/.test(ch)) {
      i++;
    } else if (ch === '"' || ch === "'" || ch === '`') {
      readString();
    } else if (ch === '#') {
      while (i < n && expr[i] !== '\n') i++;
    } else if (ch === '$') {
      // Grafana variable: $job, ${job}, ${job:regex}, $__rate_interval.
      const m = /^\$(\{[^}]*\}|[A-Za-z0-9_]+)/.exec(expr.slice(i));
      i += m ? m[0].length : 1;
    } else if (ch === '[') {
      // Range or subquery: durations and Grafana variables only.
      const close = expr.indexOf(']', i);
      if (close < 0) throw new Error(`unterminated '[' in ${JSON.stringify(expr)}`);
      i = close + 1;
    } else if (ch === '{') {
      const { labels, name } = readMatchers();
      if (name !== null) out.push({ name, labels });
    } else if (/[0-9.]/.test(ch)) {
      // Numbers and durations (5m, 1e3, 0x1f, 1h30m).
      const m = /^[0-9.][0-9A-Za-z_.]*/.exec(expr.slice(i));
      i += m![0].length;
    } else if (/[A-Za-z_:]/.test(ch)) {
      const m = /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(expr.slice(i))!;
      const word = m[0];
      i += word.length;
      const save = i;
      skipSpace();
      if (LABEL_LIST_BEFORE.has(word.toLowerCase())) {
        if (expr[i] === '(') {
          const close = expr.indexOf(')', i);
          if (close < 0) throw new Error(`unterminated label list after ${word} in ${JSON.stringify(expr)}`);
          i = close + 1;
        }
        continue;
      }
      if (KEYWORDS.has(word.toLowerCase())) continue;
      if (expr[i] === '(') continue; // a function or aggregation
      if (/^(by|without)\s*\(/i.test(expr.slice(i))) continue; // `sum by (x) (...)`
      i = save;
      skipSpace();
      const labels = expr[i] === '{' ? readMatchers().labels : [];
      out.push({ name: word, labels });
    } else {
      i++;
    }
  }
  return out;
}

/** The distinct metric names `expr` reads, sorted. */
export function metricNamesIn(expr: string): string[] {
  return [...new Set(selectorsIn(expr).map((s) => s.name))].sort();
}

/** A metric family as a registry reports it. */
export interface ExportedFamily {
  name: string;
  type: string;
  labels: readonly string[];
}

/**
 * The series names a family is scraped as: histograms and summaries add `_bucket` / `_sum` /
 * `_count` (and summaries `name` itself with a quantile label).
 */
export function seriesNamesOf(family: ExportedFamily): string[] {
  if (family.type === 'histogram') return [`${family.name}_bucket`, `${family.name}_sum`, `${family.name}_count`];
  if (family.type === 'summary') return [family.name, `${family.name}_sum`, `${family.name}_count`];
  return [family.name];
}

/** Labels every scraped series may carry besides its own: added by Prometheus or by histograms. */
export const SCRAPE_LABELS = ['job', 'instance', 'le', 'quantile', '__name__'];

/**
 * Problems of `expr` against the exported families: names that are not exported series, and
 * label names a selector matches on that the series never carries.
 */
export function checkExpression(expr: string, families: readonly ExportedFamily[]): string[] {
  const bySeries = new Map<string, ExportedFamily>();
  for (const f of families) for (const s of seriesNamesOf(f)) bySeries.set(s, f);
  const problems: string[] = [];
  const selectors = selectorsIn(expr);
  if (selectors.length === 0) problems.push(`reads no metric: ${expr}`);
  for (const s of selectors) {
    const family = bySeries.get(s.name);
    if (!family) {
      problems.push(`${s.name} is not exported by the service`);
      continue;
    }
    for (const label of s.labels) {
      if (!family.labels.includes(label) && !SCRAPE_LABELS.includes(label)) problems.push(`${s.name} has no label ${label} (it has: ${family.labels.join(', ') || 'none'})`);
    }
  }
  return problems;
}
