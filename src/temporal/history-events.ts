/** Facts about Temporal history events shared by the embedded server and the DLQ readers. */
import { temporal } from '@temporalio/proto';

const E = temporal.api.enums.v1.EventType;

/** Event types that close a run. */
export const CLOSE_EVENTS: ReadonlySet<number> = new Set<number>([
  E.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
  E.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
  E.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
  E.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
  E.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
  E.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
]);
