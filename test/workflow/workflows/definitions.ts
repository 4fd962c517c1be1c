/**
 * Signals, queries and search attribute keys shared by the test workflows and the tests that drive them.
 * Imports only `@temporalio/workflow`, so both the workflow bundle and the tests can load it.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';

/** Ends a workflow that waits for it; the argument becomes (part of) the result. */
export const finishSignal = defineSignal<[string]>('finish');
/** Appends a value to a workflow's list of received values. */
export const addSignal = defineSignal<[string]>('add');
/** Advances a step-by-step workflow. */
export const stepSignal = defineSignal('step');
/** Sent by an activity once it is running, so the workflow can react to a started attempt. */
export const activityStartedSignal = defineSignal('activityStarted');
/** Lets a workflow that keeps failing its workflow task make progress. */
export const fixSignal = defineSignal('fix');

export const valuesQuery = defineQuery<string[]>('values');
export const countQuery = defineQuery<number, [number]>('count');

/**
 * Custom search attributes of every indexed type. Registered by `createTestEnv({ searchAttributes })`.
 * The names are prefixed so they cannot clash with attributes a server pre-registers.
 */
export const saKeys = {
  keyword: key('FqoKeyword', 'KEYWORD'),
  keywordList: key('FqoKeywordList', 'KEYWORD_LIST'),
  text: key('FqoText', 'TEXT'),
  int: key('FqoInt', 'INT'),
  double: key('FqoDouble', 'DOUBLE'),
  bool: key('FqoBool', 'BOOL'),
  datetime: key('FqoDatetime', 'DATETIME'),
};

export const allCustomSearchAttributes = Object.values(saKeys);

/** The predefined attribute the SDK upserts when a workflow calls `patched()`. */
export const changeVersionKey = key('TemporalChangeVersion', 'KEYWORD_LIST');

/** Same shape as `defineSearchAttributeKey` of `@temporalio/common`, which workflow code here does not import. */
function key<T extends 'TEXT' | 'KEYWORD' | 'INT' | 'DOUBLE' | 'BOOL' | 'DATETIME' | 'KEYWORD_LIST'>(name: string, type: T): { name: string; type: T } {
  return { name, type };
}
