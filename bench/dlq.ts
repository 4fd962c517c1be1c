/**
 * `npm run bench:dlq`: what the dead-letter commands cost as the DLQ grows, on the embedded
 * Temporal server (in this process): the `observer_dlq_size` refresh (count + list + latest-run
 * check), `dlq list` (one page of 50, with summaries), `dlq stats` (one close event read per entry)
 * and `dlq retry-all --dry-run` (describe + history per entry).
 *
 * The failed runs are real: the real `processChangeEvent` workflow and webhook activity against a
 * loopback receiver answering 400, started the way the listener starts them.
 *
 * Env: BENCH_DLQ_SIZES (comma-separated DLQ sizes, default 500,2000), BENCH_DLQ_REPEAT (timed runs
 * per cell, the median is shown; default 3).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, DefaultLogger, Worker, bundleWorkflowCode } from '@temporalio/worker';
import pino from 'pino';
import { InMemoryBreakerStore, closeActivities, createActivities } from '../src/activities';
import { parseConfig } from '../src/config';
import { countDlqEntries, dlqStats, listDlq, retryAll } from '../src/dlq';
import { startEmbeddedTemporal } from '../src/embedded-temporal';
import { compileObservers } from '../src/events/match';
import { createRowHandler } from '../src/listener/row-handler';
import { TemporalStarter } from '../src/listener/temporal-starter';
import { SEARCH_ATTRIBUTES } from '../src/temporal/search-attributes';
import { printTable } from './table';

const SIZES = (process.env.BENCH_DLQ_SIZES ?? '500,2000').split(',').map((s) => Number(s.trim()));
const REPEAT = Number(process.env.BENCH_DLQ_REPEAT ?? 3);

async function median(fn: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const t = process.hrtime.bigint();
    await fn();
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

async function main(): Promise<void> {
  if (SIZES.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`BENCH_DLQ_SIZES must be positive whole numbers, got ${process.env.BENCH_DLQ_SIZES}`);
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const receiver = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.statusCode = 400;
      res.end('{"error":"rejected"}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

  const server = await startEmbeddedTemporal({ port: 0, timeSkipping: false, searchAttributes: { ...SEARCH_ATTRIBUTES } });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const native = await NativeConnection.connect({ address: server.address });
  const taskQueue = `bench-dlq-${randomUUID().slice(0, 8)}`;
  const config = parseConfig({
    env: { DATABASE_URL: 'postgres://postgres@127.0.0.1/unused' },
    source: 'bench.yaml',
    text: `ssrf:\n  allow: [127.0.0.1/32]\nobservers:\n  billing:\n    entity: "*"\n    events: [UPDATE]\n    retry: { max_attempts: 3 }\n    actions:\n      - { type: webhook, url: "${url}/billing" }\n`,
  });
  const handler = createRowHandler(compileObservers(config));
  const starter = new TemporalStarter({ client, taskQueue });
  const activities = createActivities({ env: {}, log: pino({ level: 'silent' }), breaker: new InMemoryBreakerStore({ minimumCalls: 1_000_000 }), ssrf: { allow: ['127.0.0.1/32'] } });
  const worker = await Worker.create({
    connection: native,
    taskQueue,
    workflowBundle: await bundleWorkflowCode({ workflowsPath: require.resolve('../src/workflows'), logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error } }),
    activities,
    sinks: { observer: { eventFinished: { fn: () => undefined }, alert: { fn: () => undefined } } },
    maxConcurrentWorkflowTaskExecutions: 100,
    nonStickyToStickyPollRatio: 1,
  });
  const running = worker.run();

  const rows: Array<Array<string | number>> = [];
  let made = 0;
  try {
    for (const size of [...SIZES].sort((a, b) => a - b)) {
      // Fill the DLQ up to `size`, 50 starts in flight.
      const next = async (): Promise<void> => {
        while (made < size) {
          made += 1;
          const d = handler({ pk: String(made), id: randomUUID(), object_type: 'Invoice', modification_type: 'UPDATE', object_id: randomUUID(), object_data: { n: made } });
          if (d.kind !== 'start') throw new Error('row not started');
          await starter.start(`fraiseql-event:${d.event.id}`, d);
        }
      };
      await Promise.all(Array.from({ length: 50 }, next));
      const deadline = Date.now() + 600_000;
      while ((await client.workflow.count(`ExecutionStatus = 'Failed'`)).count < size) {
        if (Date.now() > deadline) throw new Error(`the DLQ did not reach ${size} entries in 10 minutes`);
        await new Promise((r) => setTimeout(r, 250));
      }
      if ((await countDlqEntries(client)) !== size) throw new Error('countDlqEntries disagrees with the number of failed runs');
      rows.push([
        size,
        await median(() => countDlqEntries(client)),
        await median(() => listDlq(client, { limit: 50 })),
        await median(() => dlqStats(client)),
        await median(() => retryAll(client, {}, { dryRun: true, limit: 10_000 })),
      ]);
    }
  } finally {
    worker.shutdown();
    await running;
    await closeActivities(activities);
    await native.close();
    await connection.close();
    await server.stop();
    receiver.close();
  }
  console.log(`\nDLQ operations on the embedded server (median of ${REPEAT}, ms)\n`);
  printTable(['DLQ entries', 'gauge refresh', 'dlq list (50)', 'dlq stats', 'retry-all --dry-run'], rows);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
