import { parseEnv, type ConfigIssue, type EnvConfig } from '../../src/config';

const DATABASE_URL = 'postgres://observer:pw@localhost:5432/app';

function valueOf(env: Record<string, string | undefined>): EnvConfig {
  const result = parseEnv(env);
  if ('issues' in result) throw new Error(`unexpected issues: ${JSON.stringify(result.issues)}`);
  return result.value;
}

function issuesOf(env: Record<string, string | undefined>): ConfigIssue[] {
  const result = parseEnv(env);
  if (!('issues' in result)) throw new Error('expected issues');
  return result.issues;
}

describe('parseEnv', () => {
  it('applies every default', () => {
    expect(valueOf({ DATABASE_URL })).toEqual({
      databaseUrl: DATABASE_URL,
      temporalAddress: null,
      temporalNamespace: 'default',
      temporalTaskQueue: 'fraiseql-observers',
      workflowIdPrefix: 'fraiseql-event',
      maxStartsInFlight: 64,
      maxTaskBacklog: 0,
      redisUrl: null,
      elasticsearchUrl: null,
      metricsPort: 9464,
      listenerId: 'default',
      batchSize: 500,
      pollIntervalMs: 1000,
      changeLogTable: { schema: 'core', name: 'tb_entity_change_log', qualified: 'core.tb_entity_change_log', sql: '"core"."tb_entity_change_log"' },
      logLevel: 'info',
      metricsHost: '0.0.0.0',
      embeddedTemporalPort: 7233,
      embeddedTemporalThread: true,
      workerMaxConcurrentActivities: 100,
      workerMaxConcurrentWorkflowTasks: 40,
      workerMaxCachedWorkflows: 1000,
      workerShutdownGraceMs: 10_000,
      shutdownDrainTimeoutMs: 300_000,
      temporalGrpcCompression: 'gzip',
      workerWorkflowStackTraces: false,
    });
  });

  it('reads every variable', () => {
    expect(
      valueOf({
        DATABASE_URL: 'postgresql:///app?host=/var/run/postgresql',
        TEMPORAL_ADDRESS: 'temporal.internal:7233',
        TEMPORAL_NAMESPACE: 'orders-prod',
        TEMPORAL_TASK_QUEUE: 'observers-eu',
        WORKFLOW_ID_PREFIX: 'orders',
        MAX_STARTS_IN_FLIGHT: '16',
        MAX_TASK_BACKLOG: '300',
        REDIS_URL: 'rediss://cache:6380/2',
        ELASTICSEARCH_URL: 'https://es:9200',
        METRICS_PORT: '0',
        LISTENER_ID: 'eu-1',
        BATCH_SIZE: ' 250 ',
        POLL_INTERVAL_MS: '200',
        CHANGE_LOG_TABLE: 'TB_Entity_Change_Log',
        LOG_LEVEL: 'DEBUG',
        METRICS_HOST: '[::1]',
        EMBEDDED_TEMPORAL_PORT: '0',
        EMBEDDED_TEMPORAL_THREAD: 'off',
        WORKER_MAX_CONCURRENT_ACTIVITIES: '8',
        WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '2',
        WORKER_MAX_CACHED_WORKFLOWS: '0',
        WORKER_SHUTDOWN_GRACE_MS: '0',
        SHUTDOWN_DRAIN_TIMEOUT_MS: '0',
        TEMPORAL_GRPC_COMPRESSION: 'None',
        WORKER_WORKFLOW_STACK_TRACES: 'TRUE',
      }),
    ).toEqual({
      databaseUrl: 'postgresql:///app?host=/var/run/postgresql',
      temporalAddress: 'temporal.internal:7233',
      temporalNamespace: 'orders-prod',
      temporalTaskQueue: 'observers-eu',
      workflowIdPrefix: 'orders',
      maxStartsInFlight: 16,
      maxTaskBacklog: 300,
      redisUrl: 'rediss://cache:6380/2',
      elasticsearchUrl: 'https://es:9200',
      metricsPort: 0,
      listenerId: 'eu-1',
      batchSize: 250,
      pollIntervalMs: 200,
      changeLogTable: { schema: null, name: 'tb_entity_change_log', qualified: 'tb_entity_change_log', sql: '"tb_entity_change_log"' },
      logLevel: 'debug',
      metricsHost: '::1',
      embeddedTemporalPort: 0,
      embeddedTemporalThread: false,
      workerMaxConcurrentActivities: 8,
      workerMaxConcurrentWorkflowTasks: 2,
      workerMaxCachedWorkflows: 0,
      workerShutdownGraceMs: 0,
      shutdownDrainTimeoutMs: 0,
      temporalGrpcCompression: 'none',
      workerWorkflowStackTraces: true,
    });
  });

  it('does not compress the worker connection to a Temporal server on this machine unless told to', () => {
    expect(valueOf({ DATABASE_URL, TEMPORAL_ADDRESS: '127.0.0.1:7233' }).temporalGrpcCompression).toBe('none');
    expect(valueOf({ DATABASE_URL, TEMPORAL_ADDRESS: 'localhost:7233' }).temporalGrpcCompression).toBe('none');
    expect(valueOf({ DATABASE_URL, TEMPORAL_ADDRESS: '[::1]:7233' }).temporalGrpcCompression).toBe('none');
    expect(valueOf({ DATABASE_URL, TEMPORAL_ADDRESS: '10.0.0.7:7233' }).temporalGrpcCompression).toBe('gzip');
    expect(valueOf({ DATABASE_URL, TEMPORAL_ADDRESS: 'localhost.example.com:7233' }).temporalGrpcCompression).toBe('gzip');
    expect(valueOf({ DATABASE_URL, TEMPORAL_ADDRESS: '127.0.0.1:7233', TEMPORAL_GRPC_COMPRESSION: 'gzip' }).temporalGrpcCompression).toBe('gzip');
  });

  it('treats an empty value as unset', () => {
    expect(valueOf({ DATABASE_URL, TEMPORAL_ADDRESS: '', BATCH_SIZE: '  ' })).toMatchObject({ temporalAddress: null, batchSize: 500 });
  });

  it('requires DATABASE_URL', () => {
    expect(issuesOf({})).toEqual([{ path: 'env.DATABASE_URL', message: 'required (a postgres:// URL)' }]);
    expect(issuesOf({ DATABASE_URL: ' ' })).toEqual([{ path: 'env.DATABASE_URL', message: 'required (a postgres:// URL)' }]);
  });

  it.each<[string, string, string]>([
    ['BATCH_SIZE', 'abc', "expected a positive integer, got 'abc'"],
    ['BATCH_SIZE', '0', "expected a positive integer, got '0'"],
    ['BATCH_SIZE', '-5', "expected a positive integer, got '-5'"],
    ['BATCH_SIZE', '1.5', "expected a positive integer, got '1.5'"],
    ['BATCH_SIZE', '1000000', "expected a positive integer, got '1000000'"],
    ['POLL_INTERVAL_MS', '1s', "expected a positive integer, got '1s'"],
    ['MAX_STARTS_IN_FLIGHT', 'many', "expected a positive integer, got 'many'"],
    ['MAX_TASK_BACKLOG', '-1', "expected a non-negative integer (0 = no backpressure), got '-1'"],
    ['METRICS_PORT', '70000', "expected a port number (0-65535), got '70000'"],
    ['TEMPORAL_ADDRESS', 'temporal', "expected host:port, got 'temporal'"],
    ['TEMPORAL_NAMESPACE', 'has space', "expected a Temporal namespace name, got 'has space'"],
    ['TEMPORAL_TASK_QUEUE', 'a queue', "expected a task queue name without spaces, got 'a queue'"],
    ['WORKFLOW_ID_PREFIX', 'a/b', "expected letters, digits, . _ : or -, got 'a/b'"],
    ['LISTENER_ID', 'a b', "expected letters, digits, . _ : or - (at most 200), got 'a b'"],
    ['CHANGE_LOG_TABLE', 'core.tb; drop table x', "expected [schema.]table with plain identifiers, got 'core.tb; drop table x'"],
    ['CHANGE_LOG_TABLE', 'a.b.c', "expected [schema.]table with plain identifiers, got 'a.b.c'"],
    ['CHANGE_LOG_TABLE', '"Quoted"', `expected [schema.]table with plain identifiers, got '"Quoted"'`],
    ['LOG_LEVEL', 'loud', "expected one of trace, debug, info, warn, error, fatal, silent, got 'loud'"],
    ['METRICS_HOST', 'http://x', "expected a host name or IP address, got 'http://x'"],
    ['METRICS_HOST', 'a b', "expected a host name or IP address, got 'a b'"],
    ['EMBEDDED_TEMPORAL_PORT', '65536', "expected a port number (0-65535), got '65536'"],
    ['EMBEDDED_TEMPORAL_PORT', '-1', "expected a port number (0-65535), got '-1'"],
    ['WORKER_MAX_CONCURRENT_ACTIVITIES', '0', "expected a positive integer, got '0'"],
    ['WORKER_MAX_CONCURRENT_ACTIVITIES', 'lots', "expected a positive integer, got 'lots'"],
    ['WORKER_MAX_CONCURRENT_WORKFLOW_TASKS', '1', "expected an integer of at least 2, got '1'"],
    ['WORKER_MAX_CACHED_WORKFLOWS', '-3', "expected a non-negative integer, got '-3'"],
    ['WORKER_SHUTDOWN_GRACE_MS', '10s', "expected milliseconds (0-3600000), got '10s'"],
    ['SHUTDOWN_DRAIN_TIMEOUT_MS', '5m', "expected milliseconds (0-86400000, 0 = no limit), got '5m'"],
    ['TEMPORAL_GRPC_COMPRESSION', 'brotli', "expected gzip or none, got 'brotli'"],
    ['WORKER_WORKFLOW_STACK_TRACES', 'sometimes', "expected true or false, got 'sometimes'"],
    ['EMBEDDED_TEMPORAL_THREAD', 'maybe', "expected true or false, got 'maybe'"],
  ])('%s=%s', (name, value, message) => {
    expect(issuesOf({ DATABASE_URL, [name]: value })).toEqual([{ path: `env.${name}`, message }]);
  });

  it.each([
    ['DATABASE_URL', 'mysql://root:hunter2@db/app', 'expected a postgres:// or postgresql:// URL'],
    ['REDIS_URL', 'http://:hunter2@cache', 'expected a redis:// or rediss:// URL'],
    ['ELASTICSEARCH_URL', 'es:hunter2@host', 'expected a http:// or https:// URL'],
  ])('%s must be a URL of the right kind, and is never echoed', (name, value, message) => {
    const issues = issuesOf({ DATABASE_URL, [name]: value });
    expect(issues).toEqual([{ path: `env.${name}`, message }]);
    expect(JSON.stringify(issues)).not.toContain('hunter2');
  });

  it('reports every bad variable at once', () => {
    expect(issuesOf({ BATCH_SIZE: 'abc', METRICS_PORT: 'x' }).map((i) => i.path)).toEqual(['env.DATABASE_URL', 'env.METRICS_PORT', 'env.BATCH_SIZE']);
  });
});
