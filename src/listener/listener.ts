/**
 * The change-log listener: competes for leadership of its listener id, and while leader runs a
 * {@link LeaderTerm} that turns committed change-log rows into workflow starts. Standbys wait on
 * the lock. See DESIGN.md §4 for the guarantees and `cursor.ts` for the commit-order rule.
 */
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type { ClientConfig, Pool } from 'pg';
import pino, { type Logger } from 'pino';
import { Registry } from 'prom-client';
import { explainConnectionError } from '../db/errors';
import { clientConfigOf, createPool } from '../db/pool';
import { type ListenerMetrics, listenerMetrics } from '../metrics/registry';
import { sleep } from './backoff';
import { LeaderLease } from './lease';
import { NotifyListener } from './notify';
import { type ListenerOptions, type ResolvedListenerOptions, resolveListenerOptions } from './options';
import { buildReadSql, buildRecentSql } from './read-query';
import { type ChangeLogTableInfo, describeRls, inspectChangeLogTable } from './table-info';
import { LeaderTerm } from './term';

/** Lifecycle state of a listener process. */
export type ListenerState = 'new' | 'standby' | 'leader' | 'stopping' | 'stopped';

/** What `status` shows about a listener. */
export interface ListenerStatus {
  listenerId: string;
  instance: string;
  state: ListenerState;
  isLeader: boolean;
  /** Backend pid of the lease session (find it in pg_stat_activity). */
  leaseBackendPid: number | null;
  table: string | null;
  cursorColumn: string | null;
  /** Saved checkpoint (leader only). */
  checkpoint: string | null;
  /** Where the checkpoint will move next. */
  safePoint: string | null;
  highestSeen: string | null;
  /** Highest position visible in the table. */
  head: string | null;
  openGaps: number;
  oldestGap: string | null;
  inFlight: number;
  unacknowledged: number;
  notifyConnected: boolean;
  notifyTrigger: boolean;
  healthy: boolean;
  lastError: string | null;
  /** Row-level security filters this role's reads: rows outside the policies are never seen. */
  rlsHidesRows: boolean;
  rlsWarning: string | null;
}

/**
 * Listener events: `leader` (this process became leader), `standby` (lost leadership
 * involuntarily, with the reason), `checkpoint` (a saved position).
 */
export interface ListenerEvents {
  leader: [];
  standby: [reason: string];
  checkpoint: [position: string];
}

/** One listener process for one listener id. */
export class ChangeLogListener extends EventEmitter<ListenerEvents> {
  private readonly o: ResolvedListenerOptions;
  private readonly logger: Logger;
  private readonly metrics: ListenerMetrics;
  private readonly clientConfig: ClientConfig;
  private readonly ownsPool: boolean;
  private readonly pool: Pool;
  private readonly lease: LeaderLease;
  private readonly lifecycle = new AbortController();
  private state: ListenerState = 'new';
  private table: ChangeLogTableInfo | null = null;
  private readSql = '';
  private recentSql = '';
  private term: LeaderTerm | null = null;
  private notifier: NotifyListener | null = null;
  private running: Promise<void> | null = null;
  private stopping = false;
  private killed = false;
  private lastError: string | null = null;

  constructor(options: ListenerOptions) {
    super();
    this.o = resolveListenerOptions(options, hostname());
    this.logger = (options.logger ?? pino({ level: 'silent' })).child({ listenerId: this.o.listenerId });
    this.metrics = options.metrics instanceof Registry ? listenerMetrics(options.metrics) : (options.metrics ?? listenerMetrics(new Registry()));
    this.ownsPool = !options.pool;
    this.pool = options.pool ?? createPool({ ...(options.connection ?? {}), connectionString: options.connectionString ?? options.connection?.connectionString, max: 4, logger: this.logger });
    this.clientConfig = options.connection ?? (options.connectionString ? { connectionString: options.connectionString } : clientConfigOf(this.pool));
    this.lease = new LeaderLease({
      clientConfig: this.clientConfig,
      listenerId: this.o.listenerId,
      retryMs: this.o.leaseRetryMs,
      heartbeatMs: this.o.heartbeatMs,
      logger: this.logger,
      onLost: (reason) => this.loseLeadership(reason),
      onReachability: (ok) => {
        if (!this.term) this.metrics.listenerHealth.set(ok ? 1 : 0);
      },
    });
  }

  /**
   * Inspect the change-log table (failing fast with a clear error when it is missing, unreadable
   * or the server is unreachable), then compete for leadership in the background.
   */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error('Listener already started');
    try {
      await this.refreshTableInfo();
    } catch (err) {
      if (this.ownsPool) await this.pool.end().catch(() => undefined);
      this.state = 'stopped';
      throw explainConnectionError(err, this.o.connectionString ?? this.o.connection?.connectionString);
    }
    const t = this.table!;
    if (t.sequenceCache !== null && t.sequenceCache > 1) {
      this.logger.warn({ table: t.display, cache: t.sequenceCache }, 'the cursor sequence has CACHE > 1: positions are not allocated in order across sessions, which weakens gap detection; use CACHE 1');
    }
    if (this.o.notify && !t.hasNotifyTrigger) {
      this.logger.info({ table: t.display, pollIntervalMs: this.o.pollIntervalMs }, `no trigger on the table notifies ${this.o.notifyChannel}; changes are found by polling (run \`fraiseql-observers migrate\` to add one)`);
    }
    this.state = 'standby';
    this.metrics.listenerHealth.set(1);
    this.running = this.run();
  }

  /** Resolve once this process is the leader (or reject after `timeoutMs`). */
  whenLeader(timeoutMs = 30_000): Promise<void> {
    if (this.state === 'leader') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('leader', onLeader);
        reject(new Error(`Listener ${this.o.listenerId} did not become leader within ${timeoutMs} ms`));
      }, timeoutMs);
      const onLeader = () => {
        clearTimeout(timer);
        resolve();
      };
      this.once('leader', onLeader);
    });
  }

  /** Graceful stop: finish in-flight starts, save the checkpoint, release the lease, close connections. */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.stopping) return this.running ?? undefined;
    this.stopping = true;
    if (this.state === 'new') {
      this.state = 'stopped';
      if (this.ownsPool) await this.pool.end().catch(() => undefined);
      return;
    }
    this.state = 'stopping';
    this.lifecycle.abort();
    const term = this.term;
    if (term) await term.drain(this.o.stopTimeoutMs);
    await this.running;
    await this.closeAll();
  }

  /** Abrupt stop for tests: drop every connection at once, saving nothing (as a crash would). */
  async kill(): Promise<void> {
    if (this.state === 'stopped') return;
    this.killed = true;
    this.stopping = true;
    this.lifecycle.abort();
    this.term?.abort();
    this.notifier?.destroy();
    this.lease.destroy();
    await this.running;
    await this.closeAll();
  }

  /** The listener's current state. */
  status(): ListenerStatus {
    const t = this.term?.snapshot();
    const rlsWarning = this.table ? describeRls(this.table) : null;
    return {
      listenerId: this.o.listenerId,
      instance: this.o.instanceName,
      state: this.state,
      isLeader: this.state === 'leader',
      leaseBackendPid: this.lease.backendPid,
      table: this.table?.display ?? null,
      cursorColumn: this.table?.cursorColumn ?? null,
      checkpoint: t?.saved ?? null,
      safePoint: t?.safePoint ?? null,
      highestSeen: t?.highestSeen ?? null,
      head: t?.head ?? null,
      openGaps: t?.openGaps ?? 0,
      oldestGap: t?.oldestGap ?? null,
      inFlight: t?.inFlight ?? 0,
      unacknowledged: t?.unacknowledged ?? 0,
      notifyConnected: this.notifier?.connected ?? false,
      notifyTrigger: this.table?.hasNotifyTrigger ?? false,
      healthy: t ? t.healthy : this.state === 'standby' && this.lease.lastError === null,
      lastError: t?.lastError ?? this.lease.lastError ?? this.lastError,
      rlsHidesRows: rlsWarning !== null,
      rlsWarning,
    };
  }

  private async refreshTableInfo(): Promise<void> {
    const info = await inspectChangeLogTable(this.pool, this.o.table, this.o.notifyChannel, this.o.cursorColumn);
    const before = this.table ? describeRls(this.table) : null;
    this.table = info;
    this.readSql = buildReadSql(info);
    this.recentSql = buildRecentSql(info);
    const warning = describeRls(info);
    this.metrics.rlsHidesRows.set(warning ? 1 : 0);
    if (warning && warning !== before) this.logger.warn({ table: info.display, role: info.rls.role, owner: info.rls.owner }, warning);
  }

  private async run(): Promise<void> {
    while (!this.lifecycle.signal.aborted) {
      this.state = 'standby';
      const acquired = await this.lease.acquire(this.lifecycle.signal);
      if (!acquired) break;
      await this.lead();
      if (this.lifecycle.signal.aborted) break;
      // Give an established standby the chance to take over before competing again.
      await sleep(this.o.rejoinDelayMs, this.lifecycle.signal);
    }
  }

  private async lead(): Promise<void> {
    const term = new LeaderTerm({
      options: this.o,
      pool: this.pool,
      readSql: this.readSql,
      recentSql: this.recentSql,
      leaseKey: this.lease.key,
      leaseSession: () => this.lease.client,
      logger: this.logger,
      metrics: this.metrics,
      onCheckpoint: (position) => this.emit('checkpoint', position),
      onFenced: (reason) => {
        this.lease.destroy();
        this.loseLeadership(reason);
      },
    });
    this.term = term;
    this.state = 'leader';
    this.metrics.listenerIsLeader.set(1);
    this.logger.info({ leaseBackendPid: this.lease.backendPid }, 'became leader');
    this.emit('leader');
    try {
      await this.refreshTableInfo().catch((err: Error) => this.logger.warn({ err: { message: err.message } }, 'cannot refresh change-log table info'));
      if (this.o.notify) {
        this.notifier = new NotifyListener({
          clientConfig: this.clientConfig,
          channel: this.o.notifyChannel,
          listenerId: this.o.listenerId,
          logger: this.logger,
          onNotify: () => term.wake(),
          onListening: () => term.wake(),
        });
        this.notifier.start();
      }
      await term.run();
    } catch (err) {
      this.lastError = (err as Error).message;
      this.logger.error({ err: { message: (err as Error).message } }, 'leader term failed; giving up leadership');
      term.abort();
    } finally {
      const notifier = this.notifier;
      this.notifier = null;
      if (notifier) {
        if (this.killed) notifier.destroy();
        else await notifier.stop();
      }
      if (this.stopping && !this.killed) {
        // stop() drains the term; wait for that before letting the lock go.
        while (!term.signal.aborted) await sleep(20);
        await this.lease.release();
      } else if (!this.killed && this.lease.isHeld) {
        await this.lease.release();
      }
      this.metrics.listenerIsLeader.set(0);
      if (this.term === term) this.term = null;
    }
  }

  private loseLeadership(reason: string): void {
    const term = this.term;
    if (!term || term.signal.aborted || this.killed) return;
    this.logger.warn({ reason }, 'lost leadership; stopping at once');
    term.abort();
    this.metrics.listenerIsLeader.set(0);
    if (!this.stopping) this.state = 'standby';
    this.emit('standby', reason);
  }

  private async closeAll(): Promise<void> {
    if (!this.killed) await this.lease.release();
    this.metrics.listenerIsLeader.set(0);
    this.metrics.listenerHealth.set(0);
    if (this.ownsPool) await this.pool.end().catch(() => undefined);
    this.state = 'stopped';
  }
}
