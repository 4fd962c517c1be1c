/**
 * The commit-order-safe cursor: which change-log positions have been read, which are gaps that a
 * running transaction may still fill, and how far a checkpoint may safely go.
 *
 * Why gaps happen: pks are allocated when a row is inserted, but rows become visible when their
 * transaction commits, so pk 7 may become visible after pk 8, or never (rollback).
 *
 * Rule used to close a gap g (a missing pk below the highest pk h seen by read k):
 * identity/sequence values (CACHE 1) are handed out in call order, so the transaction T that took g
 * took it before h's transaction took h, which committed before read k's snapshot S_k. Hence T had
 * begun before S_k, and either committed before S_k (its row would be visible, unless RLS hides it
 * or it was deleted), or aborted, or was still running at S_k. Read k records every transaction
 * running just after S_k — virtual transaction ids from pg_locks (covering transactions that have
 * not been assigned an xid yet), prepared transactions, and the snapshot's xip list. A later read j
 * may declare g final if none of those transactions appears in the list taken by read j-1 (so all
 * ended before S_j) and g is still missing in read j: anything T committed is visible to S_j.
 *
 * Rows above a gap are handed out at once; only the checkpoint waits. All state here is in memory
 * and bounded by the number of open gaps, which is bounded by the caller (maxGaps).
 */
import { type PgSnapshot, xidEnded } from './snapshot';

/** Transactions that were running when a gap was first seen. */
interface Observation {
  read: number;
  xip: readonly bigint[];
  active: ReadonlySet<string>;
}

/** A run of missing positions [lo, hi], with the transactions that might still fill it. */
export interface Gap {
  lo: bigint;
  hi: bigint;
  seen: Observation;
}

/** One read of the table, as the cursor needs it. */
export interface CursorRead {
  snapshot: PgSnapshot;
  /** Transactions running just after the snapshot (vxids and prepared xids), excluding the reader. */
  active: ReadonlySet<string>;
  /** Positions above highestSeen, ascending. */
  newPks: readonly bigint[];
  /** Positions found inside probed gaps, ascending. */
  gapPks: readonly bigint[];
  /** When the gap probe hit its row limit: the highest position it returned (gaps above it were not fully probed). */
  gapProbeTruncatedAt: bigint | null;
}

/** What a read changed. */
export interface CursorAdvance {
  /** Positions to process, ascending: newly seen rows and rows that filled gaps. */
  accepted: bigint[];
  gapsOpened: number;
  gapsFilled: number;
  gapsClosed: number;
}

/** Commit-order-safe read position over one change-log table. */
export class CommitOrderCursor {
  private gapList: Gap[] = [];
  private seenUpTo: bigint;
  private readCount = 0;
  /** Running transactions as listed by the previous read; null when that read failed or never ran. */
  private previousActive: ReadonlySet<string> | null = null;

  constructor(
    start: bigint,
    private readonly maxGaps = 2000,
  ) {
    this.seenUpTo = start;
  }

  /** Highest position read so far. */
  get highestSeen(): bigint {
    return this.seenUpTo;
  }

  /** Open gaps, ascending. */
  get gaps(): readonly Gap[] {
    return this.gapList;
  }

  /** Every position at or below this is read or known to be absent for good. */
  get settled(): bigint {
    const first = this.gapList[0];
    return first === undefined ? this.seenUpTo : first.lo - 1n;
  }

  /** False when so many gaps are open that reading further would grow memory without bound. */
  get canReadAhead(): boolean {
    return this.gapList.length < this.maxGaps;
  }

  /** Gap ranges to probe in the next read, as parallel arrays of decimal strings. */
  probeRanges(): { lo: string[]; hi: string[] } {
    return { lo: this.gapList.map((g) => g.lo.toString()), hi: this.gapList.map((g) => g.hi.toString()) };
  }

  /** A read failed: the next one cannot close gaps because it lacks a preceding transaction list. */
  readFailed(): void {
    this.previousActive = null;
  }

  /** Apply one read (it must have probed exactly the ranges of {@link probeRanges}). */
  apply(read: CursorRead): CursorAdvance {
    const readNo = ++this.readCount;
    const accepted: bigint[] = [];
    let gapsFilled = 0;

    // 1. Rows that appeared inside gaps split them.
    const remaining: Gap[] = [];
    let p = 0;
    for (const g of this.gapList) {
      let cur = g.lo;
      while (p < read.gapPks.length && read.gapPks[p]! < g.lo) p++;
      while (p < read.gapPks.length && read.gapPks[p]! <= g.hi) {
        const pk = read.gapPks[p]!;
        if (pk > cur) remaining.push({ lo: cur, hi: pk - 1n, seen: g.seen });
        accepted.push(pk);
        gapsFilled++;
        cur = pk + 1n;
        p++;
      }
      if (cur <= g.hi) remaining.push({ lo: cur, hi: g.hi, seen: g.seen });
    }

    // 2. Gaps whose candidate transactions have all ended, and that are still empty, are final.
    const verdicts = new Map<Observation, boolean>();
    const ended = (o: Observation): boolean => {
      let v = verdicts.get(o);
      if (v === undefined) {
        const prev = this.previousActive;
        v = prev !== null && o.read < readNo && o.xip.every((x) => xidEnded(x, read.snapshot)) && ![...o.active].some((t) => prev.has(t));
        verdicts.set(o, v);
      }
      return v;
    };
    const truncatedAt = read.gapProbeTruncatedAt;
    const open = remaining.filter((g) => (truncatedAt !== null && g.hi > truncatedAt) || !ended(g.seen));
    const gapsClosed = remaining.length - open.length;

    // 3. New rows above everything seen so far; holes between them are new gaps.
    let gapsOpened = 0;
    if (read.newPks.length > 0) {
      const seen: Observation = { read: readNo, xip: read.snapshot.xip, active: read.active };
      let prev = this.seenUpTo;
      for (const pk of read.newPks) {
        if (pk <= prev) throw new Error(`Change-log read returned position ${pk} at or below ${prev}`);
        if (pk > prev + 1n) {
          open.push({ lo: prev + 1n, hi: pk - 1n, seen });
          gapsOpened++;
        }
        accepted.push(pk);
        prev = pk;
      }
      this.seenUpTo = prev;
    }

    this.gapList = open;
    this.previousActive = read.active;
    accepted.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return { accepted, gapsOpened, gapsFilled, gapsClosed };
  }
}
