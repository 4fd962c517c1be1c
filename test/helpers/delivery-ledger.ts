/**
 * "Was every committed change delivered?" for tests that stop and kill the service: a loopback
 * webhook receiver whose requests are grouped by their Idempotency-Key, compared with the set of
 * change-log rows the writers saw commit.
 */
import { type HttpReceiver, type Responder, startHttpReceiver } from './receivers';

/** What the receiver got, compared with what was committed. */
export interface DeliveryReport {
  committed: number;
  /** Distinct idempotency keys received. */
  distinctKeys: number;
  /** Committed event ids with no request. */
  lost: string[];
  /** Event ids received that no writer committed (rolled back, or never written). */
  phantom: string[];
  /** Requests beyond the first per key: retries carrying the same key. */
  retries: number;
  /** Keys whose requests did not all carry the same body: a retry must resend the same event. */
  inconsistent: string[];
}

export interface DeliveryLedger {
  receiver: HttpReceiver;
  /** Event ids with at least one request. */
  deliveredIds(): Set<string>;
  report(committed: Iterable<string>): DeliveryReport;
  close(): Promise<void>;
}

/** The event id at the front of a key `<event id>:<observer>:<action index>`. */
function eventIdOf(key: string): string {
  return key.split(':')[0] ?? key;
}

/** Starts a receiver on 127.0.0.1 that answers `respond` (default 200 `ok`). */
export async function startDeliveryLedger(respond?: Responder): Promise<DeliveryLedger> {
  const receiver = await startHttpReceiver(respond);
  const keyed = () => receiver.requests.filter((r) => typeof r.headers['idempotency-key'] === 'string');
  return {
    receiver,
    deliveredIds: () => new Set(keyed().map((r) => eventIdOf(String(r.headers['idempotency-key'])))),
    report(committedIds) {
      const committed = new Set(committedIds);
      const bodies = new Map<string, Set<string>>();
      for (const r of keyed()) {
        const key = String(r.headers['idempotency-key']);
        const seen = bodies.get(key) ?? new Set<string>();
        seen.add(r.body);
        bodies.set(key, seen);
      }
      const ids = new Set([...bodies.keys()].map(eventIdOf));
      return {
        committed: committed.size,
        distinctKeys: bodies.size,
        lost: [...committed].filter((id) => !ids.has(id)),
        phantom: [...ids].filter((id) => !committed.has(id)),
        retries: keyed().length - bodies.size,
        inconsistent: [...bodies].filter(([, b]) => b.size > 1).map(([k]) => k),
      };
    },
    close: () => receiver.close(),
  };
}
