/**
 * Workflow input and output types (plain data; imported by workflow code as types only).
 * The input is a snapshot taken by the listener at match time, so later config changes never
 * alter a running workflow.
 */
import type { ChangeEvent } from '../events/types';
import type { ObserverMatch } from '../events/match';

export interface ProcessChangeEventInput {
  event: ChangeEvent;
  matches: ObserverMatch[];
  /** Observers skipped because their condition errored, with the reason (visible in history). */
  conditionErrors: Array<{ observer: string; message: string }>;
  /** When the listener read the row (ISO-8601). */
  readAt: string;
}

export interface ProcessChangeEventResult {
  eventId: string;
  observers: string[];
  actions: number;
}
