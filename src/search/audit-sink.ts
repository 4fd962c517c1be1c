/**
 * The Elasticsearch audit trail: one document per finished workflow run (what happened to each
 * action of one change event), written in bulk. The index is searchable by event id, entity,
 * observer, status and error type. Documents carry no event data and no secrets: only ids, names,
 * outcomes and the (already scrubbed) error messages.
 *
 * Writes are buffered and flushed by size or interval; a rejected item that Elasticsearch may
 * accept later (429, 5xx) is retried a bounded number of times, any other rejection is logged and
 * counted, and the audit trail never blocks or fails the work it records.
 */
import type { Client } from '@elastic/elasticsearch';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { METRIC_NAMES } from '../metrics/registry';
import type { EventFinished } from '../workflows/sinks';

/** One audit document. Field names are snake_case, as in the index mapping. */
export interface AuditDocument {
  '@timestamp': string;
  event_id: string;
  workflow_id: string;
  run_id: string;
  entity_type: string;
  entity_id: string | null;
  event_kind: string;
  status: 'succeeded' | 'tolerated' | 'failed';
  observers: string[];
  failed_actions: string[];
  retry_number: number | null;
  commit_time: string | null;
  /** Commit (or creation) of the change-log row → the run's last action outcome, ms. */
  latency_ms: number | null;
  actions: Array<{
    key: string;
    observer: string;
    type: string;
    status: string;
    failure_policy: string;
    attempts: number;
    duration_ms: number | null;
    status_code: number | null;
    error_type: string | null;
    error_message: string | null;
  }>;
}

export interface AuditSinkOptions {
  client: Client;
  log: Logger;
  /** Index name prefix; documents go to `<prefix>-YYYY.MM.DD` (UTC day of the run's end). */
  indexPrefix?: string;
  /** Flush when this many documents are buffered (default 500). */
  batchSize?: number;
  /** Flush at least this often while documents wait (default 1000 ms). */
  flushIntervalMs?: number;
  /** Documents kept while Elasticsearch is unreachable; the oldest are dropped (counted) past it (default 10 000). */
  maxBuffered?: number;
  /** Attempts per document for retryable rejections (default 3). */
  maxAttempts?: number;
  metrics?: Registry;
  clock?: () => number;
}

interface Pending {
  doc: AuditDocument;
  id: string;
  index: string;
  attempts: number;
}

/** Builds the audit document of a finished run. */
export function auditDocument(finished: EventFinished, now: number): AuditDocument {
  const r = finished.result;
  const commit = finished.commitTime === null ? Number.NaN : Date.parse(finished.commitTime);
  return {
    '@timestamp': new Date(now).toISOString(),
    event_id: r.eventId,
    workflow_id: finished.workflowId,
    run_id: finished.runId,
    entity_type: r.entityType,
    entity_id: r.entityId,
    event_kind: r.kind,
    status: r.status,
    observers: r.observers,
    failed_actions: r.failedActions,
    retry_number: r.retryNumber ?? null,
    commit_time: finished.commitTime,
    latency_ms: Number.isFinite(commit) ? Math.max(0, now - commit) : null,
    actions: r.actions.map((a) => ({
      key: a.key,
      observer: a.observer,
      type: a.type,
      status: a.status,
      failure_policy: a.failurePolicy,
      attempts: a.attempts,
      duration_ms: a.result?.duration_ms ?? null,
      status_code: a.result && 'status_code' in a.result ? a.result.status_code : null,
      error_type: a.error?.type ?? null,
      error_message: a.error?.message ?? null,
    })),
  };
}

/** Buffers audit documents and writes them with the bulk API. Call {@link close} on shutdown. */
export class AuditSink {
  private readonly buffer: Pending[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private closed = false;
  private readonly written: Counter<'status'>;
  private readonly failed: Counter<'reason'>;
  private readonly o: Required<Omit<AuditSinkOptions, 'metrics'>>;

  constructor(options: AuditSinkOptions) {
    this.o = {
      indexPrefix: 'fraiseql-observers-audit',
      batchSize: 500,
      flushIntervalMs: 1000,
      maxBuffered: 10_000,
      maxAttempts: 3,
      clock: Date.now,
      ...options,
    };
    const registers = options.metrics ? [options.metrics] : [];
    this.written = new Counter({ name: METRIC_NAMES.auditDocuments, help: 'Audit documents accepted by Elasticsearch', labelNames: ['status'], registers });
    this.failed = new Counter({ name: METRIC_NAMES.auditFailures, help: 'Audit documents Elasticsearch did not accept (dropped)', labelNames: ['reason'], registers });
  }

  /** Queues the audit document of a finished run (never throws, never waits). */
  record(finished: EventFinished): void {
    if (this.closed) return;
    const now = this.o.clock();
    const doc = auditDocument(finished, now);
    // The run id makes the write idempotent: a repeated sink call overwrites the same document.
    this.buffer.push({ doc, id: `${finished.workflowId}:${finished.runId}`, index: `${this.o.indexPrefix}-${utcDay(now)}`, attempts: 0 });
    while (this.buffer.length > this.o.maxBuffered) {
      this.buffer.shift();
      this.failed.inc({ reason: 'buffer_full' });
    }
    if (this.buffer.length >= this.o.batchSize) this.kick();
    else this.timer ??= setTimeout(() => this.kick(), this.o.flushIntervalMs);
  }

  /** Writes everything buffered now; resolves when the buffer is empty or nothing more can be written. */
  async flush(): Promise<void> {
    while (this.buffer.length > 0) {
      const before = this.buffer.length;
      await this.kickAndWait();
      // Nothing was taken out (Elasticsearch down): stop rather than spin; the timer tries again.
      if (this.buffer.length >= before) return;
    }
  }

  /** Flushes and stops; later records are ignored. */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Documents waiting to be written. */
  get pending(): number {
    return this.buffer.length;
  }

  private kick(): void {
    void this.kickAndWait();
  }

  private async kickAndWait(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.flushing) return this.flushing;
    this.flushing = this.writeBatch().finally(() => {
      this.flushing = null;
      if (this.buffer.length > 0 && !this.closed) this.timer ??= setTimeout(() => this.kick(), this.o.flushIntervalMs);
    });
    return this.flushing;
  }

  private async writeBatch(): Promise<void> {
    const batch = this.buffer.splice(0, this.o.batchSize);
    if (batch.length === 0) return;
    const operations: unknown[] = [];
    for (const p of batch) operations.push({ index: { _index: p.index, _id: p.id } }, p.doc);
    let response;
    try {
      response = await this.o.client.bulk({ operations });
    } catch (err) {
      // The whole request failed (unreachable, 5xx): keep the batch, in order, for the next try;
      // only the buffer bound drops documents while Elasticsearch is away.
      this.buffer.unshift(...batch);
      this.o.log.warn({ err: (err as Error).message, documents: batch.length }, 'audit: Elasticsearch bulk request failed; will retry');
      return;
    }
    const retry: Pending[] = [];
    response.items.forEach((item, i) => {
      const p = batch[i];
      const result = item.index ?? item.create ?? item.update;
      if (!p || !result) return;
      if (result.error === undefined || result.error === null) {
        this.written.inc({ status: p.doc.status });
        return;
      }
      const status = result.status;
      if (status === 429 || status >= 500) {
        retry.push(p);
        return;
      }
      this.failed.inc({ reason: result.error.type ?? 'rejected' });
      this.o.log.warn({ event_id: p.doc.event_id, index: p.index, status, error_type: result.error.type, reason: result.error.reason }, 'audit: Elasticsearch rejected a document');
    });
    const again: Pending[] = [];
    for (const p of retry) {
      p.attempts += 1;
      if (p.attempts >= this.o.maxAttempts) this.failed.inc({ reason: 'retries_exhausted' });
      else again.push(p);
    }
    this.buffer.unshift(...again);
  }
}

function utcDay(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}.${String(d.getUTCMonth() + 1).padStart(2, '0')}.${String(d.getUTCDate()).padStart(2, '0')}`;
}
