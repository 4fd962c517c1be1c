/**
 * The peer's one task: a change-log row (the trigger's job payload) → its webhooks, all at once.
 * Each request is built and signed as the service's webhook action builds it (the same event
 * envelope as body, the same `X-FraiseQL-Signature-256`, `Idempotency-Key` and event-id headers)
 * and sent through the service's own HTTP client (undici keep-alive pool behind the SSRF guard),
 * so the comparison measures what sits between the commit and the requests, not the requests.
 */
import type { Task } from 'graphile-worker';
import { DEFAULT_ACTION_TIMEOUT_MS, DEFAULT_MAX_RESPONSE_BYTES } from '../../src/contract';
import { displayUrl, statusFailure, type HttpClient } from '../../src/activities/http-client';
import { fraiseqlSignature } from '../../src/activities/signing';
import { rowToEvent } from '../../src/events/map-row';
import type { ChangeLogRow } from '../../src/events/types';
import { eventEnvelope } from '../../src/template/scope';

export interface PeerTarget {
  url: URL;
  /** The action key in `Idempotency-Key: <event id>:<key>`. */
  key: string;
}

/**
 * The task. A failed request fails the job after the others have finished; graphile-worker then
 * retries the whole job (every request again, under the same idempotency keys).
 */
export function deliverTask(http: HttpClient, targets: readonly PeerTarget[], signingSecret: string): Task {
  return async (payload) => {
    const row = payload as Record<string, unknown>;
    if (row === null || typeof row !== 'object' || row.pk_entity_change_log === undefined) {
      throw new Error(`peer task: the job payload is not a change-log row (no pk_entity_change_log): ${JSON.stringify(payload).slice(0, 200)}`);
    }
    const event = rowToEvent({ ...row, pk: String(row.pk_entity_change_log) } as ChangeLogRow);
    const body = JSON.stringify(eventEnvelope(event));
    const results = await Promise.allSettled(targets.map(async ({ url, key }) => {
      // Signed per request with a fresh timestamp, as the service signs each action's attempt.
      const headers: Record<string, string> = {
        'idempotency-key': `${event.id}:${key}`,
        'x-fraiseql-event-id': event.id,
        'user-agent': 'fraiseql-observers-bench-peer',
        'content-type': 'application/json',
        'x-fraiseql-signature-256': fraiseqlSignature(signingSecret, body, Math.floor(Date.now() / 1000)),
      };
      const res = await http.send({ url, method: 'POST', headers, body, timeoutMs: DEFAULT_ACTION_TIMEOUT_MS.webhook, maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES });
      const failure = statusFailure(res, displayUrl(res.url));
      if (failure) throw failure;
    }));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length > 0) {
      throw new Error(`peer task: ${failed.length} of ${targets.length} webhooks of event ${event.id} failed: ${failed.map((f) => (f.reason as Error).message).join('; ')}`);
    }
  };
}
