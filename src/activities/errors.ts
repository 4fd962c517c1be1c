/**
 * The action failure taxonomy. Action code throws {@link ActionError}s; the activity boundary turns
 * them into Temporal `ApplicationFailure`s, so retry behaviour is decided in exactly one place.
 */
import { ApplicationFailure } from '@temporalio/common';

/** Error `type` strings as they appear in Temporal failures, metrics and the DLQ. */
export const ErrorType = {
  // permanent
  HttpClientError: 'HttpClientError',
  SsrfBlocked: 'SsrfBlocked',
  InvalidUrl: 'InvalidUrl',
  InvalidHeader: 'InvalidHeader',
  InvalidAction: 'InvalidAction',
  TemplateError: 'TemplateError',
  MissingSecret: 'MissingSecret',
  NotConfigured: 'NotConfigured',
  TooManyRedirects: 'TooManyRedirects',
  SmtpRejected: 'SmtpRejected',
  UnsafePattern: 'UnsafePattern',
  DatabasePermanentError: 'DatabasePermanentError',
  // retryable
  HttpServerError: 'HttpServerError',
  HttpRetryableStatus: 'HttpRetryableStatus',
  NetworkError: 'NetworkError',
  Timeout: 'Timeout',
  CircuitOpen: 'CircuitOpen',
  SmtpError: 'SmtpError',
  CacheError: 'CacheError',
  /** Another run is performing the same cached action (same cache key) for longer than this attempt may wait. */
  ResultCacheBusy: 'ResultCacheBusy',
  DatabaseError: 'DatabaseError',
  Unexpected: 'UnexpectedError',
} as const;
export type ErrorTypeName = (typeof ErrorType)[keyof typeof ErrorType];

/** How a failed call should count for the target's circuit breaker. */
export type BreakerVerdict = 'success' | 'failure' | 'neutral';

export interface ActionErrorOptions {
  retryable: boolean;
  /** Overrides the retry policy's next delay (Retry-After, open breaker). */
  retryAfterMs?: number;
  cause?: unknown;
  /** Default: retryable → failure, otherwise the target answered → success. */
  breaker?: BreakerVerdict;
}

/** Base class of every error an action raises on purpose. */
export class ActionError extends Error {
  readonly type: string;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly breaker: BreakerVerdict;

  constructor(type: string, message: string, options: ActionErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ActionError';
    this.type = type;
    this.retryable = options.retryable;
    this.retryAfterMs = options.retryAfterMs;
    this.breaker = options.breaker ?? (options.retryable ? 'failure' : 'success');
  }
}

/** A failure that retrying cannot fix (bad config, 4xx, SSRF block, ...). */
export function permanent(type: string, message: string, cause?: unknown, breaker?: BreakerVerdict): ActionError {
  return new ActionError(type, message, { retryable: false, cause, breaker });
}

/** A failure that a later attempt may not hit (5xx, network, timeout, ...). */
export function transient(type: string, message: string, options: Omit<ActionErrorOptions, 'retryable'> = {}): ActionError {
  return new ActionError(type, message, { ...options, retryable: true });
}

/** The message of any thrown value, without its stack. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

/**
 * Converts whatever an action threw into the failure Temporal records.
 *
 * The original error is deliberately not attached as `cause`: its message, stack or fields could
 * carry a resolved secret into workflow history. `scrub` removes known secret values from the text.
 */
export function toApplicationFailure(err: unknown, scrub: (text: string) => string): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof ActionError) {
    return ApplicationFailure.create({
      type: err.type,
      message: scrub(err.message),
      nonRetryable: !err.retryable,
      nextRetryDelay: err.retryAfterMs !== undefined && err.retryable ? Math.max(1, Math.round(err.retryAfterMs)) : undefined,
    });
  }
  return ApplicationFailure.create({ type: ErrorType.Unexpected, message: scrub(messageOf(err)), nonRetryable: false });
}

/** The `type` an error will be recorded under (for metrics and logs). */
export function errorTypeOf(err: unknown): string {
  if (err instanceof ActionError) return err.type;
  if (err instanceof ApplicationFailure) return err.type ?? ErrorType.Unexpected;
  return ErrorType.Unexpected;
}
