/**
 * Plain-data shapes that cross the workflow → activity boundary.
 *
 * Everything here is recorded in Temporal history, so it must never hold a secret: secrets are
 * named (`*_env` fields hold environment variable NAMES) and resolved inside the activity.
 * Field names are snake_case, exactly as written in the observers YAML.
 */
import type { ChangeEvent } from '../events/types';

/** Fields every action snapshot carries. */
export interface ActionBase {
  /** Stable action key, e.g. `${observer}:${index}`; part of the idempotency key. */
  key: string;
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface WebhookAction extends ActionBase {
  type: 'webhook';
  /** Liquid template. */
  url: string;
  /** Default POST. */
  method?: HttpMethod;
  /** Header name → liquid template of its value. */
  headers?: Record<string, string>;
  /** Liquid template; default: the JSON event envelope (which includes the event id). */
  body?: string;
  /** Name of the environment variable holding the HMAC signing secret. */
  signing_secret_env?: string;
  /** Also send Standard Webhooks headers (needs `signing_secret_env`, `whsec_` base64 convention). */
  standard_webhooks?: boolean;
  timeout_ms?: number;
  max_response_bytes?: number;
}

export interface SlackAction extends ActionBase {
  type: 'slack';
  /** Name of the environment variable holding the incoming-webhook URL (the URL itself is a secret). */
  webhook_url_env: string;
  /** Liquid template. */
  text?: string;
  /** Block Kit blocks: an array whose string leaves are liquid templates, or one template rendering JSON. */
  blocks?: unknown[] | string;
  timeout_ms?: number;
}

export interface SmtpSettings {
  host: string;
  port: number;
  /** Implicit TLS; default true on port 465. */
  secure?: boolean;
  /** Name of the environment variable holding the SMTP user name. */
  user_env?: string;
  /** Name of the environment variable holding the SMTP password. */
  password_env?: string;
}

export interface EmailAction extends ActionBase {
  type: 'email';
  /** Liquid templates, like every address and text field below. */
  to: string | string[];
  cc?: string | string[];
  reply_to?: string;
  subject: string;
  /** Plain-text body. */
  body: string;
  from: string;
  smtp: SmtpSettings;
  timeout_ms?: number;
}

export interface CacheAction extends ActionBase {
  type: 'cache';
  /** Liquid templates of exact keys to delete. */
  keys?: string[];
  /** Liquid templates of glob patterns; interpolated values are glob-escaped. */
  patterns?: string[];
  /** Name of the environment variable holding a Redis URL; default: the worker's Redis. */
  redis_url_env?: string;
}

export interface DatabaseAction extends ActionBase {
  type: 'database';
  /** `[schema.]identifier`; called as `SELECT "schema"."fn"($1::jsonb)` with the event envelope. */
  function: string;
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export interface LogAction extends ActionBase {
  type: 'log';
  /** Default info. */
  level?: LogLevel;
  /** Liquid template; default `<entity_type> <kind> <entity_id>`. */
  message?: string;
}

export type ActionSnapshot = WebhookAction | SlackAction | EmailAction | CacheAction | DatabaseAction | LogAction;
export type ActionType = ActionSnapshot['type'];

/**
 * The I/O timeout of one attempt when an action sets no `timeout_ms` (HTTP, SMTP), or the bound
 * the workflow gives an attempt of a type that has no timeout of its own (cache, database, log).
 * Shared by the activities and the workflow (which adds a margin for Temporal's start-to-close
 * timeout), so the two cannot drift apart.
 */
export const DEFAULT_ACTION_TIMEOUT_MS: Readonly<Record<ActionType, number>> = {
  webhook: 10_000,
  slack: 10_000,
  email: 30_000,
  cache: 30_000,
  database: 30_000,
  log: 5_000,
};

/** What every activity receives. */
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

interface ResultBase {
  key: string;
  duration_ms: number;
  /** The attempt that succeeded (1-based); absent when run outside a worker. */
  attempt?: number;
}

export interface WebhookResult extends ResultBase {
  type: 'webhook';
  status_code: number;
  /** Final URL after redirects, without credentials. */
  url: string;
  redirects: number;
  response_bytes: number;
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
