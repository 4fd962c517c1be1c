/** History event construction and event-type groups used by the run state machine. */
import { enums, tsFromMs, type Timestamp } from './proto';
import { CLOSE_EVENTS } from '../temporal/history-events';

const E = enums.EventType;

/** A history event as stored: a plain object ready for protobuf encoding. */
export interface HistoryEvent {
  eventId: number;
  eventTime: Timestamp;
  eventType: number;
  taskId: number;
  [attributes: string]: unknown;
}

/** The attribute field name of each event type (`workflowExecutionStartedEventAttributes`, ...). */
const ATTR: Record<number, string> = {
  [E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED]: 'workflowExecutionStartedEventAttributes',
  [E.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED]: 'workflowExecutionCompletedEventAttributes',
  [E.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED]: 'workflowExecutionFailedEventAttributes',
  [E.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT]: 'workflowExecutionTimedOutEventAttributes',
  [E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED]: 'workflowTaskScheduledEventAttributes',
  [E.EVENT_TYPE_WORKFLOW_TASK_STARTED]: 'workflowTaskStartedEventAttributes',
  [E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED]: 'workflowTaskCompletedEventAttributes',
  [E.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT]: 'workflowTaskTimedOutEventAttributes',
  [E.EVENT_TYPE_WORKFLOW_TASK_FAILED]: 'workflowTaskFailedEventAttributes',
  [E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED]: 'activityTaskScheduledEventAttributes',
  [E.EVENT_TYPE_ACTIVITY_TASK_STARTED]: 'activityTaskStartedEventAttributes',
  [E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED]: 'activityTaskCompletedEventAttributes',
  [E.EVENT_TYPE_ACTIVITY_TASK_FAILED]: 'activityTaskFailedEventAttributes',
  [E.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT]: 'activityTaskTimedOutEventAttributes',
  [E.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED]: 'activityTaskCancelRequestedEventAttributes',
  [E.EVENT_TYPE_ACTIVITY_TASK_CANCELED]: 'activityTaskCanceledEventAttributes',
  [E.EVENT_TYPE_TIMER_STARTED]: 'timerStartedEventAttributes',
  [E.EVENT_TYPE_TIMER_FIRED]: 'timerFiredEventAttributes',
  [E.EVENT_TYPE_TIMER_CANCELED]: 'timerCanceledEventAttributes',
  [E.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED]: 'workflowExecutionCancelRequestedEventAttributes',
  [E.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED]: 'workflowExecutionCanceledEventAttributes',
  [E.EVENT_TYPE_MARKER_RECORDED]: 'markerRecordedEventAttributes',
  [E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED]: 'workflowExecutionSignaledEventAttributes',
  [E.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED]: 'workflowExecutionTerminatedEventAttributes',
  [E.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW]: 'workflowExecutionContinuedAsNewEventAttributes',
  [E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES]: 'upsertWorkflowSearchAttributesEventAttributes',
  [E.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED]: 'workflowPropertiesModifiedEventAttributes',
  [E.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED]: 'signalExternalWorkflowExecutionInitiatedEventAttributes',
  [E.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED]: 'signalExternalWorkflowExecutionFailedEventAttributes',
  [E.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED]: 'externalWorkflowExecutionSignaledEventAttributes',
  [E.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED]: 'requestCancelExternalWorkflowExecutionInitiatedEventAttributes',
  [E.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED]: 'requestCancelExternalWorkflowExecutionFailedEventAttributes',
  [E.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED]: 'externalWorkflowExecutionCancelRequestedEventAttributes',
};

/** A new event with id 0 (assigned when it is written to the history). */
export function makeEvent(eventType: number, nowMs: number, attributes: object): HistoryEvent {
  const field = ATTR[eventType];
  if (!field) throw new Error(`embedded-temporal: no attribute field for event type ${eventType}`);
  return { eventId: 0, eventTime: tsFromMs(nowMs), eventType, taskId: 0, [field]: attributes };
}

/** The attributes object of an event (mutable: used to patch cross-references on flush). */
export function attrs(ev: HistoryEvent): Record<string, unknown> {
  return ev[ATTR[ev.eventType]!] as Record<string, unknown>;
}

export { CLOSE_EVENTS };

/** Rough encoded size of an event, for historySizeBytes (exactness is not needed). */
export function approxSize(ev: HistoryEvent): number {
  let n = 32;
  const a = attrs(ev);
  for (const v of Object.values(a)) {
    if (v && typeof v === 'object' && 'payloads' in (v as object)) {
      for (const p of ((v as { payloads?: Array<{ data?: Uint8Array }> }).payloads ?? [])) n += p.data?.length ?? 0;
    }
  }
  return n;
}
