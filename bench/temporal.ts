/**
 * `npm run bench:temporal`: completed workflows per second through the embedded Temporal server,
 * driven by the real SDK worker and client in wall-clock mode, for a workflow of three parallel
 * no-op activities — and where the CPU of each workflow goes.
 *
 * Every configuration runs on fresh processes: the server (its own process, so its peak RSS is its
 * own), one or more worker processes, and one or more load-generator processes that keep a fixed
 * number of workflows in flight (start + wait for the result). CPU seconds of every process are read
 * from /proc before and after the measured phase, so each row says how many CPU milliseconds one
 * workflow cost the server, the worker(s) and the client(s).
 *
 * Rows marked "(durable)" run the server with `--data` on a fresh PostgreSQL database (state kept in
 * PostgreSQL, every answer after its commit); their "database" CPU is the store session's backend
 * process (the server and PostgreSQL must be on this machine for /proc to see it).
 *
 * Env: BENCH_CONFIGS (comma-separated labels, or `all`; default: the short list), BENCH_WORKFLOWS
 * (measured workflows per row, default 2000), BENCH_WARMUP (default 600), BENCH_THREADS=1 (also print
 * the per-thread CPU split of the worker), BENCH_STATS=1 (also print server calls per workflow),
 * BENCH_SERVER_PROFILE=dir (run the server under `node --cpu-prof`, profiles written to dir),
 * BENCH_DATABASE_URL (PostgreSQL server for the durable rows; default $DATABASE_URL, else
 * postgres://postgres@127.0.0.1:5432/postgres — a database is created and dropped per row).
 *
 * Side by side: the rows labelled "real dev server" run the same worker and load against Temporal's
 * own dev server (`temporal server start-dev`, in memory; built by scripts/real-temporal.sh under
 * REAL_TEMPORAL_DIR). Without that binary those rows are not run, and the output says so.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Client as PgClient } from 'pg';
import { benchDatabase, onAdmin } from './database';
import { bundleWorkflowCode, type NativeConnectionOptions, type WorkerOptions } from '@temporalio/worker';
import { percentile, printTable } from './table';
import { cpuSeconds, peakRssMiB, threadCpuSeconds, type ThreadGroup } from './proc';
import { realTemporalCli, startRealDevServer } from './real-temporal';
import type { LoadRequest, LoadResult } from './temporal-load';
import type { WorkerProcessConfig } from './temporal-worker';

/** One row of the table: a process layout plus worker options, all else equal. */
interface BenchConfig {
  label: string;
  workflowType: 'threeParallel' | 'threeParallelLocal';
  workers: number;
  loaders: number;
  inFlight: number;
  options: Partial<WorkerOptions>;
  connection?: Partial<NativeConnectionOptions>;
  /** Keep the server's state in PostgreSQL (`--data`) instead of memory. */
  durable?: boolean;
  /** The server under load: the embedded one (default) or the real dev server. */
  server?: 'embedded' | 'real dev server';
}

/**
 * The settings recommended for a worker on the embedded server (README "The embedded Temporal
 * server"): no gRPC compression on the loopback connection (Core gzips every request by default and
 * the server spends about a quarter of its CPU inflating them), and otherwise the SDK's defaults —
 * eager activity dispatch on, reuseV8Context on, a workflow cache larger than the workflows in
 * flight. No poller or slot option measured better than the defaults (see the full matrix).
 */
export const RECOMMENDED_CONNECTION_OPTIONS: Partial<NativeConnectionOptions> = { grpcCompression: { codec: 'none' } };

const base = { workflowType: 'threeParallel', workers: 1, loaders: 1, inFlight: 100, options: {} } as const;
const rec = { ...base, connection: RECOMMENDED_CONNECTION_OPTIONS };

/** Rows of the full matrix: SDK defaults, then one change at a time, then the recommended set and its variants. */
const CONFIGS: BenchConfig[] = [
  { ...base, label: 'SDK defaults (1 loader)' },
  { ...base, label: '2 loaders', loaders: 2 },
  { ...base, label: '2 loaders 200 in flight', loaders: 2, inFlight: 200 },
  { ...base, label: 'nonStickyToStickyPollRatio 1', loaders: 2, options: { nonStickyToStickyPollRatio: 1 } },
  { ...base, label: 'wf task polls 20 (ratio 1)', loaders: 2, options: { nonStickyToStickyPollRatio: 1, maxConcurrentWorkflowTaskPolls: 20 } },
  { ...base, label: 'wf task poller autoscaling', loaders: 2, options: { workflowTaskPollerBehavior: { type: 'autoscaling', maximum: 50 } } },
  { ...base, label: 'maxConcurrentWFTExecutions 100', loaders: 2, options: { maxConcurrentWorkflowTaskExecutions: 100 } },
  { ...base, label: 'maxConcurrentActivityExec 200', loaders: 2, options: { maxConcurrentActivityTaskExecutions: 200 } },
  { ...base, label: 'activity polls 20', loaders: 2, options: { maxConcurrentActivityTaskPolls: 20 } },
  { ...base, label: 'maxCachedWorkflows 1000', loaders: 2, options: { maxCachedWorkflows: 1000 } },
  { ...base, label: 'maxCachedWorkflows 0', loaders: 2, options: { maxCachedWorkflows: 0, maxConcurrentWorkflowTaskExecutions: 40 } },
  { ...base, label: 'workflowThreadPoolSize 2', loaders: 2, options: { workflowThreadPoolSize: 2 } },
  { ...base, label: 'reuseV8Context false', loaders: 2, options: { reuseV8Context: false } },
  { ...base, label: 'stickyQueueScheduleToStart 1s', loaders: 2, options: { stickyQueueScheduleToStartTimeout: '1s' } },
  { ...base, label: 'gRPC compression off', loaders: 2, connection: { grpcCompression: { codec: 'none' } } },
  { ...base, label: 'eager activities off', loaders: 2, options: { maxEagerActivityReservationsPerWorkflowTask: 0 } },
  { ...rec, label: 'recommended' },
  { ...rec, label: 'recommended 200 in flight', inFlight: 200 },
  { ...rec, label: 'recommended 2 workers', workers: 2 },
  { ...rec, label: 'recommended local activities', workflowType: 'threeParallelLocal' },
  { ...rec, label: 'recommended local 2 workers', workflowType: 'threeParallelLocal', workers: 2 },
  { ...base, label: 'SDK defaults (durable)', durable: true },
  { ...rec, label: 'recommended (durable)', durable: true },
  { ...rec, label: 'recommended local activities (durable)', workflowType: 'threeParallelLocal', durable: true },
  { ...base, label: 'real dev server: SDK defaults', server: 'real dev server' },
  { ...rec, label: 'real dev server: recommended', server: 'real dev server' },
  { ...rec, label: 'real dev server: recommended local activities', workflowType: 'threeParallelLocal', server: 'real dev server' },
];

/** Each in-memory row next to the same configuration with a durable server. */
const SHORT_LIST = [
  'SDK defaults (1 loader)', 'SDK defaults (durable)',
  'recommended', 'recommended (durable)',
  'recommended local activities', 'recommended local activities (durable)',
  'real dev server: SDK defaults', 'real dev server: recommended', 'real dev server: recommended local activities',
];

interface Row {
  config: BenchConfig;
  seconds: number;
  latencies: number[];
  failed: number;
  cpu: { server: number; database: number; workers: number; loaders: number };
  threads: Record<ThreadGroup, number>;
  serverRss: number;
  workerRss: number;
  stats: Record<string, number>;
}

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Fork a bench child and wait for its `ready` message (or its death). */
async function forkReady(file: string, args: string[]): Promise<ChildProcess> {
  const child = fork(path.resolve(__dirname, file), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise<void>((resolve, reject) => {
    child.once('message', (m) => (m === 'ready' ? resolve() : reject(new Error(`${file}: unexpected message ${String(m)}`))));
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code} before it was ready`)));
  });
  child.removeAllListeners('exit');
  return child;
}

const BENCH_PG = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** An admin session on BENCH_PG. */
const admin = <T>(fn: (c: PgClient) => Promise<T>): Promise<T> => onAdmin(BENCH_PG, fn);

/** A fresh database for one durable row; `drop()` removes it. */
const freshDatabase = () => benchDatabase('bench_temporal', BENCH_PG);

/** Backend pid of the durable server's store session (its CPU is the database's share). */
async function storeBackendPid(database: string): Promise<number> {
  return await admin(async (c) => {
    const { rows } = await c.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'fraiseql-observers temporal-store%'", [database],
    );
    if (!rows[0]) throw new Error(`no store session found in database ${database}`);
    return rows[0].pid;
  });
}

type BenchServer = { proc: ChildProcess; stats(): Promise<Record<string, number>> };

/** The real dev server; it has no call statistics to report (the stats table shows 0 for it). */
async function startRealServer(port: number): Promise<BenchServer> {
  const server = await startRealDevServer({ port });
  return { proc: server.proc, stats: async () => ({}) };
}

async function startServer(port: number, dataUrl?: string): Promise<BenchServer> {
  const serverPath = path.resolve(__dirname, '../src/embedded-temporal/main.js');
  const profileDir = process.env.BENCH_SERVER_PROFILE;
  const nodeArgs = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
  const data = dataUrl ? ['--data', dataUrl] : [];
  const proc = spawn(process.execPath, [...nodeArgs, serverPath, 'server', 'start-dev', '--port', String(port), '--namespace', 'default', ...data], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, EMBEDDED_TEMPORAL_STATS: '1' },
  });
  let err = '';
  const waiters: Array<(s: Record<string, number>) => void> = [];
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
    let i: number;
    while ((i = err.indexOf('\n')) >= 0) {
      const line = err.slice(0, i);
      err = err.slice(i + 1);
      const m = /^embedded-temporal-stats (.*)$/.exec(line);
      if (m) waiters.shift()?.(JSON.parse(m[1]!) as Record<string, number>);
      else process.stderr.write(`${line}\n`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    proc.stdout!.setEncoding('utf8').once('data', () => resolve());
    proc.once('exit', (code) => reject(new Error(`embedded server exited with ${code}`)));
  });
  proc.removeAllListeners('exit');
  return {
    proc,
    stats: async () => await new Promise((resolve) => {
      waiters.push(resolve);
      proc.kill('SIGUSR2');
    }),
  };
}

async function runLoad(loaders: ChildProcess[], req: Omit<LoadRequest, 'type' | 'n' | 'inFlight'>, n: number, inFlight: number): Promise<LoadResult[]> {
  return await Promise.all(loaders.map((l, i) => new Promise<LoadResult>((resolve) => {
    l.once('message', (m) => resolve(m as LoadResult));
    const share = (total: number) => Math.floor(total / loaders.length) + (i < total % loaders.length ? 1 : 0);
    l.send({ ...req, type: 'run', prefix: `${req.prefix}-l${i}`, n: share(n), inFlight: share(inFlight) } satisfies LoadRequest);
  })));
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

async function runConfig(config: BenchConfig, bundlePath: string, n: number, warmup: number): Promise<Row> {
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const db = config.durable ? await freshDatabase() : null;
  const server = config.server === 'real dev server' ? await startRealServer(port) : await startServer(port, db?.url);
  const children: ChildProcess[] = [];
  try {
    const dbPid = db ? await storeBackendPid(db.name) : null;
    const taskQueue = 'bench-temporal';
    const workerCfg: WorkerProcessConfig = { address, taskQueue, bundlePath, options: config.options, connection: config.connection };
    const workers = await Promise.all(Array.from({ length: config.workers }, () => forkReady('temporal-worker.js', [JSON.stringify(workerCfg)])));
    children.push(...workers);
    const loaders = await Promise.all(Array.from({ length: config.loaders }, () => forkReady('temporal-load.js', [address])));
    children.push(...loaders);
    const load = { taskQueue, workflowType: config.workflowType };
    await runLoad(loaders, { ...load, prefix: 'warmup' }, warmup, config.inFlight);

    const pids = { server: [server.proc.pid!], workers: workers.map((w) => w.pid!), loaders: loaders.map((l) => l.pid!) };
    const cpuNow = () => ({
      server: sum(pids.server.map(cpuSeconds)), database: dbPid === null ? 0 : cpuSeconds(dbPid),
      workers: sum(pids.workers.map(cpuSeconds)), loaders: sum(pids.loaders.map(cpuSeconds)),
    });
    const threadsNow = () => threadCpuSeconds(pids.workers[0]!);
    const stats0 = await server.stats();
    const cpu0 = cpuNow();
    const threads0 = threadsNow();
    const t0 = performance.now();
    const results = await runLoad(loaders, { ...load, prefix: 'load' }, n, config.inFlight);
    const seconds = (performance.now() - t0) / 1000;
    const cpu1 = cpuNow();
    const threads1 = threadsNow();
    const stats1 = await server.stats();
    const failed = sum(results.map((r) => r.failed));
    if (failed > 0) console.error(`${config.label}: ${failed} workflows failed, first error: ${results.find((r) => r.firstError)?.firstError}`);
    const stats: Record<string, number> = {};
    for (const [k, v] of Object.entries(stats1)) stats[k] = v - (stats0[k] ?? 0);
    const threads = Object.fromEntries(Object.entries(threads1).map(([k, v]) => [k, v - threads0[k as ThreadGroup]])) as Record<ThreadGroup, number>;
    const row: Row = {
      config, seconds, failed, stats, threads,
      latencies: results.flatMap((r) => r.latencies).sort((a, b) => a - b),
      cpu: { server: cpu1.server - cpu0.server, database: cpu1.database - cpu0.database, workers: cpu1.workers - cpu0.workers, loaders: cpu1.loaders - cpu0.loaders },
      serverRss: peakRssMiB(server.proc.pid!),
      workerRss: Math.max(...pids.workers.map(peakRssMiB)),
    };
    await stopAll(workers, loaders);
    if (process.env.BENCH_SERVER_PROFILE && config.server !== 'real dev server') {
      // A profile is written only on a normal exit: SIGTERM (graceful stop), not SIGKILL.
      const exited = new Promise((resolve) => server.proc.once('exit', resolve));
      server.proc.kill('SIGTERM');
      await exited;
    }
    return row;
  } finally {
    for (const c of children) c.kill('SIGKILL');
    server.proc.kill('SIGKILL');
    await db?.drop();
  }
}

async function stopAll(workers: ChildProcess[], loaders: ChildProcess[]): Promise<void> {
  const exited = (c: ChildProcess) => new Promise<void>((resolve) => {
    if (c.exitCode !== null) resolve();
    else c.once('exit', () => resolve());
  });
  for (const l of loaders) l.send('stop');
  for (const w of workers) w.send('stop');
  await Promise.race([Promise.all([...workers, ...loaders].map(exited)), new Promise((r) => setTimeout(r, 5000))]);
}

function selectConfigs(): BenchConfig[] {
  const wanted = process.env.BENCH_CONFIGS;
  if (wanted === 'all') return CONFIGS;
  const labels = wanted ? wanted.split(',').map((s) => s.trim()) : SHORT_LIST;
  return labels.map((label) => {
    const c = CONFIGS.find((x) => x.label === label);
    if (!c) throw new Error(`BENCH_CONFIGS: unknown configuration "${label}"; known: ${CONFIGS.map((x) => x.label).join(' | ')}`);
    return c;
  });
}

async function main(): Promise<void> {
  const n = Number(process.env.BENCH_WORKFLOWS ?? 2000);
  const warmup = Number(process.env.BENCH_WARMUP ?? 600);
  const real = realTemporalCli();
  const notRun = 'missing' in real ? selectConfigs().filter((c) => c.server === 'real dev server') : [];
  const configs = selectConfigs().filter((c) => !notRun.includes(c));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-temporal-'));
  try {
    const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('./workflows'), logger: undefined });
    const bundlePath = path.join(dir, 'workflows.js');
    writeFileSync(bundlePath, bundle.code);
    const rows: Row[] = [];
    for (const c of configs) {
      process.stderr.write(`bench:temporal: ${c.label} ...\n`);
      rows.push(await runConfig(c, bundlePath, n, warmup));
    }
    print(rows, n);
    if ('missing' in real) for (const c of notRun) console.log(`\nRow "${c.label}" not run: ${real.missing}.`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function print(rows: Row[], n: number): void {
  const load = os.loadavg()[0]!;
  console.log(`\nEmbedded Temporal server (and, where labelled, the real dev server) — workflow of 3 parallel no-op activities, wall clock, ${n} workflows per row, ${os.cpus().length} cores (1-min load after the run: ${load.toFixed(2)})\n`);
  console.log('CPU ms/wf = CPU milliseconds per completed workflow, per process kind (all threads; summed over processes of that kind); database = the durable store\'s PostgreSQL backend.\n');
  printTable(
    ['configuration', 'workers', 'loaders', 'in flight', 'workflows/s', 'p50 ms', 'p99 ms', 'CPU ms/wf server', 'CPU ms/wf database', 'CPU ms/wf worker', 'CPU ms/wf client', 'CPU ms/wf total', 'server peak RSS MiB', 'worker peak RSS MiB'],
    rows.map((r) => {
      const done = r.latencies.length;
      const per = (s: number) => (s * 1000) / done;
      return [
        r.config.label + (r.failed ? ` (${r.failed} FAILED)` : ''), String(r.config.workers), String(r.config.loaders), String(r.config.inFlight), done / r.seconds,
        percentile(r.latencies, 50), percentile(r.latencies, 99),
        per(r.cpu.server), r.config.durable ? per(r.cpu.database) : '-', per(r.cpu.workers), per(r.cpu.loaders),
        per(r.cpu.server + r.cpu.database + r.cpu.workers + r.cpu.loaders),
        r.serverRss, r.workerRss,
      ];
    }),
  );
  if (process.env.BENCH_THREADS === '1') {
    console.log('\nFirst worker process, CPU ms per workflow by thread group\n');
    const groups = Object.keys(rows[0]!.threads) as ThreadGroup[];
    printTable(['configuration', ...groups], rows.map((r) => [r.config.label, ...groups.map((g) => (r.threads[g] * 1000 * r.config.workers) / r.latencies.length)]));
  }
  if (process.env.BENCH_STATS === '1') {
    console.log('\nServer calls per workflow (measured phase)\n');
    const keys = ['PollWorkflowTaskQueue:task', 'PollWorkflowTaskQueue:empty', 'RespondWorkflowTaskCompleted', 'PollActivityTaskQueue:task', 'eagerActivityTasks', 'RespondActivityTaskCompleted', 'GetWorkflowExecutionHistory', 'storeCommits'];
    printTable(['configuration', ...keys], rows.map((r) => [r.config.label, ...keys.map((k) => (r.stats[k] ?? 0) / r.latencies.length)]));
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
