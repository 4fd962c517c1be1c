import { BaseCommand, Flags } from '../base';
import { UnavailableError, UsageError } from '../../errors';
import { EXPORTED_METRIC_NAMES, metricInfo } from '../../metrics/registry';
import type { Sample } from '../../metrics/parse-text';

/** One row of `metrics --json`. */
export interface MetricRow {
  name: string;
  type: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricsResult {
  url: string;
  metrics: MetricRow[];
}

/** `fraiseql-observers metrics`: a running instance's observer_* metrics as a table. */
export default class Metrics extends BaseCommand<typeof Metrics> {
  static override summary = "Show a running instance's observer_* metrics";
  static override description =
    'Fetches /metrics from a running `fraiseql-observers start` and prints every observer_* sample: name, labels and ' +
    'value. Histograms are shown as their _count and _sum (add --buckets for every bucket).';

  static override examples = [
    '<%= config.bin %> metrics',
    '<%= config.bin %> metrics --url http://10.0.0.5:9464/metrics --json',
    '<%= config.bin %> metrics --filter action',
    '<%= config.bin %> metrics --metric observer_dlq_size',
  ];

  static override flags = {
    url: Flags.string({ summary: 'Metrics URL of the instance (default http://127.0.0.1:$METRICS_PORT/metrics, port 9464)' }),
    filter: Flags.string({ summary: 'Only metrics whose name contains this text' }),
    metric: Flags.string({ summary: 'Only this metric, by its exact name (e.g. observer_action_executed_total; a histogram by its base name)' }),
    buckets: Flags.boolean({ default: false, summary: 'Also show histogram buckets' }),
    all: Flags.boolean({ default: false, summary: 'Every metric, not only observer_* (process_*, nodejs_*, ...)' }),
    timeout: Flags.integer({ default: 5000, min: 1, summary: 'Milliseconds to wait for an answer' }),
  };

  public async run(): Promise<MetricsResult> {
    const { MetricsFormatError, parsePrometheusText } = await import('../../metrics/parse-text');
    const url = this.flags.url ?? defaultUrl(process.env.METRICS_PORT);
    const wanted = this.flags.metric;
    if (wanted !== undefined && !metricInfo(wanted)) {
      // Suggest the names that share a word with the one asked for (dlq_entries → observer_dlq_size, ...).
      const words = wanted.replace(/^observer_/, '').split('_').filter((w) => w.length >= 3 && w !== 'total');
      const near = EXPORTED_METRIC_NAMES.filter((n) => words.some((w) => n.split('_').includes(w))).slice(0, 5);
      throw new UsageError(`--metric: ${JSON.stringify(wanted)} is not a metric this service exports${near.length > 0 ? ` (did you mean ${near.join(', ')}?)` : ''}; see the README's metric table`);
    }
    if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) this.error(`--url ${url} is not an http:// or https:// URL`, { exit: 2 });

    let text: string;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(this.flags.timeout), headers: { Accept: 'text/plain' } });
      text = await res.text();
      if (!res.ok) this.error(`${url} answered HTTP ${res.status}: ${text.slice(0, 200)}`, { exit: 1 });
    } catch (err) {
      if (err instanceof Error && 'oclif' in err) throw err;
      throw new UnavailableError(describeFetchError(url, err, this.flags.timeout), { cause: err });
    }

    let parsed;
    try {
      parsed = parsePrometheusText(text);
    } catch (err) {
      if (err instanceof MetricsFormatError) this.error(`${url} did not answer with Prometheus metrics: ${err.message}`, { exit: 1 });
      throw err;
    }
    const filter = this.flags.filter;
    const rows: MetricRow[] = parsed.samples
      .filter((s) => this.flags.all || s.name.startsWith('observer_'))
      .filter((s) => !filter || s.name.includes(filter))
      .filter((s) => wanted === undefined || s.family === wanted)
      .filter((s) => this.flags.buckets || !isBucket(s, parsed.families.get(s.family)?.type))
      .map((s) => ({ name: s.name, type: parsed.families.get(s.family)?.type ?? 'untyped', labels: s.labels, value: s.value }));

    if (!this.jsonEnabled()) {
      if (rows.length === 0 && wanted !== undefined) {
        const info = metricInfo(wanted);
        this.log(`${url} serves no samples of ${wanted} yet (it comes from ${info?.role === 'service' ? 'every' : `--role ${info?.role}|all`} processes, once there is something to count).`);
      } else if (rows.length === 0) {
        this.log(`${url} serves no ${this.flags.all ? '' : 'observer_* '}metrics${filter ? ` matching "${filter}"` : ''} yet.`);
      } else {
        this.table(
          ['metric', 'labels', 'value'],
          rows.map((r) => [r.name, Object.entries(r.labels).map(([k, v]) => `${k}=${v}`).join(' '), formatValue(r.value)]),
        );
        this.log(`${rows.length} sample(s) from ${url}`);
      }
    }
    return { url, metrics: rows };
  }
}

function defaultUrl(port: string | undefined): string {
  const p = port && /^[0-9]{1,5}$/.test(port.trim()) && Number(port) > 0 ? Number(port) : 9464;
  return `http://127.0.0.1:${p}/metrics`;
}

function isBucket(s: Sample, type: string | undefined): boolean {
  return type === 'histogram' && s.name.endsWith('_bucket');
}

function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return Number.isInteger(v) ? String(v) : v.toPrecision(6).replace(/\.?0+$/, '');
}

function describeFetchError(url: string, err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `${url} did not answer within ${timeoutMs} ms`;
  const code = e.cause?.code;
  if (code === 'ECONNREFUSED') {
    return `nothing is listening at ${url}: is \`fraiseql-observers start\` running there? (pass --url, or set METRICS_PORT to the port it serves on)`;
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `cannot resolve the host of ${url}`;
  return `cannot fetch ${url}: ${e.cause?.message ?? e.message ?? String(err)}`;
}
