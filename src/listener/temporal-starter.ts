/**
 * Starts `processChangeEvent` workflows on Temporal. The workflow id is derived from the event id,
 * so a re-read row is rejected by Temporal as already started: that answer is a dedup skip.
 */
import { type Client, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { TypedSearchAttributes, type SearchAttributePair } from '@temporalio/common';
import { ChangeLogPosition, EntityType, EventKind, ObserverNames, SEARCH_ATTRIBUTES } from '../temporal/search-attributes';
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
      throw explainStartFailure(err, this.opts.client.options.namespace);
    }
  }
}

/** Real servers say "search attribute X is not defined"; the embedded one says "no mapping defined for search attribute X". */
const MISSING_ATTRIBUTE_RE = /search attribute (\w+) is not defined|no mapping defined for search attribute (\w+)/;

/**
 * The SDK reports every refused start as "Failed to start Workflow" and keeps the server's reason
 * in the cause: bring the reason into the message, and for an unregistered search attribute name
 * it with the command that registers it.
 */
export function explainStartFailure(err: unknown, namespace: string): Error {
  const details = grpcDetails(err);
  if (!details) return err instanceof Error ? err : new Error(String(err));
  const m = MISSING_ATTRIBUTE_RE.exec(details);
  const name = m?.[1] ?? m?.[2];
  if (name) {
    const type = (SEARCH_ATTRIBUTES as Record<string, string>)[name];
    const fix = type
      ? `register it: temporal operator search-attribute create --namespace ${namespace} --name ${name} --type ${type} (README: "Search attributes")`
      : 'register it on the namespace or stop setting it';
    return new Error(`search attribute ${name} is not registered on Temporal namespace ${namespace}: ${fix}. Temporal said: ${details}`, { cause: err });
  }
  return new Error(`${(err as Error).message}: ${details}`, { cause: err });
}

/**
 * The server's reason for a refusal: the gRPC status details of the error or one of its causes
 * (@grpc/grpc-js), else the message of its innermost cause (the SDK's native connection, which
 * the listener uses when it shares a process with the worker, carries the reason there).
 */
function grpcDetails(err: unknown): string | null {
  let innermost: string | null = null;
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const d = (e as { details?: unknown }).details;
    if (typeof d === 'string' && d !== '') return d;
    if (depth > 0 && e instanceof Error && e.message !== '') innermost = e.message;
  }
  return innermost;
}
