/**
 * The listener's contracts with the rest of the service: a synchronous row handler (mapping +
 * matching, supplied by `events/`) and a workflow starter (Temporal, or an in-memory stand-in).
 */
import type { ChangeEvent, ChangeLogRow } from '../events/types';

/** What to do with one change-log row. */
export type RowDecision =
  | {
      kind: 'start';
      event: ChangeEvent;
      /** Workflow input. */
      payload: unknown;
      searchAttributes?: Record<string, unknown>;
      summary?: string;
      /**
       * Start only once the start of this workflow id (dispatched earlier by this listener) has
       * been acknowledged: per-entity ordering needs the predecessor to exist before its
       * successor looks for it.
       */
      startAfter?: string;
    }
  /** No observer wants it. */
  | { kind: 'skip' }
  /** The row cannot become an event; it is recorded with this reason and skipped. */
  | { kind: 'bad'; reason: string; message: string };

/** The start decision, as handed to a {@link WorkflowStarter}. */
export type StartDecision = Extract<RowDecision, { kind: 'start' }>;

/**
 * Maps and matches one row. Must not throw for bad data (return `bad`); a throw is recorded as
 * `handler_error`. `prime`, when present, is given the rows just at and below the checkpoint
 * (ascending) when a leader term starts, to rebuild per-row state such as per-entity ordering.
 */
export type RowHandler = ((row: ChangeLogRow) => RowDecision) & { prime?: (rows: readonly ChangeLogRow[]) => void };

/**
 * What a start came to: 'started'; 'duplicate' when a workflow with that id already exists (a
 * re-read: a dedup skip, not an error); 'deduplicated' when every matched observer's dedup window
 * skipped the event, so no workflow was needed (see `dedup-starter.ts`). All three acknowledge the row.
 */
export type StartResult = 'started' | 'duplicate' | 'deduplicated';

/**
 * Starts one workflow. Resolves with a {@link StartResult}. Throws on failure: the row is retried
 * and the checkpoint held.
 */
export interface WorkflowStarter {
  start(workflowId: string, decision: StartDecision): Promise<StartResult>;
}
