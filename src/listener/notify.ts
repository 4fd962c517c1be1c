/**
 * LISTEN on a dedicated session. A notification only wakes the reader: the table stays the truth,
 * so after every (re)connect the reader is woken to re-read whatever it may have missed.
 * Reconnects use jittered, capped exponential backoff; a periodic ping catches sessions that died
 * without the socket noticing.
 */
import type { Client, ClientConfig } from 'pg';
import type { Logger } from 'pino';
import { quoteIdent } from '../db/identifiers';
import { backoffDelay, sleep } from './backoff';
import { destroySession, endSession, openSession } from './session';

/** Options of {@link NotifyListener}. */
export interface NotifyListenerOptions {
  clientConfig: ClientConfig;
  channel: string;
  listenerId: string;
  logger: Logger;
  /** A notification arrived. */
  onNotify: () => void;
  /** LISTEN is (re-)established: anything sent while disconnected was lost, so re-read. */
  onListening: () => void;
  pingMs?: number;
  maxBackoffMs?: number;
}

/** A self-healing LISTEN session. */
export class NotifyListener {
  private session: Client | null = null;
  private readonly stopped = new AbortController();
  private sessionDone: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private listening = false;

  constructor(private readonly opts: NotifyListenerOptions) {}

  /** True while LISTEN is active. */
  get connected(): boolean {
    return this.listening;
  }

  /** Start the connect/listen loop in the background. */
  start(): void {
    if (!this.loop) this.loop = this.run();
  }

  /** Stop listening and close the session. */
  async stop(): Promise<void> {
    this.stopped.abort();
    const s = this.session;
    this.session = null;
    this.listening = false;
    this.sessionDone?.();
    if (s) await endSession(s);
    await this.loop;
  }

  /** Drop the session abruptly (tests). */
  destroy(): void {
    this.stopped.abort();
    const s = this.session;
    this.session = null;
    this.listening = false;
    this.sessionDone?.();
    if (s) destroySession(s);
  }

  private async run(): Promise<void> {
    let failures = 0;
    const signal = this.stopped.signal;
    while (!signal.aborted) {
      let session: Client | null = null;
      const ended = new Promise<void>((resolve) => {
        this.sessionDone = resolve;
      });
      try {
        session = await openSession(this.opts.clientConfig, `fraiseql-observers listen ${this.opts.listenerId}`, (err) => {
          this.opts.logger.warn({ err: { message: err.message } }, 'LISTEN session failed; reconnecting');
          this.sessionDone?.();
        });
        session.on('end', () => this.sessionDone?.());
        session.on('notification', () => this.opts.onNotify());
        if (signal.aborted) {
          destroySession(session);
          break;
        }
        this.session = session;
        await session.query(`LISTEN ${quoteIdent(this.opts.channel)}`);
        this.listening = true;
        if (failures > 0) this.opts.logger.info({ channel: this.opts.channel }, 'LISTEN re-established');
        failures = 0;
        this.opts.onListening();
        await this.watch(session, ended, signal);
      } catch (err) {
        this.opts.logger.warn({ err: { message: (err as Error).message } }, 'LISTEN session could not be established');
      }
      this.listening = false;
      if (session && this.session === session) {
        this.session = null;
        destroySession(session);
      }
      if (signal.aborted) break;
      const delay = backoffDelay(failures++, { baseMs: 100, maxMs: this.opts.maxBackoffMs ?? 10_000 });
      await sleep(delay, signal);
    }
  }

  /** Resolve when the session ends, fails a ping, or the listener stops. */
  private async watch(session: Client, ended: Promise<void>, signal: AbortSignal): Promise<void> {
    const pingMs = this.opts.pingMs ?? 10_000;
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const tick = new Promise<'tick'>((resolve) => {
        timer = setTimeout(() => resolve('tick'), pingMs);
      });
      const r = await Promise.race([ended.then(() => 'ended' as const), tick]);
      clearTimeout(timer);
      if (r === 'ended' || signal.aborted) return;
      const deadline = new AbortController();
      const ok = await Promise.race([
        session.query('SELECT 1').then(() => true, () => false),
        sleep(Math.max(1000, pingMs / 2), deadline.signal).then(() => false),
      ]);
      deadline.abort();
      if (!ok) return;
    }
  }
}
