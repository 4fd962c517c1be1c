/**
 * A small reader of the Prometheus text exposition format (what `/metrics` serves), enough for the
 * `metrics` command: samples with their labels and values, and each family's type and help.
 */
import { ObserversError } from '../errors';

export interface Sample {
  /** Sample name as exposed (`observer_action_duration_seconds_count`, ...). */
  name: string;
  /** The metric family it belongs to (the name without `_bucket` / `_sum` / `_count` for histograms). */
  family: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  type: string;
  help: string;
}

export interface ParsedMetrics {
  families: Map<string, MetricFamily>;
  samples: Sample[];
}

/** Thrown for text that is not the exposition format; the message names the line. */
export class MetricsFormatError extends ObserversError {}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const SUFFIXES = ['_bucket', '_sum', '_count', '_created', '_total'];

function parseValue(raw: string, line: number): number {
  // Prometheus reads these case-insensitively (prom-client writes `Nan`).
  const special = raw.toLowerCase();
  if (special === '+inf' || special === 'inf') return Number.POSITIVE_INFINITY;
  if (special === '-inf') return Number.NEGATIVE_INFINITY;
  if (special === 'nan') return Number.NaN;
  const n = Number(raw);
  if (raw === '' || Number.isNaN(n)) throw new MetricsFormatError(`line ${line}: value ${JSON.stringify(raw)} is not a number`);
  return n;
}

/** Labels `{a="x",b="y\"z"}` starting at `text[0] === '{'`; returns them and the rest of the line. */
function parseLabels(text: string, line: number): [Record<string, string>, string] {
  const labels: Record<string, string> = {};
  let i = 1;
  for (;;) {
    while (text[i] === ' ' || text[i] === ',') i += 1;
    if (text[i] === '}') return [labels, text.slice(i + 1)];
    const name = NAME.exec(text.slice(i))?.[0];
    if (!name || text[i + name.length] !== '=' || text[i + name.length + 1] !== '"') {
      throw new MetricsFormatError(`line ${line}: malformed label set`);
    }
    i += name.length + 2;
    let value = '';
    for (;;) {
      const c = text[i];
      if (c === undefined) throw new MetricsFormatError(`line ${line}: unterminated label value`);
      i += 1;
      if (c === '"') break;
      if (c === '\\') {
        const e = text[i];
        i += 1;
        value += e === 'n' ? '\n' : (e ?? '');
      } else {
        value += c;
      }
    }
    labels[name] = value;
  }
}

/**
 * Parses exposition text.
 *
 * @throws MetricsFormatError naming the first line that is not a comment, blank or sample.
 */
export function parsePrometheusText(text: string): ParsedMetrics {
  const families = new Map<string, MetricFamily>();
  const samples: Sample[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, index) => {
    const lineNo = index + 1;
    const line = raw.trim();
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^#\s*(HELP|TYPE)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(.*)$/.exec(line);
      if (m) {
        const [, kind, name, rest] = m as unknown as [string, string, string, string];
        const f = families.get(name) ?? { name, type: 'untyped', help: '' };
        if (kind === 'HELP') f.help = rest.replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
        else f.type = rest.trim() || 'untyped';
        families.set(name, f);
      }
      return;
    }
    const name = NAME.exec(line)?.[0];
    if (!name) throw new MetricsFormatError(`line ${lineNo}: expected a metric name, got ${JSON.stringify(line.slice(0, 40))}`);
    let rest = line.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) [labels, rest] = parseLabels(rest, lineNo);
    const [valueText] = rest.trim().split(/\s+/);
    samples.push({ name, family: familyOf(name, families), labels, value: parseValue(valueText ?? '', lineNo) });
  });
  return { families, samples };
}

function familyOf(name: string, families: ReadonlyMap<string, MetricFamily>): string {
  if (families.has(name)) return name;
  for (const s of SUFFIXES) {
    if (name.endsWith(s) && families.has(name.slice(0, -s.length))) return name.slice(0, -s.length);
  }
  return name;
}
