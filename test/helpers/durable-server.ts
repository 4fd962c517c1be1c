/**
 * The embedded Temporal server as a child process with a durable store (`--data`), for tests that
 * kill it with SIGKILL and start it again on the same store.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { serverExecutablePath } from './temporal-env';

/** A running (or standing-by) server process. */
export interface ServerProcess {
  readonly proc: ChildProcess;
  /** Everything written to stdout / stderr so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with host:port once the server listens (after a standby, when it took over). */
  listening: Promise<string>;
  /** SIGKILL, and wait until the process is gone. */
  kill9(): Promise<void>;
}

/** A port that was free a moment ago (the server binds it itself). */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Start `main.js server start-dev --port <port> --data <url>` (plus `extraArgs`). */
export function startServerProcess(url: string, port: number, extraArgs: string[] = []): ServerProcess {
  const proc = spawn(process.execPath, [serverExecutablePath(), 'server', 'start-dev', '--port', String(port), '--namespace', 'default', '--data', url, ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout!.setEncoding('utf8').on('data', (c: string) => { out += c; });
  proc.stderr!.setEncoding('utf8').on('data', (c: string) => { err += c; });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const listening = new Promise<string>((resolve, reject) => {
    const check = () => {
      const m = / listening on (\S+),/.exec(out);
      if (m) resolve(m[1]!);
    };
    proc.stdout!.on('data', check);
    void exited.then(() => reject(new Error(`server exited before listening: ${err || out}`)));
  });
  listening.catch(() => undefined);
  return {
    proc,
    stdout: () => out,
    stderr: () => err,
    listening,
    async kill9() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}
