/**
 * Malformed requests get the gRPC status the real service returns, with a message, and never disturb
 * other workflows: after each case a normal workflow still runs end to end.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { status as grpcStatus } from '@grpc/grpc-js';
import { ActivityNotFoundError, WorkflowNotFoundError } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  createTestEnv,
  eventTypeName,
  eventTypes,
  grpcCode,
  rejectionOf,
  runWorker,
  uniqueTaskQueue,
  uniqueWorkflowId,
  waitForEvent,
} from '../helpers/temporal-env';
import { createActivities } from './activities';
import { activityThenWait, greetOnce } from './workflows';
import { finishSignal } from './workflows/definitions';

jest.setTimeout(120_000);

let env: TestWorkflowEnvironment;
const namespace = (): string => env.namespace ?? 'default';

beforeAll(async () => {
  env = await createTestEnv();
});

afterAll(async () => {
  await env?.teardown();
});

/** The server still serves a normal run end to end. */
async function expectHealthy(): Promise<void> {
  const taskQueue = uniqueTaskQueue('bad-sanity');
  await runWorker(env, { taskQueue, activities: createActivities() }, async () => {
    const result = await env.client.workflow.execute(greetOnce, { workflowId: uniqueWorkflowId('bad-sanity'), taskQueue, args: ['still fine'] });
    expect(result).toBe('Hello, still fine!');
  });
}

/** Assert a raw call fails with one of `codes` and a non-empty message. */
async function expectStatus(call: Promise<unknown>, ...codes: number[]): Promise<void> {
  const err = await rejectionOf(call);
  expect(codes).toContain(grpcCode(err));
  expect(String((err as { details?: string }).details ?? (err as Error).message).length).toBeGreaterThan(0);
}

function startRequest(overrides: Record<string, unknown> = {}) {
  return {
    namespace: namespace(),
    workflowId: uniqueWorkflowId('bad-start'),
    workflowType: { name: 'echo' },
    taskQueue: { name: uniqueTaskQueue('bad-start') },
    input: { payloads: [defaultPayloadConverter.toPayload('x')] },
    identity: 'bad-input.test',
    requestId: randomUUID(),
    ...overrides,
  };
}

describe('namespace', () => {
  test('a missing namespace is INVALID_ARGUMENT', async () => {
    const svc = env.client.workflowService;
    await expectStatus(svc.startWorkflowExecution(startRequest({ namespace: '' })), grpcStatus.INVALID_ARGUMENT);
    await expectStatus(svc.describeWorkflowExecution({ namespace: '', execution: { workflowId: 'x' } }), grpcStatus.INVALID_ARGUMENT);
    await expectStatus(svc.listWorkflowExecutions({ namespace: '', query: '' }), grpcStatus.INVALID_ARGUMENT);
    await expectStatus(svc.signalWorkflowExecution({ namespace: '', workflowExecution: { workflowId: 'x' }, signalName: 's' }), grpcStatus.INVALID_ARGUMENT);
    await expectHealthy();
  });

  test('an unknown namespace is NOT_FOUND', async () => {
    const svc = env.client.workflowService;
    const ns = `no-such-namespace-${randomUUID()}`;
    await expectStatus(svc.startWorkflowExecution(startRequest({ namespace: ns })), grpcStatus.NOT_FOUND);
    await expectStatus(svc.describeWorkflowExecution({ namespace: ns, execution: { workflowId: 'x' } }), grpcStatus.NOT_FOUND);
    await expectStatus(svc.describeNamespace({ namespace: ns }), grpcStatus.NOT_FOUND);
    await expectHealthy();
  });
});

describe('start requests', () => {
  test('a start without workflow id, workflow type or task queue is INVALID_ARGUMENT', async () => {
    const svc = env.client.workflowService;
    await expectStatus(svc.startWorkflowExecution(startRequest({ workflowId: '' })), grpcStatus.INVALID_ARGUMENT);
    await expectStatus(svc.startWorkflowExecution(startRequest({ workflowType: { name: '' } })), grpcStatus.INVALID_ARGUMENT);
    await expectStatus(svc.startWorkflowExecution(startRequest({ taskQueue: { name: '' } })), grpcStatus.INVALID_ARGUMENT);
    await expectHealthy();
  });

  test('a signal without a workflow id is INVALID_ARGUMENT', async () => {
    await expectStatus(
      env.client.workflowService.signalWorkflowExecution({ namespace: namespace(), workflowExecution: { workflowId: '' }, signalName: 'finish' }),
      grpcStatus.INVALID_ARGUMENT,
    );
    await expectHealthy();
  });

  test('a poll without a task queue is INVALID_ARGUMENT, answered at once', async () => {
    const svc = env.client.workflowService;
    const deadline = Date.now() + 10_000;
    await expectStatus(
      env.connection.withDeadline(deadline, () => svc.pollWorkflowTaskQueue({ namespace: namespace(), taskQueue: { name: '' }, identity: 'bad-input.test' })),
      grpcStatus.INVALID_ARGUMENT,
    );
    await expectStatus(
      env.connection.withDeadline(deadline, () => svc.pollActivityTaskQueue({ namespace: namespace(), taskQueue: { name: '' }, identity: 'bad-input.test' })),
      grpcStatus.INVALID_ARGUMENT,
    );
    await expectHealthy();
  });
});

describe('task tokens', () => {
  test('an empty task token is INVALID_ARGUMENT', async () => {
    const svc = env.client.workflowService;
    await expectStatus(svc.respondActivityTaskCompleted({ namespace: namespace(), taskToken: new Uint8Array(0) }), grpcStatus.INVALID_ARGUMENT);
    await expectStatus(svc.respondWorkflowTaskCompleted({ namespace: namespace(), taskToken: new Uint8Array(0) }), grpcStatus.INVALID_ARGUMENT);
    await expectStatus(svc.recordActivityTaskHeartbeat({ namespace: namespace(), taskToken: new Uint8Array(0) }), grpcStatus.INVALID_ARGUMENT);
    await expectHealthy();
  });

  test('an unknown task token is rejected (INVALID_ARGUMENT for an undecodable token, NOT_FOUND for an unknown task)', async () => {
    const svc = env.client.workflowService;
    const garbage = new Uint8Array(randomBytes(48));
    await expectStatus(svc.respondActivityTaskCompleted({ namespace: namespace(), taskToken: garbage }), grpcStatus.INVALID_ARGUMENT, grpcStatus.NOT_FOUND);
    await expectStatus(
      svc.respondActivityTaskFailed({ namespace: namespace(), taskToken: garbage, failure: { message: 'x', applicationFailureInfo: {} } }),
      grpcStatus.INVALID_ARGUMENT,
      grpcStatus.NOT_FOUND,
    );
    await expectStatus(svc.recordActivityTaskHeartbeat({ namespace: namespace(), taskToken: garbage }), grpcStatus.INVALID_ARGUMENT, grpcStatus.NOT_FOUND);
    await expectStatus(svc.respondWorkflowTaskCompleted({ namespace: namespace(), taskToken: garbage }), grpcStatus.INVALID_ARGUMENT, grpcStatus.NOT_FOUND);
    await expectStatus(svc.respondWorkflowTaskFailed({ namespace: namespace(), taskToken: garbage }), grpcStatus.INVALID_ARGUMENT, grpcStatus.NOT_FOUND);
    await expect(env.client.activity.complete(garbage, 'forged')).rejects.toThrow();
    await expectHealthy();
  });

  test('completing an activity task that already completed is NOT_FOUND and changes nothing', async () => {
    const taskQueue = uniqueTaskQueue('bad-token');
    const tokens: Uint8Array[] = [];
    await runWorker(env, { taskQueue, activities: createActivities({ tokens }) }, async () => {
      const handle = await env.client.workflow.start(activityThenWait, { workflowId: uniqueWorkflowId('bad-token'), taskQueue, args: ['real'] });
      await waitForEvent(handle, (e) => eventTypeName(e) === 'ActivityTaskCompleted');
      expect(tokens).toHaveLength(1);
      const token = tokens[0] as Uint8Array;

      // While the run is still open.
      await expect(env.client.activity.complete(token, 'forged')).rejects.toBeInstanceOf(ActivityNotFoundError);
      await expectStatus(
        env.client.workflowService.respondActivityTaskCompleted({ namespace: namespace(), taskToken: token, result: { payloads: [defaultPayloadConverter.toPayload('forged')] } }),
        grpcStatus.NOT_FOUND,
      );
      await expectStatus(
        env.client.workflowService.respondActivityTaskFailed({ namespace: namespace(), taskToken: token, failure: { message: 'forged', applicationFailureInfo: {} } }),
        grpcStatus.NOT_FOUND,
      );
      await expectStatus(env.client.workflowService.recordActivityTaskHeartbeat({ namespace: namespace(), taskToken: token }), grpcStatus.NOT_FOUND);

      await handle.signal(finishSignal, 'finish');
      await expect(handle.result()).resolves.toBe('real+finish');
      const types = eventTypes(await handle.fetchHistory());
      expect(types.filter((t) => t.startsWith('Activity'))).toEqual(['ActivityTaskScheduled', 'ActivityTaskStarted', 'ActivityTaskCompleted']);

      // And once the run has closed.
      await expect(env.client.activity.complete(token, 'forged again')).rejects.toBeInstanceOf(ActivityNotFoundError);
    });
    await expectHealthy();
  });
});

describe('unknown workflows and invalid filters', () => {
  test('describing an unknown workflow is WorkflowNotFoundError (NOT_FOUND)', async () => {
    const workflowId = uniqueWorkflowId('bad-unknown');
    await expect(env.client.workflow.getHandle(workflowId).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
    await expectStatus(
      env.client.workflowService.describeWorkflowExecution({ namespace: namespace(), execution: { workflowId } }),
      grpcStatus.NOT_FOUND,
    );
    // fetchHistory() passes the raw gRPC error through (the 1.24 client does not wrap it).
    await expectStatus(env.client.workflow.getHandle(workflowId).fetchHistory(), grpcStatus.NOT_FOUND);
    await expect(env.client.workflow.getHandle(workflowId).terminate()).rejects.toBeInstanceOf(WorkflowNotFoundError);
    await expect(env.client.workflow.getHandle(workflowId).cancel()).rejects.toBeInstanceOf(WorkflowNotFoundError);
    await expectHealthy();
  });

  test('an invalid list filter is INVALID_ARGUMENT with a message', async () => {
    await expectStatus(
      env.client.workflowService.listWorkflowExecutions({ namespace: namespace(), query: "WorkflowId = 'unterminated" }),
      grpcStatus.INVALID_ARGUMENT,
    );
    await expectStatus(
      env.client.workflowService.countWorkflowExecutions({ namespace: namespace(), query: 'AND AND' }),
      grpcStatus.INVALID_ARGUMENT,
    );
    await expectHealthy();
  });
});
