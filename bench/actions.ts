/**
 * Action benchmark: webhook deliveries/s through the full activity path (template, signing,
 * breaker, SSRF guard, undici keep-alive pool) against a local receiver, and the wall time of three
 * 100 ms webhook calls run one after another versus together.
 *
 * The receiver runs in a worker thread so it does not share the event loop with the client.
 * Run: `npm run build && node dist/bench/actions.js` (or through bench/run-all).
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import Table from 'cli-table3';
import pino from 'pino';
import { request } from 'undici';
import { InMemoryBreakerStore, closeActivities, createActivities, type ObserverActivities, type WebhookAction } from '../src/activities';
import type { ChangeEvent } from '../src/events/types';

const RECEIVER = `
const http = require('node:http');
const { parentPort } = require('node:worker_threads');
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    if (req.url.startsWith('/slow')) setTimeout(() => res.end('ok'), 100);
    else res.end('ok');
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));
parentPort.on('message', (m) => { if (m === 'stop') server.close(() => process.exit(0)); });
`;

async function startReceiver(): Promise<{ url: string; stop(): Promise<void> }> {
  const worker = new Worker(RECEIVER, { eval: true });
  const port = await new Promise<number>((resolve) => worker.once('message', resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      worker.postMessage('stop');
      await new Promise((r) => worker.once('exit', r));
    },
  };
}

function event(i: number): ChangeEvent {
  return {
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    position: String(i),
    kind: 'INSERT',
    rawKind: 'INSERT',
    entityType: 'Order',
    entityId: `order-${i}`,
    data: { status: 'new', total: i },
    before: null,
    changes: null,
    updatedFields: null,
    tenantId: null,
    userId: null,
    actor: null,
    createdAt: null,
    commitTime: null,
    trace: null,
  };
}

/** Runs `task` from `concurrency` loops for `ms` after a short warm-up; returns completions per second. */
async function throughput(concurrency: number, ms: number, task: (i: number) => Promise<unknown>): Promise<{ perSecond: number; errors: number }> {
  let i = 0;
  const warmUntil = performance.now() + 500;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < warmUntil) await task(i++);
  }));
  let done = 0;
  let errors = 0;
  const started = performance.now();
  const until = started + ms;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < until) {
      try {
        await task(i++);
        done++;
      } catch {
        errors++;
      }
    }
  }));
  return { perSecond: done / ((performance.now() - started) / 1000), errors };
}

async function median(runs: number, fn: () => Promise<number>): Promise<number> {
  const values: number[] = [];
  for (let r = 0; r < runs; r++) values.push(await fn());
  values.sort((a, b) => a - b);
  return values[Math.floor(values.length / 2)] ?? NaN;
}

/** Runs the benchmark and prints its table. */
export async function runActionsBench(durationMs = Number(process.env.BENCH_DURATION_MS ?? 5000)): Promise<void> {
  const receiver = await startReceiver();
  const acts: ObserverActivities = createActivities({
    env: { BENCH_SECRET: 'bench-signing-secret' },
    log: pino({ level: 'silent' }),
    breaker: new InMemoryBreakerStore(),
    ssrf: { allow: ['127.0.0.1/32'] },
  });
  const hook = (path: string): WebhookAction => ({ type: 'webhook', key: 'bench:0', url: `${receiver.url}${path}`, signing_secret_env: 'BENCH_SECRET' });
  const fast = hook('/fast/{{ event.entity_id }}');
  const slow = hook('/slow');
  const table = new Table({ head: ['measurement', 'concurrency', 'result'] });
  try {
    for (const c of [1, 64]) {
      const raw = await throughput(c, durationMs, async () => {
        const res = await request(`${receiver.url}/fast`, { method: 'POST', body: '{}' });
        await res.body.dump();
      });
      table.push([`raw undici request (baseline)`, c, `${raw.perSecond.toFixed(0)} req/s`]);
      const r = await throughput(c, durationMs, (i) => acts.runWebhook({ event: event(i), action: fast }));
      table.push([`runWebhook (signed, templated URL, breaker, SSRF guard)`, c, `${r.perSecond.toFixed(0)} deliveries/s${r.errors ? ` (${r.errors} errors)` : ''}`]);
    }
    const sequential = await median(5, async () => {
      const t = performance.now();
      for (let k = 0; k < 3; k++) await acts.runWebhook({ event: event(k), action: slow });
      return performance.now() - t;
    });
    const parallel = await median(5, async () => {
      const t = performance.now();
      await Promise.all([0, 1, 2].map((k) => acts.runWebhook({ event: event(k), action: slow })));
      return performance.now() - t;
    });
    table.push(['3 × 100 ms webhooks, sequential (median of 5)', 1, `${sequential.toFixed(0)} ms`]);
    table.push(['3 × 100 ms webhooks, Promise.all (median of 5)', 3, `${parallel.toFixed(0)} ms`]);
  } finally {
    await closeActivities(acts);
    await receiver.stop();
  }
  console.log(`actions benchmark — node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}, ${durationMs} ms per row`);
  console.log(table.toString());
}

if (require.main === module) {
  runActionsBench().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
