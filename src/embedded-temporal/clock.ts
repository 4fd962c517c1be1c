/**
 * The server's clock. Every deadline the server keeps (workflow timers, activity retry backoffs,
 * task and workflow timeouts) is a timer on this clock. In time-skipping mode the clock jumps to
 * the next timer whenever the lock counter is at or below zero and no workflow or activity task is
 * pending or running — the contract `@temporalio/testing`'s time-skipping environment relies on.
 * In wall-clock mode it never jumps.
 */

import { appendFileSync } from 'node:fs';

const DEBUG = process.env.EMBEDDED_TEMPORAL_DEBUG_FILE;
function debug(line: string): void {
  if (DEBUG) appendFileSync(DEBUG, `${new Date().toISOString()} ${line}\n`);
}

export interface TimerHandle { cancel(): void; readonly fireAt: number }

interface Entry { fireAt: number; seq: number; fn: () => void; cancelled: boolean }

const NOOP = (): void => undefined;

export class ServerClock {
  private offset = 0;
  /** Starts at 1: time skipping is locked until a client unlocks it (TestService contract). */
  private lockCount = 1;
  /** Workflow/activity tasks scheduled or running: time never skips past them. */
  private busy = 0;
  private heap: Entry[] = [];
  /** Cancelled entries still in the heap. */
  private cancelledCount = 0;
  private seq = 0;
  private wake: NodeJS.Timeout | null = null;
  private wakeAt = Infinity;
  private skipQueued = false;
  private stopped = false;

  constructor(readonly timeSkipping: boolean) {}

  now(): number {
    return Date.now() + this.offset;
  }

  /** Run fn when the clock reaches `fireAt` (server time, ms). */
  at(fireAt: number, fn: () => void): TimerHandle {
    const e: Entry = { fireAt, seq: this.seq++, fn, cancelled: false };
    this.push(e);
    this.arm();
    this.maybeSkip();
    return {
      fireAt,
      cancel: () => {
        if (e.cancelled) return;
        e.cancelled = true;
        // The callback's closure (an activity's state with its input, a run) must not live on
        // until the deadline it no longer guards: at 150 events/s that is tens of MiB of requests.
        e.fn = NOOP;
        this.cancelledCount++;
        if (this.cancelledCount > 1024 && this.cancelledCount * 2 > this.heap.length) this.compact();
      },
    };
  }

  after(ms: number, fn: () => void): TimerHandle {
    return this.at(this.now() + Math.max(0, ms), fn);
  }

  /** Timer entries the clock holds, cancelled ones not yet dropped included. */
  get heldTimers(): number {
    return this.heap.length;
  }

  lock(): void {
    this.lockCount++;
  }
  unlock(): void {
    this.lockCount--;
    this.maybeSkip();
  }
  get locks(): number {
    return this.lockCount;
  }

  /** A task became pending/running (+1) or finished (-1). */
  markBusy(delta: number): void {
    this.busy += delta;
    if (this.busy < 0) this.busy = 0;
    if (delta < 0) this.maybeSkip();
  }
  get busyCount(): number {
    return this.busy;
  }

  stop(): void {
    this.stopped = true;
    if (this.wake) clearTimeout(this.wake);
    this.wake = null;
    this.heap = [];
    this.cancelledCount = 0;
  }

  private maybeSkip(): void {
    if (!this.timeSkipping || this.skipQueued || this.stopped) return;
    this.skipQueued = true;
    // Deferred so that a burst of state changes (a completion that schedules new work) settles first.
    setImmediate(() => {
      this.skipQueued = false;
      this.skipNow();
    });
  }

  private skipNow(): void {
    if (DEBUG) debug(`skip? locks=${this.lockCount} busy=${this.busy} timers=${this.heap.length}`);
    if (this.stopped || this.lockCount > 0 || this.busy > 0) return;
    this.dropCancelled();
    const next = this.heap[0];
    if (!next) return;
    const now = this.now();
    if (next.fireAt > now) this.offset += next.fireAt - now;
    this.fireDue();
  }

  private fireDue(): void {
    const now = this.now();
    for (;;) {
      this.dropCancelled();
      const top = this.heap[0];
      if (!top || top.fireAt > now) break;
      this.pop();
      try {
        top.fn();
      } catch (err) {
        // A timer callback must never take the server down; surface it for debugging.
        process.emitWarning(`embedded-temporal timer callback failed: ${String(err)}`);
      }
    }
    this.arm();
    this.maybeSkip();
  }

  private arm(): void {
    if (this.stopped) return;
    this.dropCancelled();
    const top = this.heap[0];
    const target = top ? top.fireAt : Infinity;
    if (target === this.wakeAt && this.wake) return;
    if (this.wake) clearTimeout(this.wake);
    this.wake = null;
    this.wakeAt = target;
    if (target === Infinity) return;
    const delay = Math.min(Math.max(0, target - this.now()), 2 ** 31 - 1);
    this.wake = setTimeout(() => {
      this.wake = null;
      this.wakeAt = Infinity;
      this.fireDue();
    }, delay);
    this.wake.unref?.();
  }

  private dropCancelled(): void {
    while (this.heap[0]?.cancelled) {
      this.pop();
      this.cancelledCount--;
    }
  }

  /** Rebuild the heap without its cancelled entries (most timers are cancelled long before they are due). */
  private compact(): void {
    const live = this.heap.filter((e) => !e.cancelled);
    this.heap = [];
    this.cancelledCount = 0;
    for (const e of live) this.push(e);
  }

  private less(a: Entry, b: Entry): boolean {
    return a.fireAt < b.fireAt || (a.fireAt === b.fireAt && a.seq < b.seq);
  }
  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }
  private pop(): Entry | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
