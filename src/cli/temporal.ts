/**
 * Temporal for CLI commands: the `--address` / `--namespace` flags, a connection that fails fast
 * with a message saying what to do when nothing answers, and a wrapper that always closes it.
 */
import { Flags } from '@oclif/core';
import type { Client, Connection } from '@temporalio/client';
import { ObserversError } from '../errors';
import { temporalSecurity, TemporalSecurityError } from '../temporal/connection';

/** Where `fraiseql-observers start` serves the embedded Temporal server when TEMPORAL_ADDRESS is unset. */
export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';

/** Flags every Temporal-using command takes. */
export const temporalFlags = {
  address: Flags.string({
    env: 'TEMPORAL_ADDRESS',
    default: DEFAULT_TEMPORAL_ADDRESS,
    summary: 'Temporal frontend host:port (127.0.0.1:7233 is where `start` serves its embedded server)',
  }),
  namespace: Flags.string({ env: 'TEMPORAL_NAMESPACE', default: 'default', summary: 'Temporal namespace' }),
};

/** Nothing usable answers at the Temporal address (refused, timed out, or not a Temporal frontend). */
export class TemporalUnreachableError extends ObserversError {
  constructor(
    readonly address: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(
      `Cannot reach Temporal at ${address}: ${reason}. ` +
        `If you use the embedded server, start the service first: \`fraiseql-observers start\` without TEMPORAL_ADDRESS ` +
        `serves it on ${DEFAULT_TEMPORAL_ADDRESS} (EMBEDDED_TEMPORAL_PORT changes the port). ` +
        `Otherwise set TEMPORAL_ADDRESS (or --address) to your cluster's frontend.`,
      options,
    );
  }
}

/** The address or namespace given is malformed, or the namespace does not exist there. */
export class TemporalSettingError extends ObserversError {}

const HOST_PORT_RE = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/;

export interface TemporalSession {
  client: Client;
  connection: Connection;
  address: string;
  namespace: string;
  close(): Promise<void>;
}

export interface ConnectTemporalOptions {
  address: string;
  namespace: string;
  /** How long to wait for the server (default 5 s). */
  connectTimeoutMs?: number;
  /** Where TEMPORAL_TLS* / TEMPORAL_API_KEY are read (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
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
 * Connects to Temporal and checks that the namespace exists.
 *
 * @throws TemporalSettingError for a malformed address or an unknown namespace
 * @throws TemporalUnreachableError when nothing answers at the address in time
 */
export async function connectTemporal(options: ConnectTemporalOptions): Promise<TemporalSession> {
  const { address, namespace } = options;
  const m = HOST_PORT_RE.exec(address);
  if (!m || Number(m[2]) > 65_535) {
    throw new TemporalSettingError(`--address (TEMPORAL_ADDRESS): expected host:port such as ${DEFAULT_TEMPORAL_ADDRESS}, got ${JSON.stringify(address)}`);
  }
  if (namespace.trim() === '') throw new TemporalSettingError('--namespace (TEMPORAL_NAMESPACE): must not be empty');
  // Loaded here, not at the top: oclif loads every command module just to list them.
  const { Client, Connection } = await import('@temporalio/client');
  let security;
  try {
    security = temporalSecurity(options.env ?? process.env);
  } catch (err) {
    if (err instanceof TemporalSecurityError) throw new TemporalSettingError(err.message, { cause: err });
    throw err;
  }
  const connection = Connection.lazy({ address, connectTimeout: options.connectTimeoutMs ?? 5_000, ...security });
  try {
    await connection.ensureConnected();
  } catch (err) {
    await connection.close().catch(() => undefined);
    throw new TemporalUnreachableError(address, reasonOf(err), { cause: err });
  }
  try {
    await connection.workflowService.describeNamespace({ namespace });
  } catch (err) {
    await connection.close().catch(() => undefined);
    if ((err as { code?: unknown }).code === 5) {
      throw new TemporalSettingError(`--namespace (TEMPORAL_NAMESPACE): namespace ${JSON.stringify(namespace)} does not exist on Temporal at ${address}`);
    }
    if (isUnavailable(err)) throw new TemporalUnreachableError(address, reasonOf(err), { cause: err });
    throw err;
  }
  const client = new Client({ connection, namespace });
  return { client, connection, address, namespace, close: () => connection.close() };
}
