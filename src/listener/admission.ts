/**
 * Backpressure for the listener: before each read of the change log, wait while the workers are
 * behind. "Behind" is the task queue's backlog as Temporal reports it (workflow and activity tasks
 * scheduled but not yet picked up by any worker), so runs that merely wait (a retry's backoff, an
 * open circuit breaker, per-entity ordering) never hold the stream back: only work the workers
 * have not got to does.
 *
 * Without it the listener starts every committed row at once; when the changes come faster than
 * the workers finish them, the backlog then sits in Temporal (memory of the server and of the
 * worker's cache, and every new event queued behind all of it) instead of in the change-log table,
 * where it costs nothing and is just as durable (the checkpoint stays before it).
 */

/** What the term asks before each read. */
export interface Admission {
  /** Resolves when a read may go ahead (at once when there is room), or when `stopped()` turns true. */
  wait(stopped: () => boolean): Promise<void>;
}

export interface BacklogAdmissionOptions {
  /** Workflow + activity tasks waiting on the task queue; throws when it cannot tell. */
  backlog: () => Promise<number>;
  /** Reads pause at this many waiting tasks. */
  limit: number;
  /** How long a backlog figure is reused, and how often it is asked for while paused (ms). */
  refreshMs?: number;
  /** Told when reading pauses (with the backlog) and resumes (with how long it paused). */
  onPause?: (backlog: number) => void;
  onResume?: (pausedMs: number) => void;
  /** A failed probe never blocks: reading goes on and the error is reported here. */
  onError?: (err: unknown) => void;
  /** For tests: the clock and the sleep. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * An {@link Admission} that pauses reading while `backlog()` is at or above `limit`, and resumes
 * once it is below half of it (so it does not flap at the limit).
 */
export function backlogAdmission(o: BacklogAdmissionOptions): Admission {
  const refreshMs = o.refreshMs ?? 200;
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref()));
  let last: { at: number; value: number } | null = null;
  const read = async (maxAgeMs: number): Promise<number | null> => {
    if (last && now() - last.at < maxAgeMs) return last.value;
    try {
      last = { at: now(), value: await o.backlog() };
      return last.value;
    } catch (err) {
      o.onError?.(err);
      last = null;
      return null;
    }
  };
  return {
    async wait(stopped) {
      const first = await read(refreshMs);
      if (first === null || first < o.limit) return;
      const since = now();
      o.onPause?.(first);
      for (;;) {
        if (stopped()) return;
        await sleep(refreshMs);
        if (stopped()) return;
        const b = await read(0);
        if (b === null || b < Math.max(1, Math.floor(o.limit / 2))) break;
      }
      o.onResume?.(now() - since);
    },
  };
}
