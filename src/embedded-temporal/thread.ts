/**
 * The embedded server on its own thread of this process (a Node worker thread with its own event
 * loop and V8 heap). `start` runs listener, Temporal worker and server in one process; on one JS
 * thread the server's gRPC handling and store writes (≈ 2.5 ms per event) queue behind the SDK
 * worker's and the listener's work. On its own thread they run on the second core, as they do when
 * the server is its own process, without a second process to deploy.
 *
 * The worker and the listener reach it over loopback gRPC exactly as they reach an in-thread server;
 * what the thread and its parent exchange is only start, stop and the callbacks, as messages.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { EmbeddedTemporal, EmbeddedTemporalOptions } from './server';

/** What a caller of either kind of embedded server can use. */
export type EmbeddedTemporalHandle = Pick<EmbeddedTemporal, 'address' | 'port' | 'namespace' | 'persistence' | 'stop'>;

/** A server on a worker thread: the thread itself too (tests end it to see a crash reported). */
export type ThreadedEmbeddedTemporal = EmbeddedTemporalHandle & { readonly thread: Worker };

/** The part of {@link EmbeddedTemporalOptions} that crosses to the thread (no functions). */
export type ThreadOptions = Omit<EmbeddedTemporalOptions, 'onError' | 'persistence'> & {
  persistence?: Omit<NonNullable<EmbeddedTemporalOptions['persistence']>, 'onStandby' | 'onFatal' | 'signal'>;
};

/** An error as plain data (message, code, nested causes), so it survives postMessage. */
export interface PlainError {
  name: string;
  message: string;
  code?: string;
  errors?: PlainError[];
  cause?: PlainError;
}

export type ToThread = { kind: 'stop' };
export type FromThread =
  | { kind: 'ready'; address: string; port: number; namespace: string; persistence: EmbeddedTemporal['persistence'] }
  | { kind: 'failed'; error: PlainError }
  | { kind: 'error'; method: string; error: PlainError }
  | { kind: 'standby'; holder: string }
  | { kind: 'fatal'; error: PlainError }
  | { kind: 'stopped' };

export function toPlainError(err: unknown, depth = 0): PlainError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  const e = err as Error & { code?: unknown; errors?: unknown; cause?: unknown };
  const plain: PlainError = { name: e.name, message: e.message };
  if (typeof e.code === 'string') plain.code = e.code;
  if (depth < 4 && Array.isArray(e.errors)) plain.errors = e.errors.map((x) => toPlainError(x, depth + 1));
  if (depth < 4 && e.cause !== undefined) plain.cause = toPlainError(e.cause, depth + 1);
  return plain;
}

export function fromPlainError(p: PlainError): Error {
  const err = new Error(p.message, p.cause ? { cause: fromPlainError(p.cause) } : undefined) as Error & { code?: string; errors?: Error[] };
  err.name = p.name;
  if (p.code !== undefined) err.code = p.code;
  if (p.errors) err.errors = p.errors.map(fromPlainError);
  return err;
}

/**
 * The compiled entry of the thread. From `dist/` it sits next to this module; tests run the sources
 * (`src/`), and `npm test` builds first, so they use the built one.
 */
export function threadEntry(): string {
  const here = path.join(__dirname, 'thread-main.js');
  if (existsSync(here)) return here;
  const built = path.resolve(__dirname, '..', '..', 'dist', 'src', 'embedded-temporal', 'thread-main.js');
  if (existsSync(built)) return built;
  throw new Error(`the embedded Temporal server's thread entry is missing (looked for ${here} and ${built}): run \`npm run build\``);
}

/** Start the embedded server on a worker thread of this process. Same options and errors as {@link startEmbeddedTemporal}. */
export function startEmbeddedTemporalThread(
  options: EmbeddedTemporalOptions = {},
  /** Told when the thread fails or exits while serving (with or without a store); default: a line on stderr. */
  hooks: { onThreadFailure?: (err: Error) => void } = {},
): Promise<ThreadedEmbeddedTemporal> {
  const { onError, persistence, ...rest } = options;
  const workerData: ThreadOptions = { ...rest };
  if (persistence) {
    const { onStandby: _s, onFatal: _f, signal: _a, ...data } = persistence;
    workerData.persistence = data;
  }
  const thread = new Worker(threadEntry(), { workerData, stdout: false, stderr: false });
  let ready = false;
  let exited = false;
  let stopping: Promise<void> | null = null;
  let fatal = false;
  const reportFatal = (err: Error, kind: 'store' | 'thread') => {
    if (fatal) return;
    fatal = true;
    const hook = kind === 'thread' ? (hooks.onThreadFailure ?? persistence?.onFatal) : persistence?.onFatal;
    if (hook) hook(err);
    else process.stderr.write(`embedded-temporal: ${err.message}\n`);
  };

  return new Promise<ThreadedEmbeddedTemporal>((resolve, reject) => {
    const exitWaiters: Array<() => void> = [];
    thread.on('message', (m: FromThread) => {
      switch (m.kind) {
        case 'ready':
          ready = true;
          resolve({
            address: m.address,
            port: m.port,
            namespace: m.namespace,
            persistence: m.persistence,
            thread,
            stop: () => {
              if (exited) return Promise.resolve();
              stopping ??= new Promise<void>((done) => {
                exitWaiters.push(done);
                thread.postMessage({ kind: 'stop' } satisfies ToThread);
              });
              return stopping;
            },
          });
          break;
        case 'failed':
          reject(fromPlainError(m.error));
          break;
        case 'error':
          (onError ?? ((method, err) => process.stderr.write(`embedded-temporal: ${method} failed: ${(err as Error).message}\n`)))(m.method, fromPlainError(m.error));
          break;
        case 'standby':
          persistence?.onStandby?.(m.holder);
          break;
        case 'fatal':
          reportFatal(fromPlainError(m.error), 'store');
          break;
        case 'stopped':
          // The thread has written what was pending and given the store up; nothing of it is needed any more.
          void thread.terminate();
          break;
      }
    });
    thread.on('error', (err) => {
      if (!ready) reject(err);
      else reportFatal(new Error(`the embedded Temporal server's thread failed: ${err.message}`, { cause: err }), 'thread');
    });
    thread.on('exit', (code) => {
      exited = true;
      for (const w of exitWaiters.splice(0)) w();
      if (!ready) reject(new Error(`the embedded Temporal server's thread exited (code ${code}) before it was serving`));
      else if (!stopping) reportFatal(new Error(`the embedded Temporal server's thread exited unexpectedly (code ${code})`), 'thread');
    });
  });
}
