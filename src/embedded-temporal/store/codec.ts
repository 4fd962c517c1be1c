/**
 * Encoding of what the durable store writes: history batches as `temporal.api.history.v1.History`
 * messages (the wire form, so a history read back encodes to the same bytes), and the small
 * per-run state as JSON whose protobuf parts (events, failures, payloads) are base64 messages.
 */
import protoRoot from '@temporalio/proto';
import type { IConversionOptions, Type } from 'protobufjs';
import { type HistoryEvent } from '../history';
import { type SavedRunState } from '../run';

const root = protoRoot as unknown as { lookupType(name: string): Type };
const HISTORY = root.lookupType('temporal.api.history.v1.History');
const EVENT = root.lookupType('temporal.api.history.v1.HistoryEvent');
const FAILURE = root.lookupType('temporal.api.failure.v1.Failure');
const PAYLOADS = root.lookupType('temporal.api.common.v1.Payloads');
const USER_METADATA = root.lookupType('temporal.api.sdk.v1.UserMetadata');

/** Plain objects with int64 as numbers and enums as numbers: the shape the run state machine uses. */
const PLAIN: IConversionOptions = { longs: Number, enums: Number };

export function encodeEvents(events: readonly HistoryEvent[]): Buffer {
  return Buffer.from(HISTORY.encode({ events }).finish());
}

export function decodeEvents(bytes: Uint8Array): HistoryEvent[] {
  const plain = HISTORY.toObject(HISTORY.decode(bytes), PLAIN) as { events?: HistoryEvent[] };
  return plain.events ?? [];
}

function encodeOpt(type: Type, value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  return Buffer.from(type.encode(value as object).finish()).toString('base64');
}

function decodeOpt(type: Type, b64: string | undefined): unknown {
  if (b64 === undefined) return undefined;
  return type.toObject(type.decode(Buffer.from(b64, 'base64')), PLAIN);
}

interface StoredState {
  b?: Array<{ e: string; r: number }>;
  a?: Array<{ id: number; n: number; s: string; at?: number; f?: string; d?: string; i?: string }>;
  q?: string[];
  /** Workflow task attempt (above 1). */
  w?: number;
}

/** The run's saved state as bytes, or null when there is nothing beside the history. */
export function encodeSavedState(state: SavedRunState): Buffer | null {
  const out: StoredState = {};
  if (state.buffered?.length) out.b = state.buffered.map((x) => ({ e: encodeOpt(EVENT, x.event)!, r: x.startedRef }));
  if (state.activities?.length) {
    out.a = state.activities.map((a) => ({
      id: a.scheduledEventId, n: a.attempt, s: a.state, at: a.retryAt,
      f: encodeOpt(FAILURE, a.lastFailure), d: encodeOpt(PAYLOADS, a.heartbeatDetails), i: a.startedIdentity,
    }));
  }
  if (state.requestIds?.length) out.q = state.requestIds;
  if (state.workflowTaskAttempt && state.workflowTaskAttempt > 1) out.w = state.workflowTaskAttempt;
  if (!out.b && !out.a && !out.q && !out.w) return null;
  return Buffer.from(JSON.stringify(out));
}

export function decodeSavedState(bytes: Uint8Array | null): SavedRunState {
  if (!bytes || bytes.length === 0) return {};
  const s = JSON.parse(Buffer.from(bytes).toString('utf8')) as StoredState;
  const out: SavedRunState = {};
  if (s.b) out.buffered = s.b.map((x) => ({ event: decodeOpt(EVENT, x.e) as HistoryEvent, startedRef: x.r }));
  if (s.a) {
    out.activities = s.a.map((a) => ({
      scheduledEventId: a.id, attempt: a.n, state: a.s as 'scheduled' | 'started' | 'backoff', retryAt: a.at,
      lastFailure: decodeOpt(FAILURE, a.f), heartbeatDetails: decodeOpt(PAYLOADS, a.d), startedIdentity: a.i,
    }));
  }
  if (s.q) out.requestIds = s.q;
  if (s.w) out.workflowTaskAttempt = s.w;
  return out;
}

export function encodeUserMetadata(m: unknown): Buffer | null {
  if (m === undefined || m === null) return null;
  return Buffer.from(USER_METADATA.encode(m as object).finish());
}

export function decodeUserMetadata(bytes: Uint8Array | null): unknown {
  if (!bytes || bytes.length === 0) return undefined;
  return USER_METADATA.toObject(USER_METADATA.decode(bytes), PLAIN);
}
