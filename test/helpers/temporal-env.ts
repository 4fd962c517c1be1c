/**
 * The one place that creates a Temporal test environment for the workflow tier.
 *
 * Every workflow test goes through {@link createTestEnv}, so pointing `TEMPORAL_TEST_SERVER` at another
 * executable with the same launch contract (for example Temporal's Java time-skipping test server, or a
 * Temporal CLI binary for wall-clock mode) turns the workflow suite into a conformance suite for that server
 * (`npm run test:conformance`, scripts/conformance.js). `TEMPORAL_TEST_SERVER_LAUNCH` says which launch
 * contracts that executable has (see {@link serverLaunchModes}).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { SearchAttributeType } from '@temporalio/common';
import type { SearchAttributeKey } from '@temporalio/common/lib/search-attributes';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { temporal } from '@temporalio/proto';
import { Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker, type LogLevel, type WorkerOptions, type WorkflowBundle } from '@temporalio/worker';
import { cachedWorkflowBundle } from './bundle';
import type { History } from '@temporalio/common/lib/proto-utils';

export type AnySearchAttributeKey = SearchAttributeKey<SearchAttributeType>;

export interface TestEnvOptions {
  /** `true` (default): `createTimeSkipping`; `false`: `createLocal` (wall clock, dev-server argv). */
  timeSkipping?: boolean;
  /** Custom search attributes the tests of this file use; registered before the environment is returned. */
  searchAttributes?: AnySearchAttributeKey[];
}

/** Path of the server executable under test: `TEMPORAL_TEST_SERVER`, else the embedded server's build output. */
export function serverExecutablePath(): string {
  const fromEnv = process.env.TEMPORAL_TEST_SERVER;
  const candidate = fromEnv && fromEnv.length > 0 ? path.resolve(fromEnv) : path.resolve(__dirname, '../../dist/src/embedded-temporal/main.js');
  if (!existsSync(candidate)) {
    throw new Error(
      fromEnv
        ? `TEMPORAL_TEST_SERVER points at ${candidate}, which does not exist`
        : `The embedded Temporal server is not built (${candidate} is missing): run npm run build first`,
    );
  }
  return candidate;
}

/**
 * The launch contracts of the server under test, from `TEMPORAL_TEST_SERVER_LAUNCH`:
 * - `both` (default; the embedded server's main.js): answers the dev-server argv of `createLocal` and
 *   the `<port>` argv of `createTimeSkipping`;
 * - `local`: only `server start-dev ...` (the real `temporal` CLI: it has no time skipping);
 * - `time-skipping`: only `<port> [--enable-time-skipping]` (Temporal's Java test server).
 */
export function serverLaunchModes(): { local: boolean; timeSkipping: boolean } {
  const raw = process.env.TEMPORAL_TEST_SERVER_LAUNCH ?? 'both';
  switch (raw) {
    case 'both':
      return { local: true, timeSkipping: true };
    case 'local':
      return { local: true, timeSkipping: false };
    case 'time-skipping':
      return { local: false, timeSkipping: true };
    default:
      throw new Error(`TEMPORAL_TEST_SERVER_LAUNCH must be both, local or time-skipping (got "${raw}")`);
  }
}

/**
 * Start a Temporal environment for one test file (call it in `beforeAll`, and `teardown()` it in `afterAll`).
 *
 * Custom search attributes are registered the way a user of each mode would: through the dev server's
 * `searchAttributes` option (the `--search-attribute` flags) for `createLocal`, and through
 * `OperatorService.AddSearchAttributes` for the time-skipping server, which has no such flag.
 *
 * When the server under test lacks the requested launch mode (see {@link serverLaunchModes}):
 * a time-skipping request on a local-only server gets a wall-clock `createLocal` environment (tests
 * that need skipped time are then listed in the README's conformance table), and a wall-clock request
 * on a time-skipping-only server gets that server started with time skipping locked (its default)
 * behind a plain client, which is a wall-clock server.
 */
export async function createTestEnv(options: TestEnvOptions = {}): Promise<TestWorkflowEnvironment> {
  const { searchAttributes = [] } = options;
  const requested = options.timeSkipping ?? true;
  const modes = serverLaunchModes();
  installQuietRuntime();
  const executable = { type: 'existing-path' as const, path: serverExecutablePath() };
  if (requested ? !modes.timeSkipping : modes.local) {
    return await TestWorkflowEnvironment.createLocal({ server: { executable, searchAttributes } });
  }
  const env = requested
    ? await TestWorkflowEnvironment.createTimeSkipping({ server: { executable } })
    : await startWallClockOnTimeSkippingServer(executable.path);
  if (searchAttributes.length > 0) {
    try {
      await registerSearchAttributes(env, searchAttributes);
    } catch (err) {
      await env.teardown();
      throw err;
    }
  }
  return env;
}

/**
 * Run a `<port>`-contract server ourselves (time skipping stays locked: nothing unlocks it) and attach
 * a plain, wall-clock environment to it; its teardown also kills the server.
 */
async function startWallClockOnTimeSkippingServer(executablePath: string): Promise<TestWorkflowEnvironment> {
  const port = await freeLoopbackPort();
  const child = spawn(executablePath, [String(port)], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? `code ${String(code)}`)));
  const address = `127.0.0.1:${port}`;
  try {
    await waitForSystemInfo(address, exited);
    const env = await TestWorkflowEnvironment.createFromExistingServer({ address });
    const teardown = env.teardown.bind(env);
    Object.defineProperty(env, 'teardown', {
      value: async () => {
        try {
          await teardown();
        } finally {
          child.kill('SIGKILL');
        }
      },
    });
    return env;
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
}

async function waitForSystemInfo(address: string, exited: Promise<string>, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let gone: string | undefined;
  void exited.then((how) => {
    gone = how;
  });
  for (;;) {
    if (gone !== undefined) throw new Error(`${serverExecutablePath()} exited (${gone}) before answering GetSystemInfo at ${address}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2000 });
      try {
        await connection.workflowService.getSystemInfo({});
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`No GetSystemInfo answer at ${address} within ${timeoutMs} ms: ${String(err)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

async function freeLoopbackPort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Keep the SDK's log lines out of test output: "Activity failed" / "Workflow failed" with their
 * stack traces for every failure a test causes on purpose made `npm test` thousands of lines long.
 * A failing test is still reported by Jest; `JEST_VERBOSE_LOGS=1` prints the SDK's lines again, at
 * `TEMPORAL_TEST_LOG_LEVEL` (default WARN).
 */
function installQuietRuntime(): void {
  const level = (process.env.TEMPORAL_TEST_LOG_LEVEL ?? 'WARN') as LogLevel;
  const verbose = process.env.JEST_VERBOSE_LOGS === '1';
  try {
    Runtime.install({ logger: verbose ? new DefaultLogger(level) : new DefaultLogger('ERROR', () => undefined) });
  } catch {
    // Already instantiated in this module registry: keep the existing runtime.
  }
}

async function registerSearchAttributes(env: TestWorkflowEnvironment, keys: AnySearchAttributeKey[]): Promise<void> {
  const namespace = env.namespace ?? 'default';
  const requested: Record<string, temporal.api.enums.v1.IndexedValueType> = {};
  for (const key of keys) {
    const indexed = encodeSearchAttributeIndexedValueType(key.type);
    if (indexed === undefined) throw new Error(`No IndexedValueType for search attribute type ${key.type}`);
    requested[key.name] = indexed;
  }
  let existing: Record<string, unknown> = {};
  try {
    const listed = await env.connection.operatorService.listSearchAttributes({ namespace });
    existing = { ...listed.systemAttributes, ...listed.customAttributes };
  } catch (err) {
    // Temporal's Java test server has AddSearchAttributes but no ListSearchAttributes: on a fresh
    // server nothing custom is registered yet, so add them all.
    if (grpcCode(err) !== 12 /* UNIMPLEMENTED */) throw err;
  }
  const missing = Object.fromEntries(Object.entries(requested).filter(([name]) => !(name in existing)));
  if (Object.keys(missing).length === 0) return;
  await env.connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing });
}

let counter = 0;
/** A task queue name no other test (or earlier run against a long-lived server) uses. */
export function uniqueTaskQueue(name: string): string {
  counter += 1;
  return `${name}-${process.pid}-${counter}-${randomUUID().slice(0, 8)}`;
}

/** A workflow id no other test uses. */
export function uniqueWorkflowId(name: string): string {
  counter += 1;
  return `${name}-${process.pid}-${counter}-${randomUUID().slice(0, 8)}`;
}

export const workflowsPath = path.resolve(__dirname, '../workflow/workflows/index.ts');

/**
 * The bundle of the test workflows (test/workflow/workflows), built once per source state for the
 * whole run and shared by every file through the cache in ./bundle.ts.
 */
export function workflowBundle(): Promise<WorkflowBundle> {
  return cachedWorkflowBundle(workflowsPath);
}

export { cachedWorkflowBundle };

/** The service's own workflow code (`processChangeEvent`), for `workflowsPath` below. */
export const SERVICE_WORKFLOWS = path.resolve(__dirname, '../../src/workflows/index.ts');

export type RunWorkerOptions = {
  taskQueue: string;
  activities?: object;
  /** Workflow code to bundle (cached) instead of the test workflows, e.g. `require.resolve('../../src/workflows')`. */
  workflowsPath?: string;
} & Omit<WorkerOptions, 'connection' | 'taskQueue' | 'activities' | 'workflowBundle' | 'workflowsPath'>;

/** Create a worker on the environment's native connection with the cached bundle, and run `fn` while it polls. */
export async function runWorker<R>(env: TestWorkflowEnvironment, options: RunWorkerOptions, fn: () => Promise<R>): Promise<R> {
  const worker = await createWorker(env, options);
  return await worker.runUntil(fn);
}

/** Create (but do not run) a worker, for tests that drive its lifecycle themselves. */
export async function createWorker(env: TestWorkflowEnvironment, options: RunWorkerOptions): Promise<Worker> {
  const { workflowsPath: codePath, ...rest } = options;
  return await Worker.create({
    ...rest,
    connection: env.nativeConnection,
    namespace: options.namespace ?? env.namespace ?? 'default',
    workflowBundle: await cachedWorkflowBundle(codePath ?? workflowsPath),
  });
}

/** A worker kept running for a whole test file (see {@link startFileWorker}). */
export interface FileWorker {
  /** The queue it polls: start the file's workflows here. */
  readonly taskQueue: string;
  /** Run `fn` (the worker is already polling); rethrows a worker failure seen meanwhile. */
  run<R>(fn: () => Promise<R>): Promise<R>;
  /** Shut the worker down (call in afterAll, before the environment's teardown). */
  stop(): Promise<void>;
}

/**
 * Start one worker for a whole test file. `Worker.create` costs ≈ 0.3 s of CPU (a workflow thread
 * plus loading the bundle into it), which was most of the time of a simple test that created its
 * own; tests whose activities need no per-test wiring share this one instead, each still with its
 * own workflow ids.
 */
export async function startFileWorker(env: TestWorkflowEnvironment, options: RunWorkerOptions): Promise<FileWorker> {
  const worker = await createWorker(env, options);
  let failure: unknown;
  const running = worker.run().catch((err: unknown) => {
    failure = err;
  });
  const check = () => {
    if (failure !== undefined) throw failure;
  };
  return {
    taskQueue: options.taskQueue,
    async run(fn) {
      check();
      const r = await fn();
      check();
      return r;
    },
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      check();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// History and polling helpers shared by the workflow tests.

export type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** `EVENT_TYPE_WORKFLOW_TASK_STARTED` → `WorkflowTaskStarted`. */
export function eventTypeName(event: HistoryEvent): string {
  const raw = temporal.api.enums.v1.EventType[event.eventType ?? 0] ?? `Unknown(${String(event.eventType)})`;
  return raw
    .replace(/^EVENT_TYPE_/, '')
    .toLowerCase()
    .replace(/(^|_)([a-z])/g, (_m, _sep: string, c: string) => c.toUpperCase());
}

export function eventTypes(history: History | null | undefined): string[] {
  return (history?.events ?? []).map(eventTypeName);
}

/** A protobuf int64 (Long or number) as a number. */
export function num(value: unknown): number {
  if (value === null || value === undefined) return 0;
  if (typeof value === 'number') return value;
  if (typeof value === 'object' && value !== null && 'toNumber' in value && typeof (value as { toNumber: unknown }).toNumber === 'function') {
    return (value as { toNumber(): number }).toNumber();
  }
  return Number(value);
}

/** A protobuf Timestamp as epoch milliseconds. */
export function tsMs(ts: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  if (!ts) return 0;
  return num(ts.seconds) * 1000 + Math.floor((ts.nanos ?? 0) / 1_000_000);
}

/** A protobuf Duration as milliseconds. */
export const durationMs = tsMs;

/**
 * Retry `fn` until it stops throwing (assertions included) or `timeoutMs` passes; the last error is rethrown.
 * Visibility is eventually consistent on a real server, so list/count assertions go through this.
 */
export async function eventually<T>(fn: () => Promise<T> | T, { timeoutMs = 15_000, intervalMs = 100 } = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}

/** Poll a workflow's history until an event satisfies `predicate`; returns the full history at that point. */
export async function waitForEvent(
  handle: { fetchHistory(): Promise<History> },
  predicate: (event: HistoryEvent) => boolean,
  { timeoutMs = 20_000 } = {},
): Promise<History> {
  return await eventually(
    async () => {
      const history = await handle.fetchHistory();
      if (!(history.events ?? []).some(predicate)) throw new Error('event not in history yet');
      return history;
    },
    { timeoutMs, intervalMs: 50 },
  );
}

/** The gRPC status code of an error thrown by a raw service call or wrapped by the SDK client (`cause` chain). */
export function grpcCode(err: unknown): number | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current; depth += 1) {
    if (typeof current === 'object' && current !== null && 'code' in current && typeof (current as { code: unknown }).code === 'number') {
      return (current as { code: number }).code;
    }
    current = typeof current === 'object' && current !== null && 'cause' in current ? (current as { cause: unknown }).cause : undefined;
  }
  return undefined;
}

/** Await a promise that must reject; returns the rejection for further assertions. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject, but it resolved');
}
