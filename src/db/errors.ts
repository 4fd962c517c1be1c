/**
 * Errors raised by the database layer, with helpers that turn driver errors into messages an
 * operator can act on (which server could not be reached, without leaking the password).
 */

import { EXIT_CODES, ObserversError, type ExitCode } from '../errors';

/** Base class of this module's errors; keeps the driver error as `cause`. */
export class DatabaseError extends ObserversError {}

/** PostgreSQL could not be reached or refused the session (network, auth, missing database): exit 3. */
export class DatabaseUnreachableError extends DatabaseError {
  override readonly exitCode: ExitCode = EXIT_CODES.unavailable;
  constructor(
    readonly target: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`Cannot reach PostgreSQL at ${target}: ${reason}`, options);
  }
}

// Node socket errors and the server's connection-level SQLSTATEs (57P0x: shutting down or
// terminated, 53300: too many connections, 28xxx: authentication, 3D000: no such database).
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'EPIPE']);
const SESSION_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '28000', '28P01', '3D000', '08001', '08006']);

interface ErrorLike {
  message: string;
  code?: unknown;
  errors?: unknown[];
}

// Duck-typed rather than instanceof: errors from Node's socket layer may come from another realm
// (test runners' VM contexts), where `instanceof Error` is false.
function asErrorLike(err: unknown): ErrorLike | null {
  if (typeof err !== 'object' || err === null || typeof (err as { message?: unknown }).message !== 'string') return null;
  return err as ErrorLike;
}

/** True when `err` means the server cannot be used at all (as opposed to a failing statement). */
export function isUnreachableError(err: unknown): boolean {
  const e = asErrorLike(err);
  if (!e) return false;
  if (typeof e.code === 'string' && (NETWORK_CODES.has(e.code) || SESSION_SQLSTATES.has(e.code))) return true;
  if (Array.isArray(e.errors) && e.errors.some(isUnreachableError)) return true;
  return /Connection terminated|connect ECONNREFUSED|timeout expired/i.test(e.message);
}

/** A short reason for an unreachable-server error, e.g. `ECONNREFUSED` or `database "x" does not exist`. */
export function unreachableReason(err: unknown): string {
  const e = asErrorLike(err);
  if (!e) return String(err);
  if (Array.isArray(e.errors) && e.errors[0] !== undefined) return unreachableReason(e.errors[0]);
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return e.code;
  return e.message || String(e.code ?? 'unknown error');
}

/**
 * `host:port/database` of a connection string, never the user or password, for messages and logs.
 * Falls back to libpq's defaults (localhost:5432) for the parts the URL leaves out.
 */
export function describeDatabaseUrl(url: string | undefined): string {
  if (!url) return 'localhost:5432 (no DATABASE_URL given)';
  try {
    const u = new URL(url);
    const host = u.hostname || u.searchParams.get('host') || 'localhost';
    const port = u.port || '5432';
    const db = decodeURIComponent(u.pathname.replace(/^\//, ''));
    return `${host}:${port}${db ? `/${db}` : ''}`;
  } catch {
    return 'an unparseable DATABASE_URL';
  }
}

/** The service's own tables are missing: `migrate` has not been run against this database (exit 3). */
export class DatabaseNotMigratedError extends DatabaseError {
  override readonly exitCode: ExitCode = EXIT_CODES.unavailable;
  constructor(
    readonly target: string,
    readonly relation: string,
    options?: { cause?: unknown },
  ) {
    super(`The table ${relation} does not exist in ${target}: run \`fraiseql-observers migrate\` first`, options);
  }
}

// The tables `migrate` creates; a missing one of these means "not migrated", not a bug.
const SERVICE_RELATION_RE = /relation "((?:[a-z_]+\.)?observer_[a-z_]+)" does not exist/;

/**
 * Wrap `err` as a DatabaseUnreachableError (server unusable) or a DatabaseNotMigratedError (one of
 * the service's tables is missing) when it is one, else return it unchanged. Either way the driver
 * error stays as `cause` and never reaches the user raw (with `--json` it would print its C file and line).
 */
export function explainConnectionError(err: unknown, url: string | undefined): unknown {
  if (err instanceof DatabaseError) return err;
  if (isUnreachableError(err)) return new DatabaseUnreachableError(describeDatabaseUrl(url), unreachableReason(err), { cause: err });
  const e = asErrorLike(err);
  const missing = e && e.code === '42P01' ? SERVICE_RELATION_RE.exec(e.message) : null;
  if (missing) return new DatabaseNotMigratedError(describeDatabaseUrl(url), missing[1] as string, { cause: err });
  return err;
}

/**
 * The error that `err` represents when it means the session itself is gone (so a pooled client
 * must be discarded rather than returned), else undefined.
 */
export function brokenConnectionError(err: unknown): Error | undefined {
  const e = asErrorLike(err);
  if (!e) return undefined;
  // 57P0x: the server terminated the session; 08xxx: connection exceptions.
  const code = typeof e.code === 'string' ? e.code : '';
  if (/^57P0|^08/.test(code) || /Connection terminated|ECONNRESET|EPIPE|Client has encountered a connection error/.test(e.message)) return e as Error;
  return undefined;
}
