/**
 * Activity functions for observer actions, built from injected dependencies.
 *
 * Each function runs one attempt of one action. Failures leave as `ApplicationFailure`s whose
 * `type` names the cause and whose `nonRetryable` / `nextRetryDelay` tell Temporal what to do;
 * nothing here retries by itself.
 */
import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { Redis, type RedisOptions } from 'ioredis';
import { createTransport, type Transporter } from 'nodemailer';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { actionCacheMetrics } from '../metrics/action-cache';
import { CircuitBreaker, type CircuitBreakerStore } from './breaker';
import { executeCache } from './cache';
import { executeDatabase } from './database';
import { executeEmail } from './email';
import { ErrorType, messageOf, toApplicationFailure } from './errors';
import { type DispatcherFactory, HttpClient } from './http-client';
import { executeLog } from './log';
import { actionMetrics } from './metrics';
import { ResultCache } from './result-cache';
import { MemoryResultCacheStore, type ResultCacheStore } from './result-cache-store';
import type { ActionRuntime, Attempt, Outcome, SmtpTransportOptions } from './runtime';
import { SecretScope } from './secrets';
import { executeSlack } from './slack';
import { type Resolver, SsrfGuard } from './ssrf';
import {
  ATTEMPT_MARGIN_MS,
  actionTimeoutMs,
  type ActionFailureDetails,
  type ActionInput,
  type ActionResult,
  type ActionSnapshot,
  type CacheAction,
  type CacheResult,
  type DatabaseAction,
  type DatabaseResult,
  type EmailAction,
  type EmailResult,
  type LogAction,
  type LogResult,
  type ObserverActivities,
  type SlackAction,
  type SlackResult,
  type WebhookAction,
  type WebhookResult,
} from '../contract';
import { executeWebhook } from './webhook';

export interface ActivityDeps {
  /** Where secrets named by actions (`*_env` fields) are looked up, at run time. */
  env: Record<string, string | undefined>;
  log: Logger;
  /** Circuit breaker state: `InMemoryBreakerStore` per process, or `RedisBreakerStore` shared. */
  breaker: CircuitBreakerStore;
  ssrf: {
    /** CIDR blocks and host names (each optionally `:port`) outgoing requests may reach despite being private. */
    allow: readonly string[];
    /** DNS resolver (tests); default `dns.lookup` with all addresses. */
    resolve?: Resolver;
    /** Reuse of a checked resolution, ms; default 10 000. */
    cacheMs?: number;
  };
  /** Builds the keep-alive HTTP pool from the options given (which pin checked addresses); default `new Agent(options)`. */
  http?: DispatcherFactory;
  /** The worker's Redis, for cache actions. */
  redis?: Redis;
  /** Client for a Redis URL named by `redis_url_env`, connecting to `options.host` (the checked address); default `new Redis(url, options)`. */
  redisFactory?: (url: string, options: RedisOptions) => Redis;
  db?: Pool;
  /** SMTP transport factory; default nodemailer's pooled SMTP transport. */
  smtp?: (options: SmtpTransportOptions) => Transporter;
  /** Registry for action and breaker metrics; none → no metrics. */
  metrics?: Registry;
  clock?: () => number;
  /**
   * Where actions with `cache:` keep their outcomes (`RedisResultCacheStore` shared by the workers,
   * or `MemoryResultCacheStore`); default: this activities object's memory.
   */
  resultCache?: ResultCacheStore;
  /** Prefix of the result cache's keys (see `redisNamespace`); default `fo:fraiseql-event`. */
  cacheNamespace?: string;
}

/** How often an attempt heartbeats: well inside the workflow's heartbeat timeout. */
const HEARTBEAT_EVERY_MS = 5_000;

type Executor<A extends ActionSnapshot, R extends ActionResult> = (rt: ActionRuntime, input: ActionInput<A>, at: Attempt) => Promise<Outcome<R>>;

const closers = new WeakMap<object, () => Promise<void>>();

/** The observer name for metrics: explicit, or the action key up to its last `:`. */
function observerOf(input: ActionInput): string {
  if (typeof input.observer === 'string' && input.observer) return input.observer;
  const key = typeof input.action?.key === 'string' ? input.action.key : '';
  const cut = key.lastIndexOf(':');
  return cut > 0 ? key.slice(0, cut) : key || 'unknown';
}

function currentContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    // Called outside a worker (benchmarks, scripts): no heartbeat, no cancellation.
    return undefined;
  }
}

/**
 * Adds the attempt number (so the workflow and the DLQ can tell how many attempts were made) and,
 * for a `linear` backoff that Temporal's retry policy cannot express, the next retry delay.
 */
function withAttempt(failure: ApplicationFailure, attempt: number, backoff: ActionInput['backoff']): ApplicationFailure {
  let nextRetryDelay = failure.nextRetryDelay ?? undefined;
  if (nextRetryDelay === undefined && !failure.nonRetryable && backoff?.kind === 'linear') {
    nextRetryDelay = Math.max(1, Math.min(backoff.initialDelayMs * attempt, backoff.maxDelayMs));
  }
  const details: ActionFailureDetails[] = [{ attempt }];
  return ApplicationFailure.create({
    type: failure.type ?? ErrorType.Unexpected,
    message: failure.message,
    nonRetryable: failure.nonRetryable === true,
    nextRetryDelay,
    details,
  });
}

/**
 * Until when (by `clock`) this attempt may wait for an open breaker: its start-to-close timeout
 * minus the time the call itself may need. Outside a worker, or with a short timeout, not at all.
 */
function waitBudgetEnd(ctx: Context | undefined, action: ActionSnapshot | undefined, clock: () => number): number {
  const total = ctx?.info.startToCloseTimeoutMs;
  if (total === undefined || action === undefined || typeof action.type !== 'string') return 0;
  return clock() + total - actionTimeoutMs(action) - ATTEMPT_MARGIN_MS;
}

function assertInput(input: ActionInput, type: string): void {
  const problem =
    !input || typeof input !== 'object' ? 'input is not an object'
    : !input.event || typeof input.event.id !== 'string' ? 'input.event.id is missing'
    : !input.action || input.action.type !== type ? `input.action.type is ${JSON.stringify(input.action?.type)}, expected ${type}`
    : typeof input.action.key !== 'string' || input.action.key === '' ? 'input.action.key is missing'
    : undefined;
  if (problem) throw ApplicationFailure.create({ type: ErrorType.InvalidAction, message: problem, nonRetryable: true });
}

/**
 * Builds the action activities. No client is created at import time; everything comes from `deps`
 * or is created here and released by {@link closeActivities}.
 *
 * @throws Error when `deps.ssrf.allow` holds an entry that is neither an address, CIDR nor host name.
 */
export function createActivities(deps: ActivityDeps): ObserverActivities {
  const clock = deps.clock ?? Date.now;
  const metrics = actionMetrics(deps.metrics);
  const guard = new SsrfGuard({ allow: deps.ssrf.allow, resolve: deps.ssrf.resolve, cacheMs: deps.ssrf.cacheMs, clock });
  const http = new HttpClient(guard, deps.http);
  const breaker = new CircuitBreaker(deps.breaker, {
    clock,
    onState: (target, state) => metrics.breakerState(target, state),
    onRefused: (target) => metrics.breakerRefusal(target),
    onStoreError: (target, err) => deps.log.warn({ target, err: messageOf(err) }, 'circuit breaker store unavailable; calling the target unguarded'),
  });
  const resultCache = new ResultCache({
    store: deps.resultCache ?? new MemoryResultCacheStore(clock),
    namespace: deps.cacheNamespace ?? 'fo:fraiseql-event',
    metrics: actionCacheMetrics(deps.metrics ?? new Registry()),
    log: deps.log,
    clock,
  });
  const redisClients = new Map<string, Redis>();
  const transports = new Map<string, Transporter>();
  const rt: ActionRuntime = {
    http,
    guard,
    breaker,
    redis: deps.redis,
    redisFor(url, address) {
      const id = `${address}\u0000${url}`;
      let client = redisClients.get(id);
      if (!client) {
        const parsed = new URL(url);
        // Connect to the address the SSRF guard checked; TLS still verifies the name in the URL.
        const options: RedisOptions = {
          host: address,
          maxRetriesPerRequest: 2,
          ...(parsed.protocol === 'rediss:' ? { tls: { servername: parsed.hostname.replace(/^\[|\]$/g, '') } } : {}),
        };
        client = deps.redisFactory ? deps.redisFactory(url, options) : new Redis(url, options);
        redisClients.set(id, client);
      }
      return client;
    },
    db: deps.db,
    smtpFor(options) {
      // The password is part of the identity (a rotated one needs a new pool) but only as a hash.
      const id = JSON.stringify({ ...options, auth: options.auth && { user: options.auth.user, pass: createHash('sha256').update(options.auth.pass).digest('hex') } });
      let transport = transports.get(id);
      if (!transport) {
        transport = deps.smtp ? deps.smtp(options) : createTransport({ ...options, pool: true, maxConnections: 5 });
        transports.set(id, transport);
      }
      return transport;
    },
    clock,
  };

  function activity<A extends ActionSnapshot, R extends ActionResult>(type: A['type'], execute: Executor<A, R>) {
    return async (input: ActionInput<A>): Promise<R> => {
      const started = performance.now();
      const observer = observerOf(input);
      const ctx = currentContext();
      const secrets = new SecretScope(deps.env);
      const log = deps.log.child({
        event_id: input?.event?.id,
        workflow_id: ctx?.info.workflowExecution?.workflowId,
        action_key: input?.action?.key,
        action_type: type,
        observer,
        attempt: ctx?.info.attempt,
      });
      // Heartbeats keep a long attempt (one waiting for a circuit breaker) visible to Temporal.
      const heartbeat = ctx ? () => ctx.heartbeat() : () => undefined;
      const beat = ctx ? setInterval(heartbeat, HEARTBEAT_EVERY_MS) : undefined;
      beat?.unref();
      try {
        assertInput(input, type);
        const attempt: Attempt = { secrets, log, signal: ctx?.cancellationSignal, heartbeat, waitUntil: waitBudgetEnd(ctx, input.action, clock) };
        const outcome = await resultCache.run(input, type, { observer, log, signal: attempt.signal, heartbeat: ctx ? heartbeat : undefined }, () => execute(rt, input, attempt));
        const durationMs = performance.now() - started;
        metrics.attempt(type, observer, durationMs / 1000);
        log.debug({ duration_ms: Math.round(durationMs) }, 'action succeeded');
        return { ...outcome, duration_ms: Math.round(durationMs), ...(ctx ? { attempt: ctx.info.attempt } : {}) } as R;
      } catch (err) {
        const failure = withAttempt(toApplicationFailure(err, (text) => secrets.scrub(text)), ctx?.info.attempt ?? 1, input?.backoff);
        metrics.attempt(type, observer, (performance.now() - started) / 1000, failure.type ?? ErrorType.Unexpected);
        log.warn({ error_type: failure.type, retryable: !failure.nonRetryable, next_retry_delay: failure.nextRetryDelay }, `action failed: ${failure.message}`);
        throw failure;
      } finally {
        clearInterval(beat);
      }
    };
  }

  const activities: ObserverActivities = {
    runWebhook: activity<WebhookAction, WebhookResult>('webhook', executeWebhook),
    runSlack: activity<SlackAction, SlackResult>('slack', executeSlack),
    runEmail: activity<EmailAction, EmailResult>('email', executeEmail),
    runCache: activity<CacheAction, CacheResult>('cache', executeCache),
    runDatabase: activity<DatabaseAction, DatabaseResult>('database', executeDatabase),
    runLog: activity<LogAction, LogResult>('log', executeLog),
    async runAction(input) {
      const action = input?.action;
      switch (action?.type) {
        case 'webhook': return activities.runWebhook({ ...input, action });
        case 'slack': return activities.runSlack({ ...input, action });
        case 'email': return activities.runEmail({ ...input, action });
        case 'cache': return activities.runCache({ ...input, action });
        case 'database': return activities.runDatabase({ ...input, action });
        case 'log': return activities.runLog({ ...input, action });
        default:
          throw ApplicationFailure.create({ type: ErrorType.InvalidAction, message: `unknown action type ${JSON.stringify((action as { type?: unknown } | undefined)?.type)}`, nonRetryable: true });
      }
    },
  };

  closers.set(activities, async () => {
    await http.close();
    for (const t of transports.values()) t.close();
    await Promise.all([...redisClients.values()].map((c) => c.quit().catch(() => c.disconnect())));
  });
  return activities;
}

/** Releases the HTTP pool, SMTP pools and Redis clients an activities object created (not injected ones). */
export async function closeActivities(activities: ObserverActivities): Promise<void> {
  const close = closers.get(activities);
  closers.delete(activities);
  await close?.();
}

export { ActionError, ErrorType, permanent, transient } from './errors';
export { CircuitBreaker, DEFAULT_BREAKER_CONFIG, resolveBreakerConfig } from './breaker';
export type { BreakerConfig, BreakerDecision, BreakerSnapshot, BreakerStateName, CircuitBreakerStore } from './breaker';
export { InMemoryBreakerStore } from './breaker-memory';
export { MemoryResultCacheStore, RedisResultCacheStore, cacheKeys, type CachedOutcome, type ResultCacheStore } from './result-cache-store';
export { RedisBreakerStore } from './breaker-redis';
export { classifyIp, parseIp } from './ip';
export { SsrfGuard } from './ssrf';
export type { Resolver } from './ssrf';
export type { SmtpTransportOptions } from './runtime';
export type * from '../contract';
export type { ObserverActivities } from '../contract';
