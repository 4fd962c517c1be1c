/**
 * The whole service wired from its real pieces for end-to-end tests: observers YAML → config →
 * compiled observers → `ChangeLogListener` reading `core.tb_entity_change_log` → `TemporalStarter`
 * → embedded Temporal → the service's worker (`createObserverWorker`: `src/workflows`, the action
 * activities with their dependencies built from the config, the sinks, the worker settings).
 *
 * One Temporal environment and one database per test file; one pipeline (its own task queue,
 * listener id, workflow-id prefix and entity type) per test, so tests of a file never see each
 * other's events.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import pino from 'pino';
import { Registry } from 'prom-client';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundle } from '@temporalio/worker';
import { closeActivities, createActivities, type CircuitBreakerStore } from '../../src/activities';
import { parseConfig, type Config } from '../../src/config';
import { migrate } from '../../src/db/migrate';
import { compileObservers } from '../../src/events/match';
import { ChangeLogListener } from '../../src/listener';
import { createRowHandler } from '../../src/listener/row-handler';
import { createServiceStarter } from '../../src/listener/service-starter';
import { workerMetrics } from '../../src/metrics/worker';
import { ChangeLogPosition, EntityType, EventKind, FailedActions, ObserverNames } from '../../src/temporal/search-attributes';
import { createActivityResources } from '../../src/worker/activity-deps';
import { createObserverSinks } from '../../src/worker/sinks';
import { createObserverWorker } from '../../src/worker/worker';
import type { ProcessChangeEventResult } from '../../src/contract';
import { cachedWorkflowBundle } from './bundle';
import { createTestDatabase, waitFor, type TestDatabase } from './pg';
import { createTestEnv, uniqueTaskQueue } from './temporal-env';

/** Search attributes the listener and the workflow set; registered on the test server. */
export const SEARCH_ATTRIBUTES = [EntityType, EventKind, ObserverNames, FailedActions, ChangeLogPosition];

/** The per-file services: embedded Temporal (wall clock) and a migrated database. */
export interface E2eServices {
  env: TestWorkflowEnvironment;
  db: TestDatabase;
  bundle: WorkflowBundle;
  close(): Promise<void>;
}

/** Starts embedded Temporal, creates and migrates a database, and bundles the real workflows. */
export async function startE2eServices(label: string): Promise<E2eServices> {
  const env = await createTestEnv({ timeSkipping: false, searchAttributes: SEARCH_ATTRIBUTES });
  let db: TestDatabase | undefined;
  try {
    db = await createTestDatabase(label);
    await migrate({ pool: db.pool });
    const bundle = await cachedWorkflowBundle(require.resolve('../../src/workflows'));
    const services: E2eServices = {
      env,
      db,
      bundle,
      async close() {
        await db?.drop();
        await env.teardown();
      },
    };
    return services;
  } catch (err) {
    await db?.drop().catch(() => undefined);
    await env.teardown();
    throw err;
  }
}

export interface PipelineOptions {
  /** Observers YAML; `{{ENTITY}}` is replaced by this pipeline's entity type. */
  observers: string;
  /** The environment the activities resolve secrets from (and only they see). */
  activityEnv?: Record<string, string>;
  /** Service environment variables beyond DATABASE_URL (e.g. REDIS_URL for cache actions). */
  serviceEnv?: Record<string, string>;
  /**
   * A breaker store to inspect or tune (e.g. a short open duration). The service builds its own
   * store from the config, so with this option the worker is assembled here from the same parts
   * (activity resources, activities, sinks) with only the store replaced.
   */
  breaker?: CircuitBreakerStore;
}

export interface InsertedRow {
  /** The row's uuid = the event id. */
  id: string;
  pk: string;
  objectId: string;
}

/** A running listener + worker for one test. */
export interface Pipeline {
  entity: string;
  taskQueue: string;
  config: Config;
  /** The worker's metrics registry (action, breaker and event metrics). */
  metrics: Registry;
  /** The listener's metrics registry (listener and dedup-window metrics). */
  listenerMetrics: Registry;
  /** The workflow id prefix of this pipeline (also its WORKFLOW_ID_PREFIX, so its Redis namespace). */
  prefix: string;
  /** Inserts change-log rows of this pipeline's entity type (one statement, one transaction). */
  insert(rows: Array<{ kind?: string; data: Record<string, unknown>; objectId?: string }>): Promise<InsertedRow[]>;
  workflowId(eventId: string): string;
  handle(eventId: string): WorkflowHandle;
  /** Waits until the event's workflow has been started (by the listener) and returns its handle. */
  started(eventId: string, timeoutMs?: number): Promise<WorkflowHandle>;
  /** The run's outcome: its result, or the failure it ended with. */
  outcome(eventId: string): Promise<RunOutcome>;
  stop(): Promise<void>;
}

export type RunOutcome =
  | { status: 'completed'; result: ProcessChangeEventResult }
  | { status: 'failed'; error: WorkflowFailedError };

let pipelines = 0;

/**
 * Starts a listener and a worker on a fresh task queue, with the config given (parsed exactly as
 * `start` parses the observers file; `ssrf.allow` from it goes to the activities).
 */
export async function startPipeline(services: E2eServices, options: PipelineOptions): Promise<Pipeline> {
  pipelines += 1;
  const suffix = randomBytes(3).toString('hex');
  const entity = `E2e${pipelines}x${suffix}`;
  const taskQueue = uniqueTaskQueue('e2e');
  const prefix = `e2e-${suffix}`;
  const { env, db } = services;
  const config = parseConfig({
    env: { DATABASE_URL: db.url, WORKFLOW_ID_PREFIX: prefix, ...options.serviceEnv },
    text: options.observers.replaceAll('{{ENTITY}}', entity),
    source: 'observers.yaml',
  });
  const metrics = new Registry();
  const listenerRegistry = new Registry();
  const log = pino({ level: 'silent' });
  const worker = options.breaker
    ? await assembleWorker(services, config, taskQueue, options.activityEnv ?? {}, metrics, options.breaker)
    : await createObserverWorker({ config, connection: env.nativeConnection, env: options.activityEnv ?? {}, log, registry: metrics, workflowBundle: services.bundle, taskQueue });
  const running = worker.run();
  // The service's starter: Temporal behind the dedup windows (Redis when REDIS_URL is set).
  const starter = createServiceStarter({ config, client: env.client, taskQueue, registry: listenerRegistry, log });
  const listener = new ChangeLogListener({
    connectionString: db.url,
    listenerId: `e2e-${suffix}`,
    workflowIdPrefix: prefix,
    handler: createRowHandler(compileObservers(config), { mapping: { table: 'core.tb_entity_change_log' } }),
    starter: starter.starter,
    pollIntervalMs: 100,
    logger: pino({ level: 'silent' }),
    metrics: listenerRegistry,
  });
  try {
    await listener.start();
    await listener.whenLeader();
  } catch (err) {
    await worker.shutdown();
    await running;
    await starter.close();
    throw err;
  }

  const workflowId = (eventId: string) => `${prefix}:${eventId}`;
  const handle = (eventId: string) => env.client.workflow.getHandle(workflowId(eventId));
  async function started(eventId: string, timeoutMs = 60_000): Promise<WorkflowHandle> {
    const h = handle(eventId);
    await waitFor(`workflow ${workflowId(eventId)} to be started by the listener`, async () => {
      try {
        await h.describe();
        return true;
      } catch {
        return false;
      }
    }, timeoutMs, 100);
    return h;
  }
  return {
    entity,
    taskQueue,
    config,
    metrics,
    listenerMetrics: listenerRegistry,
    prefix,
    async insert(rows) {
      const input = rows.map((r) => ({ kind: r.kind ?? 'INSERT', object_id: r.objectId ?? randomUUID(), data: r.data }));
      const res = await db.pool.query<{ id: string; pk: string; object_id: string }>(
        `INSERT INTO core.tb_entity_change_log (object_type, modification_type, object_id, object_data, commit_time)
         SELECT $1, e.value->>'kind', (e.value->>'object_id')::uuid, e.value->'data', clock_timestamp()
         FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS e(value, ord)
         ORDER BY e.ord
         RETURNING id::text, pk_entity_change_log::text AS pk, object_id::text`,
        [entity, JSON.stringify(input)],
      );
      // Positions are drawn in insertion order (ORDER BY e.ord), so sorted positions line up with
      // the input even when several rows share an object id.
      const inserted = [...res.rows].sort((a, b) => (BigInt(a.pk) < BigInt(b.pk) ? -1 : 1));
      return input.map((_r, i) => {
        const row = inserted[i]!;
        return { id: row.id, pk: row.pk, objectId: row.object_id };
      });
    },
    workflowId,
    handle,
    started,
    async outcome(eventId) {
      const h = await started(eventId);
      try {
        return { status: 'completed', result: (await h.result()) as ProcessChangeEventResult };
      } catch (err) {
        if (err instanceof WorkflowFailedError) return { status: 'failed', error: err };
        throw err;
      }
    },
    async stop() {
      await listener.stop().catch(() => undefined);
      await starter.close();
      await worker.shutdown();
      await running;
    },
  };
}

/** The service's worker with one part swapped: the circuit breaker store. */
async function assembleWorker(services: E2eServices, config: Config, taskQueue: string, secretsEnv: Record<string, string>, registry: Registry, breaker: CircuitBreakerStore) {
  const log = pino({ level: 'silent' });
  const resources = createActivityResources({ config, env: secretsEnv, log, registry });
  const activities = createActivities({ ...resources.deps, breaker });
  const worker = await Worker.create({
    connection: services.env.nativeConnection,
    namespace: config.env.temporalNamespace,
    taskQueue,
    workflowBundle: services.bundle,
    activities,
    sinks: createObserverSinks({ metrics: workerMetrics(registry), log }),
  });
  let running: Promise<void> | undefined;
  return {
    run: () => (running ??= worker.run().finally(async () => {
      await closeActivities(activities);
      await resources.close();
    })),
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running?.catch(() => undefined);
    },
  };
}

/** The sum of a counter's values, optionally only those whose labels match `labels`. */
export async function counterValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => (v.labels as Record<string, unknown>)[k] === want))
    .reduce((n, v) => n + v.value, 0);
}
