/**
 * One service process, as `fraiseql-observers start` runs it: the metrics endpoint, Temporal (the
 * embedded server when TEMPORAL_ADDRESS is unset — durable in PostgreSQL by default, or in memory —
 * else a real cluster), and the roles asked for — the change-log listener, the worker, or both —
 * with a shutdown that never drops accepted work.
 */
import { describeTemporalSecurity, temporalSecurity, type TemporalSecurity } from '../temporal/connection';
import { openTemporal, TemporalSettingError, TemporalUnreachableError } from '../temporal/connect';
import { Client, type Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { type Admission, backlogAdmission } from '../listener/admission';
import { NativeConnection, type WorkflowBundle } from '@temporalio/worker';
import { EXIT_CODES, ObserversError, type ExitCode } from '../errors';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from '../config';
import { DatabaseUnreachableError, describeDatabaseUrl, isUnreachableError, unreachableReason } from '../db/errors';
import { startEmbeddedTemporal } from '../embedded-temporal';
import { type EmbeddedTemporalHandle, startEmbeddedTemporalThread } from '../embedded-temporal/thread';
import { startDlqGauge } from '../dlq/gauge';
import { compileObservers } from '../events/match';
import { ChangeLogListener } from '../listener';
import { createRowHandler } from '../listener/row-handler';
import { ChangeLogTableError } from '../listener/table-info';
import { createServiceStarter } from '../listener/service-starter';
import { createRegistry, listenerMetrics } from '../metrics/registry';
import { type MetricsServer, type ReadinessCheck, startMetricsServer } from '../metrics/server';
import { pingRedis } from '../redis/health';
import { AuditSink } from '../search';
import { SEARCH_ATTRIBUTES } from '../temporal/search-attributes';
import { drainOpenWorkflows } from './drain';
import { describeStorage, type EmbeddedStorage, persistenceOptions, serverIsDurable } from './embedded-storage';
import { startQueueDepthGauge } from './queue-depth';
import { createObserverWorker, type ObserverWorker } from './worker';

export const ROLES = ['all', 'listener', 'worker'] as const;
export type Role = (typeof ROLES)[number];

/** A failure to start, with a message that says what to do, and its exit code (src/errors.ts: 2 setup, 3 unavailable). */
export class ServiceStartError extends ObserversError {
  constructor(message: string, override readonly exitCode: ExitCode = EXIT_CODES.failed, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface ServiceOptions {
  config: Config;
  role: Role;
  /** Secrets named by actions are read from here at run time (usually `process.env`). */
  env: Record<string, string | undefined>;
  log: Logger;
  registry?: Registry;
  /** Port of the embedded server (overrides EMBEDDED_TEMPORAL_PORT); ignored with TEMPORAL_ADDRESS. */
  embeddedTemporalPort?: number;
  /** Overrides METRICS_PORT. */
  metricsPort?: number;
  /** How often `observer_dlq_size` and `observer_job_queue_depth` are refreshed from Temporal visibility (default 15 s). */
  gaugeIntervalMs?: number;
  /**
   * Where the embedded server keeps its state (ignored with TEMPORAL_ADDRESS). Default: PostgreSQL,
   * the database of DATABASE_URL; `{ kind: 'memory' }` is not durable.
   */
  embeddedTemporalStorage?: EmbeddedStorage;
  /** Overrides SHUTDOWN_DRAIN_TIMEOUT_MS (0 = no limit). */
  drainTimeoutMs?: number;
  /** A prebuilt workflow bundle (tests); default: bundle `src/workflows` at start. */
  workflowBundle?: WorkflowBundle;
}

export interface TemporalTarget {
  address: string;
  namespace: string;
  /** True when this process runs the embedded server. */
  embedded: boolean;
  /** Where workflows live: the embedded server's memory or PostgreSQL store, or the cluster at `address`. */
  storage: 'memory' | 'postgresql' | 'cluster';
  /** The embedded server's PostgreSQL store as `host:port/db` (never credentials), else null. */
  storageLocation: string | null;
}

export interface RunningService {
  role: Role;
  temporal: TemporalTarget;
  taskQueue: string;
  metricsUrl: string;
  listener: ChangeLogListener | null;
  worker: ObserverWorker | null;
  registry: Registry;
  /** Resolves with the error when a role fails on its own (the worker stops polling); never rejects. */
  readonly failure: Promise<Error>;
  /**
   * Stops the listener (in-flight starts, checkpoint), then lets the worker finish the work the
   * server holds — with an in-memory embedded server every open workflow, else the tasks in flight —
   * then the endpoint, the connections and the server (its state saved when durable).
   */
  stop(): Promise<void>;
  /** Ends the drain of a running `stop()` now (a second signal); what was left open is logged. */
  forceStop(): void;
}

type Closer = { name: string; close: () => Promise<void> };

// Shutdown order: no new starts; then the drain (an in-memory server must see every open workflow
// finish: the checkpoint is already past the rows that started them); then the worker's own stop
// (running actions finish within the grace time); then a count of what a durable server keeps for
// the next start; then stop answering scrapes, then the connections and the server the others used.
const STOP_ORDER = [
  'listener', 'dedup store', 'drain', 'worker', 'open workflows report', 'audit trail', 'DLQ gauge', 'queue depth gauge', 'metrics endpoint',
  'Temporal worker connection', 'Temporal client', 'embedded Temporal server',
];

/** The visibility query of the drain: every open workflow of the namespace, whatever its queue. */
export const OPEN_WORKFLOWS_QUERY = "ExecutionStatus = 'Running'";

/**
 * Starts everything the role needs. On any failure, what was started is closed again before the
 * error is thrown.
 *
 * @throws ServiceStartError with an actionable message (port in use, Temporal or PostgreSQL
 *   unreachable, change-log table missing).
 */
export async function startService(o: ServiceOptions): Promise<RunningService> {
  const { config, log } = o;
  const env = config.env;
  const registry = o.registry ?? createRegistry({ defaultMetrics: true });
  const closers: Closer[] = [];
  const closeAll = async () => {
    const ordered = closers.splice(0).sort((a, b) => STOP_ORDER.indexOf(a.name) - STOP_ORDER.indexOf(b.name));
    for (const c of ordered) {
      log.debug({ component: c.name }, `stopping ${c.name}`);
      try {
        await c.close();
      } catch (err) {
        log.warn({ err: { message: (err as Error).message }, component: c.name }, `error while stopping ${c.name}`);
      }
    }
  };
  const force = new AbortController();
  let reportFailure: (err: Error) => void = () => undefined;
  const failure = new Promise<Error>((resolve) => {
    reportFailure = resolve;
  });

  try {
    let metrics: MetricsServer;
    try {
      metrics = await startMetricsServer({ registry, port: o.metricsPort ?? env.metricsPort, host: env.metricsHost, log, portFlag: o.metricsPort === undefined ? 'METRICS_PORT' : '--metrics-port' });
    } catch (err) {
      throw new ServiceStartError((err as Error).message, EXIT_CODES.unavailable, { cause: err });
    }
    closers.push({ name: 'metrics endpoint', close: () => metrics.close() });

    const temporal = await connectTemporal(o, closers, (err, what) => {
      const why = what === 'store' ? 'lost its store and stopped' : 'stopped';
      log.fatal({ component: 'embedded-temporal', err: { message: err.message } }, `the embedded Temporal server ${why}: ${err.message}`);
      reportFailure(err);
    });
    const { client } = temporal;
    const taskQueue = env.temporalTaskQueue;

    let listener: ChangeLogListener | null = null;
    if (o.role !== 'worker') {
      listener = createListener(o, starterClient(temporal, env.temporalNamespace), registry, taskQueue, closers);
      try {
        await listener.start();
      } catch (err) {
        throw explainListenerStartError(err);
      }
      const l = listener;
      closers.push({ name: 'listener', close: () => l.stop() });
    }

    let worker: ObserverWorker | null = null;
    if (o.role !== 'listener') {
      if (!temporal.native) throw new Error('internal: no native connection for the worker');
      const audit = await createAuditTrail(o, registry, closers);
      const w = await createObserverWorker({
        config, connection: temporal.native, client, env: o.env, log, registry, onFinished: audit ? (f) => audit.record(f) : undefined,
        ...(o.workflowBundle ? { workflowBundle: o.workflowBundle } : {}),
      });
      worker = w;
      if (w.redis && usesWorkerRedis(config)) {
        // Say it now rather than in the first failed cache action; not fatal: the actions retry.
        const r = await pingRedis(w.redis);
        if (!r.ok) log.warn({ component: 'redis' }, `${r.detail}: cache actions will fail (and be retried) until it answers`);
      }
      const running = w.run();
      running.then(
        () => undefined,
        (err: unknown) => {
          const e = err instanceof Error ? err : new Error(String(err));
          log.error({ err: { message: e.message } }, 'the worker stopped with an error');
          reportFailure(e);
        },
      );
      closers.push({
        name: 'worker',
        close: async () => {
          // Forced: the durable server keeps what is unfinished; an in-memory one has already said what it loses.
          if (force.signal.aborted) log.warn('forced stop: not waiting for running actions');
          await untilAborted(w.shutdown(), force.signal);
        },
      });
    }
    addDrain(o, temporal, worker, force.signal, closers);

    const stopGauge = startDlqGauge(client, registry, o.gaugeIntervalMs ?? 15_000, {
      onError: (err) => log.debug({ err: { message: (err as Error).message } }, 'cannot refresh the DLQ size gauge'),
    });
    closers.push({ name: 'DLQ gauge', close: stopGauge });
    const stopDepth = startQueueDepthGauge(client, registry, taskQueue, o.gaugeIntervalMs ?? 15_000, (err) =>
      log.debug({ err: { message: (err as Error).message } }, 'cannot refresh the job queue depth gauge'));
    closers.push({ name: 'queue depth gauge', close: stopDepth });

    metrics.setChecks(readinessChecks({ listener, worker, client, namespace: env.temporalNamespace, redisNeeded: usesWorkerRedis(config) }));
    let stopping: Promise<void> | null = null;
    return {
      role: o.role,
      temporal: {
        address: temporal.address,
        namespace: env.temporalNamespace,
        embedded: temporal.embedded !== null,
        storage: temporal.storage,
        storageLocation: temporal.storageLocation,
      },
      taskQueue,
      metricsUrl: `${metrics.url}/metrics`,
      listener,
      worker,
      registry,
      failure,
      stop() {
        stopping ??= closeAll();
        return stopping;
      },
      forceStop() {
        force.abort();
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** The Elasticsearch audit trail when ELASTICSEARCH_URL is set (one document per finished run). */
async function createAuditTrail(o: ServiceOptions, registry: Registry, closers: Closer[]): Promise<AuditSink | null> {
  const url = o.config.env.elasticsearchUrl;
  if (!url) return null;
  const { Client: ElasticClient } = await import('@elastic/elasticsearch');
  const es = new ElasticClient({ node: url });
  const sink = new AuditSink({ client: es, log: o.log.child({ component: 'audit' }), metrics: registry });
  closers.push({
    name: 'audit trail',
    close: async () => {
      await sink.close();
      await es.close();
    },
  });
  return sink;
}

interface TemporalConnections {
  address: string;
  embedded: EmbeddedTemporalHandle | null;
  storage: TemporalTarget['storage'];
  storageLocation: string | null;
  client: Client;
  native: NativeConnection | null;
}

/**
 * The stop's drain step and, with a durable embedded server, the count of what it keeps for the
 * next start. A real cluster needs neither: it keeps every workflow, and other workers finish them.
 */
function addDrain(o: ServiceOptions, t: TemporalConnections, worker: ObserverWorker | null, force: AbortSignal, closers: Closer[]): void {
  if (!t.embedded) return;
  const log = o.log.child({ component: 'shutdown' });
  const countOpen = async () => (await t.client.workflow.count(OPEN_WORKFLOWS_QUERY)).count;
  if (t.storage === 'memory') {
    const timeoutMs = o.drainTimeoutMs ?? o.config.env.shutdownDrainTimeoutMs;
    closers.push({
      name: 'drain',
      close: async () => {
        const outcome = await drainOpenWorkflows({
          countOpen,
          // A listener-only process hosts the server for workers elsewhere: they may still finish the rest.
          canProgress: () => worker === null || worker.state() === 'RUNNING',
          timeoutMs,
          force,
          log,
        });
        if (outcome.drained) {
          log.info({ duration_ms: outcome.durationMs }, 'drained: no open workflow left');
          return;
        }
        log.error(
          {
            reason: outcome.reason,
            open_workflows: outcome.open,
            duration_ms: outcome.durationMs,
            durable: false,
            consequence: 'they are lost: the embedded server keeps them in memory only (start without --memory to keep them across restarts)',
          },
          'drain stopped: workflows left open',
        );
      },
    });
    return;
  }
  closers.push({
    name: 'open workflows report',
    close: async () => {
      let open: number;
      try {
        open = await countOpen();
      } catch (err) {
        log.warn({ err: { message: (err as Error).message } }, 'cannot count the open workflows before stopping');
        return;
      }
      const fields = { open_workflows: open, durable: true, store: t.storageLocation, consequence: 'they are saved and resume at the next start' };
      if (force.aborted && open > 0) log.warn({ reason: 'second signal', ...fields }, 'drain stopped: workflows left open');
      else if (open > 0) log.info(fields, 'stopping with open workflows saved');
    },
  });
}

/** Resolves when `p` settles or `signal` aborts, whichever comes first. */
function untilAborted(p: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    p.then(done, done);
  });
}

async function connectTemporal(o: ServiceOptions, closers: Closer[], onServerFailure: (err: Error, what: 'store' | 'thread') => void): Promise<TemporalConnections> {
  const env = o.config.env;
  let embedded: EmbeddedTemporalHandle | null = null;
  let address: string;
  let storage: TemporalTarget['storage'] = 'cluster';
  let storageLocation: string | null = null;
  if (env.temporalAddress === null) {
    const port = o.embeddedTemporalPort ?? env.embeddedTemporalPort;
    const asked: EmbeddedStorage = o.embeddedTemporalStorage ?? { kind: 'postgresql', url: env.databaseUrl };
    try {
      // Its own thread by default: its calls then run beside the listener's and the worker's, not between them.
      const start = env.embeddedTemporalThread
        ? (opts: Parameters<typeof startEmbeddedTemporal>[0]) => startEmbeddedTemporalThread(opts, { onThreadFailure: (err) => onServerFailure(err, 'thread') })
        : startEmbeddedTemporal;
      embedded = await start({
        host: '127.0.0.1',
        port,
        namespace: env.temporalNamespace,
        timeSkipping: false,
        searchAttributes: { ...SEARCH_ATTRIBUTES },
        onError: (method, err) => o.log.error({ component: 'embedded-temporal', method, err: { message: err instanceof Error ? err.message : String(err) } }, 'embedded Temporal server error'),
        ...persistenceOptions(asked, {
          onStandby: (holder) => o.log.warn({ component: 'embedded-temporal', holder }, `another embedded Temporal server holds the store (${holder}); waiting to take over`),
          onFatal: (err) => onServerFailure(err, 'store'),
        }),
      });
    } catch (err) {
      if (asked.kind === 'postgresql') {
        // The store is opened before the listener looks at the database: same message as the listener's.
        const cause = (err as { cause?: unknown }).cause;
        const root = isUnreachableError(cause) ? cause : err;
        if (isUnreachableError(root)) {
          const setting = asked.url === env.databaseUrl ? 'DATABASE_URL' : '--temporal-data';
          throw new ServiceStartError(
            `Cannot reach PostgreSQL at ${describeDatabaseUrl(asked.url)}: ${unreachableReason(root)}. Check ${setting} and that PostgreSQL is running. ` +
              'The embedded Temporal server keeps its state there (--memory runs it in memory, not durable).',
            EXIT_CODES.unavailable,
            { cause: err },
          );
        }
      }
      const message = (err as Error).message;
      const portTaken = /EADDRINUSE|address already in use|No address added/i.test(message);
      throw new ServiceStartError(
        `cannot start the embedded Temporal server on 127.0.0.1:${port} (state in ${describeStorage(asked)}): ${message}. ` +
          (portTaken
            ? 'Is another Temporal server (or `fraiseql-observers dev-server`) already listening there? ' +
              `Pick another port with ${o.embeddedTemporalPort === undefined ? 'EMBEDDED_TEMPORAL_PORT' : '--temporal-port'} (0 = any free port), or set TEMPORAL_ADDRESS to use that server.`
            : 'Check that PostgreSQL is reachable and `fraiseql-observers migrate` has run, put the state elsewhere with --temporal-data, ' +
              'run in memory with --memory (not durable), or set TEMPORAL_ADDRESS to use a cluster.'),
        EXIT_CODES.unavailable,
        { cause: err },
      );
    }
    const e = embedded;
    if (asked.kind === 'postgresql' && serverIsDurable(e)) {
      storage = 'postgresql';
      storageLocation = describeDatabaseUrl(asked.url);
    } else {
      storage = 'memory';
      if (asked.kind === 'postgresql') {
        o.log.warn({ temporal_address: e.address }, 'this build of the embedded Temporal server cannot keep its state in PostgreSQL: running in memory, NOT durable (a crash loses accepted changes)');
      }
    }
    closers.push({ name: 'embedded Temporal server', close: () => e.stop() });
    if (o.role === 'worker') {
      o.log.warn({ temporal_address: e.address }, `role worker with its own embedded Temporal server: only listeners started with TEMPORAL_ADDRESS=${e.address} can give it work; set TEMPORAL_ADDRESS to share a server instead`);
    }
    address = e.address;
  } else {
    address = env.temporalAddress;
  }

  const unreachable = (err: unknown) =>
    new ServiceStartError(
      `cannot reach Temporal at ${address}: ${(err as Error).message}` +
        (embedded ? '' : '. Check TEMPORAL_ADDRESS (or unset it to run the embedded server).'),
      EXIT_CODES.unavailable,
      { cause: err },
    );
  // TLS / API key only for a real cluster: the embedded server speaks plaintext on loopback.
  let security: TemporalSecurity = {};
  if (!embedded) {
    try {
      security = temporalSecurity(o.env);
    } catch (err) {
      throw new ServiceStartError(`cannot start: ${(err as Error).message}`, EXIT_CODES.usage, { cause: err });
    }
    o.log.info({ temporal_address: address, temporal_security: describeTemporalSecurity(security) }, 'connecting to Temporal');
  }
  // The same connection (address check, namespace check, errors) as every CLI command: src/temporal/connect.ts.
  let connection: Connection;
  let client: Client;
  try {
    ({ connection, client } = await openTemporal({
      address, namespace: env.temporalNamespace, security, connectTimeoutMs: 10_000, checkNamespace: !embedded, source: embedded ? 'in-process' : 'env',
    }));
  } catch (err) {
    if (err instanceof TemporalUnreachableError) throw unreachable(err.cause ?? err);
    if (err instanceof TemporalSettingError) throw new ServiceStartError(err.message.replace(/^--namespace \(TEMPORAL_NAMESPACE\)/, 'TEMPORAL_NAMESPACE').replace(/^TEMPORAL_ADDRESS/, 'env.TEMPORAL_ADDRESS'), EXIT_CODES.usage, { cause: err });
    throw err;
  }
  const conn = connection;
  closers.push({ name: 'Temporal client', close: () => conn.close() });
  if (!embedded) await checkCluster(o, connection);

  let native: NativeConnection | null = null;
  if (o.role !== 'listener') {
    try {
      // No gzip to the embedded server on loopback: inflating every request was 41 % of its CPU
      // (bench:temporal); elsewhere TEMPORAL_GRPC_COMPRESSION decides (default: the SDK's gzip).
      const compress = embedded ? 'none' : env.temporalGrpcCompression;
      native = await NativeConnection.connect({ address, ...security, ...(compress === 'none' ? { grpcCompression: { codec: 'none' as const } } : {}) });
    } catch (err) {
      throw unreachable(err);
    }
    const n = native;
    closers.push({ name: 'Temporal worker connection', close: () => n.close() });
  }
  return { address, embedded, storage, storageLocation, client, native };
}

/**
 * The client the listener starts workflows with. With a worker in the same process it shares the
 * worker's native connection: a start then goes through the SDK's Rust core instead of
 * @grpc/grpc-js, which costs the process less CPU per event (README: "Performance").
 */
function starterClient(t: { client: Client; native: NativeConnection | null }, namespace: string): Client {
  return t.native ? new Client({ connection: t.native, namespace }) : t.client;
}

/** On a real cluster (namespace already checked by openTemporal): missing search attributes are reported with the fix. */
async function checkCluster(o: ServiceOptions, connection: Connection): Promise<void> {
  const namespace = o.config.env.temporalNamespace;
  try {
    const listed = await connection.operatorService.listSearchAttributes({ namespace });
    const known = new Set([...Object.keys(listed.customAttributes ?? {}), ...Object.keys(listed.systemAttributes ?? {})]);
    const missing = Object.entries(SEARCH_ATTRIBUTES).filter(([name]) => !known.has(name));
    if (missing.length > 0) {
      o.log.warn(
        { namespace, missing: missing.map(([n]) => n) },
        `search attributes missing on the cluster; workflow starts will fail until they are registered: ${missing
          .map(([n, t]) => `temporal operator search-attribute create --namespace ${namespace} --name ${n} --type ${t}`)
          .join(' && ')}`,
      );
    }
  } catch (err) {
    // Temporal Cloud refuses OperatorService calls to most API keys: not being able to check is not an error.
    o.log.debug({ err: { message: (err as Error).message } }, 'cannot list search attributes');
  }
}

function createListener(o: ServiceOptions, client: Client, registry: Registry, taskQueue: string, closers: Closer[]): ChangeLogListener {
  const env = o.config.env;
  const log = o.log.child({ component: 'listener' });
  const metrics = listenerMetrics(registry);
  const starter = createServiceStarter({ config: o.config, client, taskQueue, registry, log: o.log });
  closers.push({ name: 'dedup store', close: () => starter.close() });
  const handler = createRowHandler(compileObservers(o.config), {
    mapping: { table: env.changeLogTable.qualified },
    workflowIdPrefix: env.workflowIdPrefix,
    onConditionError: (observer, eventId, message) => {
      metrics.conditionErrors.inc({ observer });
      log.warn({ observer, event_id: eventId }, `condition of observer ${observer} failed; observer skipped for this event: ${message}`);
    },
  });
  return new ChangeLogListener({
    connectionString: env.databaseUrl,
    table: env.changeLogTable.qualified,
    listenerId: env.listenerId,
    handler,
    starter: starter.starter,
    workflowIdPrefix: env.workflowIdPrefix,
    batchSize: env.batchSize,
    pollIntervalMs: env.pollIntervalMs,
    maxStartsInFlight: env.maxStartsInFlight,
    ...(env.maxTaskBacklog > 0 ? { admission: taskBacklogAdmission(client, env.temporalNamespace, taskQueue, env.maxTaskBacklog, log) } : {}),
    logger: log,
    metrics,
  });
}

/**
 * Backpressure from the workers: the task queue's backlog as Temporal reports it (DescribeTaskQueue,
 * workflow and activity tasks not yet picked up). Pauses and resumes are logged at info.
 */
function taskBacklogAdmission(client: Client, namespace: string, taskQueue: string, limit: number, log: Logger): Admission {
  const { TaskQueueType, TaskQueueKind } = temporal.api.enums.v1;
  const describe = async (taskQueueType: temporal.api.enums.v1.TaskQueueType) => {
    const r = await client.connection.withDeadline(Date.now() + 2000, () =>
      client.workflowService.describeTaskQueue({
        namespace, taskQueue: { name: taskQueue, kind: TaskQueueKind.TASK_QUEUE_KIND_NORMAL }, taskQueueType, includeTaskQueueStatus: true,
      }),
    );
    return Number(r.taskQueueStatus?.backlogCountHint ?? 0);
  };
  let lastError = 0;
  // Under sustained load reading pauses every few seconds: one info line a minute says so.
  let lastInfo = 0;
  let pauses = 0;
  let pausedMs = 0;
  return backlogAdmission({
    limit,
    backlog: async () => {
      const [workflowTasks, activityTasks] = await Promise.all([describe(TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW), describe(TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)]);
      return workflowTasks + activityTasks;
    },
    onPause: (backlog) => {
      pauses += 1;
      log.debug({ task_backlog: backlog, limit }, 'workers are behind: reading paused');
      if (Date.now() - lastInfo < 60_000) return;
      log.info(
        { task_backlog: backlog, limit, pauses, paused_ms: pausedMs },
        `workers are behind (${backlog} tasks waiting, MAX_TASK_BACKLOG ${limit}): reading paused until they catch up; new changes wait in the change log`,
      );
      lastInfo = Date.now();
      pauses = 0;
      pausedMs = 0;
    },
    onResume: (ms) => {
      pausedMs += ms;
      log.debug({ paused_ms: ms }, 'workers caught up: reading resumed');
    },
    onError: (err) => {
      if (Date.now() - lastError < 60_000) return;
      lastError = Date.now();
      log.warn({ err: { message: (err as Error).message } }, 'cannot read the task queue backlog; reading goes on without backpressure until it can');
    },
  });
}

function explainListenerStartError(err: unknown): Error {
  if (err instanceof DatabaseUnreachableError) {
    return new ServiceStartError(`${err.message}. Check DATABASE_URL and that PostgreSQL is running.`, EXIT_CODES.unavailable, { cause: err });
  }
  if (err instanceof ChangeLogTableError) {
    return new ServiceStartError(`${err.message} (the table is set with CHANGE_LOG_TABLE, default core.tb_entity_change_log)`, EXIT_CODES.unavailable, { cause: err });
  }
  return err instanceof Error ? err : new Error(String(err));
}

/** gRPC codes under which a cluster refuses to list search attributes to this caller (Temporal Cloud API keys). */
const NOT_CHECKABLE = new Set([7, 12, 16]); // PERMISSION_DENIED, UNIMPLEMENTED, UNAUTHENTICATED

/**
 * Whether the service's search attributes are registered on the namespace: every workflow start
 * fails while one is missing, so the process is not ready.
 */
async function searchAttributesCheck(client: Client, namespace: string): Promise<{ ok: boolean; detail: string }> {
  let listed;
  try {
    listed = await client.connection.withDeadline(Date.now() + 1500, () => client.connection.operatorService.listSearchAttributes({ namespace }));
  } catch (err) {
    const code = (err as { code?: number }).code;
    if (code !== undefined && NOT_CHECKABLE.has(code)) return { ok: true, detail: `reachable; search attributes not checked (${(err as Error).message})` };
    return { ok: false, detail: `cannot list search attributes of namespace ${namespace} (${(err as Error).message})` };
  }
  const known = new Set([...Object.keys(listed.customAttributes ?? {}), ...Object.keys(listed.systemAttributes ?? {})]);
  const missing = Object.keys(SEARCH_ATTRIBUTES).filter((name) => !known.has(name));
  if (missing.length === 0) return { ok: true, detail: 'reachable' };
  return {
    ok: false,
    detail: `search attributes missing on namespace ${namespace}: ${missing.join(', ')} (every workflow start fails until they are registered; README: "Search attributes")`,
  };
}

/** True when an enabled observer has a `cache` action that uses the worker's Redis (REDIS_URL, no `redis_url_env`). */
export function usesWorkerRedis(config: Pick<Config, 'observers'>): boolean {
  return config.observers.some((o) => o.enabled && o.actions.some((a) => a.type === 'cache' && !a.redis_url_env));
}

/** The checks behind /readyz for the roles this process runs. */
export function readinessChecks(p: {
  listener: ChangeLogListener | null;
  worker: ObserverWorker | null;
  client: Client;
  namespace: string;
  /** A configured cache action needs the worker's Redis: an unreachable one is a reason in /readyz. */
  redisNeeded?: boolean;
}): ReadinessCheck[] {
  const checks: ReadinessCheck[] = [
    {
      name: 'temporal',
      async check() {
        try {
          await p.client.connection.withDeadline(Date.now() + 1500, () => p.client.connection.workflowService.getSystemInfo({}));
        } catch (err) {
          return { ok: false, detail: `unreachable (${(err as Error).message})` };
        }
        return searchAttributesCheck(p.client, p.namespace);
      },
    },
  ];
  const { listener, worker } = p;
  if (listener) {
    checks.push({
      name: 'listener',
      check() {
        const s = listener.status();
        const ok = (s.state === 'leader' || s.state === 'standby') && s.healthy;
        return { ok, detail: ok ? s.state : `${s.state}${s.lastError ? `: ${s.lastError}` : ''}` };
      },
    });
  }
  const redis = worker?.redis;
  if (redis && p.redisNeeded) checks.push({ name: 'redis', check: () => pingRedis(redis) });
  if (worker) {
    checks.push({
      name: 'worker',
      check() {
        const state = worker.state();
        return { ok: state === 'RUNNING', detail: state.toLowerCase() };
      },
    });
  }
  return checks;
}
