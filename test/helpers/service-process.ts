/**
 * The built CLI as a user runs it, in child processes: `fraiseql-observers dev-server` and
 * `fraiseql-observers start`, with their output collected for assertions. Used by the tests that
 * drive the service from the outside (and by the `temporal` CLI and Web UI tests).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from './pg';

export const ROOT = join(__dirname, '..', '..');

export interface CliProcess {
  child: ChildProcess;
  /** stdout lines that parsed as JSON (the service's log lines). */
  lines: Array<Record<string, unknown>>;
  /** stdout lines that are not JSON. */
  other: string[];
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

function requireBuild(): void {
  if (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'commands', 'start.js'))) throw new Error('dist/ is missing: run `npm run build` first');
}

/** Run `bin/run.js <args>` with only PATH, HOME and `env` in its environment. */
export function runCli(args: string[], env: Record<string, string> = {}): CliProcess {
  requireBuild();
  const child = spawn(process.execPath, ['bin/run.js', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  const other: string[] = [];
  let err = '';
  let buffered = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const line of parts.filter((l) => l.trim() !== '')) {
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        other.push(line);
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  const stop = async (graceMs = 10_000) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(t);
  };
  return { child, lines, other, stderr: () => err, exited, stop };
}

export interface DevServer extends CliProcess {
  /** host:port of the embedded server. */
  address: string;
}

/** `fraiseql-observers dev-server --port 0 --json ...extraArgs`, once it listens. */
export async function startDevServer(extraArgs: string[] = []): Promise<DevServer> {
  const p = runCli(['dev-server', '--port', '0', '--json', ...extraArgs]);
  const info = () => p.lines.find((l) => typeof l.address === 'string');
  await waitFor(`dev-server to listen (stderr: ${p.stderr().slice(-300)})`, () => info() !== undefined || p.child.exitCode !== null, 60_000, 50);
  if (!info()) throw new Error(`dev-server exited ${String(p.child.exitCode)}: ${p.stderr()}`);
  return { ...p, address: String(info()!.address) };
}

export interface RunningService extends CliProcess {
  /** The "service started" log line (temporal_address, metrics_url, ...). */
  info: Record<string, unknown>;
  /** `http://host:port` of /metrics, /healthz, /readyz. */
  base: string;
}

/** `fraiseql-observers start ...args` until its "service started" line. */
export async function startService(args: string[], env: Record<string, string>): Promise<RunningService> {
  const p = runCli(['start', ...args], env);
  const started = () => p.lines.find((l) => l.msg === 'service started');
  await waitFor(`"service started" (stderr so far: ${p.stderr().slice(-500)})`, () => started() !== undefined || p.child.exitCode !== null, 180_000, 100);
  if (!started()) throw new Error(`start exited ${String(p.child.exitCode)}: ${p.stderr()}`);
  const info = started()!;
  return { ...p, info, base: String(info.metrics_url).replace(/\/metrics$/, '') };
}
