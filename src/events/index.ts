/**
 * Events and matching, for the listener, activities and CLI. Workflow code must not import this
 * barrel (it pulls in node:crypto and liquidjs); it imports types from './types' only.
 */
export type { ChangeEvent, ChangeLogRow, EventKind } from './types';
export { BadRowError, DEFAULT_CHANGE_LOG_TABLE, rowToEvent, type BadRowReason, type RowToEventOptions } from './map-row';
export { CHANGE_LOG_NAMESPACE, deriveEventId, uuidV5 } from './event-id';
export {
  ConditionEvalError,
  ConditionSyntaxError,
  compileCondition,
  type CompiledCondition,
  type ConditionSubject,
} from './condition';
export {
  compileObservers,
  explainMatch,
  matchEvent,
  type CompiledObservers,
  type ConditionFailure,
  type MatchOutcome,
  type MatchResult,
} from './match';
