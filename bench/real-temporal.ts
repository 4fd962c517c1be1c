/**
 * The real Temporal tools built by scripts/real-temporal.sh, for the side-by-side benchmark rows and
 * the conformance tests: where they are, and how to run the real dev server
 * (`temporal server start-dev`, in memory) on a loopback port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';

/** `REAL_TEMPORAL_DIR`, else `<repo>/.real-temporal` (this file runs from bench/ or dist/bench/). */
export function realTemporalDir(): string {
  const fromEnv = process.env.REAL_TEMPORAL_DIR;
  if (fromEnv) return path.resolve(fromEnv);
  const repo = path.basename(path.dirname(__dirname)) === 'dist' ? path.resolve(__dirname, '../..') : path.resolve(__dirname, '..');
  return path.join(repo, '.real-temporal');
}

/** Path of the `temporal` CLI, or why it cannot be used. */
export function realTemporalCli(): { path: string } | { missing: string } {
  const cli = path.join(realTemporalDir(), 'bin', 'temporal');
  return existsSync(cli) ? { path: cli } : { missing: `${cli} does not exist (build it with scripts/real-temporal.sh)` };
}

export interface RealDevServer {
  address: string;
  proc: ChildProcess;
  /** SIGKILL, then wait for the exit. */
  stop(): Promise<void>;
}

export interface RealDevServerOptions {
  port: number;
  namespace?: string;
  /** Name → type in the `--search-attribute Name=Type` vocabulary. */
  searchAttributes?: Record<string, string>;
  /** Overall wait for the first GetSystemInfo answer. */
  startTimeoutMs?: number;
}

/**
 * Start `temporal server start-dev` headless and in memory on 127.0.0.1:<port> and wait until it
 * answers GetSystemInfo. Throws naming the binary when it is missing or exits first.
 */
export async function startRealDevServer(options: RealDevServerOptions): Promise<RealDevServer> {
  const cli = realTemporalCli();
  if ('missing' in cli) throw new Error(`The real Temporal dev server is not built: ${cli.missing}`);
  const { port, namespace = 'default', searchAttributes = {}, startTimeoutMs = 120_000 } = options;
  const saFlags = Object.entries(searchAttributes).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]);
  const args = ['server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(port), '--namespace', namespace, '--log-level', 'error', ...saFlags];
  const proc = spawn(cli.path, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4096);
  });
  let exit: string | undefined;
  const exited = new Promise<void>((resolve) => {
    proc.once('exit', (code, signal) => {
      exit = signal ?? `code ${String(code)}`;
      resolve();
    });
  });
  const address = `127.0.0.1:${port}`;
  const stop = async () => {
    if (exit === undefined) proc.kill('SIGKILL');
    await exited;
  };
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (exit !== undefined) throw new Error(`${cli.path} ${args.join(' ')} exited (${exit}) before it was ready: ${stderr.trim()}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2000 });
      try {
        await connection.workflowService.getSystemInfo({});
      } finally {
        await connection.close();
      }
      return { address, proc, stop };
    } catch (err) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`The real dev server at ${address} did not answer within ${startTimeoutMs} ms: ${String(err)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** A loopback port free at the time of the call. */
export async function freeLoopbackPort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
