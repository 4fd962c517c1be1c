/**
 * `processChangeEvent`: one workflow per matched change event. This first version records the
 * event and the observers that matched it; the action-running version replaces its body.
 */
import type { ProcessChangeEventInput, ProcessChangeEventResult } from './types';

export async function processChangeEvent(input: ProcessChangeEventInput): Promise<ProcessChangeEventResult> {
  return {
    eventId: input.event.id,
    observers: input.matches.map((m) => m.observer),
    actions: input.matches.reduce((n, m) => n + m.actions.length, 0),
  };
}
