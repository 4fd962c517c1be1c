/**
 * What the `dlq` commands share: filter flags, the connect-run-close wrapper that turns each
 * known failure into a message and an exit code, and small formatting helpers.
 */
import { Errors, Flags } from '@oclif/core';
import type { Client } from '@temporalio/client';
import { DlqInputError, DlqNotFoundError, DlqRetryRefusedError } from '../dlq/errors';
import { DEFAULT_WORKFLOW_ID_PREFIX } from '../contract';
import { connectTemporal, isUnavailable, TemporalSettingError, TemporalUnreachableError } from './temporal';

/** `--observer --entity --since`: which entries a command looks at. */
export const filterFlags = {
  observer: Flags.string({ summary: 'Only entries this observer took part in' }),
  entity: Flags.string({ summary: 'Only entries of this entity type (e.g. Order)' }),
  since: Flags.string({ summary: 'Only runs that failed since this time: ISO-8601 (2025-01-31T12:00:00Z) or a duration back from now (30m, 2h, 7d)' }),
};

export const prefixFlag = {
  'workflow-id-prefix': Flags.string({
    env: 'WORKFLOW_ID_PREFIX',
    default: DEFAULT_WORKFLOW_ID_PREFIX,
    summary: 'Prefix of the listener’s workflow ids (added to a bare event id)',
  }),
};

/**
 * Ends the command with a message and an exit code. The code is also set as `exitCode`, which is
 * what oclif uses under --json (it ignores `oclif.exit` there).
 */
export function fail(message: string, exit: number): never {
  throw Object.assign(new Errors.CLIError(message, { exit }), { exitCode: exit });
}

/**
 * Checks flag values before anything is contacted, so a typo is reported as such even when
 * Temporal is down. Exits 2 with the message naming the flag.
 */
export function checkInput(check: () => unknown): void {
  try {
    check();
  } catch (err) {
    if (err instanceof DlqInputError) fail(err.message, 2);
    throw err;
  }
}

/**
 * Connects to Temporal, runs `fn`, and always closes the connection. Bad input exits 2 with the
 * message naming the flag; an unknown id or a refused retry exits 1; an unreachable server exits 2.
 */
export async function withDlqClient<R>(flags: { address: string; namespace: string }, fn: (client: Client) => Promise<R>): Promise<R> {
  let session;
  try {
    session = await connectTemporal({ address: flags.address, namespace: flags.namespace });
  } catch (err) {
    if (err instanceof TemporalUnreachableError || err instanceof TemporalSettingError) fail(err.message, 2);
    throw err;
  }
  try {
    return await fn(session.client);
  } catch (err) {
    if (err instanceof DlqInputError) fail(err.message, 2);
    if (err instanceof DlqNotFoundError || err instanceof DlqRetryRefusedError) fail(err.message, 1);
    if (isUnavailable(err)) fail(new TemporalUnreachableError(flags.address, err instanceof Error ? err.message : String(err)).message, 2);
    throw err;
  } finally {
    await session.close().catch(() => undefined);
  }
}

/** A time for tables: `2025-01-31 12:00:05Z`. */
export function shortTime(iso: string | null): string {
  return iso ? `${iso.slice(0, 19).replace('T', ' ')}Z` : '';
}

/** Cuts long text for a table cell. */
export function clip(text: string | null | undefined, max = 60): string {
  if (!text) return '';
  const one = text.replace(/\s+/g, ' ');
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}
