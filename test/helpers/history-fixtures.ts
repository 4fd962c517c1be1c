/**
 * Recorded workflow histories kept as replay fixtures: the protobuf-encoded history (base64) plus
 * the event types for a reader. (The SDK's historyToJSON needs its own protobufjs instance, which
 * a fetched history is not, so the binary form is what round-trips losslessly.)
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { History } from '@temporalio/common/lib/proto-utils';
import { temporal } from '@temporalio/proto';
import { eventTypeName } from './temporal-env';

export const FIXTURES_DIR = path.resolve(__dirname, '../workflow/fixtures');

interface Fixture { workflowType: string; eventTypes: string[]; historyBase64: string }

/** The fixture text of a history. */
export function encodeHistoryFixture(history: History): string {
  const bytes = temporal.api.history.v1.History.encode(history as temporal.api.history.v1.IHistory).finish();
  const f: Fixture = {
    workflowType: history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? '',
    eventTypes: (history.events ?? []).map((e) => eventTypeName(e)),
    historyBase64: Buffer.from(bytes).toString('base64'),
  };
  return `${JSON.stringify(f, null, 2)}\n`;
}

export function decodeHistoryFixture(text: string): History {
  const f = JSON.parse(text) as Fixture;
  return temporal.api.history.v1.History.decode(Buffer.from(f.historyBase64, 'base64')) as History;
}

export function fixturePath(name: string): string {
  return path.join(FIXTURES_DIR, `${name}.json`);
}

export function loadHistoryFixture(name: string): History {
  return decodeHistoryFixture(readFileSync(fixturePath(name), 'utf8'));
}

/** Writes the fixture only when none is committed yet (a committed one is the contract to replay). */
export function recordHistoryFixtureIfAbsent(name: string, history: History): boolean {
  if (existsSync(fixturePath(name))) return false;
  mkdirSync(FIXTURES_DIR, { recursive: true });
  writeFileSync(fixturePath(name), encodeHistoryFixture(history));
  return true;
}
