/**
 * The metrics endpoint over real HTTP: /metrics serves the registry, /healthz the process,
 * /readyz the readiness checks (200 / 503 with the reasons); and the `metrics` command reads a
 * running endpoint and says clearly when nothing listens.
 */
import { execFile } from 'node:child_process';
import http from 'node:http';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Counter, Histogram, Registry } from 'prom-client';
import { type MetricsServer, type ReadinessCheck, startMetricsServer } from '../../src/metrics/server';
import { parsePrometheusText } from '../../src/metrics/parse-text';

jest.setTimeout(60_000);

const ROOT = join(__dirname, '..', '..');
const run = promisify(execFile);

async function get(url: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  const res = await fetch(url, { method });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}

/** A port that was free a moment ago (bound and released). */
async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe('metrics server', () => {
  let registry: Registry;
  let server: MetricsServer;
  let base: string;
  const state = { listener: true, worker: 'RUNNING' };

  beforeAll(async () => {
    registry = new Registry();
    const c = new Counter({ name: 'observer_actions_executed_total', help: 'x', labelNames: ['action_type', 'observer', 'status'], registers: [registry] });
    c.inc({ action_type: 'webhook', observer: 'order "shipped"', status: 'success' }, 3);
    const h = new Histogram({ name: 'observer_event_processing_duration_seconds', help: 'y', labelNames: ['entity_type'], buckets: [0.1, 1], registers: [registry] });
    h.observe({ entity_type: 'Order' }, 0.25);
    new Counter({ name: 'other_total', help: 'not an observer metric', registers: [registry] }).inc();
    server = await startMetricsServer({ registry, port: 0, host: '127.0.0.1' });
    base = server.url;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('serves the registry as Prometheus text on /metrics', async () => {
    const res = await get(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.type).toContain('text/plain');
    const parsed = parsePrometheusText(res.body);
    expect(parsed.samples).toContainEqual({
      name: 'observer_actions_executed_total',
      family: 'observer_actions_executed_total',
      labels: { action_type: 'webhook', observer: 'order "shipped"', status: 'success' },
      value: 3,
    });
    expect(parsed.families.get('observer_event_processing_duration_seconds')?.type).toBe('histogram');
    expect(parsed.samples.find((s) => s.name === 'observer_event_processing_duration_seconds_bucket' && s.labels.le === '1')?.value).toBe(1);
    expect(parsed.samples.find((s) => s.name === 'observer_event_processing_duration_seconds_bucket' && s.labels.le === '0.1')?.value).toBe(0);
  });

  it('answers /healthz while the process runs', async () => {
    const res = await get(`${base}/healthz`);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ status: 'alive', pid: process.pid });
  });

  it('is not ready before any role registered its checks', async () => {
    const res = await get(`${base}/readyz`);
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body)).toMatchObject({ status: 'not_ready', ready: false, reason: 'starting: no role is running yet' });
  });

  it('answers /readyz 200 only while every check passes, 503 with the failing reasons otherwise', async () => {
    const checks: ReadinessCheck[] = [
      { name: 'listener', check: () => ({ ok: state.listener, detail: state.listener ? 'leader' : 'stopped: lease session lost' }) },
      { name: 'worker', check: async () => ({ ok: state.worker === 'RUNNING', detail: state.worker.toLowerCase() }) },
    ];
    server.setChecks(checks);
    let res = await get(`${base}/readyz`);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({
      status: 'ready',
      ready: true,
      checks: [{ name: 'listener', ok: true, detail: 'leader' }, { name: 'worker', ok: true, detail: 'running' }],
    });

    state.listener = false;
    state.worker = 'DRAINING';
    res = await get(`${base}/readyz`);
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body)).toMatchObject({
      status: 'not_ready',
      reason: 'listener: stopped: lease session lost; worker: draining',
    });
    state.listener = true;
    state.worker = 'RUNNING';
  });

  it('fails a check that throws or does not answer in time', async () => {
    const slow = await startMetricsServer({
      registry,
      port: 0,
      host: '127.0.0.1',
      checkTimeoutMs: 200,
      checks: [
        { name: 'temporal', check: () => new Promise(() => undefined) },
        { name: 'db', check: () => { throw new Error('connect ECONNREFUSED 127.0.0.1:5432'); } },
      ],
    });
    try {
      const res = await get(`${slow.url}/readyz`);
      expect(res.status).toBe(503);
      expect(JSON.parse(res.body).reason).toBe('temporal: no answer within 200 ms; db: connect ECONNREFUSED 127.0.0.1:5432');
    } finally {
      await slow.close();
    }
  });

  it('answers unknown paths with 404 and other methods with 405', async () => {
    const missing = await get(`${base}/nope`);
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body).error).toContain('/metrics, /healthz or /readyz');
    expect((await get(`${base}/metrics`, 'POST')).status).toBe(405);
  });

  it('says which port is taken when it cannot bind', async () => {
    await expect(startMetricsServer({ registry, port: server.port, host: '127.0.0.1' })).rejects.toThrow(
      `cannot serve metrics on 127.0.0.1:${server.port}: the port is already in use (set METRICS_PORT to another port, or 0 for any free one)`,
    );
  });

  describe('`metrics` command', () => {
    beforeAll(() => {
      if (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'commands', 'metrics.js'))) throw new Error('dist/ is missing: run `npm run build` first');
    });

    it('prints the observer_* samples as data with --json (buckets only on request)', async () => {
      const { stdout } = await run('node', ['bin/run.js', 'metrics', '--url', `${base}/metrics`, '--json'], { cwd: ROOT });
      const result = JSON.parse(stdout) as { url: string; metrics: Array<{ name: string; labels: Record<string, string>; value: number; type: string }> };
      expect(result.url).toBe(`${base}/metrics`);
      const names = result.metrics.map((m) => m.name);
      expect(names).toContain('observer_actions_executed_total');
      expect(names).toContain('observer_event_processing_duration_seconds_count');
      expect(names).not.toContain('other_total');
      expect(names).not.toContain('observer_event_processing_duration_seconds_bucket');
      expect(result.metrics.find((m) => m.name === 'observer_event_processing_duration_seconds_sum')).toMatchObject({ type: 'histogram', labels: { entity_type: 'Order' }, value: 0.25 });

      const withBuckets = JSON.parse((await run('node', ['bin/run.js', 'metrics', '--url', `${base}/metrics`, '--json', '--buckets'], { cwd: ROOT })).stdout);
      expect(withBuckets.metrics.filter((m: { name: string }) => m.name.endsWith('_bucket'))).toHaveLength(3);
    });

    it('--metric NAME shows that metric only; a name the service does not export is refused (exit 2)', async () => {
      const { stdout } = await run('node', ['bin/run.js', 'metrics', '--url', `${base}/metrics`, '--metric', 'observer_event_processing_duration_seconds', '--json'], { cwd: ROOT });
      const names = (JSON.parse(stdout) as { metrics: Array<{ name: string }> }).metrics.map((m) => m.name).sort();
      expect(names).toEqual(['observer_event_processing_duration_seconds_count', 'observer_event_processing_duration_seconds_sum']);
      const err = await run('node', ['bin/run.js', 'metrics', '--url', `${base}/metrics`, '--metric', 'observer_dlq_entries'], { cwd: ROOT }).then(
        () => { throw new Error('expected the command to fail'); },
        (e: { code: number; stderr: string }) => e,
      );
      expect(err.code).toBe(2);
      expect(err.stderr.replace(/\s*›\s*/g, ' ')).toContain('--metric: "observer_dlq_entries" is not a metric this service exports (did you mean observer_dlq_items_total, observer_dlq_size?)');
    });

    it('prints a readable table', async () => {
      const { stdout } = await run('node', ['bin/run.js', 'metrics', '--url', `${base}/metrics`, '--filter', 'executed'], { cwd: ROOT });
      expect(stdout).toMatch(/observer_actions_executed_total\s*│\s*action_type=webhook observer=order "shipped" status=success\s*│\s*3/);
      expect(stdout).toContain('1 sample(s) from');
    });

    it('says clearly when nothing listens at the URL', async () => {
      const port = await freePort();
      const err = await run('node', ['bin/run.js', 'metrics', '--url', `http://127.0.0.1:${port}/metrics`], { cwd: ROOT }).then(
        () => { throw new Error('expected the command to fail'); },
        (e: { code: number; stderr: string }) => e,
      );
      expect(err.code).toBe(3);
      expect(err.stderr.replace(/\s*›\s*/g, ' ')).toContain(`nothing is listening at http://127.0.0.1:${port}/metrics: is \`fraiseql-observers start\` running there?`);
    });
  });
});
