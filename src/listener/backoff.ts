/** Waiting helpers: abortable sleeps and jittered, capped exponential backoff. */

/** Sleep `ms`, resolving early (not rejecting) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Backoff policy: delay n is uniform in [base·2ⁿ/2, base·2ⁿ], capped (equal jitter keeps a floor). */
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/** Delay before retry `attempt` (0-based), jittered so that many clients do not reconnect in step. */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
