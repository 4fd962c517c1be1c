/**
 * The action part of the contract: what an action looks like on its way from the observers file
 * to an activity, what the activity returns, and the defaults both sides rely on.
 *
 * Types and constants only (no I/O, nothing that runs): workflow code imports this file.
 * Everything here is recorded in Temporal history, so it never holds a secret: secrets are named
 * (`*_env` fields hold environment-variable NAMES) and resolved inside the activity.
 */
import type { z } from 'zod';
import type { actionSchema } from '../config/actions';
import type { ChangeEvent } from '../events/types';

/** One action as the observers file yields it after validation (defaults applied). */
export type ActionConfig = z.output<typeof actionSchema>;
type ActionConfigInput = z.input<typeof actionSchema>;
export type ActionType = ActionConfig['type'];

/** Keys the schema fills with a default: optional in what was written, always present after parsing. */
type DefaultedKeys<I, O> = {
  // `unknown` input (a preprocessed field) says nothing about defaults: such a field stays required.
  [K in keyof O]-?: K extends keyof I ? (unknown extends I[K] ? never : undefined extends I[K] ? (undefined extends O[K] ? never : K) : never) : never;
}[keyof O];

/**
 * A parsed action as workflow input. Derived from the schema, so a field the schema gains reaches
 * the activities with no second declaration. Fields the schema defaults are optional here: a
 * snapshot recorded before such a field existed still replays, and the activity applies the same
 * default.
 */
type SnapshotOf<T extends ActionType> = Omit<Extract<ActionConfig, { type: T }>, DefaultedKeys<Extract<ActionConfigInput, { type: T }>, Extract<ActionConfig, { type: T }>>> &
  Partial<Extract<ActionConfig, { type: T }>> & {
    type: T;
    /** `<observer>:<index>`: names the action in results, idempotency keys and DLQ retries. */
    key: string;
  };

export type WebhookAction = SnapshotOf<'webhook'>;
export type SlackAction = SnapshotOf<'slack'>;
export type EmailAction = SnapshotOf<'email'>;
export type CacheAction = SnapshotOf<'cache'>;
export type DatabaseAction = SnapshotOf<'database'>;
export type LogAction = SnapshotOf<'log'>;
export type ActionSnapshot = WebhookAction | SlackAction | EmailAction | CacheAction | DatabaseAction | LogAction;
export type HttpMethod = NonNullable<WebhookAction['method']>;
export type LogLevel = NonNullable<LogAction['level']>;
export type SmtpSettings = EmailAction['smtp'];

/**
 * The I/O timeout of one attempt when an action sets no `timeout_ms` (HTTP, SMTP), or the bound
 * the workflow gives an attempt of a type that has no timeout of its own (cache, database, log).
 */
export const DEFAULT_ACTION_TIMEOUT_MS: Readonly<Record<ActionType, number>> = {
  webhook: 10_000,
  slack: 10_000,
  email: 30_000,
  cache: 30_000,
  database: 30_000,
  log: 5_000,
};

/** The largest `timeout_ms` an action may set. */
export const MAX_ACTION_TIMEOUT_MS = 300_000;
/** What a webhook keeps of a 2xx answer when it sets no `max_response_bytes` (the rest is read and dropped). */
export const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;
/** What a Slack action keeps of an answer. */
export const SLACK_MAX_RESPONSE_BYTES = 64 * 1024;
/** Redirects an HTTP action follows at most. */
export const MAX_REDIRECTS = 5;
/** How long an attempt may run beyond the action's own I/O timeout before Temporal times it out. */
export const ATTEMPT_MARGIN_MS = 5_000;
/**
 * How long one attempt may wait for an open circuit breaker before it gives up (and only then
 * counts as an attempt). Part of the attempt's start-to-close timeout.
 */
export const BREAKER_WAIT_BUDGET_MS = 10 * 60_000;
/** An attempt that waits for a breaker heartbeats this often; Temporal declares it lost after the timeout. */
export const ACTION_HEARTBEAT_TIMEOUT_MS = 30_000;

/** Activity type per action type: one name per kind keeps the Web UI's event list readable. */
export const ACTIVITY_OF = {
  webhook: 'runWebhook',
  slack: 'runSlack',
  email: 'runEmail',
  cache: 'runCache',
  database: 'runDatabase',
  log: 'runLog',
} as const satisfies Record<ActionType, string>;

/** What every action activity receives. */
export interface ActionInput<A extends ActionSnapshot = ActionSnapshot> {
  event: ChangeEvent;
  action: A;
  /** Observer name for metrics and logs; default: `action.key` up to its last `:`. */
  observer?: string;
  /**
   * The observer's backoff, for what Temporal's retry policy cannot express: with `linear` the
   * activity sets each failure's next retry delay to `initialDelayMs × attempt` (capped).
   */
  backoff?: { kind: 'exponential' | 'linear' | 'fixed'; initialDelayMs: number; maxDelayMs: number };
}

/** `details[0]` of every ApplicationFailure an action activity raises. */
export interface ActionFailureDetails {
  /** The attempt that raised it (1-based). */
  attempt: number;
}

/** How the action result cache took part in an attempt (on every result of an action with `cache:`). */
export interface ResultCacheInfo {
  /** true: the action was not performed; the outcome is the one `event_id` produced `age_ms` ago. */
  hit: boolean;
  /** The logical key (rendered template or the default key `action:<type>:<entity type>:<entity id>`). */
  key: string;
  /** On a hit: the event whose run performed the action. */
  event_id?: string;
  /** On a hit: how old the reused outcome is. */
  age_ms?: number;
  /** On a miss: how long this outcome now stands in for the action. */
  ttl_ms?: number;
}

interface ResultBase {
  key: string;
  duration_ms: number;
  /** The attempt that succeeded (1-based); absent when run outside a worker. */
  attempt?: number;
  /** Present when the action has a `cache:` (see `activities/result-cache.ts`); `hit: true` means it was not performed this time. */
  cache?: ResultCacheInfo;
}

export interface WebhookResult extends ResultBase {
  type: 'webhook';
  status_code: number;
  /** Final URL after redirects, without credentials (long ones shortened). */
  url: string;
  redirects: number;
  /** Bytes of the answer kept (at most `max_response_bytes`). */
  response_bytes: number;
  /** Present when the answer was longer than `max_response_bytes` and was cut. */
  response_truncated?: boolean;
  idempotency_key: string;
}

export interface SlackResult extends ResultBase {
  type: 'slack';
  status_code: number;
}

export interface EmailResult extends ResultBase {
  type: 'email';
  message_id: string;
  accepted: string[];
  rejected: string[];
}

export interface CacheResult extends ResultBase {
  type: 'cache';
  /** Keys actually removed (exact keys plus pattern matches). */
  deleted: number;
  /** Named keys that did not exist, plus patterns that matched no key (observer_cache_misses_total). */
  missed: number;
  keys: number;
  patterns: number;
}

export interface DatabaseResult extends ResultBase {
  type: 'database';
  function: string;
  /** The function's return value when it is small (≤ 2 KiB as JSON), else omitted. */
  returned?: unknown;
}

export interface LogResult extends ResultBase {
  type: 'log';
  level: LogLevel;
}

export type ActionResult = WebhookResult | SlackResult | EmailResult | CacheResult | DatabaseResult | LogResult;

/** The activities a worker registers for actions (names are the activity type names). */
export interface ObserverActivities {
  runWebhook(input: ActionInput<WebhookAction>): Promise<WebhookResult>;
  runSlack(input: ActionInput<SlackAction>): Promise<SlackResult>;
  runEmail(input: ActionInput<EmailAction>): Promise<EmailResult>;
  runCache(input: ActionInput<CacheAction>): Promise<CacheResult>;
  runDatabase(input: ActionInput<DatabaseAction>): Promise<DatabaseResult>;
  runLog(input: ActionInput<LogAction>): Promise<LogResult>;
  /** Dispatches on `input.action.type`. */
  runAction(input: ActionInput): Promise<ActionResult>;
}

/** The I/O timeout of one attempt of an action: its `timeout_ms`, or its type's default. */
export function actionTimeoutMs(action: ActionSnapshot | ActionConfig): number {
  const own = 'timeout_ms' in action ? action.timeout_ms : undefined;
  return own ?? DEFAULT_ACTION_TIMEOUT_MS[action.type];
}

/**
 * How a webhook body template is rendered: `json` (each value encoded for where it lands, the
 * result checked to be JSON) unless a literal `Content-Type` header says the body is not JSON.
 */
export function webhookBodyMode(headers: Readonly<Record<string, string>> | undefined): 'json' | 'text' {
  const entry = Object.entries(headers ?? {}).find(([name]) => name.toLowerCase() === 'content-type');
  if (entry === undefined) return 'json';
  return /json/i.test(entry[1]) ? 'json' : 'text';
}
