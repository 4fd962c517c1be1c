/**
 * The two workflow bundles of the service (src/worker/workflow-bundle.ts): the default one captures
 * no workflow stack traces (the `__stack_trace` query behind the Web UI's "Call Stack" and
 * `temporal workflow stack` answers with no frame), WORKER_WORKFLOW_STACK_TRACES=true's keeps them. Both run
 * processChangeEvent the same way.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { closeActivities, createActivities, InMemoryBreakerStore, type ObserverActivities } from '../../src/activities';
import { parseConfig } from '../../src/config';
import type { ProcessChangeEventInput, ProcessChangeEventResult } from '../../src/contract';
import { compileObservers, matchEvent } from '../../src/events/match';
import { workflowBundleOptions } from '../../src/worker/workflow-bundle';
import { captureLogger, orderEvent, startHttpReceiver, type HttpReceiver } from '../helpers/receivers';
import { createTestEnv, uniqueTaskQueue, uniqueWorkflowId } from '../helpers/temporal-env';

jest.setTimeout(180_000);

let env: TestWorkflowEnvironment;
let hold: HttpReceiver;
let activities: ObserverActivities;
const releases: Array<() => void> = [];

beforeAll(async () => {
  env = await createTestEnv({ timeSkipping: false });
  // Holds every request until released, so the run stays open while its stack is asked for.
  hold = await startHttpReceiver((_req, res) => {
    releases.push(() => res.end('ok'));
  });
  activities = createActivities({ env: {}, log: captureLogger().log, breaker: new InMemoryBreakerStore(), ssrf: { allow: ['127.0.0.1/32'] } });
});

afterAll(async () => {
  for (const r of releases.splice(0)) r();
  await closeActivities(activities);
  await hold?.close();
  await env?.teardown();
});

function input(): ProcessChangeEventInput {
  const yaml = `ssrf:\n  allow: [127.0.0.1/32]\nobservers:\n  held:\n    entity: Order\n    events: [INSERT]\n    actions:\n      - type: webhook\n        url: "${hold.url}/held"\n`;
  const config = parseConfig({ env: { DATABASE_URL: 'postgres://x@127.0.0.1/x' }, text: yaml, source: 'observers.yaml' });
  const event = orderEvent({ kind: 'INSERT', rawKind: 'INSERT' });
  const { matches, conditionErrors } = matchEvent(event, compileObservers(config));
  expect(matches).toHaveLength(1);
  return { event, matches, conditionErrors, readAt: new Date().toISOString() };
}

async function stackOfOpenRun(stackTraces: boolean): Promise<{ stack: string; result: ProcessChangeEventResult }> {
  const quiet = () => undefined;
  const bundle = await bundleWorkflowCode({ ...workflowBundleOptions(stackTraces), logger: { trace: quiet, debug: quiet, info: quiet, warn: quiet, error: quiet, log: quiet } });
  const taskQueue = uniqueTaskQueue('stacks');
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: bundle, activities });
  return await worker.runUntil(async () => {
    const before = hold.requests.length;
    const handle = await env.client.workflow.start('processChangeEvent', { taskQueue, workflowId: uniqueWorkflowId('stacks'), args: [input()] });
    for (const deadline = Date.now() + 60_000; hold.requests.length === before; ) {
      if (Date.now() > deadline) throw new Error(`the webhook never arrived: ${JSON.stringify((await handle.fetchHistory()).events?.map((e) => [e.eventType, e.workflowTaskFailedEventAttributes?.failure?.message]))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const stack = await handle.query<string>('__stack_trace');
    releases.shift()?.();
    return { stack, result: (await handle.result()) as ProcessChangeEventResult };
  });
}

it('the default bundle keeps no workflow stack traces: the stack query answers without a frame, the run is unchanged', async () => {
  const { stack, result } = await stackOfOpenRun(false);
  // No frames: what is left is the bare error line the SDK formats the empty trace with.
  expect(stack.trim()).toBe('Error');
  expect(result).toMatchObject({ status: 'succeeded', failedActions: [] });
});

it('the bundle of WORKER_WORKFLOW_STACK_TRACES=true shows where the open run waits', async () => {
  const { stack, result } = await stackOfOpenRun(true);
  expect(stack).toMatch(/at runAction \(.*process-change-event\.ts:\d+:\d+\)/);
  expect(result).toMatchObject({ status: 'succeeded', failedActions: [] });
});
