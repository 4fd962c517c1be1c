/**
 * Wall-clock mode: `createLocal` launches the same executable with the dev-server argv. Activities run,
 * timers take real time, and custom search attributes registered through the server options are usable.
 */
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createTestEnv, eventually, runWorker, uniqueTaskQueue, uniqueWorkflowId } from '../helpers/temporal-env';
import { createActivities } from './activities';
import { greetOnce, reportStartInfo, sleepThenReturn } from './workflows';
import { allCustomSearchAttributes, saKeys } from './workflows/definitions';

jest.setTimeout(120_000);

let env: TestWorkflowEnvironment;

beforeAll(async () => {
  env = await createTestEnv({ timeSkipping: false, searchAttributes: allCustomSearchAttributes });
});

afterAll(async () => {
  await env?.teardown();
});

test('the environment is wall-clock', async () => {
  expect(env.supportsTimeSkipping).toBe(false);
  expect(Math.abs((await env.currentTimeMs()) - Date.now())).toBeLessThan(1_000);
});

test('a workflow with an activity runs to completion', async () => {
  const taskQueue = uniqueTaskQueue('local-activity');
  await runWorker(env, { taskQueue, activities: createActivities() }, async () => {
    const result = await env.client.workflow.execute(greetOnce, { workflowId: uniqueWorkflowId('local-activity'), taskQueue, args: ['local'] });
    expect(result).toBe('Hello, local!');
  });
});

test('timers take real time: nothing is skipped', async () => {
  const taskQueue = uniqueTaskQueue('local-timer');
  await runWorker(env, { taskQueue, activities: createActivities() }, async () => {
    const started = Date.now();
    const slept = await env.client.workflow.execute(sleepThenReturn, { workflowId: uniqueWorkflowId('local-timer'), taskQueue, args: [2_000] });
    expect(slept).toBeGreaterThanOrEqual(2_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
  });
});

test('custom search attributes registered through the server options are listed and usable', async () => {
  const { customAttributes } = await env.connection.operatorService.listSearchAttributes({ namespace: env.namespace ?? 'default' });
  const { IndexedValueType } = temporal.api.enums.v1;
  expect(customAttributes).toMatchObject({
    FqoKeyword: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    FqoKeywordList: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
    FqoText: IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
    FqoInt: IndexedValueType.INDEXED_VALUE_TYPE_INT,
    FqoDouble: IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
    FqoBool: IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
    FqoDatetime: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
  });

  const taskQueue = uniqueTaskQueue('local-sa');
  const workflowId = uniqueWorkflowId('local-sa');
  await runWorker(env, { taskQueue, activities: createActivities() }, async () => {
    const handle = await env.client.workflow.start(reportStartInfo, {
      workflowId,
      taskQueue,
      typedSearchAttributes: [
        { key: saKeys.keyword, value: workflowId },
        { key: saKeys.int, value: 11 },
        { key: saKeys.datetime, value: new Date('2025-06-07T08:09:10Z') },
      ],
    });
    const seen = await handle.result();
    expect(seen.searchAttributes).toEqual({ FqoKeyword: workflowId, FqoInt: 11, FqoDatetime: '2025-06-07T08:09:10.000Z' });
    const sa = (await handle.describe()).typedSearchAttributes;
    expect(sa.get(saKeys.keyword)).toBe(workflowId);
    expect(sa.get(saKeys.int)).toBe(11);
    await eventually(async () => {
      const ids: string[] = [];
      for await (const wf of env.client.workflow.list({ query: `FqoKeyword = '${workflowId}' AND FqoInt > 10` })) ids.push(wf.workflowId);
      expect(ids).toEqual([workflowId]);
    });
  });
});
