/**
 * Bounded memory: closed runs are kept for the retention period (a duplicate start of a retained
 * id is still rejected), then dropped; a steady load never grows the state past the cap.
 */
import { Client, Connection, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import { startEmbeddedTemporal, type EmbeddedTemporal } from '../../src/embedded-temporal';
import { eventually } from '../helpers/temporal-env';

jest.setTimeout(60_000);

describe('embedded server retention', () => {
  let server: EmbeddedTemporal;
  let connection: Connection;
  let client: Client;

  beforeAll(async () => {
    server = await startEmbeddedTemporal({ port: 0, retentionMs: 4000, maxClosedRuns: 100 });
    connection = await Connection.connect({ address: server.address });
    client = new Client({ connection });
  });
  afterAll(async () => {
    await connection.close();
    await server.stop();
  });

  it('rejects a duplicate start of a retained closed run, then forgets the run after retention', async () => {
    const opts = { taskQueue: 'retention-nobody-polls', workflowId: 'retained-1', workflowIdReusePolicy: 'REJECT_DUPLICATE' as const };
    const h = await client.workflow.start('anything', opts);
    await h.terminate('closing it');
    await expect(client.workflow.start('anything', opts)).rejects.toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
    expect((await h.describe()).status.name).toBe('TERMINATED');

    // Past retention the sweeper (every 400 ms here) drops the run; poll for that instead of sleeping a fixed time.
    await eventually(
      async () => {
        await expect(client.workflow.getHandle('retained-1', h.firstExecutionRunId).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    const again = await client.workflow.start('anything', opts);
    expect(again.firstExecutionRunId).not.toBe(h.firstExecutionRunId);
    await again.terminate();
  });

  it('keeps at most maxClosedRuns closed runs under a steady load', async () => {
    const ns = server.state.namespace('default');
    for (let i = 0; i < 400; i++) {
      const h = await client.workflow.start('anything', { taskQueue: 'retention-nobody-polls', workflowId: `load-${i}` });
      await h.terminate();
      if (i % 50 === 49) expect(ns.runs.size).toBeLessThanOrEqual(101);
    }
    expect(ns.retainedClosed).toBeLessThanOrEqual(100);
    expect(ns.runs.size).toBeLessThanOrEqual(101);
  });
});
