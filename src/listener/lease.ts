/**
 * Leadership through a session-level advisory lock on a dedicated session. Standbys try the lock
 * every `retryMs` (≤ 1 s); when the leader's session dies the server releases the lock at once, so
 * a standby takes over within about one retry interval. The leader watches its session (error and
 * end events, plus a heartbeat query) and reports the loss immediately.
 */
import type { Client, ClientConfig } from 'pg';
import type { Logger } from 'pino';
import { type AdvisoryKey, advisoryKey } from '../db/advisory';
import { backoffDelay, sleep } from './backoff';
import { destroySession, endSession, openSession } from './session';

/** Options of {@link LeaderLease}. */
export interface LeaseOptions {
  clientConfig: ClientConfig;
  listenerId: string;
  /** Interval between lock attempts while standing by (capped at 1000 ms). */
  retryMs: number;
  /** Interval of the leader's liveness query. */
  heartbeatMs: number;
  logger: Logger;
  /** Called once per term when leadership is lost involuntarily. */
  onLost: (reason: string) => void;
  /** Called when PostgreSQL becomes unreachable for the lease (false) or reachable again (true). */
  onReachability?: (ok: boolean) => void;
}

/** Advisory-lock leadership for one listener id. */
export class LeaderLease {
  readonly key: AdvisoryKey;
  private session: Client | null = null;
  private pid: number | null = null;
  private held = false;
  private heartbeat: NodeJS.Timeout | null = null;
  private heartbeatStartedAt: number | null = null;
  private closing = false;
  private failure: string | null = null;

  constructor(private readonly opts: LeaseOptions) {
    this.key = advisoryKey('listener', opts.listenerId);
  }

  /** True while this process holds the lock. */
  get isHeld(): boolean {
    return this.held;
  }

  /** Why the last attempt to reach PostgreSQL failed, or null when the lease session works. */
  get lastError(): string | null {
    return this.failure;
  }

  /** Backend pid of the lease session (to find it in pg_stat_activity), or null. */
  get backendPid(): number | null {
    return this.pid;
  }

  /** The lease session, for writes that must be fenced by leadership; null unless held. */
  get client(): Client | null {
    return this.held ? this.session : null;
  }

  /** Try until the lock is held (true) or `signal` aborts (false). */
  async acquire(signal: AbortSignal): Promise<boolean> {
    const retryMs = Math.min(this.opts.retryMs, 1000);
    let failures = 0;
    this.closing = false;
    while (!signal.aborted) {
      try {
        const session = this.session ?? (await this.connect());
        if (signal.aborted) break;
        const { rows } = await session.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [this.key.key]);
        failures = 0;
        if (this.failure !== null) {
          this.failure = null;
          this.opts.onReachability?.(true);
        }
        if (rows[0]?.ok) {
          if (signal.aborted) {
            await session.query('SELECT pg_advisory_unlock($1::bigint)', [this.key.key]).catch(() => undefined);
            break;
          }
          this.held = true;
          this.startHeartbeat();
          return true;
        }
        await sleep(retryMs, signal);
      } catch (err) {
        this.dropSession();
        if (this.failure === null) this.opts.onReachability?.(false);
        this.failure = errInfo(err).message;
        const delay = backoffDelay(failures++, { baseMs: 100, maxMs: retryMs });
        this.opts.logger.warn({ err: errInfo(err), retryInMs: delay }, 'leader lease: cannot reach PostgreSQL');
        await sleep(delay, signal);
      }
    }
    return false;
  }

  /** Give leadership up politely: unlock, then close the session. */
  async release(): Promise<void> {
    this.closing = true;
    this.stopHeartbeat();
    const session = this.session;
    const wasHeld = this.held;
    this.held = false;
    this.session = null;
    this.pid = null;
    if (!session) return;
    if (wasHeld) await session.query('SELECT pg_advisory_unlock($1::bigint)', [this.key.key]).catch(() => undefined);
    await endSession(session);
  }

  /** Drop the session abruptly (a crash, for tests): the server frees the lock when it notices. */
  destroy(): void {
    this.closing = true;
    this.stopHeartbeat();
    this.held = false;
    if (this.session) destroySession(this.session);
    this.session = null;
    this.pid = null;
  }

  private async connect(): Promise<Client> {
    let opened: Client | null = null;
    const session = await openSession(this.opts.clientConfig, `fraiseql-observers lease ${this.opts.listenerId}`, (err) => {
      if (opened) this.onSessionFailure(opened, `lease session error: ${err.message}`);
    });
    opened = session;
    session.on('end', () => this.onSessionFailure(session, 'lease session closed'));
    try {
      // Keepalives make the server notice a vanished leader host within seconds, so its lock is
      // released. Checkpoint saves go through this session and need no fsync: a save lost in a
      // server crash only makes the next leader re-read rows, which workflow-id dedup absorbs;
      // WAL order still guarantees a surviving save never outlives the records written before it.
      await session.query(
        'SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3; SET synchronous_commit = off',
      );
      const { rows } = await session.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      this.session = session;
      this.pid = rows[0]?.pid ?? null;
      return session;
    } catch (err) {
      destroySession(session);
      throw err;
    }
  }

  private onSessionFailure(session: Client, reason: string): void {
    if (session !== this.session || this.closing) return;
    const wasHeld = this.held;
    this.dropSession();
    if (wasHeld) this.opts.onLost(reason);
  }

  private dropSession(): void {
    this.stopHeartbeat();
    this.held = false;
    const s = this.session;
    this.session = null;
    this.pid = null;
    if (s) destroySession(s);
  }

  private startHeartbeat(): void {
    this.stopHeartbeat();
    this.heartbeat = setInterval(() => {
      const session = this.session;
      if (!session || !this.held) return;
      if (this.heartbeatStartedAt !== null) {
        // A liveness query that does not return within a few intervals means the session is unusable.
        if (Date.now() - this.heartbeatStartedAt > this.opts.heartbeatMs * 3) this.onSessionFailure(session, 'lease session heartbeat timed out');
        return;
      }
      this.heartbeatStartedAt = Date.now();
      session
        .query('SELECT 1')
        .then(() => {
          this.heartbeatStartedAt = null;
        })
        .catch((err: unknown) => {
          this.heartbeatStartedAt = null;
          this.onSessionFailure(session, `lease heartbeat failed: ${(err as Error).message}`);
        });
    }, this.opts.heartbeatMs);
    this.heartbeat.unref();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    this.heartbeatStartedAt = null;
  }
}

function errInfo(err: unknown): { message: string; code?: unknown } {
  const e = err as { message?: unknown; code?: unknown } | null;
  return { message: typeof e?.message === 'string' ? e.message : String(err), code: e?.code };
}
