/**
 * The durable store of the embedded Temporal server in PostgreSQL.
 *
 * Writes: a run that changes (new events, buffered events, an activity attempt that moved) is
 * marked dirty; a flush loop turns every dirty run into one statement (history batches appended,
 * run rows upserted, removed runs deleted), committed on the store's own session. While one
 * commit is in flight the next batch accumulates, so concurrent calls share commits (group
 * commit). Every gRPC answer waits for {@link DurableStore.sync}: the changes made before it are
 * on disk when the caller hears back — an acknowledged start, completion or signal survives a
 * kill -9 of the server.
 *
 * Reads: {@link DurableStore.load} returns every namespace and run with its history, from which
 * store/attach.ts rebuilds the in-memory state.
 */
import type { Client } from 'pg';
import { type Namespace } from '../namespace';
import { type WorkflowRun } from '../run';
import { type HistoryEvent } from '../history';
import { ServiceError } from '../proto';
import { type ServerStoreHooks } from '../state';
import { type SearchAttributeType } from '../visibility-query';
import { decodeEvents, decodeSavedState, decodeUserMetadata, encodeEvents, encodeSavedState, encodeUserMetadata } from './codec';
import { STORE_LAYOUT_VERSION, storeSchemaSql } from './schema';
import { destroySession, endSession } from '../../listener/session';
import { queryPrepared } from '../../db/prepared';
import { type SavedRunState } from '../run';

const UNAVAILABLE = 14;

/** A namespace as stored. */
export interface StoredNamespace {
  name: string;
  id: string;
  retentionMs: number;
  searchAttributes: Record<string, SearchAttributeType>;
}

/** A run as stored: its identity, saved state and full history. */
export interface StoredRun {
  runId: string;
  namespace: string;
  workflowId: string;
  seq: number;
  requestId: string;
  userMetadata: unknown;
  saved: SavedRunState;
  events: HistoryEvent[];
  /** First event id of each stored history row: the run's history batches. */
  batchStarts: number[];
}

interface Track {
  ns: string;
  seq: number;
  /** Events of run.history already written. */
  persisted: number;
  inserted: boolean;
  state: Buffer | null;
  status: number;
}

interface Waiter { target: number; resolve(): void; reject(err: Error): void }

/** Counters for tests and benchmarks. */
export interface StoreStats {
  commits: number;
  runsWritten: number;
  eventsWritten: number;
}

/**
 * Concatenates byte strings into one buffer; each is referred to by its offset and length
 * (length -1 for null), which the statement cuts out again with substring().
 */
class BlobPacker {
  private parts: Buffer[] = [];
  private size = 0;

  add(b: Buffer | null): [number, number] {
    if (b === null) return [0, -1];
    const ref: [number, number] = [this.size, b.length];
    this.parts.push(b);
    this.size += b.length;
    return ref;
  }

  finish(): Buffer {
    return Buffer.concat(this.parts, this.size);
  }
}

export class DurableStore implements ServerStoreHooks {
  private readonly tracks = new Map<string, Track>();
  private readonly dirty = new Map<string, { ns: Namespace; run: WorkflowRun }>();
  private readonly removed = new Set<string>();
  private namespacesDirty = false;
  private namespaceSource: (() => Namespace[]) | null = null;
  private nextSeq = 1;
  private epoch = 0;
  private committed = 0;
  private flushing = false;
  private scheduled = false;
  private waiters: Waiter[] = [];
  private failure: Error | null = null;
  private closed = false;
  private heartbeat: NodeJS.Timeout | null = null;
  private lastActivity = Date.now();
  readonly stats: StoreStats = { commits: 0, runsWritten: 0, eventsWritten: 0 };

  constructor(
    private readonly session: Client,
    readonly schema: string,
    private readonly onFatal: (err: Error) => void,
  ) {
    const lost = (why: string) => this.fail(new Error(`the durable store's session ended (${why}); this server stops serving so that another can take over`));
    session.on('error', (err: Error) => lost(err.message));
    session.on('end', () => lost('connection closed'));
    this.heartbeat = setInterval(() => {
      // An idle store still checks its session, so a lost lock is noticed without traffic.
      if (this.flushing || this.closed || Date.now() - this.lastActivity < 2000) return;
      this.lastActivity = Date.now();
      this.session.query('SELECT 1').catch((err: Error) => lost(err.message));
    }, 2000);
    this.heartbeat.unref();
  }

  /** Create the schema when it is missing; refuse a store written by a newer layout. */
  async ensureSchema(): Promise<void> {
    const s = this.schema;
    const { rows } = await this.session.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [`${s}.store_info`]);
    if (!rows[0]?.t) await this.session.query(storeSchemaSql(s));
    const { rows: v } = await this.session.query<{ value: string }>(`SELECT value FROM ${s}.store_info WHERE key = 'layout_version'`);
    const version = Number(v[0]?.value ?? STORE_LAYOUT_VERSION);
    if (version > STORE_LAYOUT_VERSION) {
      throw new Error(`the durable store "${s}" has layout version ${version}, newer than this server understands (${STORE_LAYOUT_VERSION}): upgrade fraiseql-observers`);
    }
  }

  /** Everything in the store, runs oldest first. */
  async load(): Promise<{ namespaces: StoredNamespace[]; runs: StoredRun[] }> {
    const s = this.schema;
    const ns = await this.session.query<{ name: string; id: string; retention_ms: string; search_attributes: Record<string, SearchAttributeType> }>(
      `SELECT name, id::text, retention_ms::text, search_attributes FROM ${s}.namespaces ORDER BY name`,
    );
    const runsRes = await this.session.query<{ run_id: string; namespace: string; workflow_id: string; seq: string; request_id: string; user_metadata: Buffer | null; state: Buffer | null }>(
      `SELECT run_id::text, namespace, workflow_id, seq::text, request_id, user_metadata, state FROM ${s}.runs ORDER BY seq`,
    );
    const byId = new Map<string, StoredRun>();
    const runs: StoredRun[] = [];
    for (const r of runsRes.rows) {
      const run: StoredRun = {
        runId: r.run_id, namespace: r.namespace, workflowId: r.workflow_id, seq: Number(r.seq), requestId: r.request_id,
        userMetadata: decodeUserMetadata(r.user_metadata), saved: decodeSavedState(r.state), events: [], batchStarts: [],
      };
      byId.set(run.runId, run);
      runs.push(run);
      if (run.seq >= this.nextSeq) this.nextSeq = run.seq + 1;
      this.tracks.set(run.runId, { ns: run.namespace, seq: run.seq, persisted: 0, inserted: true, state: r.state, status: 0 });
    }
    // Keyset pages keep the memory of one query bounded on a large store.
    let after: [string, number] = ['00000000-0000-0000-0000-000000000000', 0];
    for (;;) {
      const { rows } = await this.session.query<{ run_id: string; first_event_id: number; events: Buffer }>(
        `SELECT run_id::text, first_event_id, events FROM ${s}.history
          WHERE (run_id, first_event_id) > ($1::uuid, $2::int) ORDER BY run_id, first_event_id LIMIT 2000`,
        after,
      );
      for (const row of rows) {
        const run = byId.get(row.run_id);
        if (!run) continue;
        const events = decodeEvents(row.events);
        if (events[0]?.eventId !== run.events.length + 1) {
          throw new Error(`the durable store "${s}" is inconsistent: run ${row.run_id} has a history batch starting at event ${events[0]?.eventId} after ${run.events.length} events`);
        }
        run.batchStarts.push(run.events.length + 1);
        run.events.push(...events);
      }
      if (rows.length < 2000) break;
      const last = rows[rows.length - 1]!;
      after = [last.run_id, last.first_event_id];
    }
    const complete = runs.filter((r) => r.events.length > 0);
    for (const r of complete) this.tracks.get(r.runId)!.persisted = r.events.length;
    return {
      namespaces: ns.rows.map((r) => ({ name: r.name, id: r.id, retentionMs: Number(r.retention_ms), searchAttributes: r.search_attributes })),
      runs: complete,
    };
  }

  /** Where the namespaces to save come from (the server state), set when attached. */
  setNamespaceSource(source: () => Namespace[]): void {
    this.namespaceSource = source;
  }

  // ------------------------------------------------------------------ hooks (ServerStoreHooks)

  runChanged(ns: Namespace, run: WorkflowRun): void {
    if (this.failure) return;
    if (!this.dirty.has(run.runId)) this.dirty.set(run.runId, { ns, run });
    if (!this.tracks.has(run.runId)) {
      this.tracks.set(run.runId, { ns: ns.namespace, seq: this.nextSeq++, persisted: 0, inserted: false, state: null, status: 0 });
    }
    this.bump();
  }

  runRemoved(_ns: Namespace, run: WorkflowRun): void {
    if (this.failure) return;
    this.dirty.delete(run.runId);
    const t = this.tracks.get(run.runId);
    this.tracks.delete(run.runId);
    if (t?.inserted) this.removed.add(run.runId);
    this.bump();
  }

  namespacesChanged(): void {
    if (this.failure) return;
    this.namespacesDirty = true;
    this.bump();
  }

  private bump(): void {
    this.epoch++;
    if (!this.flushing && !this.scheduled) {
      this.scheduled = true;
      // Deferred: every change made by the calls handled in this turn of the event loop joins the batch.
      setImmediate(() => {
        this.scheduled = false;
        void this.flushLoop();
      });
    }
  }

  /**
   * Resolves when every change made before the call is committed; rejects (UNAVAILABLE) when the
   * store failed and this server no longer serves.
   */
  sync(): Promise<void> {
    if (this.failure) return Promise.reject(this.unavailable());
    if (this.committed >= this.epoch) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ target: this.epoch, resolve, reject }));
  }

  /** True when nothing waits to be written. */
  get idle(): boolean {
    return this.committed >= this.epoch;
  }

  private unavailable(): ServiceError {
    return new ServiceError(UNAVAILABLE, `embedded Temporal server: durable store failed: ${this.failure?.message ?? 'closed'}`);
  }

  private async flushLoop(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (!this.failure && this.committed < this.epoch) {
        const target = this.epoch;
        const batch = this.takeBatch();
        if (batch) {
          this.lastActivity = Date.now();
          await queryPrepared(this.session, 'fraiseql-store', batch.text, batch.values);
          this.stats.commits++;
        }
        this.committed = target;
        this.releaseWaiters();
      }
    } catch (err) {
      this.fail(new Error(`writing to the durable store failed: ${(err as Error).message}`, { cause: err }));
    } finally {
      this.flushing = false;
    }
  }

  private releaseWaiters(): void {
    if (this.waiters.length === 0) return;
    const keep: Waiter[] = [];
    for (const w of this.waiters) {
      if (w.target <= this.committed) w.resolve();
      else keep.push(w);
    }
    this.waiters = keep;
  }

  /** Build one statement for everything dirty now (synchronously, so it is a consistent cut). */
  private takeBatch(): { text: string; values: unknown[] } | null {
    // Binary parts travel as one bytea parameter (sent in binary) with offsets and lengths: cheaper
    // than bytea[] parameters, which node-pg turns into hex text.
    const blob = new BlobPacker();
    const r = { id: [] as string[], ns: [] as string[], wf: [] as string[], seq: [] as number[], req: [] as string[], meta: [] as Array<[number, number]>, state: [] as Array<[number, number]>, status: [] as number[], close: [] as (Date | null)[] };
    const h = { id: [] as string[], first: [] as number[], last: [] as number[], events: [] as Array<[number, number]> };
    for (const { run } of this.dirty.values()) {
      const t = this.tracks.get(run.runId);
      if (!t) continue;
      if (run.historyLength > t.persisted) {
        // A row per history batch, so that a restarted server pages the history the same way.
        const starts = run.batchStarts;
        const history = run.history;
        for (let i = run.batchIndexOf(t.persisted + 1); i < starts.length; i++) {
          const first = Math.max(starts[i]!, t.persisted + 1);
          const last = i + 1 < starts.length ? starts[i + 1]! - 1 : run.historyLength;
          h.id.push(run.runId);
          h.first.push(first);
          h.last.push(last);
          h.events.push(blob.add(encodeEvents(history.slice(first - 1, last))));
        }
        this.stats.eventsWritten += run.historyLength - t.persisted;
        t.persisted = run.historyLength;
      }
      const state = encodeSavedState(run.savedState());
      const stateChanged = !(state === null ? t.state === null : t.state !== null && state.equals(t.state));
      if (!t.inserted || stateChanged || t.status !== run.status) {
        r.id.push(run.runId);
        r.ns.push(t.ns);
        r.wf.push(run.workflowId);
        r.seq.push(t.seq);
        r.req.push(run.start.requestId);
        r.meta.push(blob.add(t.inserted ? null : encodeUserMetadata(run.start.userMetadata)));
        r.state.push(blob.add(state));
        r.status.push(run.status);
        r.close.push(run.closeTime !== null ? new Date(run.closeTime) : null);
        t.inserted = true;
        t.state = state;
        t.status = run.status;
        this.stats.runsWritten++;
      }
    }
    this.dirty.clear();
    const removed = [...this.removed];
    this.removed.clear();
    let namespaces: Namespace[] = [];
    if (this.namespacesDirty && this.namespaceSource) namespaces = this.namespaceSource();
    this.namespacesDirty = false;

    const s = this.schema;
    const parts: string[] = [];
    const values: unknown[] = [];
    const p = (v: unknown) => {
      values.push(v);
      return `$${values.length}`;
    };
    const b = r.id.length > 0 || h.id.length > 0 ? p(blob.finish()) : '';
    const part = (i: string) => `CASE WHEN ${i}_len < 0 THEN NULL ELSE substring(${b}::bytea FROM ${i}_off + 1 FOR ${i}_len) END`;
    const offs = (refs: Array<[number, number]>) => `${p(refs.map((x) => x[0]))}::int[], ${p(refs.map((x) => x[1]))}::int[]`;
    if (r.id.length > 0) {
      parts.push(`r AS (INSERT INTO ${s}.runs (run_id, namespace, workflow_id, seq, request_id, user_metadata, state, status, close_time)
        SELECT x.id, x.ns, x.wf, x.seq, x.req, ${part('x.meta')}, ${part('x.state')}, x.status, x.close
          FROM unnest(${p(r.id)}::uuid[], ${p(r.ns)}::text[], ${p(r.wf)}::text[], ${p(r.seq)}::bigint[], ${p(r.req)}::text[],
                      ${offs(r.meta)}, ${offs(r.state)}, ${p(r.status)}::smallint[], ${p(r.close)}::timestamptz[])
               AS x(id, ns, wf, seq, req, meta_off, meta_len, state_off, state_len, status, close)
        ON CONFLICT (run_id) DO UPDATE SET state = EXCLUDED.state, status = EXCLUDED.status, close_time = EXCLUDED.close_time)`);
    }
    if (h.id.length > 0) {
      parts.push(`h AS (INSERT INTO ${s}.history (run_id, first_event_id, last_event_id, events)
        SELECT x.id, x.first, x.last, ${part('x.ev')}
          FROM unnest(${p(h.id)}::uuid[], ${p(h.first)}::int[], ${p(h.last)}::int[], ${offs(h.events)}) AS x(id, first, last, ev_off, ev_len))`);
    }
    if (removed.length > 0) {
      const ids = p(removed);
      parts.push(`dh AS (DELETE FROM ${s}.history WHERE run_id = ANY(${ids}::uuid[]))`);
      parts.push(`dr AS (DELETE FROM ${s}.runs WHERE run_id = ANY(${ids}::uuid[]))`);
    }
    if (namespaces.length > 0) {
      const sas = namespaces.map((n) => JSON.stringify(Object.fromEntries(n.searchAttributes)));
      parts.push(`n AS (INSERT INTO ${s}.namespaces (name, id, retention_ms, search_attributes)
        SELECT name, id, retention_ms, sa::jsonb FROM unnest(${p(namespaces.map((n) => n.namespace))}::text[], ${p(namespaces.map((n) => n.namespaceId))}::uuid[],
                                                          ${p(namespaces.map((n) => n.retentionMs))}::bigint[], ${p(sas)}::text[]) AS x(name, id, retention_ms, sa)
        ON CONFLICT (name) DO UPDATE SET id = EXCLUDED.id, retention_ms = EXCLUDED.retention_ms, search_attributes = EXCLUDED.search_attributes, updated_at = now())`);
    }
    if (parts.length === 0) return null;
    // One statement is one transaction and one round trip.
    return { text: `WITH ${parts.join(',\n')} SELECT 1`, values };
  }

  private fail(err: Error): void {
    if (this.failure || this.closed) return;
    this.failure = err;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(this.unavailable());
    if (this.heartbeat) clearInterval(this.heartbeat);
    destroySession(this.session);
    this.onFatal(err);
  }

  /** Write what is pending, then release the lock and close the session. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (!this.failure) {
      await this.sync().catch(() => undefined);
    }
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.session.removeAllListeners('end');
    await endSession(this.session);
  }

  /** Drop the session as a crash would (tests): the lock is freed, nothing pending is written. */
  crash(): void {
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.session.removeAllListeners('end');
    destroySession(this.session);
  }
}
