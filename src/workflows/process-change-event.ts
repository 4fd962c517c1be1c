/**
 * `processChangeEvent`: placeholder while the action-running version is written (same contract).
 */
import type { ProcessChangeEventInput, ProcessChangeEventResult } from './types';

export async function processChangeEvent(input: ProcessChangeEventInput): Promise<ProcessChangeEventResult> {
  return {
    eventId: input.event.id,
    entityType: input.event.entityType,
    entityId: input.event.entityId,
    kind: input.event.kind,
    status: 'succeeded',
    observers: input.matches.map((m) => m.observer),
    actions: [],
    failedActions: [],
  };
}
