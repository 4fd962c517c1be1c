/**
 * One leadership term: from acquiring the lease to losing or releasing it. Reads the change log
 * through the commit-order cursor, hands rows to the handler, starts workflows with bounded
 * concurrency and saves the checkpoint (fenced compare-and-swap) only past acknowledged rows.
 * Nothing here survives the term: a new leader rebuilds it from the saved checkpoint.
 */
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { workflowIdOf } from '../contract';
import type { AdvisoryKey } from '../db/advisory';
import type { ChangeLogRow } from '../events/types';
import type { ListenerMetrics } from '../metrics/registry';
import { backoffDelay, sleep } from './backoff';
import { recordBadRow } from './bad-rows';
import { compareAndSwapCheckpoint, ensureCheckpoint, pruneCheckpointHistory, recordCheckpointError } from './checkpoint-store';
import { CommitOrderCursor } from './cursor';
import type { ResolvedListenerOptions } from './options';
import { readRecent, runRead } from './read-query';
import type { Queryable } from '../db/pool';
import type { RowDecision, StartDecision, StartResult } from './types';

const START_RESULT_LOG: Record<StartResult, string> = {
  started: 'workflow started',
  duplicate: 'workflow already started (dedup skip)',
  deduplicated: 'no workflow: every matched observer skipped the event in its dedup window',
};

/** What a term needs from its listener. */
export interface TermDeps {
  options: ResolvedListenerOptions;
  pool: Pool;
  readSql: string;
  /** Reads the rows at and below a position, for the handler's `prime`. */
  recentSql: string;
  leaseKey: AdvisoryKey;
  /** The lease session while leadership holds, else null. */
  leaseSession: () => Queryable | null;
  logger: Logger;
  metrics: ListenerMetrics;
  /** The saved checkpoint moved. */
  onCheckpoint: (position: string) => void;
  /** A save was fenced: this process is no longer the leader. */
  onFenced: (reason: string) => void;
}

/** Per-term view for status(). */
export interface TermSnapshot {
  saved: string | null;
  safePoint: string | null;
  highestSeen: string | null;
  head: string | null;
  openGaps: number;
  oldestGap: string | null;
  inFlight: number;
  unacknowledged: number;
  healthy: boolean;
  lastError: string | null;
}

/** The leader's work for one term. */
export class LeaderTerm {
  private readonly aborter = new AbortController();
  private draining = false;
  private cursor!: CommitOrderCursor;
  private saved = 0n;
  /** Rows read but not yet acknowledged (started, duplicate, skipped or recorded as bad). */
  private readonly unacked = new Set<bigint>();
  /** Bumped when the checkpoint is reset under us: acknowledgements of older rows are ignored. */
  private generation = 0;
  private head: bigint | null = null;
  private eventsSinceSave = 0;
  /** Bumped whenever this term writes the checkpoint, so a read that overlapped a save does not mistake the old value for a move. */
  private saveEpoch = 0;
  private saving: Promise<void> | null = null;
  private saveAgain = false;
  private saveTimer: NodeJS.Timeout | null = null;
  private lastSaveAt = 0;
  private lastMoveAt = Date.now();
  private inFlight = 0;
  private readonly slotWaiters: Array<() => void> = [];
  private readonly tasks = new Set<Promise<unknown>>();
  /** Starts in flight by workflow id, for decisions that must start after another (`startAfter`). */
  private readonly startsInFlight = new Map<string, Promise<boolean>>();
  private wakeUp: (() => void) | null = null;
  private wakePending = true;
  private readOk = true;
  private startsFailing = false;
  private lastError: string | null = null;
  private lastErrorRecordedAt = 0;
  private lastPruneAt = 0;
  private warnedHeadBehind = false;

  constructor(private readonly d: TermDeps) {}

  /** Aborted when leadership is lost or the listener is killed. */
  get signal(): AbortSignal {
    return this.aborter.signal;
  }

  /** End the term at once: nothing more is started or saved. */
  abort(): void {
    if (this.aborter.signal.aborted) return;
    this.aborter.abort();
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = null;
    for (const w of this.slotWaiters.splice(0)) w();
    this.wake();
  }

  /** A NOTIFY arrived or LISTEN reconnected: read now. */
  wake(): void {
    this.wakePending = true;
    this.wakeUp?.();
  }

  /** Load the checkpoint and read until the term is aborted or {@link drain} is called. */
  async run(): Promise<void> {
    const session = this.d.leaseSession();
    if (!session) return;
    const o = this.d.options;
    const cp = await ensureCheckpoint(session, { listenerId: o.listenerId, batchSize: o.batchSize, updatedBy: o.instanceName });
    this.saved = BigInt(cp.lastProcessedId);
    this.cursor = new CommitOrderCursor(this.saved, o.maxGapRanges);
    this.d.logger.info({ checkpoint: cp.lastProcessedId }, 'leader: reading from checkpoint');
    await this.prime();
    let failures = 0;
    while (!this.signal.aborted && !this.draining) {
      let more = false;
      if (o.admission) {
        await o.admission.wait(() => this.signal.aborted || this.draining);
        if (this.signal.aborted || this.draining) break;
      }
      try {
        more = await this.readOnce();
        failures = 0;
        this.readOk = true;
        this.publishHealth();
      } catch (err) {
        if (this.signal.aborted) break;
        this.cursor.readFailed();
        this.readOk = false;
        this.noteError(`change-log read failed: ${(err as Error).message}`);
        await sleep(backoffDelay(failures++, { baseMs: 200, maxMs: 10_000 }), this.signal);
        continue;
      }
      this.maybePrune();
      this.scheduleSave();
      if (!more) await this.waitForWake(this.cursor.gaps.length > 0 ? Math.min(o.pollIntervalMs, 250) : o.pollIntervalMs);
    }
  }

  /** Hand the rows just behind the checkpoint to the handler's `prime` (best effort: a failure only loses that state). */
  private async prime(): Promise<void> {
    const prime = this.d.options.handler.prime;
    const n = this.d.options.primeRows;
    if (!prime || n === 0 || this.saved === 0n) return;
    try {
      prime(await readRecent(this.d.pool, this.d.recentSql, this.saved, n));
    } catch (err) {
      this.d.logger.warn({ err: { message: (err as Error).message } }, 'cannot prime the row handler from the rows behind the checkpoint; per-entity ordering starts afresh');
    }
  }

  /** Graceful end: stop reading, let in-flight starts finish (bounded), save the checkpoint. */
  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    this.wake();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      Promise.allSettled([...this.tasks]).then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) this.d.logger.warn({ inFlight: this.inFlight }, 'stop: in-flight starts did not finish in time; their rows will be re-read');
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = null;
    if (this.saving) await this.saving;
    if (!this.signal.aborted && this.cursor) await this.save();
    this.abort();
  }

  /** Current state for status(). */
  snapshot(): TermSnapshot {
    const gaps = this.cursor?.gaps ?? [];
    return {
      saved: this.cursor ? this.saved.toString() : null,
      safePoint: this.cursor ? this.safePoint().toString() : null,
      highestSeen: this.cursor ? this.cursor.highestSeen.toString() : null,
      head: this.head?.toString() ?? null,
      openGaps: gaps.length,
      oldestGap: gaps[0] ? gaps[0].lo.toString() : null,
      inFlight: this.inFlight,
      unacknowledged: this.unacked.size,
      healthy: this.healthy,
      lastError: this.lastError,
    };
  }

  /** One read and the dispatch of its rows; true when more rows are probably waiting. */
  private async readOnce(): Promise<boolean> {
    const o = this.d.options;
    const generation = this.generation;
    const cursor = this.cursor;
    const ranges = cursor.probeRanges();
    const newLimit = cursor.canReadAhead ? o.batchSize : 0;
    const epoch = this.saveEpoch;
    const quiet = this.saving === null;
    const out = await runRead(this.d.pool, this.d.readSql, {
      after: cursor.highestSeen, newLimit, gapLo: ranges.lo, gapHi: ranges.hi, gapLimit: o.batchSize, listenerId: o.listenerId,
    });
    if (this.signal.aborted || generation !== this.generation) return true;
    // `checkpoint set/reset` moved the stored checkpoint: follow it now, not at the next save's
    // conflict (a caught-up or stranded leader may not save for a long time). Only when no save of
    // ours overlapped this read, so our own write is never taken for someone else's.
    if (quiet && this.saving === null && epoch === this.saveEpoch && out.stored !== null && out.stored !== this.saved) {
      await this.adopt(out.stored.toString());
      return true;
    }
    const lastGapRow = out.gapRows[out.gapRows.length - 1];
    const truncated = out.gapRows.length >= o.batchSize && lastGapRow !== undefined;
    const advance = cursor.apply({
      snapshot: out.snapshot,
      active: out.active,
      newPks: out.newRows.map((r) => BigInt(r.pk)),
      gapPks: out.gapRows.map((r) => BigInt(r.pk)),
      gapProbeTruncatedAt: truncated ? BigInt(lastGapRow.pk) : null,
    });
    const byPk = new Map<bigint, ChangeLogRow>();
    for (const r of out.gapRows) byPk.set(BigInt(r.pk), r);
    for (const r of out.newRows) byPk.set(BigInt(r.pk), r);
    // Registered before any await so the safe point never passes a row that is read but not yet dispatched.
    for (const pk of advance.accepted) this.unacked.add(pk);
    this.head = out.head;
    if (out.lagSeconds !== null) this.d.metrics.listenerLagSeconds.set(out.lagSeconds);
    if (out.head !== null && out.head < this.saved && !this.warnedHeadBehind) {
      this.warnedHeadBehind = true;
      this.d.logger.warn({ head: out.head.toString(), checkpoint: this.saved.toString() }, 'the change log ends below the checkpoint (table truncated with RESTART IDENTITY?): new rows stay unread until `checkpoint set` moves it back');
    }
    if (advance.gapsOpened || advance.gapsClosed) {
      this.d.logger.debug({ opened: advance.gapsOpened, filled: advance.gapsFilled, closed: advance.gapsClosed, open: cursor.gaps.length }, 'gaps changed');
    }
    this.d.metrics.openGaps.set(cursor.gaps.length);
    this.updateLag();
    for (const pk of advance.accepted) {
      if (this.signal.aborted || this.draining) break;
      const row = byPk.get(pk);
      if (row) await this.dispatch(row, pk, generation);
    }
    return (newLimit > 0 && out.newRows.length >= newLimit) || truncated;
  }

  private decide(row: ChangeLogRow): RowDecision {
    try {
      return this.d.options.handler(row);
    } catch (err) {
      return { kind: 'bad', reason: 'handler_error', message: String((err as { message?: unknown } | null)?.message ?? err) };
    }
  }

  private async dispatch(row: ChangeLogRow, pk: bigint, generation: number): Promise<void> {
    let decision = this.decide(row);
    this.d.metrics.eventsProcessed.inc();
    if (decision.kind === 'skip') {
      this.ack(pk, generation);
      return;
    }
    if (decision.kind === 'start' && (typeof decision.event.id !== 'string' || decision.event.id === '')) {
      // Without an event id the workflow id would collide with every other such row.
      decision = { kind: 'bad', reason: 'missing_event_id', message: `the row handler produced an event without an id for position ${row.pk}` };
    }
    if (decision.kind === 'start') this.d.metrics.eventsMatched.inc({ entity_type: decision.event.entityType });
    else this.d.metrics.badRows.inc({ reason: decision.reason });
    await this.acquireSlot();
    // Stopping: rows not yet handed out stay unacknowledged and are re-read by the next leader.
    if (this.signal.aborted || this.draining) {
      this.releaseSlot();
      return;
    }
    let task: Promise<boolean>;
    if (decision.kind === 'start') {
      const workflowId = workflowIdOf(decision.event.id, this.d.options.workflowIdPrefix);
      const before = decision.startAfter === undefined ? undefined : this.startsInFlight.get(decision.startAfter);
      const d = decision;
      // The predecessor holds a slot already (it was dispatched first), so waiting here cannot deadlock.
      task = before ? before.then((ok) => (ok ? this.startWorkflow(row, d) : false)) : this.startWorkflow(row, d);
      this.startsInFlight.set(workflowId, task);
      const forget = () => {
        if (this.startsInFlight.get(workflowId) === task) this.startsInFlight.delete(workflowId);
      };
      task.then(forget, forget);
    } else {
      task = this.recordBad(row, decision);
    }
    this.tasks.add(task);
    void task.then(
      (done) => {
        this.tasks.delete(task);
        this.releaseSlot();
        if (done) this.ack(pk, generation);
      },
      () => {
        this.tasks.delete(task);
        this.releaseSlot();
      },
    );
  }

  /** Start until acknowledged; false when the term ended first (the row stays unacknowledged). */
  private async startWorkflow(row: ChangeLogRow, d: StartDecision): Promise<boolean> {
    const workflowId = workflowIdOf(d.event.id, this.d.options.workflowIdPrefix);
    const ctx = { eventId: d.event.id, workflowId, position: row.pk };
    for (let attempt = 0; ; attempt++) {
      if (this.signal.aborted) return false;
      try {
        const result = await this.d.options.starter.start(workflowId, d);
        if (this.startsFailing) {
          this.startsFailing = false;
          this.publishHealth();
        }
        if (result === 'started') this.d.metrics.workflowsStarted.inc({ entity_type: d.event.entityType });
        else if (result === 'duplicate') this.d.metrics.dedupSkips.inc();
        if (this.d.logger.isLevelEnabled('debug')) this.d.logger.debug({ ...ctx, result }, START_RESULT_LOG[result]);
        return true;
      } catch (err) {
        const rejected = rejectedInput(err);
        if (rejected !== undefined) {
          // Retrying would send the same input again: record the row as bad and move on.
          this.d.metrics.badRows.inc({ reason: 'start_rejected' });
          return this.recordBad(row, { kind: 'bad', reason: 'start_rejected', message: `change-log row ${row.pk}: Temporal refused the workflow input: ${rejected}` });
        }
        this.d.metrics.startFailures.inc();
        this.startsFailing = true;
        this.noteError(`workflow start failed for ${workflowId}: ${String((err as Error)?.message ?? err)}`, ctx, attempt);
        await sleep(backoffDelay(attempt, { baseMs: 200, maxMs: 30_000 }), this.signal);
      }
    }
  }

  /** Record a bad row durably before acknowledging it, so its reason is never lost. */
  private async recordBad(row: ChangeLogRow, d: Extract<RowDecision, { kind: 'bad' }>): Promise<boolean> {
    const eventId = typeof row.id === 'string' ? row.id : null;
    this.d.logger.warn({ position: row.pk, eventId, reason: d.reason, detail: d.message }, 'bad change-log row skipped');
    for (let attempt = 0; ; attempt++) {
      if (this.signal.aborted) return false;
      try {
        await recordBadRow(this.d.pool, { listenerId: this.d.options.listenerId, pk: row.pk, eventId, reason: d.reason, message: d.message });
        return true;
      } catch (err) {
        this.noteError(`cannot record bad row ${row.pk}: ${String((err as Error)?.message ?? err)}`, { position: row.pk }, attempt);
        await sleep(backoffDelay(attempt, { baseMs: 200, maxMs: 30_000 }), this.signal);
      }
    }
  }

  private ack(pk: bigint, generation: number): void {
    if (generation !== this.generation) return;
    this.unacked.delete(pk);
    this.eventsSinceSave++;
    this.scheduleSave();
  }

  private async acquireSlot(): Promise<void> {
    while (this.inFlight >= this.d.options.maxStartsInFlight && !this.signal.aborted) {
      await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    }
    this.inFlight++;
  }

  private releaseSlot(): void {
    this.inFlight--;
    this.slotWaiters.shift()?.();
  }

  /** Highest position such that every row at or below it is acknowledged or absent for good. */
  private safePoint(): bigint {
    let s = this.cursor.settled;
    for (const pk of this.unacked) if (pk - 1n < s) s = pk - 1n;
    return s;
  }

  private scheduleSave(): void {
    if (this.signal.aborted || !this.cursor) return;
    if (this.saving) {
      this.saveAgain = true;
      return;
    }
    const wait = this.lastSaveAt + this.d.options.checkpointIntervalMs - Date.now();
    if (wait > 0) {
      this.saveTimer ??= setTimeout(() => {
        this.saveTimer = null;
        this.scheduleSave();
      }, wait);
      return;
    }
    void this.save();
  }

  /** Compare-and-swap the checkpoint to the safe point, through the lease session (fenced). */
  private save(): Promise<void> {
    if (this.saving) return this.saving;
    const next = this.safePoint();
    const session = this.d.leaseSession();
    if (next <= this.saved || !session || this.signal.aborted) return Promise.resolve();
    const o = this.d.options;
    const expected = this.saved;
    const generation = this.generation;
    const work = (async () => {
      try {
        const r = await compareAndSwapCheckpoint(session, {
          listenerId: o.listenerId, expected: expected.toString(), next: next.toString(),
          eventCount: this.eventsSinceSave, batchSize: o.batchSize, updatedBy: o.instanceName, fence: this.d.leaseKey,
        });
        this.saveEpoch++;
        if (this.signal.aborted || generation !== this.generation) return;
        if (r.outcome === 'saved') {
          this.saved = next;
          this.eventsSinceSave = 0;
          this.lastMoveAt = Date.now();
          this.d.metrics.checkpointSaves.inc();
          this.updateLag();
          this.d.onCheckpoint(next.toString());
        } else if (r.outcome === 'fenced') {
          this.d.onFenced('checkpoint save refused: this session no longer holds the leader lock');
        } else {
          await this.adopt(r.current);
        }
      } catch (err) {
        // A dead lease session is reported by the lease itself; anything else is retried on the next save.
        if (!this.signal.aborted) this.noteError(`checkpoint save failed: ${(err as Error).message}`);
      } finally {
        this.lastSaveAt = Date.now();
        this.saving = null;
        if (this.saveAgain) {
          this.saveAgain = false;
          this.scheduleSave();
        }
      }
    })();
    this.saving = work;
    return work;
  }

  /** Someone moved the checkpoint (`checkpoint set/reset`): continue from where they put it. */
  private async adopt(current: string | null): Promise<void> {
    let position = current;
    const session = this.d.leaseSession();
    if (position === null && session) {
      const o = this.d.options;
      position = (await ensureCheckpoint(session, { listenerId: o.listenerId, batchSize: o.batchSize, updatedBy: o.instanceName })).lastProcessedId;
    }
    const at = BigInt(position ?? '0');
    this.d.logger.warn({ expected: this.saved.toString(), found: at.toString() }, 'checkpoint was moved by someone else; continuing from its new position');
    this.generation++;
    this.saved = at;
    this.cursor = new CommitOrderCursor(at, this.d.options.maxGapRanges);
    this.unacked.clear();
    this.eventsSinceSave = 0;
    this.wake();
  }

  private async waitForWake(ms: number): Promise<void> {
    if (this.wakePending || this.signal.aborted || this.draining) {
      this.wakePending = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
    this.wakeUp = null;
    this.wakePending = false;
  }

  private updateLag(): void {
    const lag = this.head !== null && this.head > this.saved ? this.head - this.saved : 0n;
    const now = Date.now();
    if (lag === 0n) this.lastMoveAt = now;
    this.d.metrics.checkpointLagIds.set(Number(lag));
    this.d.metrics.checkpointAgeSeconds.set(lag === 0n ? 0 : (now - this.lastMoveAt) / 1000);
  }

  /** Healthy: the last read worked and workflow starts are not failing. */
  private get healthy(): boolean {
    return this.readOk && !this.startsFailing;
  }

  private publishHealth(): void {
    this.d.metrics.listenerHealth.set(this.healthy ? 1 : 0);
  }

  /** Log (rate-limited for retries), mark unhealthy and record on the checkpoint row (at most every 5 s). */
  private noteError(message: string, context: Record<string, unknown> = {}, attempt = 0): void {
    this.lastError = message;
    this.publishHealth();
    if (attempt < 3 || attempt % 20 === 0) this.d.logger.warn({ ...context, attempt }, message);
    const now = Date.now();
    const session = this.d.leaseSession();
    if (session && now - this.lastErrorRecordedAt > 5000) {
      this.lastErrorRecordedAt = now;
      const o = this.d.options;
      recordCheckpointError(session, { listenerId: o.listenerId, message, updatedBy: o.instanceName, fence: this.d.leaseKey }).catch(() => undefined);
    }
  }

  private maybePrune(): void {
    const now = Date.now();
    if (now - this.lastPruneAt < 3_600_000) return;
    this.lastPruneAt = now;
    const o = this.d.options;
    pruneCheckpointHistory(this.d.pool, o.listenerId, o.historyRetentionSeconds).catch((err: Error) =>
      this.d.logger.warn({ err: { message: err.message } }, 'checkpoint history pruning failed'),
    );
  }
}

/**
 * The reason when a start failed because of its input (it cannot be converted, or the server
 * refuses it as invalid, e.g. over the payload size), not because Temporal is unavailable.
 */
function rejectedInput(err: unknown): string | undefined {
  const e = err as { name?: unknown; code?: unknown; message?: unknown; cause?: { code?: unknown } } | null;
  const message = String(e?.message ?? err);
  if (e?.name === 'ValueError' || e?.name === 'PayloadConverterError') return message;
  // gRPC INVALID_ARGUMENT about the input's size: sent again, it is refused again. Other invalid
  // arguments (a search attribute the namespace lacks) are the cluster's setup and keep retrying.
  if ((e?.code === 3 || e?.cause?.code === 3) && /size|too large|limit/i.test(message)) return message;
  return undefined;
}
