/**
 * How to reach a real Temporal cluster securely: TLS (server-verified, or mutual with a client
 * certificate) and Temporal Cloud API keys, from the environment variables Temporal's own tools
 * use. Every connection the service and the CLI open goes through {@link temporalSecurity}, so
 * `start`, the worker, `dlq` and `status` reach the same clusters.
 *
 * The API key is a secret: it is read from the environment when connecting and never stored in
 * the config object, logged or put into metrics.
 */
import { readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
import { UsageError } from '../errors';

/** The security part of a Temporal connection, for `Connection.connect` and `NativeConnection.connect`. */
export interface TemporalSecurity {
  tls?: TLSConfig | true;
  apiKey?: string;
}

/** A TLS or API-key variable is wrong; the message names it. */
export class TemporalSecurityError extends UsageError {}

const TRUE = /^(1|true|yes|on)$/i;
const FALSE = /^(0|false|no|off)$/i;

function readPem(env: Readonly<Record<string, string | undefined>>, name: string): Buffer | undefined {
  const path = env[name]?.trim();
  if (!path) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new TemporalSecurityError(`env.${name}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
  }
}

/**
 * The TLS / API-key options from the environment:
 *
 * - `TEMPORAL_API_KEY`: a Temporal Cloud API key (turns TLS on unless `TEMPORAL_TLS=false`);
 * - `TEMPORAL_TLS`: `true` for TLS with the system's CA roots;
 * - `TEMPORAL_TLS_CERT` + `TEMPORAL_TLS_KEY`: PEM files of a client certificate (mutual TLS);
 * - `TEMPORAL_TLS_CA`: PEM file of the server's CA, `TEMPORAL_TLS_SERVER_NAME`: name to verify.
 *
 * @throws TemporalSecurityError naming the variable that is wrong (unreadable file, half a pair, ...).
 */
export function temporalSecurity(env: Readonly<Record<string, string | undefined>>): TemporalSecurity {
  const flag = env.TEMPORAL_TLS?.trim() ?? '';
  if (flag !== '' && !TRUE.test(flag) && !FALSE.test(flag)) {
    throw new TemporalSecurityError(`env.TEMPORAL_TLS: expected true or false, got '${flag.slice(0, 20)}'`);
  }
  const apiKey = env.TEMPORAL_API_KEY?.trim() || undefined;
  const hasCert = Boolean(env.TEMPORAL_TLS_CERT?.trim());
  const hasKey = Boolean(env.TEMPORAL_TLS_KEY?.trim());
  if (hasCert !== hasKey) {
    throw new TemporalSecurityError(`env.${hasCert ? 'TEMPORAL_TLS_KEY' : 'TEMPORAL_TLS_CERT'}: required with ${hasCert ? 'TEMPORAL_TLS_CERT' : 'TEMPORAL_TLS_KEY'} (a client certificate needs both files)`);
  }
  const serverName = env.TEMPORAL_TLS_SERVER_NAME?.trim() || undefined;
  const wantsFiles = hasCert || Boolean(env.TEMPORAL_TLS_CA?.trim()) || serverName !== undefined;
  if (FALSE.test(flag)) {
    if (wantsFiles) throw new TemporalSecurityError('env.TEMPORAL_TLS: is false, but TLS certificate settings (TEMPORAL_TLS_CERT / _KEY / _CA / _SERVER_NAME) are set');
    return apiKey ? { apiKey } : {};
  }
  if (!wantsFiles) return TRUE.test(flag) || apiKey ? { tls: true, ...(apiKey ? { apiKey } : {}) } : {};
  const crt = readPem(env, 'TEMPORAL_TLS_CERT');
  const key = readPem(env, 'TEMPORAL_TLS_KEY');
  const ca = readPem(env, 'TEMPORAL_TLS_CA');
  const tls: TLSConfig = {
    ...(crt && key ? { clientCertPair: { crt, key } } : {}),
    ...(ca ? { serverRootCACertificate: ca } : {}),
    ...(serverName ? { serverNameOverride: serverName } : {}),
  };
  return { tls, ...(apiKey ? { apiKey } : {}) };
}

/** A one-line description for banners and logs (never the key itself). */
export function describeTemporalSecurity(security: TemporalSecurity): string {
  const parts = [security.tls === undefined ? 'plaintext' : typeof security.tls === 'object' && security.tls.clientCertPair ? 'mutual TLS' : 'TLS'];
  if (security.apiKey) parts.push('API key');
  return parts.join(' + ');
}
