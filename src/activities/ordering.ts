/**
 * Per-entity ordering: the `awaitPredecessor` activity waits until the workflow of the previous
 * event of the same entity has closed, so a `per_entity` observer's actions run in event order.
 *
 * It asks Temporal for the predecessor's state (describe), then long-polls for its close event
 * (the same request `WorkflowHandle.result()` makes) in slices shorter than the heartbeat timeout,
 * heartbeating between slices. Cancelling the activity aborts the poll at once.
 */
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { AwaitPredecessorInput, AwaitPredecessorResult, OrderingActivities } from '../contract';

/** Dependencies of {@link createOrderingActivities}. */
export interface OrderingActivityDeps {
  /** A client of the namespace the workflows run in. */
  client: Client;
  /**
   * Longest single wait for the close event before heartbeating and asking again (default
   * 10 s; keep it well under the workflow's heartbeat timeout of 30 s).
   */
  pollSliceMs?: number;
}

export type { OrderingActivities } from '../contract';

const CLOSED: Record<string, AwaitPredecessorResult['status'] | undefined> = {
  COMPLETED: 'completed',
  FAILED: 'failed',
  TERMINATED: 'terminated',
  CANCELLED: 'cancelled',
  TIMED_OUT: 'timed_out',
  CONTINUED_AS_NEW: 'continued_as_new',
};

/**
 * Build the ordering activities over an injected Temporal client (registered in the worker next
 * to the action activities).
 */
export function createOrderingActivities(deps: OrderingActivityDeps): OrderingActivities {
  const { client } = deps;
  const sliceMs = deps.pollSliceMs ?? 10_000;
  return {
    async awaitPredecessor(input: AwaitPredecessorInput): Promise<AwaitPredecessorResult> {
      const ctx = Context.current();
      const started = Date.now();
      const done = (status: AwaitPredecessorResult['status']): AwaitPredecessorResult => ({ status, waitedMs: Date.now() - started });
      const handle = client.workflow.getHandle(input.workflowId);
      for (;;) {
        let status: string;
        try {
          status = (await client.withAbortSignal(ctx.cancellationSignal, () => handle.describe())).status.name;
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) return done('not_found');
          throw cancelledOr(ctx, err);
        }
        const closed = CLOSED[status];
        if (closed) return done(closed);
        ctx.heartbeat({ waitingFor: input.workflowId, status, waitedMs: Date.now() - started });
        try {
          await client.withAbortSignal(ctx.cancellationSignal, () =>
            client.withDeadline(Date.now() + sliceMs, () =>
              client.workflowService.getWorkflowExecutionHistory({
                namespace: client.options.namespace,
                execution: { workflowId: input.workflowId },
                skipArchival: true,
                waitNewEvent: true,
                historyEventFilterType: temporal.api.enums.v1.HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT,
              }),
            ),
          );
        } catch (err) {
          if (ctx.cancellationSignal.aborted) throw cancelledOr(ctx, err);
          // A slice that ran out (DEADLINE_EXCEEDED) or a dropped poll: heartbeat and ask again.
          if (!isDeadline(err)) ctx.log.debug('predecessor poll failed; asking again', { workflowId: input.workflowId, error: String((err as Error)?.message ?? err) });
        }
        ctx.heartbeat({ waitingFor: input.workflowId, waitedMs: Date.now() - started });
      }
    },
  };
}

/** When the activity was cancelled, the cancellation reason (so Temporal records a cancellation), else `err`. */
function cancelledOr(ctx: Context, err: unknown): unknown {
  if (ctx.cancellationSignal.aborted) return ctx.cancellationSignal.reason ?? err;
  return err;
}

function isDeadline(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  return e?.code === 4 || (typeof e?.message === 'string' && /deadline/i.test(e.message));
}
