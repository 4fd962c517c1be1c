/**
 * The duplicate-event window (FraiseQL Phase 8.3): besides workflow-id dedup, which only stops a
 * re-read of the same row, the same change can arrive as two rows (application retries, double
 * writes). An observer with `dedup: { window_ms, key }` skips an event whose key another event
 * claimed within the window.
 *
 * A {@link WorkflowStarter} decorator, so the listener's matching and checkpointing stay as they
 * are: before the start, every matched observer with a window claims its key (value: this event's
 * id). Observers whose key another event holds are removed from the workflow input (and listed in
 * its `deduplicated`); when none is left, no workflow is started and the row is acknowledged as
 * `deduplicated`.
 *
 * Never losing an event:
 * - a claim holds this event's id, so a retried start or a re-read of the same row (restart,
 *   failover) finds its own claim and proceeds (workflow-id dedup then answers `duplicate`);
 * - when the start fails, the claims this attempt made are released before the error goes back to
 *   the listener (which retries the row): a window is only held by an event whose workflow was
 *   started or is being started;
 * - when the window cannot be checked (store unreachable, key template failing for this event),
 *   the observer runs: dedup may let a duplicate through, never drop an original.
 * Limit: a duplicate skipped just before a crash, re-read after the window has expired, runs.
 */
import type { Logger } from 'pino';
import type { ObserverConfig } from '../config/observers';
import { dedupKeyOf, dedupStoreKey } from '../events/dedup-key';
import type { DedupMetrics } from '../metrics/dedup';
import type { DedupSkip, ProcessChangeEventInput } from '../contract';
import type { DedupStore } from './dedup-store';
import { startSearchAttributes, startSummary } from './row-handler';
import type { StartDecision, StartResult, WorkflowStarter } from './types';

export interface DedupStarterOptions {
  store: DedupStore;
  /** Prefix of every key (see `redisNamespace`). */
  namespace: string;
  observers: readonly ObserverConfig[];
  metrics: DedupMetrics;
  log: Logger;
  /** Workflows skipped whole, remembered so an ordered successor waits for their predecessor instead. Default 10,000. */
  maxSkippedRemembered?: number;
}

interface Claim {
  observer: string;
  key: string;
  /** The event holding the key when it is another one; null when this event holds it (or the check failed). */
  holder: Promise<string | null>;
  failed: boolean;
}

/** Wraps `inner` with the dedup windows of `options.observers`; returns `inner` itself when no observer has one. */
export function withDedupWindow(inner: WorkflowStarter, options: DedupStarterOptions): WorkflowStarter {
  return options.observers.some((o) => o.dedup !== null) ? new DedupStarter(inner, options) : inner;
}

/** See the module comment. */
export class DedupStarter implements WorkflowStarter {
  private readonly settings: Map<string, NonNullable<ObserverConfig['dedup']>>;
  /** Workflow id of an event skipped whole → the predecessor its ordered successor must wait for instead. */
  private readonly skipped = new Map<string, string | undefined>();
  private readonly maxSkipped: number;

  constructor(
    private readonly inner: WorkflowStarter,
    private readonly o: DedupStarterOptions,
  ) {
    this.settings = new Map(o.observers.flatMap((obs) => (obs.dedup ? [[obs.name, obs.dedup] as const] : [])));
    this.maxSkipped = o.maxSkippedRemembered ?? 10_000;
  }

  async start(workflowId: string, given: StartDecision): Promise<StartResult> {
    const decision = this.redirectPredecessor(given);
    const payload = decision.payload as ProcessChangeEventInput;
    const event = decision.event;
    // Claims are sent before the first await, so two rows dispatched in order claim in that order.
    const claims = payload.matches.flatMap((m): Claim[] => {
      const settings = this.settings.get(m.observer);
      return settings ? [this.claim(m.observer, settings, event.id, event)] : [];
    });
    if (claims.length === 0) return this.inner.start(workflowId, decision);

    const skips: DedupSkip[] = [];
    for (const c of claims) {
      const holder = await c.holder;
      if (holder !== null) skips.push({ observer: c.observer, duplicateOf: holder });
    }
    const skipped = new Set(skips.map((s) => s.observer));
    const matches = payload.matches.filter((m) => !skipped.has(m.observer));
    const ctx = { event_id: event.id, workflow_id: workflowId, position: event.position };

    if (matches.length === 0) {
      this.count(claims, skipped);
      this.rememberSkipped(workflowId, payload.predecessorWorkflowId);
      this.o.log.info({ ...ctx, deduplicated: skips }, `event skipped: duplicate within the dedup window of ${describe(skips)}`);
      return 'deduplicated';
    }
    const next: StartDecision = skips.length === 0 ? decision : {
      ...decision,
      payload: { ...payload, matches, deduplicated: skips } satisfies ProcessChangeEventInput,
      searchAttributes: { ...decision.searchAttributes, ...startSearchAttributes(event, matches) },
      summary: `${startSummary(event, matches)}; dedup skipped ${skips.map((s) => s.observer).join(', ')}`,
    };
    let result: StartResult;
    try {
      result = await this.inner.start(workflowId, next);
    } catch (err) {
      // This attempt's windows close again: a later event must not be skipped as a duplicate of a start that never happened.
      await Promise.all(claims.filter((c) => !c.failed && !skipped.has(c.observer)).map((c) => this.o.store.release(c.key, event.id).catch(() => undefined)));
      throw err;
    }
    this.count(claims, skipped);
    if (skips.length > 0) this.o.log.info({ ...ctx, deduplicated: skips }, `observers skipped: duplicate within the dedup window of ${describe(skips)}`);
    return result;
  }

  private claim(observer: string, settings: NonNullable<ObserverConfig['dedup']>, eventId: string, event: StartDecision['event']): Claim {
    let key: string;
    try {
      key = dedupStoreKey(this.o.namespace, observer, dedupKeyOf(settings, event));
    } catch (err) {
      this.o.metrics.errors.inc({ observer, reason: 'key_template' });
      this.o.log.warn({ observer, event_id: eventId, err: { message: (err as Error).message } }, `dedup key of observer ${observer} failed for this event; the observer runs unchecked`);
      return { observer, key: '', holder: Promise.resolve(null), failed: true };
    }
    const claim: Claim = { observer, key, holder: Promise.resolve(null), failed: false };
    claim.holder = this.o.store.claim(key, eventId, settings.windowMs).catch((err: unknown) => {
      claim.failed = true;
      this.o.metrics.errors.inc({ observer, reason: 'store_unavailable' });
      this.o.log.warn({ observer, event_id: eventId, store: this.o.store.kind, err: { message: (err as Error).message } }, `dedup window of observer ${observer} cannot be checked (${this.o.store.kind} store); the observer runs unchecked`);
      return null;
    });
    return claim;
  }

  private count(claims: readonly Claim[], skipped: ReadonlySet<string>): void {
    for (const c of claims) {
      if (c.failed) continue;
      if (skipped.has(c.observer)) this.o.metrics.hits.inc({ observer: c.observer });
      else this.o.metrics.misses.inc({ observer: c.observer });
    }
  }

  /** An ordered event whose predecessor was skipped whole waits for that one's predecessor instead. */
  private redirectPredecessor(decision: StartDecision): StartDecision {
    const payload = decision.payload as ProcessChangeEventInput;
    let predecessor = payload.predecessorWorkflowId;
    for (let hops = 0; predecessor !== undefined && this.skipped.has(predecessor) && hops < 1000; hops++) predecessor = this.skipped.get(predecessor);
    if (predecessor === payload.predecessorWorkflowId) return decision;
    const { predecessorWorkflowId: _skipped, ...rest } = payload;
    return { ...decision, payload: predecessor === undefined ? rest : { ...rest, predecessorWorkflowId: predecessor } };
  }

  private rememberSkipped(workflowId: string, predecessor: string | undefined): void {
    this.skipped.set(workflowId, predecessor);
    if (this.skipped.size > this.maxSkipped) {
      const oldest = this.skipped.keys().next().value;
      if (oldest !== undefined) this.skipped.delete(oldest);
    }
  }
}

function describe(skips: readonly DedupSkip[]): string {
  return skips.map((s) => `${s.observer} (first seen as event ${s.duplicateOf})`).join(', ');
}
