/**
 * The root of the project's own error classes, so callers can tell "ours, with a clear message"
 * from an unexpected failure with one `instanceof` check, and so the underlying error is never lost.
 *
 * Every product error also says how a command that ends with it exits ({@link ExitCode}): the CLI
 * base class reads `exitCode` from the error, so no command decides codes on its own.
 */

/** The exit codes of every command; the README's table is checked against this one. */
export const EXIT_CODES = {
  /** The command did what it was asked (for `start` and `dev-server`: stopped by a signal). */
  ok: 0,
  /** The operation itself failed: an unknown DLQ entry, a refused retry, problems found by `validate-config`, a role of `start` failing while it runs. */
  failed: 1,
  /** Bad usage: a flag, argument, environment variable or observers file is invalid (the message names it). */
  usage: 2,
  /** Something the command needs is not there: PostgreSQL, Temporal, Redis or the metrics endpoint unreachable, the database not migrated, a port in use. Retrying later may help. */
  unavailable: 3,
  /** A second SIGINT/SIGTERM while `start` was draining: it exited without waiting. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

export class ObserversError extends Error {
  /** How a command that ends with this error exits; subclasses override it. */
  readonly exitCode: ExitCode = EXIT_CODES.failed;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    // Subclasses get their own name without repeating this line in each of them.
    this.name = new.target.name;
  }
}

/** A flag, argument, environment variable or file the user gave is invalid: exit 2. */
export class UsageError extends ObserversError {
  override readonly exitCode: ExitCode = EXIT_CODES.usage;
}

/** A service or resource the command needs cannot be used right now: exit 3. */
export class UnavailableError extends ObserversError {
  override readonly exitCode: ExitCode = EXIT_CODES.unavailable;
}
