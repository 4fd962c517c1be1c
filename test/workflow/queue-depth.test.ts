/**
 * `observer_job_queue_depth` counts the running processChangeEvent workflows of one task queue,
 * from the embedded server's visibility.
 */
import { Registry } from 'prom-client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { QUEUE_DEPTH_METRIC, startQueueDepthGauge } from '../../src/worker/queue-depth';
import { createTestEnv, eventually, uniqueTaskQueue, uniqueWorkflowId } from '../helpers/temporal-env';

jest.setTimeout(120_000);

describe('job queue depth gauge', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await createTestEnv({ timeSkipping: false });
  });
  afterAll(async () => {
    await env?.teardown();
  });

  it('follows the running processChangeEvent workflows of its task queue', async () => {
    const taskQueue = uniqueTaskQueue('depth');
    const other = uniqueTaskQueue('depth-other');
    const registry = new Registry();
    const value = async () => (await registry.getSingleMetric(QUEUE_DEPTH_METRIC)?.get())?.values[0]?.value;
    // No worker polls these queues, so the runs stay open.
    const handles = await Promise.all(
      [taskQueue, taskQueue, other].map((tq) => env.client.workflow.start('processChangeEvent', { taskQueue: tq, workflowId: uniqueWorkflowId('depth'), args: [{}] })),
    );
    await env.client.workflow.start('somethingElse', { taskQueue, workflowId: uniqueWorkflowId('depth'), args: [] });
    const stop = startQueueDepthGauge(env.client, registry, taskQueue, 100);
    try {
      await eventually(async () => expect(await value()).toBe(2));
      await handles[0]!.terminate('test');
      await eventually(async () => expect(await value()).toBe(1));
    } finally {
      await stop();
    }
  });
});
