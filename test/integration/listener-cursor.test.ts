/** The commit-order cursor's gap rule, on hand-made reads (pure logic; the integration tests exercise it live). */
import { CommitOrderCursor, type CursorRead } from '../../src/listener/cursor';
import { parseSnapshot } from '../../src/listener/snapshot';

function read(p: Partial<Omit<CursorRead, 'active'>> & { snap?: string; active?: string[] }): CursorRead {
  return {
    snapshot: parseSnapshot(p.snap ?? '100:100:'),
    active: new Set(p.active ?? []),
    newPks: p.newPks ?? [],
    gapPks: p.gapPks ?? [],
    gapProbeTruncatedAt: p.gapProbeTruncatedAt ?? null,
  };
}

describe('CommitOrderCursor', () => {
  it('advances straight through contiguous rows', () => {
    const c = new CommitOrderCursor(0n);
    const a = c.apply(read({ newPks: [1n, 2n, 3n] }));
    expect(a.accepted).toEqual([1n, 2n, 3n]);
    expect(c.settled).toBe(3n);
  });

  it('processes rows above a gap at once but settles below it until its transactions end', () => {
    const c = new CommitOrderCursor(0n);
    // pk 2 missing while transaction 3/7 (xid 98) runs.
    let a = c.apply(read({ snap: '98:101:98', active: ['3/7', '4/1'], newPks: [1n, 3n, 4n] }));
    expect(a.accepted).toEqual([1n, 3n, 4n]);
    expect(a.gapsOpened).toBe(1);
    expect(c.settled).toBe(1n);
    expect(c.probeRanges()).toEqual({ lo: ['2'], hi: ['2'] });

    // Still running according to the previous read's list: stays open.
    a = c.apply(read({ snap: '98:101:98', active: ['3/7'] }));
    expect(c.settled).toBe(1n);
    // 3/7 gone from the previous list, but xid 98 is still in progress: stays open.
    a = c.apply(read({ snap: '98:101:98', active: [] }));
    expect(a.gapsClosed).toBe(0);
    // Both ended (previous list empty, xid below xmin) and pk 2 still absent: rolled back, final.
    a = c.apply(read({ snap: '101:101:', active: [] }));
    expect(a.gapsClosed).toBe(1);
    expect(c.settled).toBe(4n);
  });

  it('hands out a late row that fills a gap, splitting the gap around it', () => {
    const c = new CommitOrderCursor(10n);
    c.apply(read({ active: ['5/5'], newPks: [15n] }));
    expect(c.gaps.map((g) => [g.lo, g.hi])).toEqual([[11n, 14n]]);
    const a = c.apply(read({ active: ['5/5'], gapPks: [12n, 13n], newPks: [16n] }));
    expect(a.accepted).toEqual([12n, 13n, 16n]);
    expect(c.gaps.map((g) => [g.lo, g.hi])).toEqual([[11n, 11n], [14n, 14n]]);
    expect(c.settled).toBe(10n);
  });

  it('never closes a gap in the read that opened it, even with nothing running', () => {
    const c = new CommitOrderCursor(0n);
    c.apply(read({ newPks: [2n] }));
    expect(c.settled).toBe(0n);
    // A transaction that ended between the snapshot and the lock scan is visible to this read.
    const a = c.apply(read({ gapPks: [1n] }));
    expect(a.accepted).toEqual([1n]);
    expect(c.settled).toBe(2n);
  });

  it('does not close gaps after a failed read, nor above a truncated probe', () => {
    const c = new CommitOrderCursor(0n);
    c.apply(read({ active: ['1/1'], newPks: [2n, 5n] }));
    c.readFailed();
    c.apply(read({ active: [] }));
    expect(c.gaps).toHaveLength(2);
    const a = c.apply(read({ active: [], gapPks: [1n], gapProbeTruncatedAt: 1n }));
    expect(a.accepted).toEqual([1n]);
    // Gap [3,4] lies above the truncation point: not yet probed completely, so it stays.
    expect(c.gaps.map((g) => [g.lo, g.hi])).toEqual([[3n, 4n]]);
    expect(c.settled).toBe(2n);
  });

  it('stops reading ahead when too many gaps are open', () => {
    const c = new CommitOrderCursor(0n, 2);
    c.apply(read({ active: ['1/1'], newPks: [2n, 4n, 6n] }));
    expect(c.canReadAhead).toBe(false);
  });
});
