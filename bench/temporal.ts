/**
 * `npm run bench:temporal`: throughput and latency of the embedded Temporal server driven by the
 * real SDK worker and client (wall-clock mode, one worker), for a workflow of three parallel
 * activities. The server runs as its own process so its peak RSS is measured alone.
 *
 * Options (env): BENCH_WORKFLOWS (default 1000), BENCH_CONCURRENCY (default 50).
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, Worker, bundleWorkflowCode } from '@temporalio/worker';
import * as activities from './activities';
import { percentile, peakRssMiB, printTable } from './table';

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

async function waitForServer(address: string): Promise<Connection> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      return await Connection.connect({ address, connectTimeout: 5000 });
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

interface Result { label: string; n: number; conc: number; seconds: number; lat: number[] }

async function runPhase(client: Client, taskQueue: string, label: string, n: number, conc: number): Promise<Result> {
  const lat: number[] = [];
  let next = 0;
  const t0 = performance.now();
  async function lane(): Promise<void> {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      const s = performance.now();
      await client.workflow.execute('threeParallel', { taskQueue, workflowId: `${label}-${i}`, args: [i] });
      lat.push(performance.now() - s);
    }
  }
  await Promise.all(Array.from({ length: conc }, lane));
  return { label, n, conc, seconds: (performance.now() - t0) / 1000, lat: lat.sort((a, b) => a - b) };
}

async function main(): Promise<void> {
  const n = Number(process.env.BENCH_WORKFLOWS ?? 1000);
  const conc = Number(process.env.BENCH_CONCURRENCY ?? 50);
  Runtime.install({ logger: new (require('@temporalio/worker').DefaultLogger)('WARN') });
  const port = await freePort();
  const serverPath = path.resolve(__dirname, '../src/embedded-temporal/main.js');
  const server = spawn(process.execPath, [serverPath, 'server', 'start-dev', '--port', String(port), '--namespace', 'default'], { stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    const address = `127.0.0.1:${port}`;
    const connection = await waitForServer(address);
    const client = new Client({ connection });
    const nativeConnection = await NativeConnection.connect({ address });
    const workflowBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('./workflows'), logger: undefined });
    const taskQueue = 'bench-temporal';
    const worker = await Worker.create({
      connection: nativeConnection, taskQueue, workflowBundle, activities,
      maxCachedWorkflows: Number(process.env.BENCH_CACHED_WORKFLOWS ?? 1000),
    });
    const results: Result[] = [];
    await worker.runUntil(async () => {
      await runPhase(client, taskQueue, 'warmup', Math.min(300, n), Math.min(conc, 50));
      results.push(await runPhase(client, taskQueue, 'single', 50, 1));
      results.push(await runPhase(client, taskQueue, 'load', n, conc));
    });
    await nativeConnection.close();
    await connection.close();
    const serverRss = peakRssMiB(server.pid!);
    console.log('\nEmbedded Temporal server — workflow with 3 parallel no-op activities, one worker, wall clock\n');
    printTable(
      ['phase', 'workflows', 'in flight', 'seconds', 'workflows/s', 'p50 ms', 'p99 ms', 'server peak RSS MiB', 'bench process peak RSS MiB'],
      results.map((r) => [r.label, r.n, r.conc, r.seconds, r.n / r.seconds, percentile(r.lat, 50), percentile(r.lat, 99), serverRss, peakRssMiB(process.pid)]),
    );
  } finally {
    server.kill('SIGKILL');
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
