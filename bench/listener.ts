/**
 * Listener benchmark: rows/s from the change-log table to acknowledged starts — against a no-op
 * in-memory starter (the listener's own cost) and against the embedded Temporal server (its dist
 * executable in a separate process, as `dev-server` runs it), without a worker and with a worker
 * draining the workflows in this process; commit→start latency with NOTIFY and with polling only
 * (no-op starter and embedded server); checkpoint saves/s with and without synchronous commit.
 * Uses a dedicated database that it creates and drops.
 *
 *   npm run build && node dist/bench/listener.js [--rows 50000] [--temporal-rows 5000] [--rate 200] [--seconds 5]
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres (server to use)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Client as TemporalClient, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, bundleWorkflowCode, type InjectedSinks } from '@temporalio/worker';
import Table from 'cli-table3';
import { Client, Pool } from 'pg';
import { benchDatabase } from './database';
import pino from 'pino';
import { InMemoryBreakerStore, closeActivities, createActivities } from '../src/activities';
import { createOrderingActivities } from '../src/activities/ordering';
import { parseConfig } from '../src/config';
import { advisoryKey } from '../src/db/advisory';
import { migrate } from '../src/db/migrate';
import { compileObservers } from '../src/events/match';
import type { ChangeLogRow } from '../src/events/types';
import {
  ChangeLogListener, RecordingStarter, compareAndSwapCheckpoint, ensureCheckpoint, readCheckpoint,
  type RowDecision, type RowHandler, type StartDecision, type StartResult, type WorkflowStarter,
} from '../src/listener';
import { createRowHandler } from '../src/listener/row-handler';
import { TemporalStarter } from '../src/listener/temporal-starter';
import { SEARCH_ATTRIBUTES } from '../src/temporal/search-attributes';
import type { ObserverSinks } from '../src/workflows/sinks';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const ROWS = Number(args.get('rows') ?? 50_000);
const TEMPORAL_ROWS = Number(args.get('temporal-rows') ?? 5_000);
const RATE = Number(args.get('rate') ?? 200);
const SECONDS = Number(args.get('seconds') ?? 5);
const SERVER = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The cheapest handler that still builds a full event, so the listener is what gets measured. */
function handler(row: ChangeLogRow): RowDecision {
  return {
    kind: 'start',
    event: {
      id: String(row.id), position: row.pk, kind: 'INSERT', rawKind: 'INSERT', entityType: String(row.object_type),
      entityId: null, data: {}, before: null, changes: null, updatedFields: null, tenantId: null, userId: null,
      actor: null, createdAt: null, commitTime: null, trace: null,
    },
    payload: null,
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function withDatabase<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const db = await benchDatabase('fo_bench_listener', SERVER);
  try {
    return await fn(db.url);
  } finally {
    await db.drop();
  }
}

interface Row {
  scenario: string;
  rows: number;
  perSecond: number | null;
  p50: number | null;
  p99: number | null;
  note: string;
}

/** The real mapper + matcher with one observer and one log action: what `start` would run. */
function realHandler(url: string): RowHandler {
  const config = parseConfig({
    env: { DATABASE_URL: url },
    text: 'observers:\n  bench:\n    entity: Order\n    events: [INSERT]\n    actions:\n      - type: log\n',
    source: 'bench.yaml',
  });
  return createRowHandler(compileObservers(config), { mapping: { table: 'core.tb_entity_change_log' } });
}

/** Wraps a starter to time acknowledgements (performance.now() when start() resolved 'started'). */
class TimedStarter implements WorkflowStarter {
  readonly acked = new Map<string, number>();
  constructor(private readonly inner: WorkflowStarter) {}
  async start(workflowId: string, d: StartDecision): Promise<StartResult> {
    const r = await this.inner.start(workflowId, d);
    if (r === 'started') this.acked.set(d.event.id, performance.now());
    return r;
  }
  get size(): number {
    return this.acked.size;
  }
}

async function fillBacklog(pool: Pool, rows: number): Promise<string> {
  await pool.query('TRUNCATE core.tb_entity_change_log');
  for (let done = 0; done < rows; done += 10_000) {
    await pool.query(
      `INSERT INTO core.tb_entity_change_log (object_type, modification_type, object_id, object_data)
       SELECT 'Order', 'INSERT', gen_random_uuid(), jsonb_build_object('n', g, 'status', 'new') FROM generate_series(1, $1) g`,
      [Math.min(10_000, rows - done)],
    );
  }
  const { rows: r } = await pool.query<{ h: string }>('SELECT max(pk_entity_change_log)::text AS h FROM core.tb_entity_change_log');
  return r[0]!.h;
}

interface ThroughputCase {
  scenario: string;
  rows: number;
  batchSize: number;
  maxStartsInFlight: number;
  handler: RowHandler;
  starter: TimedStarter;
  note?: (seconds: number) => string | Promise<string>;
}

async function throughput(url: string, pool: Pool, c: ThroughputCase): Promise<Row> {
  const head = await fillBacklog(pool, c.rows);
  const listenerId = `bench-throughput-${randomBytes(3).toString('hex')}`;
  const l = new ChangeLogListener({
    connectionString: url, listenerId, handler: c.handler, starter: c.starter, batchSize: c.batchSize,
    maxStartsInFlight: c.maxStartsInFlight, checkpointIntervalMs: 100,
  });
  let saves = 0;
  l.on('checkpoint', () => saves++);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const caughtUp = new Promise<void>((resolve) => l.on('checkpoint', (p) => p === head && resolve()));
  await l.start();
  await Promise.race([caughtUp, sleep(300_000)]);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await l.stop();
  const done = c.starter.size;
  const extra = c.note ? await c.note(seconds) : '';
  return {
    scenario: c.scenario,
    rows: done,
    perSecond: done / seconds,
    p50: null,
    p99: null,
    note: `${saves} checkpoint saves (${(saves / seconds).toFixed(1)}/s, coalesced); bench process CPU ${((cpu.user + cpu.system) / Math.max(1, done)).toFixed(0)} µs/row${extra ? `; ${extra}` : ''}`,
  };
}

async function latency(url: string, pool: Pool, o: { notify: boolean; pollIntervalMs: number; starter: TimedStarter; handler: RowHandler; label: string }): Promise<Row> {
  await pool.query('TRUNCATE core.tb_entity_change_log');
  const committedAt = new Map<string, number>();
  // The COMMIT itself (WAL flush) is part of commit→start; reported separately to show the disk's share.
  const commitMs: number[] = [];
  const l = new ChangeLogListener({ connectionString: url, listenerId: `bench-latency-${randomBytes(3).toString('hex')}`, handler: o.handler, starter: o.starter, notify: o.notify, pollIntervalMs: o.pollIntervalMs });
  await l.start();
  await l.whenLeader();
  await sleep(300);
  const writer = new Client({ connectionString: url });
  await writer.connect();
  const total = RATE * SECONDS;
  // Writer and listener share this process: event-loop stalls (GC, a starved CPU) show up in the tail.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    await writer.query('BEGIN');
    const { rows } = await writer.query<{ id: string }>(
      `INSERT INTO core.tb_entity_change_log (object_type, modification_type, object_id, object_data) VALUES ('Order', 'INSERT', gen_random_uuid(), '{}') RETURNING id::text AS id`,
    );
    // Taken as COMMIT is sent: the row is visible to the listener from within this round trip on.
    const sent = performance.now();
    committedAt.set(rows[0]!.id, sent);
    await writer.query('COMMIT');
    commitMs.push(performance.now() - sent);
  }
  const deadline = performance.now() + 10_000 + o.pollIntervalMs;
  while (o.starter.size < total && performance.now() < deadline) await sleep(20);
  loopDelay.disable();
  await writer.end();
  await l.stop();
  const latencies: number[] = [];
  for (const [id, at] of o.starter.acked) {
    const c = committedAt.get(id);
    if (c !== undefined) latencies.push(at - c);
  }
  latencies.sort((a, b) => a - b);
  commitMs.sort((a, b) => a - b);
  return {
    scenario: `commit → start acknowledged, ${o.notify ? 'NOTIFY' : `polling only (every ${o.pollIntervalMs} ms)`}, ${o.label}`,
    rows: latencies.length,
    perSecond: RATE,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    note: `${RATE} single-row commits/s for ${SECONDS} s; COMMIT alone p99 ${percentile(commitMs, 99).toFixed(1)} ms; event-loop stall p99 ${(loopDelay.percentile(99) / 1e6).toFixed(0)} ms`,
  };
}

/**
 * Sequential checkpoint saves on one session, as the leader makes them. `fenced` is the listener's
 * statement (compare-and-swap that only matches while the session holds the lease, plus the
 * history trigger); without the fence and with the history trigger disabled it shows the floor.
 */
async function checkpointSaves(url: string, o: { synchronousCommit: 'on' | 'off'; fenced: boolean; history: boolean }): Promise<Row> {
  const session = new Client({ connectionString: url });
  await session.connect();
  // 'off' is what the listener's lease session uses (see lease.ts): a save lost in a server crash
  // only makes the next leader re-read rows, which workflow-id dedup absorbs.
  await session.query(`SET synchronous_commit = ${o.synchronousCommit}`);
  const listenerId = `bench-cas-${o.synchronousCommit}-${o.fenced}-${o.history}`;
  const fence = advisoryKey('listener', listenerId);
  await session.query('SELECT pg_advisory_lock($1::bigint)', [fence.key]);
  await ensureCheckpoint(session, { listenerId, batchSize: 100, updatedBy: 'bench' });
  if (!o.history) await session.query('ALTER TABLE observer_checkpoints DISABLE TRIGGER observer_checkpoints_history_move');
  let position = 0n;
  const until = performance.now() + 3000;
  const t0 = performance.now();
  let saves = 0;
  const lat: number[] = [];
  try {
    while (performance.now() < until) {
      const s0 = performance.now();
      if (o.fenced) {
        const r = await compareAndSwapCheckpoint(session, {
          listenerId, expected: position.toString(), next: (position + 1n).toString(), eventCount: 1, batchSize: 100, updatedBy: 'bench', fence,
        });
        if (r.outcome !== 'saved') throw new Error(`unexpected CAS outcome ${r.outcome}`);
      } else {
        const r = await compareAndSwapCheckpoint(session, {
          listenerId, expected: position.toString(), next: (position + 1n).toString(), eventCount: 1, batchSize: 100, updatedBy: 'bench',
        });
        if (r.outcome !== 'saved') throw new Error(`unexpected CAS outcome ${r.outcome}`);
      }
      lat.push(performance.now() - s0);
      position++;
      saves++;
    }
  } finally {
    if (!o.history) await session.query('ALTER TABLE observer_checkpoints ENABLE TRIGGER observer_checkpoints_history_move');
  }
  const seconds = (performance.now() - t0) / 1000;
  const cp = await readCheckpoint(session, listenerId);
  await session.end();
  lat.sort((a, b) => a - b);
  return {
    scenario: `checkpoint saves: ${o.fenced ? 'fenced CAS' : 'plain CAS'}${o.history ? ' + history row' : ', no history'}${o.fenced && o.history ? " (the listener's)" : ''}, synchronous_commit ${o.synchronousCommit}`,
    rows: Number(cp?.lastProcessedId ?? 0),
    perSecond: saves / seconds,
    p50: percentile(lat, 50),
    p99: percentile(lat, 99),
    note: 'one session, one save after another (each a commit)',
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** The embedded server's dist executable in its own process, with the service's search attributes. */
async function startTemporalServer(): Promise<{ address: string; process: ChildProcess; connection: Connection }> {
  const port = await freePort();
  const main = path.resolve(__dirname, '../src/embedded-temporal/main.js');
  const sa = Object.entries(SEARCH_ATTRIBUTES).flatMap(([k, v]) => ['--search-attribute', `${k}=${v}`]);
  const child = spawn(process.execPath, [main, 'server', 'start-dev', '--port', String(port), '--namespace', 'default', ...sa], { stdio: ['ignore', 'ignore', 'inherit'] });
  const address = `127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 5000 });
      await connection.workflowService.getSystemInfo({});
      return { address, process: child, connection };
    } catch (err) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw err;
      }
      await sleep(100);
    }
  }
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const results: Row[] = [];
  await withDatabase(async (url) => {
    const pool = new Pool({ connectionString: url, max: 4 });
    const server = await startTemporalServer();
    try {
      await migrate({ pool });
      const client = new TemporalClient({ connection: server.connection });
      const noop = () => new TimedStarter(new RecordingStarter());
      const temporal = (taskQueue: string) => new TimedStarter(new TemporalStarter({ client, taskQueue }));

      // 1. The listener's own cost: no-op starter.
      for (const batchSize of [500, 2000]) {
        results.push(await throughput(url, pool, { scenario: `backlog → no-op starter (batch ${batchSize})`, rows: ROWS, batchSize, maxStartsInFlight: 256, handler, starter: noop() }));
      }
      results.push(await throughput(url, pool, { scenario: 'backlog → no-op starter, real mapper + matcher (batch 500)', rows: ROWS, batchSize: 500, maxStartsInFlight: 256, handler: realHandler(url), starter: noop() }));

      // 2. Against the embedded server (separate process): acknowledged starts, nobody running them.
      for (const inFlight of [8, 64]) {
        results.push(await throughput(url, pool, {
          scenario: `backlog → embedded Temporal, no worker (${inFlight} starts in flight)`, rows: TEMPORAL_ROWS, batchSize: 500,
          maxStartsInFlight: inFlight, handler: realHandler(url), starter: temporal(`bench-noworker-${inFlight}`),
        }));
      }

      // 3. The same with a worker in this process running every workflow (one log action each).
      const taskQueue = 'bench-worker';
      const nativeConnection = await NativeConnection.connect({ address: server.address });
      const workflowBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../src/workflows'), logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} } });
      const activities = createActivities({ env: {}, log: pino({ level: 'silent' }), breaker: new InMemoryBreakerStore(), ssrf: { allow: [] } });
      const sinks: InjectedSinks<ObserverSinks> = { observer: { eventFinished: { fn: () => undefined }, alert: { fn: () => undefined } } };
      const worker = await Worker.create({
        connection: nativeConnection, taskQueue, workflowBundle, sinks,
        activities: { ...activities, ...createOrderingActivities({ client }) },
      });
      await worker.runUntil(async () => {
        results.push(await throughput(url, pool, {
          scenario: 'backlog → embedded Temporal, worker draining in this process (64 in flight)', rows: TEMPORAL_ROWS, batchSize: 500,
          maxStartsInFlight: 64, handler: realHandler(url), starter: temporal(taskQueue),
          note: async (seconds) => {
            const q = `TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Completed'`;
            const atAck = (await client.workflow.count(q)).count;
            const t0 = performance.now();
            while ((await client.workflow.count(q)).count < TEMPORAL_ROWS && performance.now() - t0 < 300_000) await sleep(250);
            const all = (performance.now() - t0) / 1000 + seconds;
            const done = (await client.workflow.count(q)).count;
            return `${atAck} completed when the last start was acknowledged; ${done} completed after ${all.toFixed(1)} s (${(done / all).toFixed(0)} workflows/s end to end)`;
          },
        }));
      });
      await nativeConnection.close();
      await closeActivities(activities);

      // 4. Latency.
      results.push(await latency(url, pool, { notify: true, pollIntervalMs: 1000, starter: noop(), handler, label: 'no-op starter' }));
      results.push(await latency(url, pool, { notify: false, pollIntervalMs: 100, starter: noop(), handler, label: 'no-op starter' }));
      results.push(await latency(url, pool, { notify: true, pollIntervalMs: 1000, starter: temporal('bench-latency'), handler: realHandler(url), label: 'embedded Temporal' }));
      results.push(await latency(url, pool, { notify: false, pollIntervalMs: 100, starter: temporal('bench-latency-poll'), handler: realHandler(url), label: 'embedded Temporal' }));

      // 5. Checkpoint saves.
      for (const [fenced, history] of [[true, true], [true, false], [false, true], [false, false]] as const) {
        results.push(await checkpointSaves(url, { synchronousCommit: 'off', fenced, history }));
      }
      results.push(await checkpointSaves(url, { synchronousCommit: 'on', fenced: true, history: true }));
      results.push(await checkpointSaves(url, { synchronousCommit: 'on', fenced: false, history: false }));
    } finally {
      await server.connection.close().catch(() => undefined);
      server.process.kill('SIGKILL');
      await pool.end();
    }
  });
  const fmt = (n: number | null, digits = 1) => (n === null || Number.isNaN(n) ? '' : n.toLocaleString('en-US', { maximumFractionDigits: digits }));
  const table = new Table({ head: ['scenario', 'rows', 'per second', 'p50 ms', 'p99 ms', 'notes'], style: { head: [], border: [] }, colWidths: [60, 8, 12, 9, 9, 80], wordWrap: true });
  for (const r of results) table.push([r.scenario, String(r.rows), fmt(r.perSecond, 0), fmt(r.p50), fmt(r.p99), r.note]);
  console.log(table.toString());
  console.log(`${cpus().length} CPUs, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} at the end (PostgreSQL, the embedded server and this process share the machine)`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
