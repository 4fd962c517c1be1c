/**
 * Log action: one structured line at the configured level with a rendered message.
 */
import type { ActionInput, LogAction, LogLevel, LogResult } from '../contract';
import { templateScope } from '../template';
import { ErrorType, permanent } from './errors';
import { renderField } from './render';
import type { Attempt, ActionRuntime, Outcome } from './runtime';

const LEVELS: ReadonlySet<string> = new Set<LogLevel>(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);

/** Writes the rendered message to the attempt's logger (which carries event id and workflow id). */
export async function executeLog(_rt: ActionRuntime, input: ActionInput<LogAction>, at: Attempt): Promise<Outcome<LogResult>> {
  const { event, action } = input;
  const level = action.level ?? 'info';
  if (!LEVELS.has(level)) throw permanent(ErrorType.InvalidAction, `log level ${String(level)} is not one of ${[...LEVELS].join(', ')}`);
  const message =
    action.message !== undefined
      ? renderField(action.message, templateScope(event), 'log message')
      : `${event.entityType} ${event.kind}${event.entityId ? ` ${event.entityId}` : ''}`;
  at.log[level]({ entity_type: event.entityType, entity_id: event.entityId, kind: event.kind }, at.secrets.scrub(message));
  return { type: 'log', key: action.key, level };
}
