/**
 * Observer matching: which observers (and so which actions) apply to an event. Runs in the
 * listener, so events nobody wants never reach Temporal, and the matched observers' config is
 * frozen into the workflow input as plain data.
 */
import { deepFreeze, type ObserverConfig } from '../config';
import type { ActionSnapshot, ObserverMatch } from '../contract';
import { compileCondition, type CompiledCondition } from './condition';
import type { ChangeEvent, EventKind } from './types';

/** An observer skipped for one event because its condition could not be evaluated. */
export interface ConditionFailure {
  observer: string;
  message: string;
}

export interface MatchResult {
  matches: ObserverMatch[];
  conditionErrors: ConditionFailure[];
}

/** How each observer related to an event (for `debug-event`). */
export type MatchOutcome =
  | { observer: string; outcome: 'matched' }
  | { observer: string; outcome: 'disabled' | 'entity_mismatch' | 'event_mismatch' | 'condition_false' }
  | { observer: string; outcome: 'condition_error'; message: string };

interface CompiledObserver {
  name: string;
  enabled: boolean;
  entity: string;
  events: ReadonlySet<EventKind>;
  condition: CompiledCondition | null;
  /** Built once; every match of this observer shares it (it is frozen). */
  match: Readonly<ObserverMatch>;
}

/** The observers of a config, compiled once for matching many events. */
export interface CompiledObservers {
  readonly observers: readonly CompiledObserver[];
  /** Enabled observers per entity type, wildcard ones included, in file order (filled lazily). */
  readonly byEntity: Map<string, readonly CompiledObserver[]>;
}

// Distinct entity types are few in practice; the bound only protects against a table full of junk types.
const MAX_CACHED_ENTITY_TYPES = 10_000;

/**
 * Compiles every observer's condition and templates once. Call when the config is loaded.
 *
 * @throws ConditionSyntaxError for a condition the config validation would have rejected (only
 *   possible with a config built by hand); templates are checked by the config schema.
 */
export function compileObservers(config: { observers: readonly ObserverConfig[] }): CompiledObservers {
  const observers = config.observers.map((o): CompiledObserver => {
    const match: ObserverMatch = {
      observer: o.name,
      // An action's configuration as workflow input: plain JSON, template sources unrendered,
      // secrets only as environment-variable names (the config schema admits nothing else).
      actions: o.actions.map((a, index) => ({ key: `${o.name}:${index}`, ...(toPlainJson(a) as Omit<ActionSnapshot, 'key'>) }) as ActionSnapshot),
      retry: { ...o.retry },
      failurePolicy: o.failurePolicy,
      ordering: o.ordering,
      timeoutMs: o.timeoutMs,
    };
    return {
      name: o.name,
      enabled: o.enabled,
      entity: o.entity,
      events: new Set(o.events),
      condition: o.condition === null ? null : compileCondition(o.condition),
      match: deepFreeze(match),
    };
  });
  return { observers, byEntity: new Map() };
}

/**
 * The observers that apply to an event: entity (or `*`) and event kind match, and the condition
 * holds. An observer whose condition throws is skipped for this event and reported in
 * `conditionErrors` (FraiseQL's rule); it never stops the other observers.
 */
export function matchEvent(event: ChangeEvent, compiled: CompiledObservers): MatchResult {
  const result: MatchResult = { matches: [], conditionErrors: [] };
  for (const observer of candidatesFor(event.entityType, compiled)) {
    if (!observer.events.has(event.kind)) continue;
    const verdict = evaluate(observer, event);
    if (verdict === true) result.matches.push(observer.match);
    else if (verdict !== false) result.conditionErrors.push({ observer: observer.name, message: verdict });
  }
  return result;
}

/** Every observer's outcome for an event, disabled ones included: what `debug-event` shows. */
export function explainMatch(event: ChangeEvent, compiled: CompiledObservers): MatchOutcome[] {
  return compiled.observers.map((observer): MatchOutcome => {
    const name = observer.name;
    if (!observer.enabled) return { observer: name, outcome: 'disabled' };
    if (observer.entity !== '*' && observer.entity !== event.entityType) return { observer: name, outcome: 'entity_mismatch' };
    if (!observer.events.has(event.kind)) return { observer: name, outcome: 'event_mismatch' };
    const verdict = evaluate(observer, event);
    if (verdict === true) return { observer: name, outcome: 'matched' };
    if (verdict === false) return { observer: name, outcome: 'condition_false' };
    return { observer: name, outcome: 'condition_error', message: verdict };
  });
}

/** true / false, or the reason the condition could not be decided. */
function evaluate(observer: CompiledObserver, event: ChangeEvent): boolean | string {
  if (observer.condition === null) return true;
  try {
    return observer.condition(event);
  } catch (err) {
    // Any failure, not only ConditionEvalError: one odd event must not stall the stream.
    return err instanceof Error ? err.message : String(err);
  }
}

function candidatesFor(entityType: string, compiled: CompiledObservers): readonly CompiledObserver[] {
  let list = compiled.byEntity.get(entityType);
  if (list === undefined) {
    list = compiled.observers.filter((o) => o.enabled && (o.entity === '*' || o.entity === entityType));
    if (compiled.byEntity.size >= MAX_CACHED_ENTITY_TYPES) compiled.byEntity.clear();
    compiled.byEntity.set(entityType, list);
  }
  return list;
}

/** A JSON round trip: drops undefined fields and any non-JSON value, so the snapshot is what Temporal will store. */
function toPlainJson(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value)) as unknown;
}
