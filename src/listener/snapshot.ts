/** PostgreSQL snapshots (`pg_current_snapshot()` text form `xmin:xmax:xip,...`) and xid visibility. */

/** A parsed pg_snapshot: every xid < xmin has ended, every xid >= xmax had not started, xip were running. */
export interface PgSnapshot {
  xmin: bigint;
  xmax: bigint;
  xip: readonly bigint[];
}

/** Parse the text form of a pg_snapshot. */
export function parseSnapshot(text: string): PgSnapshot {
  const m = /^(\d+):(\d+):([\d,]*)$/.exec(text.trim());
  if (!m) throw new Error(`Unrecognised pg_snapshot ${JSON.stringify(text)}`);
  const xip = m[3] ? m[3].split(',').map((x) => BigInt(x)) : [];
  return { xmin: BigInt(m[1]!), xmax: BigInt(m[2]!), xip };
}

/**
 * True when transaction `xid`, which was running in some earlier snapshot, is no longer running
 * as of `snap`. An xid at or above `snap.xmax` cannot have been running earlier, so it is treated as
 * still running (the conservative answer).
 */
export function xidEnded(xid: bigint, snap: PgSnapshot): boolean {
  if (xid < snap.xmin) return true;
  if (xid >= snap.xmax) return false;
  return !snap.xip.includes(xid);
}
