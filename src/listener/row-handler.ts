/**
 * The listener's row handler: row → ChangeEvent → matched observers → a start decision carrying
 * the workflow input, search attributes and a one-line summary for the Temporal Web UI.
 *
 * Per-entity ordering: for an event that a `per_entity` observer matched, the input names the
 * workflow of the previous such event of the same entity (`predecessorWorkflowId`); the workflow
 * waits for it before running its ordered observers' actions. The listener hands rows to the
 * handler one at a time in the order it dispatches them, so "previous" is dispatch order.
 */
import { BadRowError, rowToEvent, type RowToEventOptions } from '../events/map-row';
import { matchEvent, type CompiledObservers } from '../events/match';
import type { ChangeEvent } from '../events/types';
import { DEFAULT_WORKFLOW_ID_PREFIX, MAX_WORKFLOW_INPUT_BYTES, workflowIdOf, type ObserverMatch, type ProcessChangeEventInput } from '../contract';
import type { RowHandler } from './types';

export interface RowHandlerOptions {
  mapping?: RowToEventOptions;
  /** Called for every observer skipped because its condition errored (metric + log). */
  onConditionError?: (observer: string, eventId: string, message: string) => void;
  /** Must match the listener's `workflowIdPrefix` (default `fraiseql-event`): predecessors are named by workflow id. */
  workflowIdPrefix?: string;
  /** Entities whose last ordered workflow is remembered (least recently used forgotten first). Default 100,000. */
  maxOrderedEntities?: number;
  /** Largest workflow input started, in JSON bytes; default {@link MAX_WORKFLOW_INPUT_BYTES}. */
  maxInputBytes?: number;
}

/**
 * The last ordered workflow of each entity, bounded (LRU through Map insertion order).
 *
 * The memory is per process. A new leader term primes it from the rows just behind the checkpoint
 * (`primeRows`, default 1000, see {@link createRowHandler}'s `prime`), so ordering survives a
 * restart or failover for entities changed in those rows. Limit: the first ordered event of an
 * entity whose previous ordered event lies further back, or was evicted from the map, runs
 * without waiting for it.
 */
export class EntityOrderTracker {
  private readonly last = new Map<string, { workflowId: string; predecessor: string | undefined }>();

  constructor(private readonly max = 100_000) {
    if (!Number.isInteger(max) || max < 1) throw new Error(`maxOrderedEntities must be a positive integer, got ${max}`);
  }

  /** Number of entities remembered. */
  get size(): number {
    return this.last.size;
  }

  /**
   * Record that `workflowId` is now the entity's latest ordered workflow and return the one
   * before it. Handing the same event again (a re-read) returns the same predecessor, never itself.
   */
  next(event: ChangeEvent, workflowId: string): string | undefined {
    if (event.entityId === null) return undefined;
    const key = `${event.entityType}\u0000${event.entityId}`;
    const prev = this.last.get(key);
    if (prev && prev.workflowId === workflowId) {
      this.last.delete(key);
      this.last.set(key, prev);
      return prev.predecessor;
    }
    const predecessor = prev?.workflowId;
    this.last.delete(key);
    this.last.set(key, { workflowId, predecessor });
    if (this.last.size > this.max) {
      const oldest = this.last.keys().next().value;
      if (oldest !== undefined) this.last.delete(oldest);
    }
    return predecessor;
  }
}

/**
 * Why a workflow input cannot be started, or undefined when it can. Temporal stores the input as
 * JSON: a document nested too deeply for JSON serialisation, or larger than a cluster accepts,
 * would otherwise be retried forever and hold the checkpoint.
 */
export function workflowInputProblem(payload: ProcessChangeEventInput, maxBytes = MAX_WORKFLOW_INPUT_BYTES): { reason: string; message: string } | undefined {
  let json: string;
  try {
    json = JSON.stringify(payload);
  } catch (err) {
    const why = err instanceof RangeError ? 'its JSON is nested too deeply' : (err as Error).message;
    return { reason: 'unconvertible_event', message: `the event cannot become a workflow input: ${why}` };
  }
  const bytes = Buffer.byteLength(json);
  if (bytes > maxBytes) {
    return { reason: 'event_too_large', message: `the event is ${bytes} bytes as workflow input; the limit is ${maxBytes} bytes (Temporal's payload size)` };
  }
  return undefined;
}

/** The search attributes of an event's workflow. */
export function startSearchAttributes(event: ChangeEvent, matches: readonly ObserverMatch[]): Record<string, unknown> {
  return { EntityType: event.entityType, EventKind: event.kind, ObserverNames: matches.map((m) => m.observer), ChangeLogPosition: Number(event.position) };
}

/** The one-line summary of an event's workflow in the Temporal Web UI. */
export function startSummary(event: ChangeEvent, matches: readonly ObserverMatch[]): string {
  const actions = matches.reduce((n, m) => n + m.actions.length, 0);
  return `${event.kind} ${event.entityType}${event.entityId ? ` ${event.entityId}` : ''} → ${matches.map((m) => m.observer).join(', ')} (${actions} action${actions === 1 ? '' : 's'})`;
}

/** Build the synchronous handler the listener calls for every row it reads. */
export function createRowHandler(compiled: CompiledObservers, opts: RowHandlerOptions = {}): RowHandler {
  const prefix = opts.workflowIdPrefix ?? DEFAULT_WORKFLOW_ID_PREFIX;
  const order = new EntityOrderTracker(opts.maxOrderedEntities);
  const handle: RowHandler = (row) => {
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
    const problem = workflowInputProblem(payload, opts.maxInputBytes);
    if (problem !== undefined) return { kind: 'bad', reason: problem.reason, message: `change-log row ${row.pk}: ${problem.message}` };
    if (matches.some((m) => m.ordering === 'per_entity')) {
      const predecessor = order.next(event, workflowIdOf(event.id, prefix));
      if (predecessor !== undefined) payload.predecessorWorkflowId = predecessor;
    }
    return {
      kind: 'start',
      event,
      payload,
      ...(payload.predecessorWorkflowId === undefined ? {} : { startAfter: payload.predecessorWorkflowId }),
      searchAttributes: startSearchAttributes(event, matches),
      summary: startSummary(event, matches),
    };
  };
  // Rows already behind the checkpoint were started in an earlier term: remember their ordered
  // workflows so the next event of the same entity waits for them after a restart or failover.
  handle.prime = (rows) => {
    for (const row of rows) {
      let event;
      try {
        event = rowToEvent(row, opts.mapping);
      } catch {
        continue;
      }
      if (matchEvent(event, compiled).matches.some((m) => m.ordering === 'per_entity')) order.next(event, workflowIdOf(event.id, prefix));
    }
  };
  return handle;
}
