/**
 * Database action: `SELECT "schema"."fn"($1::jsonb)` with the event envelope.
 */
import { ErrorType, messageOf, permanent, transient } from './errors';
import type { Attempt, ActionRuntime, Outcome } from './runtime';
import type { ActionInput, DatabaseAction, DatabaseResult } from '../contract';
import { eventEnvelope } from '../template';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;
const MAX_RETURNED_JSON = 2048;

/**
 * Validates `[schema.]identifier` and returns it quoted. Names are folded to lower case first, as
 * PostgreSQL folds the same name written unquoted in SQL.
 *
 * @throws ActionError `InvalidAction` (permanent) for anything else.
 */
export function quoteFunctionName(name: string): string {
  const parts = typeof name === 'string' ? name.split('.') : [];
  if (parts.length < 1 || parts.length > 2 || !parts.every((p) => IDENTIFIER.test(p))) {
    throw permanent(ErrorType.InvalidAction, `database function ${JSON.stringify(name)} is not [schema.]identifier`);
  }
  return parts.map((p) => `"${p.toLowerCase()}"`).join('.');
}

/** Calls the configured SQL function; SQLSTATE class 42 (syntax, undefined function, privilege) is permanent. */
export async function executeDatabase(rt: ActionRuntime, input: ActionInput<DatabaseAction>, _at: Attempt): Promise<Outcome<DatabaseResult>> {
  const { event, action } = input;
  const fn = quoteFunctionName(action.function);
  if (!rt.db) throw permanent(ErrorType.NotConfigured, 'database action: no database pool is configured for the worker');
  let row: { result?: unknown } | undefined;
  try {
    const res = await rt.db.query<{ result: unknown }>(`SELECT ${fn}($1::jsonb) AS result`, [JSON.stringify(eventEnvelope(event))]);
    row = res.rows[0];
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const text = `database function ${action.function}: ${messageOf(err)}`;
    if (typeof code === 'string' && code.startsWith('42')) throw permanent(ErrorType.DatabasePermanentError, text);
    throw transient(ErrorType.DatabaseError, text);
  }
  const result: Outcome<DatabaseResult> = { type: 'database', key: action.key, function: action.function };
  const returned = row?.result;
  if (returned !== undefined && returned !== null && (JSON.stringify(returned)?.length ?? Infinity) <= MAX_RETURNED_JSON) result.returned = returned;
  return result;
}
