/**
 * The service's Temporal worker: the `processChangeEvent` workflow (bundled by the SDK from
 * `src/workflows`), the action activities built from the config, the sinks that turn finished
 * events into metrics and alerts, and the concurrency settings of the environment.
 */
import type { Client } from '@temporalio/client';
import { bundleWorkflowCode, type NativeConnection, Worker, type WorkflowBundle, type WorkflowBundlePath } from '@temporalio/worker';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { closeActivities, createActivities, type ObserverActivities } from '../activities';
import { createOrderingActivities } from '../activities/ordering';
import type { Config } from '../config';
import { workerMetrics } from '../metrics/worker';
import { createActivityResources } from './activity-deps';
import type { EventFinished } from '../workflows/sinks';
import { createObserverSinks } from './sinks';
import { PREBUILT_BUNDLE, PREBUILT_BUNDLE_WITH_STACKS, prebuiltWorkflowBundle, workflowBundleOptions } from './workflow-bundle';

export interface ObserverWorkerOptions {
  config: Config;
  connection: NativeConnection;
  /**
   * The service's client. With it, the worker also registers the activities that talk to Temporal
   * (the per-entity ordering wait `awaitPredecessor`); without it, `ordering: per_entity` observers
   * cannot run on this worker.
   */
  client?: Client;
  /** Told of every finished event after the metrics are recorded (the audit trail). */
  onFinished?: (finished: EventFinished) => void;
  /** Secrets named by actions are read from here at run time (usually `process.env`). */
  env: Record<string, string | undefined>;
  log: Logger;
  registry: Registry;
  /** A prebuilt bundle (tests); default: the one `npm run build` made, else bundle `src/workflows` now. */
  workflowBundle?: WorkflowBundle;
  /** Overrides the task queue of the config (tests). */
  taskQueue?: string;
}

/** After the grace time, how much longer shutdown waits for the SDK before it gives up on a clean stop. */
export const FORCE_AFTER_GRACE_MS = 5000;

export type WorkerRunState = ReturnType<Worker['getState']>;

/** A created worker: call `run()` once, `shutdown()` to drain it; `state()` for readiness. */
export interface ObserverWorker {
  readonly taskQueue: string;
  readonly activities: ObserverActivities;
  /** The worker's Redis (REDIS_URL), for the start-up check and `/readyz`; undefined without one. */
  readonly redis: Redis | undefined;
  /** Polls until shut down; rejects when the worker fails. Releases the activities' clients when it ends. */
  run(): Promise<void>;
  /** Stops polling, lets running activities finish within the shutdown grace time, then resolves. */
  shutdown(): Promise<void>;
  state(): WorkerRunState;
}

/**
 * Creates (but does not start) the worker. Bundling the workflow code takes a few seconds.
 *
 * @throws when the connection, the bundle or the worker options are rejected; nothing is left open then.
 */
export async function createObserverWorker(o: ObserverWorkerOptions): Promise<ObserverWorker> {
  const { config, log } = o;
  const taskQueue = o.taskQueue ?? config.env.temporalTaskQueue;
  const resources = createActivityResources({ config, env: o.env, log: log.child({ component: 'activity' }), registry: o.registry });
  const activities = createActivities(resources.deps);
  const release = async () => {
    await closeActivities(activities);
    await resources.close();
  };
  const stacks = config.env.workerWorkflowStackTraces;
  let worker: Worker;
  try {
    const ordering = o.client ? createOrderingActivities({ client: o.client }) : {};
    worker = await Worker.create({
      connection: o.connection,
      namespace: config.env.temporalNamespace,
      taskQueue,
      workflowBundle: o.workflowBundle ?? prebuilt(log, stacks) ?? (await bundleObserverWorkflows(log, stacks)),
      activities: { ...activities, ...ordering },
      sinks: createObserverSinks({ metrics: workerMetrics(o.registry), log: log.child({ component: 'workflow' }), onFinished: o.onFinished }),
      maxConcurrentActivityTaskExecutions: config.env.workerMaxConcurrentActivities,
      maxConcurrentWorkflowTaskExecutions: config.env.workerMaxConcurrentWorkflowTasks,
      maxCachedWorkflows: config.env.workerMaxCachedWorkflows,
      shutdownGraceTime: config.env.workerShutdownGraceMs,
      // Without it a worker whose server is gone waits in DRAINING for ever (its polls never end).
      shutdownForceTime: config.env.workerShutdownGraceMs + FORCE_AFTER_GRACE_MS,
    });
  } catch (err) {
    await release();
    throw err;
  }
  let running: Promise<void> | null = null;
  return {
    taskQueue,
    activities,
    redis: resources.deps.redis,
    run() {
      running ??= worker.run().finally(release);
      return running;
    },
    async shutdown() {
      const state = worker.getState();
      if (state === 'RUNNING') worker.shutdown();
      if (running) {
        await running.catch((err: unknown) => {
          log.warn({ err: { message: (err as Error).message } }, 'the worker did not drain cleanly (is Temporal reachable?)');
        });
      } else {
        await release();
      }
    },
    state: () => worker.getState(),
  };
}

function prebuilt(log: Logger, stackTraces: boolean): WorkflowBundlePath | null {
  const file = stackTraces ? PREBUILT_BUNDLE_WITH_STACKS : PREBUILT_BUNDLE;
  const bundle = prebuiltWorkflowBundle(file);
  if (bundle) log.debug({ component: 'workflow-bundler', path: file }, 'using the workflow bundle made by npm run build');
  else log.debug({ component: 'workflow-bundler' }, 'no up-to-date prebuilt workflow bundle: bundling now (a few seconds)');
  return bundle;
}

/**
 * Bundles `src/workflows` (the compiled copy when running from dist/); webpack's chatter goes to
 * debug level. `stackTraces` false (the default) preloads the module that turns them off.
 */
export async function bundleObserverWorkflows(log: Logger, stackTraces = false): Promise<WorkflowBundle> {
  const l = log.child({ component: 'workflow-bundler' });
  const started = Date.now();
  const bundle = await bundleWorkflowCode({
    ...workflowBundleOptions(stackTraces),
    logger: {
      trace: (m: string) => l.trace(m),
      debug: (m: string) => l.debug(m),
      info: (m: string) => l.debug(m),
      warn: (m: string) => l.warn(m),
      error: (m: string) => l.error(m),
      log: (_level: string, m: string) => l.debug(m),
    },
  });
  l.debug({ duration_ms: Date.now() - started }, 'workflow code bundled');
  return bundle;
}
