/**
 * The peer pipeline's worker process (graphile-worker), the yardstick bench/e2e.ts runs next to the
 * service: it takes the jobs the change-log trigger enqueued (see install.ts) and runs
 * {@link deliverTask} for each. Its own process, as the service's worker is, so its CPU and peak
 * RSS are its own.
 *
 * Started by bench/e2e.ts with `fork`; sends `{ type: 'ready' }` once graphile-worker runs, stops
 * (finishing the jobs in hand) on SIGTERM. Settings from the environment:
 *   BENCH_PEER_DATABASE_URL   the bench database (graphile-worker's schema already installed)
 *   BENCH_PEER_URLS           the webhook URLs, comma-separated
 *   BENCH_PEER_CONCURRENCY    jobs at once
 *   BENCH_SIGNING_SECRET      the signing secret (the service's actions read the same variable)
 */
import { run } from 'graphile-worker';
import { HttpClient } from '../../src/activities/http-client';
import { SsrfGuard } from '../../src/activities/ssrf';
import { deliverTask } from './deliver';
import { PEER_TASK } from './install';
import { quietLogger } from './logger';

export type PeerWorkerMessage = { type: 'ready' };

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`peer worker: ${name} is not set`);
  return value;
}

async function main(): Promise<void> {
  const databaseUrl = required('BENCH_PEER_DATABASE_URL');
  const urls = required('BENCH_PEER_URLS').split(',');
  const concurrency = Number(required('BENCH_PEER_CONCURRENCY'));
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`peer worker: BENCH_PEER_CONCURRENCY must be a positive integer, got ${JSON.stringify(process.env.BENCH_PEER_CONCURRENCY)}`);
  const secret = required('BENCH_SIGNING_SECRET');

  const http = new HttpClient(new SsrfGuard({ allow: ['127.0.0.1/32'] }));
  const targets = urls.map((u, i) => ({ url: new URL(u), key: `peer.${i}` }));
  const runner = await run({
    connectionString: databaseUrl,
    concurrency,
    // graphile-worker's advice: at least concurrency + 2 connections, so starting and completing
    // jobs never waits for a pool client.
    maxPoolSize: Math.max(10, concurrency + 2),
    noHandleSignals: true,
    logger: quietLogger,
    taskList: { [PEER_TASK]: deliverTask(http, targets, secret) },
  });
  runner.promise.catch((err: unknown) => {
    console.error('peer worker: graphile-worker stopped with an error:', err);
    process.exit(1);
  });
  process.send?.({ type: 'ready' } satisfies PeerWorkerMessage);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('disconnect', () => resolve());
  });
  await runner.stop();
  await http.close();
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
