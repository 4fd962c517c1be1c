/**
 * The drain of a stopping service whose embedded Temporal server keeps its state in memory: once
 * the listener has stopped accepting rows, every workflow the server holds must finish before the
 * server goes, or the events it accepted (and the checkpoint has moved past) are lost. The worker
 * keeps running meanwhile; this waits, reporting how many workflows remain, until none is open,
 * the drain timeout passes, the caller forces the stop (a second signal), or nobody is left to
 * make progress.
 */
import type { Logger } from 'pino';

/** Why a drain ended with workflows still open. */
export type DrainStopReason = 'second signal' | 'timeout' | 'worker stopped';

export type DrainOutcome =
  | { drained: true; durationMs: number }
  | { drained: false; reason: DrainStopReason; open: number; durationMs: number };

export interface DrainOptions {
  /** Open workflows the server holds now (a visibility count). */
  countOpen: () => Promise<number>;
  /** False once no worker could finish the rest (this process's worker stopped on its own). */
  canProgress: () => boolean;
  /** Give up after this long; 0 waits without limit. */
  timeoutMs: number;
  /** Aborted when the stop is forced (a second SIGTERM / SIGINT). */
  force: AbortSignal;
  log: Logger;
  /** How often to count (default 500 ms). */
  intervalMs?: number;
  /** How often to log the remaining count (default 5 s; always at the first count). */
  progressEveryMs?: number;
}

/**
 * Waits until the server holds no open workflow. Never throws: a failed count is logged and
 * retried, since giving up on the drain would drop work.
 */
export async function drainOpenWorkflows(o: DrainOptions): Promise<DrainOutcome> {
  const started = Date.now();
  const interval = o.intervalMs ?? 500;
  const progressEvery = o.progressEveryMs ?? 5000;
  let lastLogged = 0;
  let open = Number.NaN;
  for (;;) {
    try {
      open = await o.countOpen();
    } catch (err) {
      o.log.warn({ err: { message: (err as Error).message } }, 'draining: cannot count open workflows; trying again');
    }
    const durationMs = Date.now() - started;
    if (open === 0) return { drained: true, durationMs };
    const known = Number.isNaN(open) ? -1 : open;
    if (o.force.aborted) return { drained: false, reason: 'second signal', open: known, durationMs };
    if (!o.canProgress()) return { drained: false, reason: 'worker stopped', open: known, durationMs };
    if (o.timeoutMs > 0 && durationMs >= o.timeoutMs) return { drained: false, reason: 'timeout', open: known, durationMs };
    if (!Number.isNaN(open) && (lastLogged === 0 || Date.now() - lastLogged >= progressEvery)) {
      lastLogged = Date.now();
      o.log.info(
        { open_workflows: open, elapsed_ms: durationMs, drain_timeout_ms: o.timeoutMs },
        'draining: waiting for open workflows',
      );
    }
    await pause(interval, o.force);
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
