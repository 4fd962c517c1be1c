/**
 * One load-generator process of `bench:temporal` (forked by bench/temporal.ts): keeps a fixed
 * number of workflows in flight through the SDK client (start, then wait for the result) and
 * reports each workflow's start→completion latency. It runs apart from the worker so the client's
 * CPU time is not charged to (or taken from) the worker.
 *
 * argv[2]: the server address. Messages: sends `ready`; on {@link LoadRequest} runs it and answers
 * {@link LoadResult}; `stop` closes the connection and exits.
 */
import { Client, Connection } from '@temporalio/client';

/** One phase of load: `n` workflows of `workflowType`, `inFlight` at a time, ids prefixed `prefix`. */
export interface LoadRequest {
  type: 'run';
  taskQueue: string;
  workflowType: string;
  prefix: string;
  n: number;
  inFlight: number;
}

export interface LoadResult {
  type: 'done';
  /** Start→completion latency of each workflow, milliseconds. */
  latencies: number[];
  /** Workflows whose result was an error (must stay 0: a failing run is not throughput). */
  failed: number;
  firstError?: string;
}

async function run(client: Client, req: LoadRequest): Promise<LoadResult> {
  const latencies: number[] = [];
  let next = 0;
  let failed = 0;
  let firstError: string | undefined;
  async function lane(): Promise<void> {
    for (;;) {
      const i = next++;
      if (i >= req.n) return;
      const started = performance.now();
      try {
        await client.workflow.execute(req.workflowType, { taskQueue: req.taskQueue, workflowId: `${req.prefix}-${i}`, args: [i] });
        latencies.push(performance.now() - started);
      } catch (err) {
        failed++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  }
  await Promise.all(Array.from({ length: req.inFlight }, lane));
  return { type: 'done', latencies, failed, firstError };
}

async function main(): Promise<void> {
  const address = process.argv[2] ?? '';
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  process.on('message', (m: LoadRequest | 'stop') => {
    if (m === 'stop') {
      void connection.close().then(() => process.exit(0));
      return;
    }
    void run(client, m).then((r) => process.send?.(r));
  });
  process.send?.('ready');
}

main().catch((err) => {
  console.error('bench load generator failed:', err);
  process.exit(1);
});
