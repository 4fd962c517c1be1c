/**
 * What action implementations receive: the long-lived clients of one activities object, and the
 * per-attempt scope (secrets, logger, cancellation).
 */
import type { Redis } from 'ioredis';
import type { Transporter } from 'nodemailer';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import type { CircuitBreaker } from './breaker';
import type { HttpClient } from './http-client';
import type { ActionResult } from '../contract';
import type { SecretScope } from './secrets';
import type { SsrfGuard } from './ssrf';

/** SMTP connection settings handed to the transport factory (password already resolved). */
export interface SmtpTransportOptions {
  host: string;
  port: number;
  secure: boolean;
  auth?: { user: string; pass: string };
  /** TLS server name when `host` is the checked address of a name (the certificate names the host). */
  tls?: { servername: string };
  connectionTimeout: number;
  greetingTimeout: number;
  socketTimeout: number;
}

export interface ActionRuntime {
  http: HttpClient;
  /** The SSRF policy, for destinations that are not http(s) URLs (SMTP servers, Redis URLs). */
  guard: SsrfGuard;
  breaker: CircuitBreaker;
  /** The worker's Redis (cache actions without `redis_url_env`). */
  redis: Redis | undefined;
  /** A client for a Redis URL named by an action, connected to `address` (checked by the guard), created once per pair. */
  redisFor(url: string, address: string): Redis;
  db: Pool | undefined;
  /** A (pooled) SMTP transport for these settings, created once per settings. */
  smtpFor(options: SmtpTransportOptions): Transporter;
  clock: () => number;
}

/** One attempt of one action. */
export interface Attempt {
  secrets: SecretScope;
  /** Child logger carrying event id, workflow id, action key and attempt. */
  log: Logger;
  /** Aborts when the activity is cancelled. */
  signal: AbortSignal | undefined;
  /** Keeps the attempt alive while it waits (a heartbeat); a no-op outside a worker. */
  heartbeat: () => void;
  /** Until when (epoch ms by the runtime clock) the attempt may wait for an open circuit breaker. */
  waitUntil: number;
}

/** An action's result before the wrapper adds its duration. */
export type Outcome<R extends ActionResult> = Omit<R, 'duration_ms'>;
