/**
 * `fraiseql-observers start` (and other commands) run from the built CLI in a child process, as a
 * user or an orchestrator runs them: JSON log lines collected from stdout, stderr kept, the exit
 * awaited. For tests that stop the service with signals (SIGTERM, SIGKILL) and start it again.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from './pg';

export const ROOT = join(__dirname, '..', '..');

/** A running CLI process. */
export interface CliProcess {
  child: ChildProcess;
  /** Parsed JSON log lines of stdout, in order. */
  lines: Array<Record<string, unknown>>;
  /** stdout lines that are not JSON. */
  other: string[];
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Fails early with a clear message when the CLI was not built. */
export function assertBuilt(): void {
  if (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'commands', 'start.js'))) throw new Error('dist/ is missing: run `npm run build` first');
}

/** Spawns `bin/run.js <args>` with only PATH, HOME and `env` in its environment. */
export function spawnCli(args: string[], env: Record<string, string>): CliProcess {
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
  return { child, lines, other, stderr: () => err, exited };
}

/** The `service started` log line, once the process printed it; throws if the process exited first. */
export async function waitStarted(cli: CliProcess, timeoutMs = 120_000): Promise<Record<string, unknown>> {
  const line = () => cli.lines.find((l) => l.msg === 'service started');
  await waitFor(
    `"service started" from start (stderr so far: ${cli.stderr().slice(-800)})`,
    () => line() !== undefined || cli.child.exitCode !== null || cli.child.signalCode !== null,
    timeoutMs,
    100,
  );
  const found = line();
  if (!found) throw new Error(`start exited (${cli.child.exitCode ?? cli.child.signalCode}) before it started: ${cli.stderr().slice(-2000)}`);
  return found;
}

/** Runs a one-shot command (e.g. `dlq list --json`) to its end. */
export async function runCli(args: string[], env: Record<string, string>): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['bin/run.js', ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      timeout: 60_000,
    });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: number };
    return { stdout: e.stdout ?? '', stderr: e.stderr ?? '', code: typeof e.code === 'number' ? e.code : 1 };
  }
}

/** Kills what is still running (afterAll): SIGKILL, as a crash would. */
export function killAll(processes: CliProcess[]): void {
  for (const p of processes) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
}
