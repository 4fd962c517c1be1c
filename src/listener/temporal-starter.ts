/**
 * Starts `processChangeEvent` workflows on Temporal. The workflow id is derived from the event id,
 * so a re-read row is rejected by Temporal as already started: that answer is a dedup skip.
 */
import { type Client, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { TypedSearchAttributes, type SearchAttributePair } from '@temporalio/common';
import { ChangeLogPosition, EntityType, EventKind, ObserverNames } from '../temporal/search-attributes';
import type { StartDecision, WorkflowStarter } from './types';

export interface TemporalStarterOptions {
  client: Client;
  taskQueue: string;
  /** Workflow type to start (default `processChangeEvent`). */
  workflowType?: string;
}

export class TemporalStarter implements WorkflowStarter {
  constructor(private readonly opts: TemporalStarterOptions) {}

  async start(workflowId: string, d: StartDecision): Promise<'started' | 'duplicate'> {
    const sa = d.searchAttributes ?? {};
    const pairs: SearchAttributePair[] = [];
    if (typeof sa.EntityType === 'string') pairs.push({ key: EntityType, value: sa.EntityType });
    if (typeof sa.EventKind === 'string') pairs.push({ key: EventKind, value: sa.EventKind });
    if (Array.isArray(sa.ObserverNames)) pairs.push({ key: ObserverNames, value: sa.ObserverNames.map(String) });
    if (typeof sa.ChangeLogPosition === 'number' && Number.isSafeInteger(sa.ChangeLogPosition)) {
      pairs.push({ key: ChangeLogPosition, value: sa.ChangeLogPosition });
    }
    try {
      await this.opts.client.workflow.start(this.opts.workflowType ?? 'processChangeEvent', {
        taskQueue: this.opts.taskQueue,
        workflowId,
        args: [d.payload],
        // A failed run is the dead-letter entry; its id stays taken while retained (DLQ retry
        // starts a new run explicitly), and a duplicate start while open or retained is refused.
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        workflowIdConflictPolicy: 'FAIL',
        typedSearchAttributes: new TypedSearchAttributes(pairs),
        staticSummary: d.summary,
      });
      return 'started';
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return 'duplicate';
      throw err;
    }
  }
}
