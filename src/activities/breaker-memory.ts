/**
 * Per-process breaker state. The transition rules here and in `breaker-redis.ts` (Lua) are the same
 * machine; the integration suite runs one scenario list against both.
 */
import {
  type BreakerConfig,
  type BreakerDecision,
  type BreakerOutcome,
  type BreakerPermit,
  type BreakerSnapshot,
  type BreakerStateName,
  type CircuitBreakerStore,
  type ResolvedBreakerConfig,
  resolveBreakerConfig,
} from './breaker';

interface TargetState {
  state: BreakerStateName;
  generation: number;
  openUntil: number;
  probesIssued: number;
  probeSuccesses: number;
  probeDeadline: number;
  /** Newest first: [epoch ms, failed]. */
  window: Array<[number, boolean]>;
}

/** Breaker state held in this process only (used when no Redis is configured). */
export class InMemoryBreakerStore implements CircuitBreakerStore {
  readonly config: ResolvedBreakerConfig;
  private readonly targets = new Map<string, TargetState>();

  constructor(config: Partial<BreakerConfig> = {}) {
    this.config = resolveBreakerConfig(config);
  }

  async acquire(target: string, now: number): Promise<BreakerDecision> {
    const s = this.get(target);
    const c = this.config;
    if (s.state === 'open') {
      if (now < s.openUntil) return { allowed: false, state: 'open', retryAfterMs: s.openUntil - now };
      Object.assign(s, { state: 'half_open', generation: s.generation + 1, probesIssued: 0, probeSuccesses: 0, probeDeadline: now + c.openDurationMs });
    }
    if (s.state === 'half_open') {
      // Probes that never reported (crashed worker) must not wedge the breaker half-open forever.
      if (s.probesIssued > s.probeSuccesses && now >= s.probeDeadline) {
        s.probesIssued = s.probeSuccesses;
        s.probeDeadline = now + c.openDurationMs;
      }
      if (s.probesIssued < c.halfOpenProbes) {
        s.probesIssued += 1;
        return { allowed: true, state: 'half_open', probe: true, generation: s.generation };
      }
      return { allowed: false, state: 'half_open', retryAfterMs: c.halfOpenRetryMs };
    }
    return { allowed: true, state: 'closed', probe: false, generation: s.generation };
  }

  async record(target: string, permit: BreakerPermit, outcome: BreakerOutcome, now: number): Promise<BreakerStateName> {
    const s = this.get(target);
    const c = this.config;
    if (permit.generation !== s.generation) return s.state;
    if (s.state === 'closed') {
      if (outcome === 'neutral') return s.state;
      s.window.unshift([now, outcome === 'failure']);
      if (s.window.length > c.windowSize) s.window.length = c.windowSize;
      const { calls, failures } = this.count(s, now);
      if (calls >= c.minimumCalls && failures / calls >= c.failureRateThreshold) this.open(s, now);
    } else if (s.state === 'half_open' && permit.probe) {
      if (outcome === 'neutral') s.probesIssued = Math.max(s.probeSuccesses, s.probesIssued - 1);
      else if (outcome === 'failure') this.open(s, now);
      else {
        s.probeSuccesses += 1;
        if (s.probeSuccesses >= c.halfOpenProbes) {
          Object.assign(s, { state: 'closed', generation: s.generation + 1, probesIssued: 0, probeSuccesses: 0, window: [] });
        }
      }
    }
    return s.state;
  }

  async inspect(target: string, now: number): Promise<BreakerSnapshot> {
    const s = this.get(target);
    const { calls, failures } = this.count(s, now);
    return { state: s.state, generation: s.generation, calls, failures, openUntil: s.state === 'open' ? s.openUntil : null };
  }

  private count(s: TargetState, now: number): { calls: number; failures: number } {
    const since = this.config.windowMs > 0 ? now - this.config.windowMs : -Infinity;
    let calls = 0;
    let failures = 0;
    for (const [at, failed] of s.window) {
      if (at <= since) continue;
      calls += 1;
      if (failed) failures += 1;
    }
    return { calls, failures };
  }

  private open(s: TargetState, now: number): void {
    Object.assign(s, { state: 'open', generation: s.generation + 1, openUntil: now + this.config.openDurationMs, probesIssued: 0, probeSuccesses: 0, window: [] });
  }

  private get(target: string): TargetState {
    let s = this.targets.get(target);
    if (!s) {
      s = { state: 'closed', generation: 0, openUntil: 0, probesIssued: 0, probeSuccesses: 0, probeDeadline: 0, window: [] };
      this.targets.set(target, s);
    }
    return s;
  }
}
