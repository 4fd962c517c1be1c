/**
 * `fraiseql-observers start` (and other commands) run from the built CLI in a child process, as a
 * user or an orchestrator runs them: JSON log lines collected from stdout, stderr kept, the exit
 * awaited. For tests that stop the service with signals (SIGTERM, SIGKILL) and start it again.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { type Cli, ROOT, startCli } from './cli-process';
import { waitFor } from './pg';

export { ROOT };
export { assertBuilt } from './cli-process';

/** A running CLI process. */
export type CliProcess = Cli;

/** Spawns `bin/run.js <args>` with only PATH, HOME and `env` in its environment. */
export const spawnCli: (args: string[], env: Record<string, string>) => CliProcess = startCli;

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
