/**
 * The one way this project opens a Temporal client connection: `start` (service), the `dlq`
 * commands, `status` and `debug-event` all come through {@link openTemporal}, so the address check,
 * TLS / API key, the namespace check and the errors (with their exit codes) are the same everywhere.
 */
import type { Client, Connection } from '@temporalio/client';
import { EXIT_CODES, ObserversError, UsageError, type ExitCode } from '../errors';
import { temporalSecurity, TemporalSecurityError, type TemporalSecurity } from './connection';

/** Where `fraiseql-observers start` serves the embedded Temporal server by default. */
export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';

/**
 * How the address was chosen, so an error can say what to change: `--address`, TEMPORAL_ADDRESS,
 * the embedded server's port from EMBEDDED_TEMPORAL_PORT, the built-in default, or the embedded
 * server this process runs.
 */
export type AddressSource = 'flag' | 'env' | 'embedded-port' | 'default' | 'in-process';

/** Nothing usable answers at the Temporal address (refused, timed out, or not a Temporal frontend): exit 3. */
export class TemporalUnreachableError extends ObserversError {
  override readonly exitCode: ExitCode = EXIT_CODES.unavailable;
  constructor(
    readonly address: string,
    reason: string,
    source: AddressSource = 'default',
    options?: { cause?: unknown },
  ) {
    super(`Cannot reach Temporal at ${address}: ${reason}. ${hintFor(address, source)}`, options);
  }
}

/** The address or namespace given is malformed, or the namespace does not exist there: exit 2. */
export class TemporalSettingError extends UsageError {}

function hintFor(address: string, source: AddressSource): string {
  switch (source) {
    case 'flag':
      return 'Check --address.';
    case 'env':
      return `Check TEMPORAL_ADDRESS (${address}), or pass --address.`;
    case 'embedded-port':
      return `EMBEDDED_TEMPORAL_PORT says the embedded server of \`fraiseql-observers start\` serves ${address}: is the service running? Otherwise set TEMPORAL_ADDRESS (or --address) to your cluster's frontend.`;
    case 'in-process':
      return 'The embedded server of this process stopped answering.';
    case 'default':
      return (
        `If you use the embedded server, start the service first: \`fraiseql-observers start\` without TEMPORAL_ADDRESS serves it on ${DEFAULT_TEMPORAL_ADDRESS} ` +
        '(with EMBEDDED_TEMPORAL_PORT set, set it for this command too). Otherwise set TEMPORAL_ADDRESS (or --address) to your cluster\'s frontend.'
      );
  }
}

const HOST_PORT_RE = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/;

/** Checks `host:port`; returns a problem description, or null when it is fine. */
export function addressProblem(address: string): string | null {
  const m = HOST_PORT_RE.exec(address);
  if (!m || Number(m[2]) > 65_535) return `expected host:port such as ${DEFAULT_TEMPORAL_ADDRESS}, got ${JSON.stringify(address)}`;
  return null;
}

export interface OpenTemporalOptions {
  address: string;
  namespace: string;
  /** How the address was chosen (for the unreachable message); default `default`. */
  source?: AddressSource;
  /** TLS / API key; default: read from `env` with {@link temporalSecurity}. */
  security?: TemporalSecurity;
  /** Where TEMPORAL_TLS* / TEMPORAL_API_KEY are read when `security` is not given (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /** How long to wait for the server (default 5 s). */
  connectTimeoutMs?: number;
  /** Check that the namespace exists (default true). */
  checkNamespace?: boolean;
}

export interface TemporalSession {
  client: Client;
  connection: Connection;
  address: string;
  namespace: string;
  close(): Promise<void>;
}

function reasonOf(err: unknown): string {
  let e: unknown = err;
  const parts: string[] = [];
  for (let depth = 0; depth < 4 && e instanceof Error; depth += 1) {
    if (!parts.includes(e.message)) parts.push(e.message);
    e = e.cause;
  }
  return parts.join(': ') || String(err);
}

/** True for gRPC UNAVAILABLE / DEADLINE_EXCEEDED anywhere in the cause chain (the server went away mid-command). */
export function isUnavailable(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && typeof e === 'object' && e !== null; depth += 1) {
    const code = (e as { code?: unknown }).code;
    if (code === 14 || code === 4) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * Connects to Temporal (failing fast when nothing answers) and, unless told not to, checks that
 * the namespace exists.
 *
 * @throws TemporalSettingError for a malformed address, a bad TLS variable or an unknown namespace
 * @throws TemporalUnreachableError when nothing answers at the address in time
 */
export async function openTemporal(options: OpenTemporalOptions): Promise<TemporalSession> {
  const { address, namespace } = options;
  const source = options.source ?? 'default';
  const problem = addressProblem(address);
  const flagName = source === 'flag' ? '--address' : 'TEMPORAL_ADDRESS';
  if (problem) throw new TemporalSettingError(`${flagName}: ${problem}`);
  if (namespace.trim() === '') throw new TemporalSettingError('--namespace (TEMPORAL_NAMESPACE): must not be empty');
  let security = options.security;
  if (!security) {
    try {
      security = temporalSecurity(options.env ?? process.env);
    } catch (err) {
      if (err instanceof TemporalSecurityError) throw new TemporalSettingError(err.message, { cause: err });
      throw err;
    }
  }
  // Loaded here, not at the top: oclif loads every command module just to list them.
  const { Client, Connection } = await import('@temporalio/client');
  const connection = Connection.lazy({ address, connectTimeout: options.connectTimeoutMs ?? 5_000, ...security });
  try {
    await connection.ensureConnected();
  } catch (err) {
    await connection.close().catch(() => undefined);
    throw new TemporalUnreachableError(address, reasonOf(err), source, { cause: err });
  }
  if (options.checkNamespace !== false) {
    try {
      await connection.withDeadline(Date.now() + (options.connectTimeoutMs ?? 5_000), () => connection.workflowService.describeNamespace({ namespace }));
    } catch (err) {
      await connection.close().catch(() => undefined);
      if ((err as { code?: unknown }).code === 5) {
        throw new TemporalSettingError(
          `--namespace (TEMPORAL_NAMESPACE): namespace ${JSON.stringify(namespace)} does not exist on Temporal at ${address} ` +
            `(create it: temporal operator namespace create --namespace ${namespace})`,
        );
      }
      if (isUnavailable(err)) throw new TemporalUnreachableError(address, reasonOf(err), source, { cause: err });
      throw err;
    }
  }
  const client = new Client({ connection, namespace });
  return { client, connection, address, namespace, close: () => connection.close() };
}
