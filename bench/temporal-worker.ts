/**
 * One worker process of `bench:temporal` (forked by bench/temporal.ts): an SDK worker on the
 * bench task queue, with the options it is given, running until the parent says stop. Keeping
 * the worker in its own process means its CPU time is measured apart from the load generator's.
 *
 * argv[2]: JSON {@link WorkerProcessConfig}. Messages: sends `ready`, then `stopped`; obeys `stop`.
 */
import { DefaultLogger, NativeConnection, Runtime, Worker, type NativeConnectionOptions, type WorkerOptions } from '@temporalio/worker';
import * as activities from './activities';

/** What the parent passes: where to connect, the pre-built bundle, and the worker options under test. */
export interface WorkerProcessConfig {
  address: string;
  taskQueue: string;
  bundlePath: string;
  options: Partial<WorkerOptions>;
  /** NativeConnection options under test (e.g. gRPC compression). */
  connection?: Partial<NativeConnectionOptions>;
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '') as WorkerProcessConfig;
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const connection = await NativeConnection.connect({ ...cfg.connection, address: cfg.address });
  const worker = await Worker.create({
    ...cfg.options,
    connection,
    taskQueue: cfg.taskQueue,
    workflowBundle: { codePath: cfg.bundlePath },
    activities,
    shutdownGraceTime: '1s',
  });
  const running = worker.run();
  process.on('message', (m) => {
    if (m === 'stop') worker.shutdown();
  });
  process.send?.('ready');
  await running;
  await connection.close();
  process.send?.('stopped', () => process.exit(0));
}

main().catch((err) => {
  console.error('bench worker failed:', err);
  process.exit(1);
});
