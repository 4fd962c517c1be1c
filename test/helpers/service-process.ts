/**
 * The built CLI as a user runs it, in child processes: `fraiseql-observers dev-server` and
 * `fraiseql-observers start`, with their output collected for assertions. Used by the tests that
 * drive the service from the outside (and by the `temporal` CLI and Web UI tests).
 */
import { type Cli, assertBuilt, startCli } from './cli-process';
import { waitFor } from './pg';

export { ROOT } from './cli-process';

export interface CliProcess extends Cli {
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** Run `bin/run.js <args>` with only PATH, HOME and `env` in its environment. */
export function runCli(args: string[], env: Record<string, string> = {}): CliProcess {
  assertBuilt();
  const p = startCli(args, env);
  const stop = async (graceMs = 10_000) => {
    if (p.child.exitCode !== null || p.child.signalCode !== null) return;
    p.child.kill('SIGTERM');
    const t = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
    await p.exited;
    clearTimeout(t);
  };
  return { ...p, stop };
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
