/**
 * The listener's row handler: row → ChangeEvent → matched observers → a start decision carrying
 * the workflow input, search attributes and a one-line summary for the Temporal Web UI.
 */
import { BadRowError, rowToEvent, type RowToEventOptions } from '../events/map-row';
import { matchEvent, type CompiledObservers } from '../events/match';
import type { ProcessChangeEventInput } from '../workflows/types';
import type { RowHandler } from './types';

export interface RowHandlerOptions {
  mapping?: RowToEventOptions;
  /** Called for every observer skipped because its condition errored (metric + log). */
  onConditionError?: (observer: string, eventId: string, message: string) => void;
}

/** Build the synchronous handler the listener calls for every row it reads. */
export function createRowHandler(compiled: CompiledObservers, opts: RowHandlerOptions = {}): RowHandler {
  return (row) => {
    let event;
    try {
      event = rowToEvent(row, opts.mapping);
    } catch (err) {
      if (err instanceof BadRowError) return { kind: 'bad', reason: err.reason, message: err.message };
      throw err;
    }
    const { matches, conditionErrors } = matchEvent(event, compiled);
    for (const e of conditionErrors) opts.onConditionError?.(e.observer, event.id, e.message);
    if (matches.length === 0) return { kind: 'skip' };
    const payload: ProcessChangeEventInput = { event, matches, conditionErrors, readAt: new Date().toISOString() };
    const observers = matches.map((m) => m.observer);
    const actions = matches.reduce((n, m) => n + m.actions.length, 0);
    return {
      kind: 'start',
      event,
      payload,
      searchAttributes: { EntityType: event.entityType, EventKind: event.kind, ObserverNames: observers, ChangeLogPosition: Number(event.position) },
      summary: `${event.kind} ${event.entityType}${event.entityId ? ` ${event.entityId}` : ''} → ${observers.join(', ')} (${actions} action${actions === 1 ? '' : 's'})`,
    };
  };
}
