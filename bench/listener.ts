/**
 * Listener benchmark: rows/s from the change-log table to acknowledged starts (no-op in-memory
 * starter, to isolate the listener's own cost), commit→start latency with NOTIFY and with polling
 * only, and checkpoint saves/s. Uses a dedicated database that it creates and drops.
 *
 *   npm run build && node dist/bench/listener.js [--rows 50000] [--rate 200] [--seconds 5]
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres (server to use)
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import Table from 'cli-table3';
import { Client, Pool } from 'pg';
import { advisoryKey } from '../src/db/advisory';
import { migrate } from '../src/db/migrate';
import type { ChangeLogRow } from '../src/events/types';
import { ChangeLogListener, RecordingStarter, compareAndSwapCheckpoint, ensureCheckpoint, readCheckpoint, type RowDecision } from '../src/listener';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const ROWS = Number(args.get('rows') ?? 50_000);
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
  const name = `fo_bench_listener_${randomBytes(3).toString('hex')}`;
  const admin = new Client({ connectionString: SERVER });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  const u = new URL(SERVER);
  u.pathname = `/${name}`;
  try {
    return await fn(u.toString());
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.end();
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

async function throughput(url: string, pool: Pool, batchSize: number): Promise<Row> {
  await pool.query('TRUNCATE core.tb_entity_change_log');
  for (let done = 0; done < ROWS; done += 10_000) {
    await pool.query(
      `INSERT INTO core.tb_entity_change_log (object_type, modification_type, object_id, object_data)
       SELECT 'Order', 'INSERT', gen_random_uuid(), jsonb_build_object('n', g, 'status', 'new') FROM generate_series(1, $1) g`,
      [Math.min(10_000, ROWS - done)],
    );
  }
  const { rows } = await pool.query<{ h: string }>('SELECT max(pk_entity_change_log)::text AS h FROM core.tb_entity_change_log');
  const head = rows[0]!.h;
  const starter = new RecordingStarter();
  const listenerId = `bench-throughput-${batchSize}`;
  const l = new ChangeLogListener({ connectionString: url, listenerId, handler, starter, batchSize, maxStartsInFlight: 256, checkpointIntervalMs: 100 });
  let saves = 0;
  l.on('checkpoint', () => saves++);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const caughtUp = new Promise<void>((resolve) => l.on('checkpoint', (p) => p === head && resolve()));
  await l.start();
  await Promise.race([caughtUp, sleep(120_000)]);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await l.stop();
  const done = starter.size;
  return {
    scenario: `backlog → acknowledged starts (batch ${batchSize})`,
    rows: done,
    perSecond: done / seconds,
    p50: null,
    p99: null,
    note: `${saves} checkpoint saves; listener process CPU ${((cpu.user + cpu.system) / Math.max(1, done)).toFixed(1)} µs/row`,
  };
}

async function latency(url: string, pool: Pool, notify: boolean, pollIntervalMs: number): Promise<Row> {
  await pool.query('TRUNCATE core.tb_entity_change_log');
  const committedAt = new Map<string, number>();
  const latencies: number[] = [];
  // The COMMIT itself (WAL flush) is part of commit→start; reported separately to show the disk's share.
  const commitMs: number[] = [];
  const starter = new RecordingStarter({
    onStarted: (s) => {
      const c = committedAt.get(s.decision.event.id);
      if (c !== undefined) latencies.push(s.at - c);
    },
  });
  const l = new ChangeLogListener({ connectionString: url, listenerId: `bench-latency-${notify}`, handler, starter, notify, pollIntervalMs });
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
      `INSERT INTO core.tb_entity_change_log (object_type, modification_type, object_data) VALUES ('Order', 'INSERT', '{}') RETURNING id::text AS id`,
    );
    // Taken as COMMIT is sent: the row is visible to the listener from within this round trip on.
    const sent = performance.now();
    committedAt.set(rows[0]!.id, sent);
    await writer.query('COMMIT');
    commitMs.push(performance.now() - sent);
  }
  const deadline = performance.now() + 5000 + pollIntervalMs;
  while (starter.size < total && performance.now() < deadline) await sleep(20);
  loopDelay.disable();
  await writer.end();
  await l.stop();
  latencies.sort((a, b) => a - b);
  commitMs.sort((a, b) => a - b);
  return {
    scenario: notify ? 'commit → start, NOTIFY' : `commit → start, polling only (every ${pollIntervalMs} ms)`,
    rows: latencies.length,
    perSecond: RATE,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    note: `${RATE} single-row commits/s for ${SECONDS} s; COMMIT alone p99 ${percentile(commitMs, 99).toFixed(1)} ms; event-loop stall p99 ${(loopDelay.percentile(99) / 1e6).toFixed(0)} ms`,
  };
}

async function checkpointSaves(url: string): Promise<Row> {
  const session = new Client({ connectionString: url });
  await session.connect();
  // As the listener's lease session does (see lease.ts): a lost save only causes deduplicated re-reads.
  await session.query('SET synchronous_commit = off');
  const listenerId = 'bench-cas';
  const fence = advisoryKey('listener', listenerId);
  await session.query('SELECT pg_advisory_lock($1::bigint)', [fence.key]);
  await ensureCheckpoint(session, { listenerId, batchSize: 100, updatedBy: 'bench' });
  let position = 0n;
  const until = performance.now() + 3000;
  const t0 = performance.now();
  let saves = 0;
  while (performance.now() < until) {
    const r = await compareAndSwapCheckpoint(session, {
      listenerId, expected: position.toString(), next: (position + 1n).toString(), eventCount: 1, batchSize: 100, updatedBy: 'bench', fence,
    });
    if (r.outcome !== 'saved') throw new Error(`unexpected CAS outcome ${r.outcome}`);
    position++;
    saves++;
  }
  const seconds = (performance.now() - t0) / 1000;
  const cp = await readCheckpoint(session, listenerId);
  await session.end();
  return {
    scenario: 'checkpoint CAS saves (fenced, one session, sequential)',
    rows: Number(cp?.lastProcessedId ?? 0),
    perSecond: saves / seconds,
    p50: null,
    p99: null,
    note: 'each save also writes a history row; the listener coalesces saves (≤ 1 per checkpointIntervalMs)',
  };
}

async function main(): Promise<void> {
  const results: Row[] = [];
  await withDatabase(async (url) => {
    const pool = new Pool({ connectionString: url, max: 4 });
    try {
      await migrate({ pool });
      results.push(await throughput(url, pool, 500));
      results.push(await throughput(url, pool, 2000));
      results.push(await latency(url, pool, true, 1000));
      results.push(await latency(url, pool, false, 100));
      results.push(await checkpointSaves(url));
    } finally {
      await pool.end();
    }
  });
  const fmt = (n: number | null, digits = 1) => (n === null || Number.isNaN(n) ? '' : n.toLocaleString('en-US', { maximumFractionDigits: digits }));
  const table = new Table({ head: ['scenario', 'rows', 'per second', 'p50 ms', 'p99 ms', 'notes'], style: { head: [], border: [] } });
  for (const r of results) table.push([r.scenario, String(r.rows), fmt(r.perSecond, 0), fmt(r.p50), fmt(r.p99), r.note]);
  console.log(table.toString());
  console.log(`${cpus().length} CPUs, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} at the end (the database shares the machine)`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
