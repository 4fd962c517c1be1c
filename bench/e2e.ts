/**
 * `npm run bench:e2e`: the whole service on one machine, loopback only. Rows are committed to
 * core.tb_entity_change_log; the listener (NOTIFY + polling) starts processChangeEvent; the worker
 * runs three signed webhook actions per event against a keep-alive HTTP receiver. Every phase gets
 * a fresh stack (database, service processes, receiver), so phases do not leak backlog into each
 * other and each process's peak RSS is its own. The service runs with its default settings.
 *
 * Layouts (BENCH_E2E_SERVERS, default "start,embedded,dev"; see SERVER_LABEL):
 *   start      the default deployment: one `fraiseql-observers start` process, embedded server durable
 *   embedded   three processes: embedded server (durable; BENCH_E2E_EMBEDDED_STORE=memory for memory),
 *              `start --role worker`, `start --role listener`; the server's call counters are printed
 *   dev        the same three on Temporal's own dev server (`temporal server start-dev`, built by
 *              scripts/real-temporal.sh under REAL_TEMPORAL_DIR; without it those rows are not run,
 *              and the output says so)
 *
 * Phases (durations and rates from the environment, for a quick run):
 *   throughput   BENCH_E2E_EVENTS rows at once (default 3000); events/s and deliveries/s fully delivered
 *   rate R       BENCH_E2E_RATES (default "150") events/s for BENCH_E2E_SECONDS (default 60);
 *                commit→delivery latency (commit_time of the row → arrival of the event's LAST webhook);
 *                for `start` at 150/s, the issue-13 targets table
 *   parallel     BENCH_E2E_PARALLEL_RUNS events (default 10), one at a time, each with 3 actions of 100 ms;
 *                baseline: the same 3 activity calls one after another, without Temporal (`start` only)
 * Waiting for a backlog to drain is capped by BENCH_E2E_DRAIN_SECONDS (default 60); what is not
 * delivered by then is reported as such, never dropped from the percentiles. BENCH_E2E_RATES= (empty)
 * and BENCH_E2E_PARALLEL_RUNS=0 skip those phases.
 * The peer (bench/peer/): in the same run, the throughput and rate phases also run a plain pipeline
 * a team might build instead, as a yardstick: a row trigger on the change log enqueues a
 * graphile-worker job in the row's transaction, and a graphile-worker process (its own, like the
 * service's worker; BENCH_E2E_PEER_CONCURRENCY jobs at once, default 16) makes the same three signed
 * POSTs at once through the service's HTTP client to the same receiver. Fresh database (graphile-worker
 * schema installed there, or the bench stops with the reason) and processes per phase, measured the
 * same way; each table gets a "peer (graphile-worker)" row and a service ÷ peer line (CPU per event,
 * p99 latency). It gives none of Temporal's durability per action (no per-action retry state or
 * history): a failed job is retried whole. BENCH_E2E_PEER=0 skips it.
 * BENCH_E2E_SERVICE_LOG=FILE appends the service processes' JSON logs to FILE (level
 * BENCH_E2E_SERVICE_LOG_LEVEL, default warn).
 * BENCH_E2E_WORKER_CPU_PROF=DIR runs the worker (or the one process) with `--cpu-prof --cpu-prof-dir=DIR` (one .cpuprofile
 * per JS thread, written when it exits) and writes DIR/window-throughput.json and DIR/window-rate-<R>.json:
 * the measured windows of the throughput and rate phases in the profiles' clock (CLOCK_MONOTONIC, µs), to keep start-up (bundling) out of a
 * summary.
 *
 *   npm run bench:e2e
 *   BENCH_E2E_EVENTS=500 BENCH_E2E_SECONDS=5 BENCH_E2E_RATES=100 npm run bench:e2e   (quick run)
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres (server to use)
 * The service processes inherit the environment, so its settings (WORKER_MAX_CACHED_WORKFLOWS, ...)
 * can be varied the same way.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { Client as TemporalClient, Connection } from '@temporalio/client';
import { Pool } from 'pg';
import pino from 'pino';
import { closeActivities, createActivities, InMemoryBreakerStore, type WebhookAction } from '../src/activities';
import { migrate } from '../src/db/migrate';
import type { ChangeEvent } from '../src/events/types';
import { SEARCH_ATTRIBUTES } from '../src/temporal/search-attributes';
import type { ReceiverMessage } from './e2e-receiver';
import { GRAPHILE_WORKER_VERSION, installPeer } from './peer/install';
import type { PeerWorkerMessage } from './peer/worker';
import { cpuSeconds, postgresCpuSeconds, threadCpuSeconds, type ThreadGroup } from './proc';
import { realTemporalCli, startRealDevServer } from './real-temporal';
import { benchDatabase } from './database';
import { peakRssMiB, percentile, printTable } from './table';

/** A figure, or a dash for a process the layout does not have. */
const orDash = (v: number): number | string => (Number.isFinite(v) ? v : '—');

const num = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${JSON.stringify(raw)}`);
  return n;
};
const EVENTS = num('BENCH_E2E_EVENTS', 3000);
const RATES = (process.env.BENCH_E2E_RATES ?? '150').split(',').filter(Boolean).map((r) => {
  const n = Number(r);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`BENCH_E2E_RATES must list positive numbers, got ${JSON.stringify(process.env.BENCH_E2E_RATES)}`);
  return n;
});
const SECONDS = num('BENCH_E2E_SECONDS', 60);
const DRAIN_SECONDS = num('BENCH_E2E_DRAIN_SECONDS', 60);
const PARALLEL_RUNS = process.env.BENCH_E2E_PARALLEL_RUNS === '0' ? 0 : num('BENCH_E2E_PARALLEL_RUNS', 10);
const WORKER_CPU_PROF = process.env.BENCH_E2E_WORKER_CPU_PROF || undefined;
/** BENCH_E2E_SERVICE_LOG=FILE: one descriptor, opened once, that every service process appends to. */
const SERVICE_LOG_FD = process.env.BENCH_E2E_SERVICE_LOG ? openSync(process.env.BENCH_E2E_SERVICE_LOG, 'a') : undefined;
const SERVER = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const SIGNING_SECRET = randomBytes(16).toString('hex');
/** Where the split layout's embedded server keeps its state (BENCH_E2E_EMBEDDED_STORE=memory: in memory). */
const EMBEDDED_STORE = process.env.BENCH_E2E_EMBEDDED_STORE === 'memory' ? 'memory' : 'postgresql';
/**
 * How the service runs: `start` is the default deployment (one `fraiseql-observers start` process:
 * listener, worker and the embedded server with its state in PostgreSQL); `embedded` is the split
 * layout (the embedded server, durable too, a worker and a listener, three processes); `dev` is the
 * split layout on Temporal's own dev server.
 */
type ServerKind = 'start' | 'embedded' | 'dev';
const SERVER_KINDS: readonly ServerKind[] = ['start', 'embedded', 'dev'];
const SERVER_LABEL: Record<ServerKind, string> = {
  start: 'one process, embedded durable',
  embedded: EMBEDDED_STORE === 'memory' ? '3 processes, embedded in memory' : '3 processes, embedded durable',
  dev: '3 processes, real dev server',
};
const SERVERS: ServerKind[] = (process.env.BENCH_E2E_SERVERS ?? 'start,embedded,dev').split(',').map((x) => x.trim()).filter(Boolean).map((x) => {
  if (!(SERVER_KINDS as readonly string[]).includes(x)) throw new Error(`BENCH_E2E_SERVERS must list start, embedded and/or dev, got ${JSON.stringify(x)}`);
  return x as ServerKind;
});
const ACTIONS = 3;
const PEER = process.env.BENCH_E2E_PEER !== '0';
const PEER_CONCURRENCY = num('BENCH_E2E_PEER_CONCURRENCY', 16);
const PEER_LABEL = 'peer (graphile-worker)';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function observersYaml(receiverPort: number, paths: string[]): string {
  const actions = paths.map((p) => `      - { type: webhook, url: "http://127.0.0.1:${receiverPort}${p}", signing_secret_env: BENCH_SIGNING_SECRET }`).join('\n');
  return `
observers:
  bench:
    entity: Order
    events: [INSERT]
    retry: { max_attempts: 5, initial_delay_ms: 100 }
    actions:
${actions}
ssrf:
  allow: ["127.0.0.1/32"]
`;
}

/** Per-event delivery bookkeeping, fed by the receiver process. */
class Deliveries {
  readonly byEvent = new Map<string, { count: number; firstMs: number; lastMs: number }>();
  readonly keys = new Set<string>();
  total = 0;
  duplicates = 0;

  add(items: Array<[string, string, number]>): void {
    for (const [eventId, key, at] of items) {
      this.total += 1;
      if (this.keys.has(key)) this.duplicates += 1;
      else this.keys.add(key);
      const e = this.byEvent.get(eventId) ?? { count: 0, firstMs: at, lastMs: 0 };
      e.count += 1;
      e.firstMs = Math.min(e.firstMs, at);
      e.lastMs = Math.max(e.lastMs, at);
      this.byEvent.set(eventId, e);
    }
  }

  /** Events with all their actions delivered. */
  complete(ids: Iterable<string>): number {
    let n = 0;
    for (const id of ids) if ((this.byEvent.get(id)?.count ?? 0) >= ACTIONS) n += 1;
    return n;
  }
}

interface Child {
  name: string;
  proc: ChildProcess;
}

function forkReceiver(onMessage: (m: ReceiverMessage) => void): Promise<{ child: Child; port: number }> {
  const proc = fork(path.resolve(__dirname, 'e2e-receiver.js'), [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the receiver did not start within 60 s')), 60_000);
    proc.on('message', (m: ReceiverMessage) => {
      if (m.type === 'ready') {
        clearTimeout(timer);
        resolve({ child: { name: 'receiver', proc }, port: m.port });
      } else onMessage(m);
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the receiver exited with code ${code} before it was ready`));
    });
  });
}

/** `fraiseql-observers start --role <role>`, ready once its /readyz answers 200. */
async function startService(role: 'all' | 'worker' | 'listener', configFile: string, env: Record<string, string>, args: string[] = []): Promise<Child> {
  const metricsPort = await freePort();
  const nodeFlags = role !== 'listener' && WORKER_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${WORKER_CPU_PROF}`] : [];
  const proc = spawn(process.execPath, [...nodeFlags, path.resolve(__dirname, '../../bin/run.js'), 'start', '--config', configFile, '--role', role, '--metrics-port', String(metricsPort), ...args], {
    env: { ...process.env, ...env, LOG_LEVEL: process.env.BENCH_E2E_SERVICE_LOG_LEVEL ?? 'warn', METRICS_HOST: '127.0.0.1' },
    // BENCH_E2E_SERVICE_LOG=FILE appends the service processes' logs (JSON lines) to FILE.
    stdio: ['ignore', SERVICE_LOG_FD ?? 'ignore', 'pipe'],
  });
  // Its start-up banner and warnings are kept, and shown only if it fails.
  let stderr = '';
  proc.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-8192);
  });
  let exited: number | null = null;
  proc.on('exit', (code) => {
    exited = code ?? -1;
    if (code !== 0 && code !== null) process.stderr.write(`start --role ${role} exited with code ${code}:\n${stderr}\n`);
  });
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (exited !== null) throw new Error(`start --role ${role} exited with code ${exited} before it was ready`);
    try {
      const res = await fetch(`http://127.0.0.1:${metricsPort}/readyz`);
      if (res.status === 200) return { name: role === 'all' ? 'service' : role, proc };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`start --role ${role} was not ready within 120 s`);
    }
    await sleep(200);
  }
}

/** SIGTERM (the service drains and exits) or the receiver's 'stop'; SIGKILL after 30 s. */
async function stopChild(c: Child): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => c.proc.once('exit', () => resolve()));
  if (c.name === 'receiver') c.proc.send('stop');
  else c.proc.kill('SIGTERM');
  const killed = await Promise.race([exited.then(() => false), sleep(30_000).then(() => true)]);
  if (killed) {
    c.proc.kill('SIGKILL');
    await exited;
  }
}

/** Inserts `n` change-log rows in one statement; returns id → commit epoch ms. */
async function insertChanges(pool: Pool, n: number): Promise<Array<[string, number]>> {
  const { rows } = await pool.query<{ id: string; commit_ms: number }>(
    `INSERT INTO core.tb_entity_change_log (object_type, modification_type, object_id, object_data, commit_time)
     SELECT 'Order', 'INSERT', gen_random_uuid(), jsonb_build_object('n', g, 'status', 'new'), clock_timestamp()
     FROM generate_series(1, $1) g
     RETURNING id::text, (extract(epoch FROM commit_time) * 1000)::float8 AS commit_ms`,
    [n],
  );
  return rows.map((r) => [r.id, r.commit_ms]);
}

interface Stack {
  pool: Pool;
  client: TemporalClient;
  receiverPort: number;
  deliveries: Deliveries;
  /** CPU seconds used so far by each process of the stack (and this one, the load generator). */
  cpu(): Record<ProcessName, number>;
  /** CPU seconds used so far by each thread group of the worker process. */
  workerThreads(): Record<ThreadGroup, number>;
  /** Inserts `n` rows in one statement; returns id → commit epoch ms. */
  insert(n: number): Promise<Array<[string, number]>>;
}

/** What the load phases need of a stack: the service's, or the peer's (whose only worker is graphile-worker). */
type LoadTarget = Pick<Stack, 'deliveries' | 'cpu' | 'workerThreads' | 'insert'>;

/** `service` is the one process of the `start` layout; server, worker and listener those of the split one. */
const PROCESSES = ['service', 'server', 'worker', 'listener', 'receiver', 'bench', 'postgres'] as const;
type ProcessName = (typeof PROCESSES)[number];

/** Peak RSS (MiB) per process; NaN for the processes a layout does not have. */
type StackRss = Record<Exclude<ProcessName, 'bench' | 'postgres'>, number>;

/** The embedded server's call counters (EMBEDDED_TEMPORAL_STATS=1, read with SIGUSR2), split layout only. */
type ServerStats = Record<string, number>;

/** Builds a fresh stack, runs `fn`, and tears it down; returns fn's result and each process's peak RSS. */
async function withStack<T>(paths: string[], fn: (s: Stack) => Promise<T>, kind: ServerKind = 'start'): Promise<{ result: T; rss: StackRss; stats: ServerStats | null }> {
  const db = await benchDatabase('fo_bench_e2e', SERVER);
  const databaseUrl = db.url;
  const pool = new Pool({ connectionString: databaseUrl, max: 4 });
  pool.on('error', () => undefined);
  const children: Child[] = [];
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-e2e-'));
  const configFile = path.join(dir, 'observers.yaml');
  let server: ChildProcess | undefined;
  let connection: Connection | undefined;
  let statsLine: Promise<ServerStats | null> = Promise.resolve(null);
  let askStats: (() => void) | undefined;
  try {
    await migrate({ pool });
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const deliveries = new Deliveries();
    const receiver = await forkReceiver((m) => {
      if (m.type === 'deliveries') deliveries.add(m.items);
    });
    children.push(receiver.child);
    writeFileSync(configFile, observersYaml(receiver.port, paths));
    const env: Record<string, string> = { DATABASE_URL: databaseUrl, BENCH_SIGNING_SECRET: SIGNING_SECRET };
    if (kind === 'start') {
      // The default deployment: the embedded server runs inside `start`, its state in DATABASE_URL.
      children.push(await startService('all', configFile, env, ['--temporal-port', String(port)]));
    } else {
      if (kind === 'dev') server = (await startRealDevServer({ port, searchAttributes: SEARCH_ATTRIBUTES })).proc;
      else {
        const saFlags = Object.entries(SEARCH_ATTRIBUTES).flatMap(([k, t]) => ['--search-attribute', `${k}=${t}`]);
        const store = EMBEDDED_STORE === 'postgresql' ? ['--data', databaseUrl] : [];
        server = spawn(process.execPath, ['--expose-gc', path.resolve(__dirname, '../src/embedded-temporal/main.js'), 'server', 'start-dev', '--port', String(port), '--namespace', 'default', ...saFlags, ...store], {
          stdio: ['ignore', 'ignore', 'pipe'],
          env: { ...process.env, EMBEDDED_TEMPORAL_STATS: '1' },
        });
        const srv = server;
        statsLine = new Promise((resolve) => {
          let buf = '';
          srv.stderr?.on('data', (chunk: Buffer) => {
            buf += chunk.toString('utf8');
            for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
              const line = buf.slice(0, nl);
              buf = buf.slice(nl + 1);
              if (line.startsWith('embedded-temporal-stats ')) resolve(JSON.parse(line.slice('embedded-temporal-stats '.length)) as ServerStats);
              else process.stderr.write(`${line}\n`);
            }
          });
          srv.once('exit', () => resolve(null));
        });
        askStats = () => srv.kill('SIGUSR2');
      }
      env.TEMPORAL_ADDRESS = address;
    }
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        connection = await Connection.connect({ address, connectTimeout: 5000 });
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(100);
      }
    }
    if (kind !== 'start') {
      children.push(await startService('worker', configFile, env));
      children.push(await startService('listener', configFile, env));
    }
    const pidOf = (name: string) => children.find((c) => c.name === name)?.proc.pid;
    const stack: Stack = {
      pool,
      client: new TemporalClient({ connection }),
      receiverPort: receiver.port,
      deliveries,
      cpu() {
        const of = (pid: number | undefined) => (pid ? cpuSeconds(pid) : NaN);
        return { service: of(pidOf('service')), server: of(server?.pid), worker: of(pidOf('worker')), listener: of(pidOf('listener')), receiver: of(pidOf('receiver')), bench: cpuSeconds(process.pid), postgres: postgresCpuSeconds() };
      },
      workerThreads() {
        return threadCpuSeconds(pidOf('worker') ?? pidOf('service') ?? -1);
      },
      insert: (n) => insertChanges(pool, n),
    };
    const result = await fn(stack);
    const rssOf = (pid: number | undefined) => (pid ? peakRssMiB(pid) : NaN);
    const rss: StackRss = { service: rssOf(pidOf('service')), server: rssOf(server?.pid), worker: rssOf(pidOf('worker')), listener: rssOf(pidOf('listener')), receiver: rssOf(pidOf('receiver')) };
    if (askStats) {
      // The heap figure is per run held: let the runs still closing close (30 s at most), plus the
      // server's packing delay for closed runs.
      const until = Date.now() + 30_000;
      while (Date.now() < until && (await stack.client.workflow.count('ExecutionStatus="Running"')).count > 0) await sleep(500);
      await sleep(1500);
      askStats();
    }
    const stats = askStats ? await Promise.race([statsLine, sleep(5000).then(() => null)]) : null;
    return { result, rss, stats };
  } finally {
    for (const c of [...children].reverse()) await stopChild(c).catch(() => undefined);
    await connection?.close().catch(() => undefined);
    server?.kill('SIGKILL');
    await pool.end().catch(() => undefined);
    await db.drop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- The peer pipeline (bench/peer/): trigger → graphile-worker job → the same 3 POSTs ----

interface PeerRss {
  worker: number;
  receiver: number;
}

/** The peer's graphile-worker process (bench/peer/worker.ts), ready once graphile-worker runs. */
function forkPeerWorker(databaseUrl: string, urls: string[]): Promise<Child> {
  const proc = fork(path.resolve(__dirname, 'peer/worker.js'), [], {
    execArgv: [],
    env: { ...process.env, BENCH_PEER_DATABASE_URL: databaseUrl, BENCH_PEER_URLS: urls.join(','), BENCH_PEER_CONCURRENCY: String(PEER_CONCURRENCY), BENCH_SIGNING_SECRET: SIGNING_SECRET },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error('the peer worker (graphile-worker) was not ready within 60 s'));
    }, 60_000);
    proc.on('message', (m: PeerWorkerMessage) => {
      if (m.type !== 'ready') return;
      clearTimeout(timer);
      resolve({ name: 'peer worker', proc });
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the peer worker (graphile-worker) exited with code ${code} before it was ready`));
    });
  });
}

/**
 * The peer's counterpart of {@link withStack}: a fresh database (the service's migrations for the
 * same change-log table, then graphile-worker's schema and the trigger), a receiver and the peer
 * worker, each its own process; runs `fn` and tears it all down.
 */
async function withPeerStack<T>(paths: string[], fn: (s: LoadTarget) => Promise<T>): Promise<{ result: T; rss: PeerRss }> {
  const db = await benchDatabase('fo_bench_e2e_peer', SERVER);
  const databaseUrl = db.url;
  const pool = new Pool({ connectionString: databaseUrl, max: 4 });
  pool.on('error', () => undefined);
  const children: Child[] = [];
  try {
    await migrate({ pool });
    await installPeer(databaseUrl, 'core.tb_entity_change_log');
    const deliveries = new Deliveries();
    const receiver = await forkReceiver((m) => {
      if (m.type === 'deliveries') deliveries.add(m.items);
    });
    children.push(receiver.child);
    const worker = await forkPeerWorker(databaseUrl, paths.map((p) => `http://127.0.0.1:${receiver.port}${p}`));
    children.push(worker);
    const pidOf = (c: Child) => c.proc.pid ?? -1;
    const result = await fn({
      deliveries,
      // No Temporal server and no listener: those columns stay NaN and the peer rows print "—".
      cpu: () => ({ service: NaN, server: NaN, worker: cpuSeconds(pidOf(worker)), listener: NaN, receiver: cpuSeconds(pidOf(receiver.child)), bench: cpuSeconds(process.pid), postgres: postgresCpuSeconds() }),
      workerThreads: () => threadCpuSeconds(pidOf(worker)),
      insert: (n) => insertChanges(pool, n),
    });
    return { result, rss: { worker: peakRssMiB(pidOf(worker)), receiver: peakRssMiB(pidOf(receiver.child)) } };
  } finally {
    for (const c of [...children].reverse()) await stopChild(c).catch(() => undefined);
    await pool.end().catch(() => undefined);
    await db.drop().catch(() => undefined);
  }
}

/** CPU ms per fully delivered event of the peer's worker: the whole peer pipeline outside PostgreSQL. */
function peerCpuMs(r: ThroughputResult): number {
  return (1000 * r.cpu.worker) / r.delivered;
}

/** The peer's row of the CPU table: no Temporal server, no listener (the trigger does its job in PostgreSQL). */
function peerCpuRow(r: ThroughputResult): Array<string | number> {
  const perEvent = (p: ProcessName) => (1000 * r.cpu[p]) / r.delivered;
  const worker = peerCpuMs(r);
  return [PEER_LABEL, '—', '—', worker, '—', worker, perEvent('receiver'), perEvent('bench'), orDash(perEvent('postgres')), (cpus().length * 1000) / (worker + perEvent('receiver'))];
}

/** "a ÷ b×", or why there is no ratio. */
function ratio(a: number, b: number): string {
  if (!Number.isFinite(a)) return `— (service beyond the ${DRAIN_SECONDS} s drain)`;
  if (!Number.isFinite(b) || b <= 0) return '— (no peer figure)';
  const r = a / b;
  return `${r >= 10 ? r.toFixed(0) : r.toFixed(1)}×`;
}

/** Waits until every id is fully delivered or `seconds` pass; returns whether all were. */
async function drain(d: Deliveries, ids: string[], seconds: number): Promise<boolean> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (d.complete(ids) === ids.length) return true;
    await sleep(20);
  }
  return d.complete(ids) === ids.length;
}

interface ThroughputResult {
  events: number;
  delivered: number;
  seconds: number;
  duplicates: number;
  /** CPU seconds each process spent over the measured window. */
  cpu: Record<ProcessName, number>;
  /** CPU seconds of each thread group of the worker over the measured window. */
  workerThreads: Record<ThreadGroup, number>;
}

/** CLOCK_MONOTONIC in µs: the clock of V8's CPU profiles on Linux. */
const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

const WARM_UP_EVENTS = 50;

/**
 * BENCH_E2E_WORKER_CPU_PROF: write DIR/window-<phase>.json, the measured window of a phase in the
 * profiles' clock. Only the service's stacks are profiled (the peer's are not), and each layout
 * overwrites the file: profile one layout at a time (BENCH_E2E_SERVERS).
 */
function writeProfileWindow(phase: string, startUs: number, events: number): void {
  if (WORKER_CPU_PROF) writeFileSync(path.join(WORKER_CPU_PROF, `window-${phase}.json`), JSON.stringify({ startUs, endUs: monotonicUs(), events }));
}

/** `profileWindow`: write the phase's window file (the service's stacks, not the peer's). */
async function throughput(s: LoadTarget, profileWindow = true): Promise<ThroughputResult> {
  // Warm-up: bundles loaded, pools connected, caches filled; not counted.
  const warm = (await s.insert(WARM_UP_EVENTS)).map(([id]) => id);
  await drain(s.deliveries, warm, DRAIN_SECONDS);
  const cpu0 = s.cpu();
  const threads0 = s.workerThreads();
  const t0 = Date.now();
  const us0 = monotonicUs();
  const ids: string[] = [];
  for (let done = 0; done < EVENTS; done += 1000) ids.push(...(await s.insert(Math.min(1000, EVENTS - done))).map(([id]) => id));
  await drain(s.deliveries, ids, DRAIN_SECONDS + EVENTS / 50);
  const cpu1 = s.cpu();
  const threads1 = s.workerThreads();
  if (profileWindow) writeProfileWindow('throughput', us0, EVENTS);
  const cpu = Object.fromEntries(PROCESSES.map((p) => [p, cpu1[p] - cpu0[p]])) as Record<ProcessName, number>;
  const workerThreads = Object.fromEntries(Object.keys(threads1).map((g) => [g, threads1[g as ThreadGroup] - threads0[g as ThreadGroup]])) as Record<ThreadGroup, number>;
  const last = Math.max(...ids.map((id) => ((s.deliveries.byEvent.get(id)?.count ?? 0) >= ACTIONS ? s.deliveries.byEvent.get(id)!.lastMs : 0)));
  return { events: EVENTS, delivered: s.deliveries.complete(ids), seconds: (last - t0) / 1000, duplicates: s.deliveries.duplicates, cpu, workerThreads };
}

interface RateResult {
  rate: number;
  inserted: number;
  insertSeconds: number;
  delivered: number;
  latencies: number[];
  duplicates: number;
  deliveredPerSecond: number;
  /** CPU seconds each process spent from the first insert to the last delivery (or the drain cap). */
  cpu: Record<ProcessName, number>;
}

async function atRate(s: LoadTarget, rate: number, profileWindow = true): Promise<RateResult> {
  const warm = (await s.insert(20)).map(([id]) => id);
  await drain(s.deliveries, warm, DRAIN_SECONDS);
  const commits = new Map<string, number>();
  const cpu0 = s.cpu();
  const us0 = monotonicUs();
  const start = performance.now();
  let inserted = 0;
  for (;;) {
    const elapsed = performance.now() - start;
    if (elapsed >= SECONDS * 1000) break;
    const due = Math.floor((rate * elapsed) / 1000) + 1;
    if (due > inserted) {
      for (const [id, at] of await s.insert(due - inserted)) commits.set(id, at);
      inserted = due;
    }
    await sleep(2);
  }
  const insertSeconds = (performance.now() - start) / 1000;
  const ids = [...commits.keys()];
  await drain(s.deliveries, ids, DRAIN_SECONDS);
  const cpu1 = s.cpu();
  if (profileWindow) writeProfileWindow(`rate-${rate}`, us0, ids.length);
  const cpu = Object.fromEntries(PROCESSES.map((p) => [p, cpu1[p] - cpu0[p]])) as Record<ProcessName, number>;
  const latencies = ids
    .map((id) => {
      const d = s.deliveries.byEvent.get(id);
      return d && d.count >= ACTIONS ? d.lastMs - commits.get(id)! : Number.POSITIVE_INFINITY;
    })
    .sort((a, b) => a - b);
  const firstCommit = Math.min(...commits.values());
  const delivered = latencies.filter(Number.isFinite).length;
  const lastDelivery = Math.max(...ids.map((id) => s.deliveries.byEvent.get(id)?.lastMs ?? 0));
  return { rate, inserted: ids.length, insertSeconds, delivered, latencies, duplicates: s.deliveries.duplicates, deliveredPerSecond: delivered / ((lastDelivery - firstCommit) / 1000), cpu };
}

interface ParallelResult {
  pipelineRunMs: number[];
  /** First → last of the 3 requests' arrivals at the receiver (0 = dispatched at the same instant). */
  pipelineSpreadMs: number[];
  pipelineCommitToCloseMs: number[];
  directSequentialMs: number[];
  directParallelMs: number[];
}

async function parallelism(s: Stack): Promise<ParallelResult> {
  const out: ParallelResult = { pipelineRunMs: [], pipelineSpreadMs: [], pipelineCommitToCloseMs: [], directSequentialMs: [], directParallelMs: [] };
  for (let i = 0; i < PARALLEL_RUNS + 1; i++) {
    const [[id, commitMs]] = (await s.insert(1)) as [[string, number]];
    const handle = s.client.workflow.getHandle(`fraiseql-event:${id}`);
    for (const deadline = Date.now() + 60_000; ; ) {
      try {
        await handle.result();
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(20); // not started yet
      }
    }
    const d = await handle.describe();
    if (i === 0) continue; // warm-up
    out.pipelineRunMs.push(d.closeTime!.getTime() - d.startTime.getTime());
    out.pipelineCommitToCloseMs.push(d.closeTime!.getTime() - commitMs);
    await drain(s.deliveries, [id], 10);
    const arrivals = s.deliveries.byEvent.get(id);
    if (arrivals) out.pipelineSpreadMs.push(arrivals.lastMs - arrivals.firstMs);
  }
  // Baseline: the very same activity functions, called directly, one after another (the Rust
  // crate's model), and together; no Temporal in between.
  const acts = createActivities({ env: { BENCH_SIGNING_SECRET: SIGNING_SECRET }, log: pino({ level: 'silent' }), breaker: new InMemoryBreakerStore(), ssrf: { allow: ['127.0.0.1/32'] } });
  try {
    const event: ChangeEvent = {
      id: 'bench', position: '1', kind: 'INSERT', rawKind: 'INSERT', entityType: 'Order', entityId: null, data: {}, before: null, changes: null,
      updatedFields: null, tenantId: null, userId: null, actor: null, createdAt: null, commitTime: null, trace: null,
    };
    const action = (p: string, i: number): WebhookAction => ({ type: 'webhook', key: `baseline:${i}`, url: `http://127.0.0.1:${s.receiverPort}${p}`, signing_secret_env: 'BENCH_SIGNING_SECRET' });
    const actions = ['/slow/a', '/slow/b', '/slow/c'].map(action);
    for (let i = 0; i < PARALLEL_RUNS + 1; i++) {
      let t = performance.now();
      for (const a of actions) await acts.runWebhook({ event: { ...event, id: `seq-${i}` }, action: a });
      const seq = performance.now() - t;
      t = performance.now();
      await Promise.all(actions.map((a) => acts.runWebhook({ event: { ...event, id: `par-${i}` }, action: a })));
      const par = performance.now() - t;
      if (i === 0) continue;
      out.directSequentialMs.push(seq);
      out.directParallelMs.push(par);
    }
  } finally {
    await closeActivities(acts);
  }
  for (const list of Object.values(out) as number[][]) list.sort((a, b) => a - b);
  return out;
}

const ms = (v: number) => (Number.isFinite(v) ? v : `> ${DRAIN_SECONDS} s drain`);

/** The issue-13 targets at the fixed rate: what `start` (the default deployment) must meet. */
const TARGET = { rate: 150, p99Ms: 1000, cpuMsPerEvent: 6, rssMiB: 400 };

/** One row of the fixed-rate table. */
function rateRow(label: string, r: RateResult & { cpuMsPerEvent: number }): Array<string | number> {
  const l = r.latencies;
  return [label, String(r.rate), String(r.inserted), r.inserted / r.insertSeconds, `${r.delivered} (${((100 * r.delivered) / r.inserted).toFixed(1)} %)`,
    r.deliveredPerSecond, ms(percentile(l, 50)), ms(percentile(l, 95)), ms(percentile(l, 99)), ms(l[l.length - 1] ?? NaN), String(r.duplicates), r.cpuMsPerEvent, orDash((1000 * r.cpu.postgres) / r.delivered)];
}

async function main(): Promise<void> {
  const started = Date.now();
  console.log(`bench:e2e on ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`events ${EVENTS}, rates ${RATES.join('/')} events/s for ${SECONDS} s, drain cap ${DRAIN_SECONDS} s, ${PARALLEL_RUNS} parallelism runs`);
  console.log(`layouts: ${SERVERS.map((k) => SERVER_LABEL[k]).join('; ')}${SERVERS.includes('embedded') ? ` (split layout's embedded store: ${EMBEDDED_STORE})` : ''}`);
  console.log(PEER ? `peer: row trigger → graphile-worker ${GRAPHILE_WORKER_VERSION} job (${PEER_CONCURRENCY} at once) → ${ACTIONS} POSTs at once\n` : 'peer: not run (BENCH_E2E_PEER=0)\n');
  const rssRows: Array<Array<string | number>> = [];
  const rssRow = (phase: string, r: StackRss) => void rssRows.push([phase, ...[r.service, r.server, r.worker, r.listener].map(orDash), r.receiver, peakRssMiB(process.pid)]);
  // The embedded server's own heap after a full collection, per phase (split layout only: its own process).
  const heapRows: Array<Array<string | number>> = [];
  const heapRow = (phase: string, stats: ServerStats | null) => {
    if (!stats || stats.heapUsedBytes === undefined) return;
    const { heapUsedBytes, closedRuns = 0, openRuns = 0, packedBytes = 0 } = stats;
    const runs = closedRuns + openRuns;
    heapRows.push([phase, closedRuns, openRuns, heapUsedBytes / 2 ** 20, runs > 0 ? heapUsedBytes / 1024 / runs : NaN, closedRuns > 0 ? packedBytes / 1024 / closedRuns : NaN]);
  };
  const fast = ['/a', '/b', '/c'];

  const real = realTemporalCli();
  const servers = SERVERS.filter((k) => k !== 'dev' || !('missing' in real));
  const notRun = SERVERS.length !== servers.length && 'missing' in real ? `Rows for the real dev server not run: ${real.missing}.` : undefined;

  const tps: Array<{ kind: ServerKind; r: ThroughputResult; stats: ServerStats | null }> = [];
  for (const kind of servers) {
    const tp = await withStack(fast, throughput, kind);
    rssRow(`throughput (${SERVER_LABEL[kind]})`, tp.rss);
    heapRow(`throughput (${SERVER_LABEL[kind]})`, tp.stats);
    tps.push({ kind, r: tp.result, stats: tp.stats });
  }
  const peerTp = PEER ? await withPeerStack(fast, (s) => throughput(s, false)) : undefined;
  if (peerTp) rssRows.push(['throughput (peer)', '—', '—', peerTp.rss.worker, '—', peerTp.rss.receiver, peakRssMiB(process.pid)]);
  const tpRows = [...tps.map(({ kind, r }) => ({ label: SERVER_LABEL[kind], r })), ...(peerTp ? [{ label: PEER_LABEL, r: peerTp.result }] : [])];
  console.log(`Sustained throughput: ${EVENTS} events committed at once, ${ACTIONS} signed webhooks each\n`);
  printTable(
    ['layout', 'events', 'fully delivered', 'seconds (first commit → last delivery)', 'events/s', 'deliveries/s', 'duplicate deliveries'],
    tpRows.map(({ label, r }) => [label, String(r.events), String(r.delivered), r.seconds, r.delivered / r.seconds, (r.delivered * ACTIONS) / r.seconds, String(r.duplicates)]),
  );

  // CPU per event does not depend on what else the machine runs; events/s does.
  console.log(`\nCPU per fully delivered event in that phase (ms; "service total" is the service's processes; PostgreSQL is every backend of the local server, the bench's inserts included, and is not in the total)\n`);
  printTable(
    ['layout', 'one process', 'server process', 'worker', 'listener', 'service total', 'receiver', 'bench (inserts)', 'PostgreSQL', `events/s the service could do on ${cpus().length} idle cores (CPU bound)`],
    tps.map(({ kind, r }) => {
      const perEvent = (p: ProcessName) => (1000 * r.cpu[p]) / r.delivered;
      const service = serviceCpuMs(kind, r);
      return [SERVER_LABEL[kind], ...[perEvent('service'), perEvent('server'), perEvent('worker'), perEvent('listener')].map(orDash), service, perEvent('receiver'), perEvent('bench'), orDash(perEvent('postgres')), (cpus().length * 1000) / (service + perEvent('receiver'))];
    }).concat(peerTp ? [peerCpuRow(peerTp.result)] : []),
  );
  if (peerTp && tps.length > 0) {
    const peerMs = peerCpuMs(peerTp.result);
    const parts = tps.map(({ kind, r }) => `${SERVER_LABEL[kind]} ${ratio(serviceCpuMs(kind, r), peerMs)}`);
    console.log(`\nService ÷ peer, CPU per event (service total ÷ peer worker): ${parts.join(', ')}`);
  }

  const groups = tps[0] ? (Object.keys(tps[0].r.workerThreads) as ThreadGroup[]) : [];
  console.log(`\nCPU per fully delivered event by thread of the worker (of the one process for \`start\`) (ms)\n`);
  printTable(['layout', ...groups], tps.map(({ kind, r }) => [SERVER_LABEL[kind], ...groups.map((g) => (1000 * r.workerThreads[g]) / r.delivered)]));

  const withStats = tps.filter((t) => t.stats);
  if (withStats.length > 0) {
    console.log('\nEmbedded server calls per event in that phase (warm-up included)\n');
    const keys = ['StartWorkflowExecution', 'PollWorkflowTaskQueue:task', 'PollWorkflowTaskQueue:empty', 'RespondWorkflowTaskCompleted', 'PollActivityTaskQueue:task', 'eagerActivityTasks', 'RespondActivityTaskCompleted', 'storeCommits'];
    printTable(['layout', ...keys], withStats.map(({ kind, r, stats }) => [SERVER_LABEL[kind], ...keys.map((k) => (stats![k] ?? 0) / (r.events + WARM_UP_EVENTS))]));
  }

  const rateRows: Array<Array<string | number>> = [];
  const targetRows: Array<Array<string | number>> = [];
  const p99Ratios: string[] = [];
  for (const rate of RATES) {
    const serviceP99: Array<{ kind: ServerKind; p99: number }> = [];
    for (const kind of servers) {
      const r = await withStack(fast, (s) => atRate(s, rate), kind);
      rssRow(`${rate} events/s (${SERVER_LABEL[kind]})`, r.rss);
      heapRow(`${rate} events/s (${SERVER_LABEL[kind]})`, r.stats);
      const l = r.result.latencies;
      const cpuMs = serviceCpuMs(kind, r.result);
      rateRows.push(rateRow(SERVER_LABEL[kind], { ...r.result, cpuMsPerEvent: cpuMs }));
      serviceP99.push({ kind, p99: percentile(l, 99) });
      if (kind === 'start' && rate === TARGET.rate) {
        const rss = r.rss.service;
        const p99 = percentile(l, 99);
        const mark = (ok: boolean) => (ok ? 'met' : 'MISSED');
        targetRows.push([`delivered at ${rate} events/s for ${SECONDS} s`, '100 %', `${((100 * r.result.delivered) / r.result.inserted).toFixed(1)} %`, mark(r.result.delivered === r.result.inserted)]);
        targetRows.push(['p99 commit → delivery', `≤ ${TARGET.p99Ms} ms`, ms(p99), mark(p99 <= TARGET.p99Ms)]);
        targetRows.push(['CPU per event, all processes of the service', `≤ ${TARGET.cpuMsPerEvent} ms`, cpuMs, mark(cpuMs <= TARGET.cpuMsPerEvent)]);
        targetRows.push(['peak RSS of the service', `≤ ${TARGET.rssMiB} MiB`, rss, mark(rss <= TARGET.rssMiB)]);
      }
    }
    if (PEER) {
      const p = await withPeerStack(fast, (s) => atRate(s, rate, false));
      rssRows.push([`${rate} events/s (peer)`, '—', '—', p.rss.worker, '—', p.rss.receiver, peakRssMiB(process.pid)]);
      rateRows.push(rateRow(PEER_LABEL, { ...p.result, cpuMsPerEvent: (1000 * p.result.cpu.worker) / p.result.delivered }));
      const peerP99 = percentile(p.result.latencies, 99);
      if (serviceP99.length > 0) p99Ratios.push(`${rate} events/s: ${serviceP99.map(({ kind, p99 }) => `${SERVER_LABEL[kind]} ${ratio(p99, peerP99)}`).join(', ')}`);
    }
  }
  if (RATES.length > 0) {
    console.log(`\nCommit → delivery latency at fixed insert rates (${SECONDS} s each; delivery = arrival of the event's last webhook)\n`);
    printTable(['layout', 'target events/s', 'inserted', 'actual insert rate', 'fully delivered', 'delivered events/s', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'duplicates', 'CPU ms/event (service total; peer worker)', 'PostgreSQL CPU ms/event'], rateRows);
    if (p99Ratios.length > 0) console.log(`\nService ÷ peer, p99 commit → delivery: ${p99Ratios.join('; ')}`);
  }
  if (notRun) console.log(`\n${notRun}`);

  if (PARALLEL_RUNS > 0) await parallelPhase(rssRow);

  console.log('\nPeak RSS (MiB) of each process, per phase (every phase has fresh processes except the bench itself)\n');
  printTable(['phase', 'one process (start)', 'Temporal server', 'worker', 'listener', 'receiver', 'bench (inserts, baseline)'], rssRows);
  if (heapRows.length > 0) {
    console.log('\nEmbedded server heap at the end of each phase, after a full GC (split layout: the server is its own process)\n');
    printTable(['phase', 'closed runs held', 'open runs', 'heap + buffers MiB', 'KiB per run held', 'packed history KiB per closed run'], heapRows);
  }
  if (targetRows.length > 0) {
    console.log('\nTargets (issue 13), for the default deployment (one `start` process)\n');
    printTable(['target', 'goal', 'measured', ''], targetRows);
  }
  console.log(`\nTotal ${((Date.now() - started) / 1000).toFixed(0)} s.`);
}

/** CPU ms per fully delivered event of the service's own processes (not the receiver or the bench). */
function serviceCpuMs(kind: ServerKind, r: { cpu: Record<ProcessName, number>; delivered: number }): number {
  const sec = kind === 'start' ? r.cpu.service : r.cpu.server + r.cpu.worker + r.cpu.listener;
  return (1000 * sec) / r.delivered;
}

async function parallelPhase(rssRow: (phase: string, r: StackRss) => void): Promise<void> {
  const par = await withStack(['/slow/a', '/slow/b', '/slow/c'], parallelism);
  rssRow('parallelism', par.rss);
  const p = par.result;
  console.log(`\nThree 100 ms webhook actions of one event (median of ${PARALLEL_RUNS})\n`);
  printTable(
    ['how', 'median ms', 'p90 ms'],
    [
      ['pipeline: one observer, 3 actions (workflow start → close)', percentile(p.pipelineRunMs, 50), percentile(p.pipelineRunMs, 90)],
      ['pipeline: first → last of the 3 requests arriving at the receiver', percentile(p.pipelineSpreadMs, 50), percentile(p.pipelineSpreadMs, 90)],
      ['pipeline: commit → workflow closed', percentile(p.pipelineCommitToCloseMs, 50), percentile(p.pipelineCommitToCloseMs, 90)],
      ['baseline: the 3 activity calls one after another (no Temporal)', percentile(p.directSequentialMs, 50), percentile(p.directSequentialMs, 90)],
      ['reference: the 3 activity calls together (no Temporal)', percentile(p.directParallelMs, 50), percentile(p.directParallelMs, 90)],
    ],
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
