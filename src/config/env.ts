/**
 * The process environment, validated once. Every variable is optional except DATABASE_URL; an
 * empty value counts as unset, which is how shells and compose files usually "unset" a variable.
 */
import { classifyIp } from '../activities/ip';
import { DEFAULT_WORKFLOW_ID_PREFIX } from '../contract';
import { isIP } from 'node:net';
import { z } from 'zod';
import type { ConfigIssue } from './errors';
import { describeValue } from './fields';

/** A `[schema.]table` name, lower-cased as PostgreSQL folds unquoted identifiers. */
export interface TableName {
  schema: string | null;
  name: string;
  /** `schema.table` (or `table`), as used in messages and in derived event ids. */
  qualified: string;
  /** Quoted for SQL: `"core"."tb_entity_change_log"`. */
  sql: string;
}

export interface EnvConfig {
  databaseUrl: string;
  /** `host:port` of a Temporal frontend; null starts the embedded server. */
  temporalAddress: string | null;
  temporalNamespace: string;
  temporalTaskQueue: string;
  workflowIdPrefix: string;
  maxStartsInFlight: number;
  redisUrl: string | null;
  elasticsearchUrl: string | null;
  /** 0 picks any free port (tests). */
  metricsPort: number;
  listenerId: string;
  batchSize: number;
  pollIntervalMs: number;
  changeLogTable: TableName;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  /** Interface the metrics endpoint binds (default all interfaces, so Prometheus can scrape it). */
  metricsHost: string;
  /** Port of the embedded Temporal server when TEMPORAL_ADDRESS is unset; 0 picks any free port. */
  embeddedTemporalPort: number;
  /**
   * Run the embedded server on its own worker thread of the process (true, the default) rather than
   * on the JS thread the listener and the Temporal worker share.
   */
  embeddedTemporalThread: boolean;
  /**
   * The listener pauses reading while this many workflow and activity tasks wait on the task queue
   * for a worker (0 = never pauses): backpressure keeps a backlog in the change log, not in Temporal.
   */
  maxTaskBacklog: number;
  /** Worker activity task slots (actions running at once in this process). */
  workerMaxConcurrentActivities: number;
  /** Worker workflow task slots. */
  workerMaxConcurrentWorkflowTasks: number;
  /** Workflows kept in the worker's sticky cache (0 disables the cache). */
  workerMaxCachedWorkflows: number;
  /** On shutdown, how long running actions may finish before they are cancelled. */
  workerShutdownGraceMs: number;
  /**
   * On shutdown with the in-memory embedded server, how long to wait for every open workflow to
   * finish before stopping anyway (and losing them); 0 waits without limit.
   */
  shutdownDrainTimeoutMs: number;
  /**
   * gRPC compression of the worker's connection to TEMPORAL_ADDRESS. `gzip` (the SDK's default)
   * suits a remote cluster; `none` saves CPU on both sides when Temporal is on the same host, and
   * is the default when TEMPORAL_ADDRESS is a loopback address (127.0.0.0/8, ::1, localhost).
   */
  temporalGrpcCompression: 'gzip' | 'none';
  /**
   * Whether workflow code keeps stack traces: the `__stack_trace` query (the Web UI's call stack,
   * `temporal workflow stack`) and workflow error stacks. Off by default: capturing one for every
   * promise costs about an eighth of the worker's CPU per event.
   */
  workerWorkflowStackTraces: boolean;
}

/** Whether a host:port names this machine (compressing loopback traffic only costs CPU). */
export function isLoopbackAddress(hostPort: string): boolean {
  const host = hostPort.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
  // The SSRF guard's classification: 127.0.0.0/8 and ::1 are its `loopback` range.
  return host.toLowerCase() === 'localhost' || classifyIp(host).range === 'loopback';
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;

type Check<T> = (raw: string) => T | { error: string };

/** A variable with a default: unset or empty gives the default, anything else must pass `check`. */
function variable<T>(check: Check<T>, fallback: T) {
  return z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined || raw.trim() === '') return fallback;
      const result = check(raw.trim());
      if (typeof result === 'object' && result !== null && 'error' in result) {
        ctx.addIssue({ code: 'custom', message: result.error });
        return z.NEVER;
      }
      return result as T;
    });
}

const integer =
  (min: number, max: number, what: string): Check<number> =>
  (raw) => {
    const n = /^[0-9]+$/.test(raw) ? Number(raw) : Number.NaN;
    return Number.isSafeInteger(n) && n >= min && n <= max ? n : { error: `expected ${what}, got ${describeValue(raw)}` };
  };

const positive = (max = 1_000_000_000): Check<number> => integer(1, max, 'a positive integer');

const url =
  (schemes: readonly string[]): Check<string> =>
  (raw) => {
    // The value may hold a password: never echo it back in the message.
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(raw)?.[1]?.toLowerCase();
    if (scheme === undefined || !schemes.includes(scheme) || !URL.canParse(raw)) {
      return { error: `expected a ${schemes.map((s) => `${s}://`).join(' or ')} URL` };
    }
    return raw;
  };

const name =
  (pattern: RegExp, what: string): Check<string> =>
  (raw) =>
    pattern.test(raw) ? raw : { error: `expected ${what}, got ${describeValue(raw)}` };

const hostPort: Check<string> = (raw) =>
  /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$/.test(raw) ? raw : { error: `expected host:port, got ${describeValue(raw)}` };

const tableName: Check<TableName> = (raw) => {
  const parts = raw.split('.');
  if (parts.length > 2 || !parts.every((p) => IDENT.test(p))) {
    return { error: `expected [schema.]table with plain identifiers, got ${describeValue(raw)}` };
  }
  const [first, second] = parts.map((p) => p.toLowerCase()) as [string, string | undefined];
  const schema = second === undefined ? null : first;
  const table = second ?? first;
  const quote = (s: string): string => `"${s}"`;
  return {
    schema,
    name: table,
    qualified: schema === null ? table : `${schema}.${table}`,
    sql: schema === null ? quote(table) : `${quote(schema)}.${quote(table)}`,
  };
};

const host: Check<string> = (raw) => {
  const bare = raw.replace(/^\[(.*)\]$/, '$1');
  return isIP(bare) !== 0 || /^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/.test(bare)
    ? bare
    : { error: `expected a host name or IP address, got ${describeValue(raw)}` };
};

/** true/false (also 1/0, yes/no, on/off). */
const flag: Check<boolean> = (raw) =>
  /^(true|1|yes|on)$/i.test(raw) ? true : /^(false|0|no|off)$/i.test(raw) ? false : { error: `expected true or false, got ${describeValue(raw)}` };

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

const envSchema = z.object({
  DATABASE_URL: z
    .string({ error: 'required (a postgres:// URL)' })
    .refine((v) => v.trim() !== '', { error: 'required (a postgres:// URL)' })
    .transform((v, ctx) => {
      const result = url(['postgres', 'postgresql'])(v.trim());
      if (typeof result === 'object') {
        ctx.addIssue({ code: 'custom', message: result.error });
        return z.NEVER;
      }
      return result;
    }),
  TEMPORAL_ADDRESS: variable<string | null>(hostPort, null),
  TEMPORAL_NAMESPACE: variable(name(/^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/, 'a Temporal namespace name'), 'default'),
  TEMPORAL_TASK_QUEUE: variable(name(/^\S{1,255}$/, 'a task queue name without spaces'), 'fraiseql-observers'),
  WORKFLOW_ID_PREFIX: variable(name(/^[A-Za-z0-9._:-]{1,100}$/, 'letters, digits, . _ : or -'), DEFAULT_WORKFLOW_ID_PREFIX),
  MAX_STARTS_IN_FLIGHT: variable(positive(100_000), 64),
  MAX_TASK_BACKLOG: variable(integer(0, 1_000_000, 'a non-negative integer (0 = no backpressure)'), 0),
  REDIS_URL: variable<string | null>(url(['redis', 'rediss']), null),
  ELASTICSEARCH_URL: variable<string | null>(url(['http', 'https']), null),
  METRICS_PORT: variable(integer(0, 65_535, 'a port number (0-65535)'), 9464),
  LISTENER_ID: variable(name(/^[A-Za-z0-9._:-]{1,200}$/, 'letters, digits, . _ : or - (at most 200)'), 'default'),
  BATCH_SIZE: variable(positive(100_000), 500),
  POLL_INTERVAL_MS: variable(positive(3_600_000), 1000),
  CHANGE_LOG_TABLE: variable(tableName, tableName('core.tb_entity_change_log') as TableName),
  LOG_LEVEL: variable(
    (raw) =>
      (LOG_LEVELS as readonly string[]).includes(raw.toLowerCase())
        ? (raw.toLowerCase() as EnvConfig['logLevel'])
        : { error: `expected one of ${LOG_LEVELS.join(', ')}, got ${describeValue(raw)}` },
    'info' as EnvConfig['logLevel'],
  ),
  METRICS_HOST: variable(host, '0.0.0.0'),
  EMBEDDED_TEMPORAL_PORT: variable(integer(0, 65_535, 'a port number (0-65535)'), 7233),
  EMBEDDED_TEMPORAL_THREAD: variable(flag, true),
  WORKER_MAX_CONCURRENT_ACTIVITIES: variable(positive(100_000), 100),
  // The SDK needs at least 2 workflow task slots while the sticky cache is on.
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: variable(integer(2, 100_000, 'an integer of at least 2'), 40),
  WORKER_MAX_CACHED_WORKFLOWS: variable(integer(0, 1_000_000, 'a non-negative integer'), 1000),
  WORKER_SHUTDOWN_GRACE_MS: variable(integer(0, 3_600_000, 'milliseconds (0-3600000)'), 10_000),
  SHUTDOWN_DRAIN_TIMEOUT_MS: variable(integer(0, 86_400_000, 'milliseconds (0-86400000, 0 = no limit)'), 300_000),
  TEMPORAL_GRPC_COMPRESSION: variable(
    (raw) => (raw.toLowerCase() === 'gzip' || raw.toLowerCase() === 'none' ? (raw.toLowerCase() as 'gzip' | 'none') : { error: `expected gzip or none, got ${describeValue(raw)}` }),
    null as 'gzip' | 'none' | null,
  ),
  WORKER_WORKFLOW_STACK_TRACES: variable(flag, false),
});

/**
 * Validates the environment. Returns the settings, or every problem found with paths `env.NAME`.
 */
export function parseEnv(env: Readonly<Record<string, string | undefined>>): { value: EnvConfig } | { issues: ConfigIssue[] } {
  const result = envSchema.safeParse(env, {
    error: (issue) => (issue.code === 'invalid_type' && issue.input === undefined ? 'required' : undefined),
  });
  if (!result.success) {
    return { issues: result.error.issues.map((i) => ({ path: `env.${i.path.map(String).join('.')}`, message: i.message })) };
  }
  const e = result.data;
  return {
    value: {
      databaseUrl: e.DATABASE_URL,
      temporalAddress: e.TEMPORAL_ADDRESS,
      temporalNamespace: e.TEMPORAL_NAMESPACE,
      temporalTaskQueue: e.TEMPORAL_TASK_QUEUE,
      workflowIdPrefix: e.WORKFLOW_ID_PREFIX,
      maxStartsInFlight: e.MAX_STARTS_IN_FLIGHT,
      maxTaskBacklog: e.MAX_TASK_BACKLOG,
      redisUrl: e.REDIS_URL,
      elasticsearchUrl: e.ELASTICSEARCH_URL,
      metricsPort: e.METRICS_PORT,
      listenerId: e.LISTENER_ID,
      batchSize: e.BATCH_SIZE,
      pollIntervalMs: e.POLL_INTERVAL_MS,
      changeLogTable: e.CHANGE_LOG_TABLE,
      logLevel: e.LOG_LEVEL,
      metricsHost: e.METRICS_HOST,
      embeddedTemporalPort: e.EMBEDDED_TEMPORAL_PORT,
      embeddedTemporalThread: e.EMBEDDED_TEMPORAL_THREAD,
      workerMaxConcurrentActivities: e.WORKER_MAX_CONCURRENT_ACTIVITIES,
      workerMaxConcurrentWorkflowTasks: e.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
      workerMaxCachedWorkflows: e.WORKER_MAX_CACHED_WORKFLOWS,
      workerShutdownGraceMs: e.WORKER_SHUTDOWN_GRACE_MS,
      shutdownDrainTimeoutMs: e.SHUTDOWN_DRAIN_TIMEOUT_MS,
      temporalGrpcCompression: e.TEMPORAL_GRPC_COMPRESSION ?? (e.TEMPORAL_ADDRESS !== null && isLoopbackAddress(e.TEMPORAL_ADDRESS) ? 'none' : 'gzip'),
      workerWorkflowStackTraces: e.WORKER_WORKFLOW_STACK_TRACES,
    },
  };
}
