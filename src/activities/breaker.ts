/**
 * Circuit breaker per target (webhook `host:port`, `smtp:host:port`, `slack`).
 *
 * closed ── failure rate ≥ threshold over the sliding window (with ≥ minimumCalls) ──▶ open
 * open ── openDurationMs elapsed ──▶ half_open (up to halfOpenProbes trial calls)
 * half_open ── every probe succeeded ──▶ closed;  any probe failed ──▶ open again
 *
 * An open breaker never calls the target. A refusal is not an attempt: the attempt waits for the
 * breaker (heartbeating) while its wait budget lasts and calls the target when a probe is allowed;
 * only when the budget is spent does it fail retryable with the next retry delay set to the
 * remaining open time, so Temporal parks the event instead of dropping it. State lives in a
 * {@link CircuitBreakerStore}: per process, or shared through Redis by all workers.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ActionError, ErrorType, type BreakerVerdict, transient } from './errors';

export type BreakerStateName = 'closed' | 'open' | 'half_open';

export interface BreakerConfig {
  /** Failure fraction (0 < x ≤ 1) that opens the breaker. */
  failureRateThreshold: number;
  /** Calls the window must hold before the rate is judged. */
  minimumCalls: number;
  /** Count-based window: the last N calls. */
  windowSize?: number;
  /** Time-based window: calls of the last N ms (combined with windowSize when both are set). */
  windowMs?: number;
  openDurationMs: number;
  /** Trial calls let through in half-open; all must succeed to close. */
  halfOpenProbes: number;
}

export interface ResolvedBreakerConfig extends BreakerConfig {
  windowSize: number;
  windowMs: number;
  /** Retry delay given to calls refused while the probes are out. */
  halfOpenRetryMs: number;
}

export const DEFAULT_BREAKER_CONFIG: BreakerConfig = {
  failureRateThreshold: 0.5,
  minimumCalls: 10,
  windowSize: 20,
  openDurationMs: 30_000,
  halfOpenProbes: 1,
};

/** Bounds the stored window when only a duration is configured. */
const MAX_WINDOW_ENTRIES = 1000;

/**
 * Validates a breaker config and fills defaults.
 * @throws Error naming the first invalid field.
 */
export function resolveBreakerConfig(config: Partial<BreakerConfig> = {}): ResolvedBreakerConfig {
  const c = { ...DEFAULT_BREAKER_CONFIG, ...config };
  const positiveInt = (name: string, v: number | undefined) => {
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new Error(`breaker.${name} must be a positive integer, got ${v}`);
  };
  if (!(c.failureRateThreshold > 0 && c.failureRateThreshold <= 1)) {
    throw new Error(`breaker.failureRateThreshold must be in (0, 1], got ${c.failureRateThreshold}`);
  }
  positiveInt('minimumCalls', c.minimumCalls);
  positiveInt('windowSize', config.windowSize);
  positiveInt('windowMs', c.windowMs);
  positiveInt('openDurationMs', c.openDurationMs);
  positiveInt('halfOpenProbes', c.halfOpenProbes);
  const windowSize = config.windowSize ?? (c.windowMs ? MAX_WINDOW_ENTRIES : (DEFAULT_BREAKER_CONFIG.windowSize ?? 20));
  return {
    ...c,
    windowSize: Math.min(windowSize, MAX_WINDOW_ENTRIES),
    windowMs: c.windowMs ?? 0,
    halfOpenRetryMs: Math.min(1000, c.openDurationMs),
  };
}

/** Permission to call the target; hand it back to {@link CircuitBreakerStore.record}. */
export interface BreakerPermit {
  allowed: true;
  state: 'closed' | 'half_open';
  probe: boolean;
  /** Transition counter: outcomes of calls allowed before a transition are ignored after it. */
  generation: number;
}

export interface BreakerDenial {
  allowed: false;
  state: 'open' | 'half_open';
  retryAfterMs: number;
}

export type BreakerDecision = BreakerPermit | BreakerDenial;

/** A call's outcome as the breaker counts it; `neutral` (e.g. SSRF refusal) only frees a probe slot. */
export type BreakerOutcome = BreakerVerdict;

export interface BreakerSnapshot {
  state: BreakerStateName;
  generation: number;
  calls: number;
  failures: number;
  /** Epoch ms at which an open breaker turns half-open. */
  openUntil: number | null;
}

/** Where breaker state lives. Every method is atomic per target. */
export interface CircuitBreakerStore {
  readonly config: ResolvedBreakerConfig;
  /** Decides whether a call to `target` may go ahead at `now` (epoch ms). */
  acquire(target: string, now: number): Promise<BreakerDecision>;
  /** Records the outcome of a permitted call; returns the state afterwards. */
  record(target: string, permit: BreakerPermit, outcome: BreakerOutcome, now: number): Promise<BreakerStateName>;
  /** The current state, for tests and status output. */
  inspect(target: string, now: number): Promise<BreakerSnapshot>;
}

/** Numeric encoding used by the `observer_circuit_breaker_state` gauge. */
export const BREAKER_STATE_VALUE: Record<BreakerStateName, number> = { closed: 0, open: 1, half_open: 2 };

export interface CircuitBreakerOptions {
  clock?: () => number;
  /** Called with the state seen after every decision and outcome (drives the gauge). */
  onState?: (target: string, state: BreakerStateName) => void;
  /** Called for every refusal (whether the call then waits or fails). */
  onRefused?: (target: string) => void;
  /** Called when the store fails; the call then goes ahead unguarded rather than being refused. */
  onStoreError?: (target: string, err: unknown) => void;
}

/** How a call may wait for a refusing breaker instead of failing at once. */
export interface BreakerWait {
  /** Epoch ms (by the breaker's clock) after which a refusal fails the attempt instead of waiting. */
  until: number;
  /** Called at least every `heartbeatEveryMs` while waiting. */
  heartbeat: () => void;
  /** Ends the wait (activity cancelled). */
  signal?: AbortSignal;
}

/** Longest sleep between heartbeats while waiting for a breaker. */
const WAIT_SLICE_MS = 5_000;

/** Guards calls to targets with a {@link CircuitBreakerStore}. */
export class CircuitBreaker {
  private readonly clock: () => number;

  constructor(
    readonly store: CircuitBreakerStore,
    private readonly options: CircuitBreakerOptions = {},
  ) {
    this.clock = options.clock ?? Date.now;
  }

  /**
   * Runs `call` if the breaker for `target` allows it and records how it went
   * ({@link ActionError.breaker} decides how a failure counts; other errors count as failures).
   *
   * With `wait`, a refusal sleeps until the breaker may let a call through (heartbeating) and asks
   * again, as long as `wait.until` allows.
   *
   * @throws ActionError `CircuitOpen` (retryable, `retryAfterMs` = remaining open time) without calling.
   */
  async run<T>(target: string, call: () => Promise<T>, wait?: BreakerWait): Promise<T> {
    let decision: BreakerDecision | undefined;
    for (;;) {
      decision = await this.acquire(target);
      if (!decision || decision.allowed) break;
      this.options.onRefused?.(target);
      const now = this.clock();
      if (!wait || now + decision.retryAfterMs > wait.until || wait.signal?.aborted) {
        const why = decision.state === 'open' ? 'is open' : 'is half-open and its probe calls are in flight';
        throw transient(ErrorType.CircuitOpen, `circuit breaker for ${target} ${why}; the target was not called; next attempt in ${decision.retryAfterMs} ms`, {
          retryAfterMs: decision.retryAfterMs,
          breaker: 'neutral',
        });
      }
      await this.waitFor(decision.retryAfterMs, wait);
    }
    const permit = decision;
    try {
      const result = await call();
      if (permit) await this.record(target, permit, 'success');
      return result;
    } catch (err) {
      if (permit) await this.record(target, permit, err instanceof ActionError ? err.breaker : 'failure');
      throw err;
    }
  }

  private async acquire(target: string): Promise<BreakerDecision | undefined> {
    let decision: BreakerDecision | undefined;
    try {
      decision = await this.store.acquire(target, this.clock());
    } catch (err) {
      // A breaker that cannot reach its state must not stop deliveries: the target may be fine.
      this.options.onStoreError?.(target, err);
    }
    if (decision) this.options.onState?.(target, decision.state);
    return decision;
  }

  private async waitFor(ms: number, wait: BreakerWait): Promise<void> {
    let left = Math.max(1, ms);
    while (left > 0 && !wait.signal?.aborted) {
      wait.heartbeat();
      const slice = Math.min(left, WAIT_SLICE_MS);
      await sleep(slice, undefined, { signal: wait.signal }).catch(() => undefined);
      left -= slice;
    }
  }

  private async record(target: string, permit: BreakerPermit, outcome: BreakerOutcome): Promise<void> {
    try {
      const state = await this.store.record(target, permit, outcome, this.clock());
      this.options.onState?.(target, state);
    } catch (err) {
      this.options.onStoreError?.(target, err);
    }
  }
}
