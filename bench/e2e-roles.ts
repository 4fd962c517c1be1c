/**
 * The processes of `npm run bench:e2e`, one role each, so each one's peak RSS is measured alone:
 *
 *   node dist/bench/e2e-roles.js receiver   keep-alive HTTP receiver; reports every delivery (event id, arrival ms)
 *   node dist/bench/e2e-roles.js worker     real SDK Worker: src/workflows + createActivities
 *   node dist/bench/e2e-roles.js listener   ChangeLogListener + TemporalStarter, config from BENCH_OBSERVERS
 *
 * Started by bench/e2e.ts with `fork` (IPC): each sends `{ type: 'ready' }` and stops on `'stop'`.
 * Settings come from the environment: TEMPORAL_ADDRESS, BENCH_TASK_QUEUE, DATABASE_URL,
 * BENCH_OBSERVERS (YAML text), BENCH_SIGNING_SECRET.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type RoleMessage =
  | { type: 'ready'; port?: number }
  | { type: 'deliveries'; items: Array<[eventId: string, key: string, atMs: number]> }
  | { type: 'error'; message: string };

const noop = (): void => undefined;
const quietLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: (...args: unknown[]) => console.error(...args), log: noop };

function send(message: RoleMessage): void {
  process.send?.(message);
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`bench role ${process.argv[2]}: environment variable ${name} is not set`);
  return value;
}

/** Resolves when the parent says stop (or goes away). */
function stopRequested(): Promise<void> {
  return new Promise((resolve) => {
    process.on('message', (m) => {
      if (m === 'stop') resolve();
    });
    process.on('disconnect', () => resolve());
  });
}

async function receiver(): Promise<void> {
  let pending: Array<[string, string, number]> = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      pending.push([String(req.headers['x-fraiseql-event-id'] ?? ''), String(req.headers['idempotency-key'] ?? ''), Date.now()]);
      // /slow/... answers after 100 ms: the "3 × 100 ms actions" of the parallelism phase.
      if (req.url?.startsWith('/slow')) setTimeout(() => res.end('ok'), 100);
      else res.end('ok');
    });
  });
  server.keepAliveTimeout = 60_000;
  const flush = setInterval(() => {
    if (pending.length === 0) return;
    send({ type: 'deliveries', items: pending });
    pending = [];
  }, 50);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  send({ type: 'ready', port: (server.address() as AddressInfo).port });
  await stopRequested();
  clearInterval(flush);
  if (pending.length > 0) send({ type: 'deliveries', items: pending });
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

// Each role loads only its own modules, so the receiver's RSS is an HTTP server's, not the SDK's.
async function worker(): Promise<void> {
  const { DefaultLogger, NativeConnection, Runtime, Worker, bundleWorkflowCode } = await import('@temporalio/worker');
  const { closeActivities, createActivities, InMemoryBreakerStore } = await import('../src/activities');
  const { parseConfig } = await import('../src/config');
  const { default: pino } = await import('pino');
  const { Registry } = await import('prom-client');
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const connection = await NativeConnection.connect({ address: required('TEMPORAL_ADDRESS') });
  const config = parseConfig({ env: { DATABASE_URL: required('DATABASE_URL') }, text: required('BENCH_OBSERVERS'), source: 'bench-observers.yaml' });
  const activities = createActivities({
    env: { BENCH_SIGNING_SECRET: required('BENCH_SIGNING_SECRET') },
    log: pino({ level: 'silent' }),
    breaker: new InMemoryBreakerStore(),
    ssrf: { allow: config.ssrf.allow },
    metrics: new Registry(),
  });
  const sink = { fn: noop };
  const w = await Worker.create({
    connection,
    taskQueue: required('BENCH_TASK_QUEUE'),
    // Bundled here, at start-up, as a worker of the service does: its peak RSS includes webpack's.
    workflowBundle: await bundleWorkflowCode({ workflowsPath: require.resolve('../src/workflows'), logger: quietLogger }),
    activities,
    sinks: { observer: { eventFinished: sink, alert: sink } },
  });
  const running = w.run();
  send({ type: 'ready' });
  await stopRequested();
  w.shutdown();
  await running;
  await closeActivities(activities);
  await connection.close();
}

async function listener(): Promise<void> {
  const { Client, Connection } = await import('@temporalio/client');
  const { parseConfig } = await import('../src/config');
  const { compileObservers } = await import('../src/events/match');
  const { ChangeLogListener } = await import('../src/listener');
  const { createRowHandler } = await import('../src/listener/row-handler');
  const { TemporalStarter } = await import('../src/listener/temporal-starter');
  const { default: pino } = await import('pino');
  const { Registry } = await import('prom-client');
  const databaseUrl = required('DATABASE_URL');
  const connection = await Connection.connect({ address: required('TEMPORAL_ADDRESS') });
  const client = new Client({ connection });
  const config = parseConfig({ env: { DATABASE_URL: databaseUrl }, text: required('BENCH_OBSERVERS'), source: 'bench-observers.yaml' });
  const l = new ChangeLogListener({
    connectionString: databaseUrl,
    listenerId: 'bench-e2e',
    handler: createRowHandler(compileObservers(config), { mapping: { table: 'core.tb_entity_change_log' } }),
    starter: new TemporalStarter({ client, taskQueue: required('BENCH_TASK_QUEUE') }),
    logger: pino({ level: 'silent' }),
    metrics: new Registry(),
  });
  await l.start();
  await l.whenLeader();
  send({ type: 'ready' });
  await stopRequested();
  await l.stop();
  await connection.close();
}

const roles: Record<string, () => Promise<void>> = { receiver, worker, listener };

async function main(): Promise<void> {
  const role = roles[process.argv[2] ?? ''];
  if (!role) throw new Error(`usage: e2e-roles.js receiver|worker|listener (got ${JSON.stringify(process.argv[2])})`);
  await role();
  process.exit(0);
}

main().catch((err: unknown) => {
  send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  console.error(err);
  process.exit(1);
});
