/**
 * `fraiseql-observers start` as a user runs it: the built CLI in a child process, its own database,
 * the embedded Temporal server and the metrics endpoint on free ports. Inserted rows become a
 * `database` action writing a table and a signed webhook to a loopback receiver (allowed by the
 * config's ssrf.allow); /metrics shows the counters moving, /readyz is 200, and SIGTERM stops it
 * with exit code 0 and the checkpoint saved past the rows. Startup failures say what to do.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate } from '../../src/db/migrate';
import { parsePrometheusText } from '../../src/metrics/parse-text';
import { createTestDatabase, databaseUrl, waitFor, type TestDatabase } from '../helpers/pg';
import { type Cli, ROOT, startCli as startProcess, unwrap } from '../helpers/cli-process';
import { type HttpReceiver, startHttpReceiver } from '../helpers/receivers';

jest.setTimeout(240_000);

/** `fraiseql-observers start ...` as a child process. */
const startCli = (args: string[], env: Record<string, string>): Cli => startProcess(['start', ...args], env);

async function metricValue(url: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(url)).text();
  return parsePrometheusText(text)
    .samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0);
}

describe('fraiseql-observers start', () => {
  let db: TestDatabase;
  let receiver: HttpReceiver;
  let dir: string;
  let configFile: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'commands', 'start.js'))) throw new Error('dist/ is missing: run `npm run build` first');
    db = await createTestDatabase('start_cmd');
    await migrate({ pool: db.pool });
    await db.pool.query(`
      CREATE TABLE public.shipped_orders (event_id uuid PRIMARY KEY, order_id uuid, total numeric);
      CREATE FUNCTION public.record_shipped(event jsonb) RETURNS void LANGUAGE sql AS $$
        INSERT INTO public.shipped_orders VALUES ((event->>'id')::uuid, (event->>'entity_id')::uuid, (event->'data'->>'total')::numeric)
        ON CONFLICT DO NOTHING
      $$;
      CREATE TABLE public.paid_orders (seq bigserial PRIMARY KEY, event_id uuid UNIQUE, order_id uuid);
      CREATE FUNCTION public.record_paid(event jsonb) RETURNS void LANGUAGE sql AS $$
        INSERT INTO public.paid_orders (event_id, order_id) VALUES ((event->>'id')::uuid, (event->>'entity_id')::uuid) ON CONFLICT DO NOTHING
      $$;`);
    // Paths under /fail answer 400 (a permanent failure: no retries).
    receiver = await startHttpReceiver((req, res) => {
      res.statusCode = req.path.startsWith('/fail') ? 400 : 200;
      res.end(res.statusCode === 200 ? 'ok' : 'bad request');
    });
    dir = mkdtempSync(join(tmpdir(), 'start-cmd-'));
    configFile = join(dir, 'observers.yaml');
    writeFileSync(configFile, [
      'ssrf:',
      '  allow: [127.0.0.1]',
      'observers:',
      '  order_shipped:',
      '    entity: Order',
      '    events: [UPDATE]',
      "    condition: \"status == 'shipped'\"",
      '    actions:',
      '      - type: database',
      '        function: public.record_shipped',
      '      - type: webhook',
      `        url: "${receiver.url}/hooks/{{ event.entity_id }}"`,
      '        signing_secret_env: START_TEST_SIGNING_SECRET',
      '  order_paid:',
      '    entity: Order',
      '    events: [UPDATE]',
      "    condition: \"status == 'paid'\"",
      '    ordering: per_entity',
      '    actions:',
      '      - type: database',
      '        function: public.record_paid',
      '  order_cancelled:',
      '    entity: Order',
      '    events: [UPDATE]',
      "    condition: \"status == 'cancelled'\"",
      '    failure_policy: alert',
      '    actions:',
      '      - type: webhook',
      `        url: "${receiver.url}/fail/cancelled"`,
      '  order_refunded:',
      '    entity: Order',
      '    events: [UPDATE]',
      "    condition: \"status == 'refunded'\"",
      '    failure_policy: dlq',
      '    actions:',
      '      - type: webhook',
      `        url: "${receiver.url}/fail/refunded"`,
      '',
    ].join('\n'));
  });

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await receiver?.close();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs listener, worker and metrics; actions happen; SIGTERM exits 0 with the checkpoint saved', async () => {
    const cli = startCli(['--config', configFile, '--temporal-port', '0', '--metrics-port', '0', '--memory'], {
      DATABASE_URL: db.url,
      LISTENER_ID: 'start-test',
      POLL_INTERVAL_MS: '200',
      METRICS_HOST: '127.0.0.1',
      START_TEST_SIGNING_SECRET: 'start-test-secret-value',
    });
    children.push(cli.child);
    const started = async () => cli.lines.find((l) => l.msg === 'service started');
    await waitFor(`"service started" (stderr so far: ${cli.stderr().slice(-500)})`, async () => (await started()) !== undefined || cli.child.exitCode !== null, 180_000, 100);
    const info = (await started())!;
    expect(info).toMatchObject({ temporal_embedded: true, temporal_storage: 'memory', namespace: 'default', task_queue: 'fraiseql-observers' });
    const metricsUrl = String(info.metrics_url);
    const base = metricsUrl.replace(/\/metrics$/, '');
    expect(unwrap(cli.stderr())).toContain('IN MEMORY, NOT DURABLE');
    expect(cli.stderr()).toContain(`embedded server at ${String(info.temporal_address)}`);

    await db.pool.query(`INSERT INTO core.tb_entity_change_log (object_type, modification_type, object_id, object_data)
      SELECT 'Order', 'UPDATE', gen_random_uuid(), jsonb_build_object('status', CASE WHEN g % 2 = 0 THEN 'shipped' ELSE 'paid' END, 'total', g * 10)
        FROM generate_series(1, 10) g`);
    const shipped = (await db.pool.query<{ id: string; object_id: string; pk: string }>(
      `SELECT id::text, object_id::text, pk_entity_change_log::text AS pk FROM core.tb_entity_change_log WHERE object_data->>'status' = 'shipped'`)).rows;
    expect(shipped).toHaveLength(5);
    // Three changes of one order, for the per-entity ordered observer (the worker's awaitPredecessor activity).
    const orderId = '7d1f2c3e-0000-4000-8000-000000000001';
    for (let i = 0; i < 3; i += 1) {
      await db.pool.query(`INSERT INTO core.tb_entity_change_log (object_type, modification_type, object_id, object_data)
        VALUES ('Order', 'UPDATE', $1, '{"status": "paid"}')`, [orderId]);
    }

    await waitFor('5 rows written by the database action', async () =>
      Number((await db.pool.query('SELECT count(*) FROM public.shipped_orders')).rows[0].count) === 5, 120_000, 200);
    await waitFor('5 webhooks', () => receiver.requests.filter((r) => r.path.startsWith('/hooks/')).length >= 5, 60_000, 100);
    const written = (await db.pool.query<{ event_id: string; order_id: string }>('SELECT event_id::text, order_id::text FROM public.shipped_orders')).rows;
    expect(written.map((r) => r.event_id).sort()).toEqual(shipped.map((r) => r.id).sort());
    const hooks = receiver.requests.filter((r) => r.path.startsWith('/hooks/'));
    expect(hooks.map((r) => r.path).sort()).toEqual(shipped.map((r) => `/hooks/${r.object_id}`).sort());
    for (const r of hooks) {
      expect(r.headers['x-fraiseql-signature-256']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
      expect(r.headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}:order_shipped:1$/);
    }

    // A failed `alert` action: logged at error level with event and workflow ids, counted; a failed `dlq` action: a DLQ entry.
    const [cancelled, refunded] = (await db.pool.query<{ id: string }>(`INSERT INTO core.tb_entity_change_log (object_type, modification_type, object_id, object_data)
      VALUES ('Order', 'UPDATE', gen_random_uuid(), '{"status": "cancelled"}'), ('Order', 'UPDATE', gen_random_uuid(), '{"status": "refunded"}')
      RETURNING id::text`)).rows;
    await waitFor('the alert log line', () => cli.lines.some((l) => l.event_id === cancelled!.id && String(l.msg).startsWith('alert:')), 60_000, 100);
    const alert = cli.lines.find((l) => l.event_id === cancelled!.id && String(l.msg).startsWith('alert:'))!;
    expect(alert).toMatchObject({
      level: 50,
      workflow_id: `fraiseql-event:${cancelled!.id}`,
      observers: ['order_cancelled'],
      failed_actions: [{ key: 'order_cancelled:0', observer: 'order_cancelled', type: 'webhook', attempts: 1 }],
    });
    await waitFor('the DLQ entry counted', async () => (await metricValue(metricsUrl, 'observer_dlq_items_total', { entity_type: 'Order' })) === 1, 60_000, 200);
    expect(await metricValue(metricsUrl, 'observer_alerts_total', { observer: 'order_cancelled' })).toBe(1);
    expect(await metricValue(metricsUrl, 'observer_events_finished_total', { status: 'tolerated' })).toBe(1);
    expect(await metricValue(metricsUrl, 'observer_events_finished_total', { status: 'failed' })).toBe(1);
    expect(cli.lines.some((l) => l.event_id === refunded!.id && String(l.msg).startsWith('alert:'))).toBe(false);

    // The ordered observer ran for every paid change, those of one order in commit order.
    await waitFor('8 paid rows', async () => Number((await db.pool.query('SELECT count(*) FROM public.paid_orders')).rows[0].count) === 8, 120_000, 200);
    const ordered = (await db.pool.query<{ event_id: string }>('SELECT event_id::text FROM public.paid_orders WHERE order_id = $1 ORDER BY seq', [orderId])).rows;
    const committed = (await db.pool.query<{ id: string }>('SELECT id::text FROM core.tb_entity_change_log WHERE object_id = $1 ORDER BY pk_entity_change_log', [orderId])).rows;
    expect(ordered.map((r) => r.event_id)).toEqual(committed.map((r) => r.id));

    // Counters moved: rows read, workflows started, actions executed, events finished.
    await waitFor('13 finished events in /metrics', async () => (await metricValue(metricsUrl, 'observer_events_finished_total', { status: 'succeeded' })) === 13, 30_000, 200);
    expect(await metricValue(metricsUrl, 'observer_events_processed_total')).toBe(15);
    expect(await metricValue(metricsUrl, 'observer_workflows_started_total', { entity_type: 'Order' })).toBe(15);
    expect(await metricValue(metricsUrl, 'observer_actions_executed_total', { action_type: 'database', status: 'success' })).toBe(13);
    expect(await metricValue(metricsUrl, 'observer_actions_executed_total', { action_type: 'webhook', status: 'success' })).toBe(5);
    expect(await metricValue(metricsUrl, 'observer_event_processing_duration_seconds_count', { entity_type: 'Order' })).toBe(15);
    const samples = parsePrometheusText(await (await fetch(metricsUrl)).text()).samples;
    expect(samples.find((x) => x.name === 'observer_dlq_size')?.value).toBeGreaterThanOrEqual(0);
    expect(samples.find((x) => x.name === 'observer_job_queue_depth')?.value).toBeGreaterThanOrEqual(0);

    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: [{ name: 'temporal', ok: true }, { name: 'listener', ok: true, detail: 'leader' }, { name: 'worker', ok: true }] });
    expect((await fetch(`${base}/healthz`)).status).toBe(200);

    cli.child.kill('SIGTERM');
    const exit = await cli.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    const last = (await db.pool.query<{ last_processed_id: string }>(`SELECT last_processed_id::text FROM observer_checkpoints WHERE listener_id = 'start-test'`)).rows[0];
    const maxPk = (await db.pool.query<{ max: string }>('SELECT max(pk_entity_change_log)::text AS max FROM core.tb_entity_change_log')).rows[0]!.max;
    expect(BigInt(last!.last_processed_id)).toBeGreaterThanOrEqual(BigInt(maxPk));

    // Every stdout line is a JSON log line; the action ran with event and workflow ids; the secret never appears.
    expect(cli.other).toEqual([]);
    expect(cli.lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['service started', 'stopped']));
    expect(cli.lines.find((l) => l.msg === 'stopped')).toMatchObject({ exit_code: 0 });
    const out = JSON.stringify(cli.lines) + cli.stderr();
    expect(out).not.toContain('start-test-secret-value');
    await expect(fetch(metricsUrl)).rejects.toThrow();
  });

  it('splits the roles: a listener process (hosting the embedded server) and a worker process on TEMPORAL_ADDRESS', async () => {
    const common = { DATABASE_URL: db.url, LISTENER_ID: 'roles-test', POLL_INTERVAL_MS: '200', METRICS_HOST: '127.0.0.1' };
    const listener = startCli(['--config', configFile, '--role', 'listener', '--temporal-port', '0', '--metrics-port', '0', '--json'], common);
    children.push(listener.child);
    const startedLine = (cli: Cli) => cli.lines.find((l) => l.msg === 'service started');
    await waitFor('listener process started', () => startedLine(listener) !== undefined || listener.child.exitCode !== null, 120_000, 100);
    const lInfo = startedLine(listener)!;
    expect(lInfo).toMatchObject({ role: 'listener', temporal_embedded: true });
    // --json: no human banner.
    expect(listener.stderr()).not.toContain('IN MEMORY');
    const lBase = String(lInfo.metrics_url).replace(/\/metrics$/, '');

    const worker = startCli(['--config', configFile, '--role', 'worker', '--metrics-port', '0'], {
      ...common,
      TEMPORAL_ADDRESS: String(lInfo.temporal_address),
      // Same host as the listener's embedded server: the worker may skip gzip.
      TEMPORAL_GRPC_COMPRESSION: 'none',
      WORKER_SHUTDOWN_GRACE_MS: '1000',
      START_TEST_SIGNING_SECRET: 'start-test-secret-value',
    });
    children.push(worker.child);
    await waitFor(`worker process started (${worker.stderr().slice(-300)})`, () => startedLine(worker) !== undefined || worker.child.exitCode !== null, 120_000, 100);
    const wInfo = startedLine(worker)!;
    expect(wInfo).toMatchObject({ role: 'worker', temporal_embedded: false, temporal_address: lInfo.temporal_address });
    expect(worker.stderr()).toContain(`Temporal    ${String(lInfo.temporal_address)}, namespace default`);
    const wBase = String(wInfo.metrics_url).replace(/\/metrics$/, '');

    const before = Number((await db.pool.query('SELECT count(*) FROM public.shipped_orders')).rows[0].count);
    await db.pool.query(`INSERT INTO core.tb_entity_change_log (object_type, modification_type, object_id, object_data)
      SELECT 'Order', 'UPDATE', gen_random_uuid(), '{"status": "shipped", "total": 1}' FROM generate_series(1, 3)`);
    await waitFor('3 more rows from the worker process', async () =>
      Number((await db.pool.query('SELECT count(*) FROM public.shipped_orders')).rows[0].count) === before + 3, 120_000, 200);

    // Each process reports only its own roles; the listener's metrics are in the listener process.
    expect(await (await fetch(`${lBase}/readyz`)).json()).toMatchObject({ ready: true, checks: [{ name: 'temporal' }, { name: 'listener', detail: 'leader' }] });
    expect(((await (await fetch(`${lBase}/readyz`)).json()) as { checks: unknown[] }).checks).toHaveLength(2);
    expect(await (await fetch(`${wBase}/readyz`)).json()).toMatchObject({ ready: true, checks: [{ name: 'temporal' }, { name: 'worker', detail: 'running' }] });
    // A new listener id reads the table from the start, onto a fresh embedded server: every matching row again.
    const matching = Number((await db.pool.query(`SELECT count(*) FROM core.tb_entity_change_log WHERE object_data->>'status' IN ('shipped', 'paid', 'cancelled', 'refunded')`)).rows[0].count);
    expect(await metricValue(`${lBase}/metrics`, 'observer_workflows_started_total')).toBe(matching);
    expect(await metricValue(`${wBase}/metrics`, 'observer_workflows_started_total')).toBe(0);
    await waitFor(`${matching} finished events in the worker process`, async () => (await metricValue(`${wBase}/metrics`, 'observer_events_finished_total')) === matching, 60_000, 200);
    expect(await metricValue(`${lBase}/metrics`, 'observer_events_finished_total')).toBe(0);

    // Temporal goes away with the listener process: the worker is no longer ready, and still stops cleanly.
    listener.child.kill('SIGTERM');
    expect(await listener.exited).toEqual({ code: 0, signal: null });
    // --json: stdout is JSON lines only; the command's result is the last one.
    expect(listener.other).toEqual([]);
    expect(listener.lines.at(-1)).toMatchObject({ msg: 'result', result: { role: 'listener', stoppedBy: 'SIGTERM', exitCode: 0 } });
    await waitFor('worker not ready', async () => (await fetch(`${wBase}/readyz`)).status === 503, 30_000, 200);
    // A refused connection answers at once; on a loaded machine the check may time out first instead.
    expect(((await (await fetch(`${wBase}/readyz`)).json()) as { reason: string }).reason).toMatch(/^temporal: (unreachable \(|no answer within \d+ ms)/);
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
  });

  it('says when PostgreSQL is unreachable', async () => {
    const cli = startCli(['--config', configFile, '--temporal-port', '0', '--metrics-port', '0'], {
      DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere',
      START_TEST_SIGNING_SECRET: 'x',
    });
    children.push(cli.child);
    const exit = await cli.exited;
    expect(exit.code).toBe(3);
    expect(unwrap(cli.stderr())).toContain('Cannot reach PostgreSQL at 127.0.0.1:1/nowhere: ECONNREFUSED. Check DATABASE_URL and that PostgreSQL is running.');
  });

  it('says when Temporal is unreachable at TEMPORAL_ADDRESS', async () => {
    const cli = startCli(['--config', configFile, '--metrics-port', '0'], { DATABASE_URL: db.url, TEMPORAL_ADDRESS: '127.0.0.1:1', START_TEST_SIGNING_SECRET: 'x' });
    children.push(cli.child);
    const exit = await cli.exited;
    expect(exit.code).toBe(3);
    expect(unwrap(cli.stderr())).toMatch(/cannot reach Temporal at 127\.0\.0\.1:1: .+\. Check TEMPORAL_ADDRESS \(or unset it to run the embedded server\)\./);
  });

  it('names a half-configured Temporal TLS setting before connecting', async () => {
    const cli = startCli(['--config', configFile, '--metrics-port', '0'], {
      DATABASE_URL: db.url, TEMPORAL_ADDRESS: '127.0.0.1:1', TEMPORAL_TLS_KEY: '/nonexistent/client.key', START_TEST_SIGNING_SECRET: 'x',
    });
    children.push(cli.child);
    const exit = await cli.exited;
    expect(exit.code).toBe(2);
    expect(unwrap(cli.stderr())).toContain('env.TEMPORAL_TLS_CERT: required with TEMPORAL_TLS_KEY');
  });

  it('says to run migrate when the change-log table is missing', async () => {
    const empty = await createTestDatabase('start_cmd_empty');
    try {
      const cli = startCli(['--config', configFile, '--temporal-port', '0', '--metrics-port', '0'], { DATABASE_URL: empty.url, START_TEST_SIGNING_SECRET: 'x' });
      children.push(cli.child);
      const exit = await cli.exited;
      expect(exit.code).toBe(3);
      expect(unwrap(cli.stderr())).toContain('Change-log table core.tb_entity_change_log does not exist (or is not on the search_path): run `fraiseql-observers migrate`');
    } finally {
      await empty.drop();
    }
  });

  it('--json: stdout is JSON lines only, to the last line (the result record)', async () => {
    const cli = startCli(['--config', configFile, '--temporal-port', '0', '--metrics-port', '0', '--json'], {
      DATABASE_URL: db.url, LISTENER_ID: 'start-json', METRICS_HOST: '127.0.0.1', START_TEST_SIGNING_SECRET: 'x',
    });
    children.push(cli.child);
    await waitFor('"service started"', () => cli.lines.some((l) => l.msg === 'service started') || cli.child.exitCode !== null, 180_000, 100);
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    expect(cli.other).toEqual([]);
    expect(cli.lines.at(-1)).toMatchObject({ msg: 'result', result: { role: 'all', stoppedBy: 'SIGTERM', exitCode: 0 } });
    // No banner either: stderr is for humans.
    expect(cli.stderr()).not.toContain('IN MEMORY');
  });

  it('SIGTERM during start-up: stops cleanly once started, exit 0, and says so', async () => {
    const cli = startCli(['--config', configFile, '--temporal-port', '0', '--metrics-port', '0'], {
      DATABASE_URL: db.url, LISTENER_ID: 'start-early-term', METRICS_HOST: '127.0.0.1', START_TEST_SIGNING_SECRET: 'x',
    });
    children.push(cli.child);
    // "starting" is logged once the config is loaded and the signal handlers are in, seconds before "service started".
    await waitFor('"starting"', () => cli.lines.some((l) => l.msg === 'starting') || cli.child.exitCode !== null, 120_000, 20);
    expect(cli.lines.some((l) => l.msg === 'service started')).toBe(false);
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    expect(cli.lines.some((l) => String(l.msg).startsWith('SIGTERM received during start-up'))).toBe(true);
    expect(cli.lines.at(-1)).toMatchObject({ msg: 'stopped', exit_code: 0 });
  });

  it('names the flag of a taken metrics port, and exits 3', async () => {
    const cli = startCli(['--config', configFile, '--temporal-port', '0', '--metrics-port', String(receiver.port)], {
      DATABASE_URL: db.url, METRICS_HOST: '127.0.0.1', START_TEST_SIGNING_SECRET: 'x',
    });
    children.push(cli.child);
    expect((await cli.exited).code).toBe(3);
    expect(unwrap(cli.stderr())).toContain(`cannot serve metrics on 127.0.0.1:${receiver.port}: the port is already in use (set --metrics-port to another port`);
  });

  it('says that Redis at host:port is unreachable at start and in /readyz when a cache action needs it', async () => {
    const closed = await startHttpReceiver();
    const port = closed.port;
    await closed.close();
    const cacheConfig = join(dir, 'cache.yaml');
    writeFileSync(cacheConfig, ['observers:', '  invalidate:', '    entity: Order', '    events: [UPDATE]', '    actions:', '      - type: cache', '        keys: ["order:{{ event.entity_id }}"]', ''].join('\n'));
    const cli = startCli(['--config', cacheConfig, '--temporal-port', '0', '--metrics-port', '0'], {
      DATABASE_URL: db.url, LISTENER_ID: 'start-redis', METRICS_HOST: '127.0.0.1', REDIS_URL: `redis://127.0.0.1:${port}`,
    });
    children.push(cli.child);
    await waitFor('"service started"', () => cli.lines.some((l) => l.msg === 'service started') || cli.child.exitCode !== null, 180_000, 100);
    const info = cli.lines.find((l) => l.msg === 'service started')!;
    expect(cli.lines.some((l) => l.level === 40 && String(l.msg).startsWith(`Redis at 127.0.0.1:${port} is unreachable`))).toBe(true);
    const ready = await fetch(String(info.metrics_url).replace(/\/metrics$/, '/readyz'));
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { checks: Array<{ name: string; ok: boolean; detail: string }> };
    expect(body.checks.find((c) => c.name === 'redis')).toMatchObject({ ok: false, detail: expect.stringMatching(new RegExp(`^Redis at 127\\.0\\.0\\.1:${port} is unreachable`)) });
    cli.child.kill('SIGTERM');
    expect((await cli.exited).code).toBe(0);
  });

  it('refuses to start a worker whose secrets are not set, naming them', async () => {
    const cli = startCli(['--config', configFile], { DATABASE_URL: databaseUrl(db.name) });
    children.push(cli.child);
    const exit = await cli.exited;
    expect(exit.code).toBe(2);
    const err = unwrap(cli.stderr());
    expect(err).toContain('observers.order_shipped.actions[1].signing_secret_env: environment variable START_TEST_SIGNING_SECRET is not set');
    expect(err).toContain('cannot start the worker: 1 secret(s) named by');
  });
});
