/**
 * The embedded Temporal-compatible server: gRPC wiring of WorkflowService, OperatorService and
 * TestService over the in-memory state, and the in-process API `startEmbeddedTemporal`.
 */
import * as grpc from '@grpc/grpc-js';
import { appendFileSync } from 'node:fs';
import { methodNames, serviceDefinition, ServiceError, type UnaryHandler } from './proto';
import { DEFAULT_OPTIONS, type ServerOptions, ServerState } from './state';
import { workflowServiceHandlers } from './workflow-service';
import { testServiceHandlers } from './test-service';
import { operatorServiceHandlers } from './operator-service';
import { openDurableState, type PersistenceOptions } from './store/attach';
import { type DurableStore } from './store/durable-store';
import { redactUrl } from './store/leadership';
import { DEFAULT_STORE_SCHEMA } from './store/schema';

export { type PersistenceOptions };
import { healthServiceDefinition, healthServiceImplementation } from './health-service';

/** When set, every call is appended to this file (method, latency, outcome): a debugging aid. */
const TRACE = process.env.EMBEDDED_TEMPORAL_TRACE_FILE;

/**
 * Call counters for benchmarks (`EMBEDDED_TEMPORAL_STATS=1`): calls per method, polls that got a
 * task vs. ended empty, and activity tasks handed out eagerly in RespondWorkflowTaskCompleted.
 * Off by default so normal runs pay nothing.
 */
const STATS = process.env.EMBEDDED_TEMPORAL_STATS === '1';
export const callStats: Record<string, number> = {};
function count(key: string, by = 1): void {
  callStats[key] = (callStats[key] ?? 0) + by;
}

const SERVICES = {
  workflow: 'temporal.api.workflowservice.v1.WorkflowService',
  operator: 'temporal.api.operatorservice.v1.OperatorService',
  test: 'temporal.api.testservice.v1.TestService',
} as const;

export interface EmbeddedTemporalOptions extends Partial<ServerOptions> {
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /** Port to bind; 0 picks a free one (default 0). */
  port?: number;
  /** Called with unexpected handler errors (default: written to stderr). */
  onError?: (method: string, err: unknown) => void;
  /**
   * Keep the server's state in PostgreSQL (see store/): it survives restarts and crashes, and only
   * one server serves a store at a time. Omitted: everything is in memory and lost at stop.
   */
  persistence?: PersistenceOptions;
}

export interface EmbeddedTemporal {
  /** host:port to give to `Connection.connect({ address })` / `NativeConnection.connect`. */
  readonly address: string;
  readonly port: number;
  readonly namespace: string;
  /** The in-memory state (tests inspect retention and memory through it). */
  readonly state: ServerState;
  /** Where the state is kept: null in memory, else the store's URL (password hidden) and schema. */
  readonly persistence: { url: string; schema: string } | null;
  /** The durable store, when there is one (tests and benchmarks read its counters). */
  readonly store: DurableStore | null;
  /** Stop serving; a durable server writes what is pending and gives its store up. */
  stop(): Promise<void>;
}

function implementation(
  fullName: string,
  handlers: Record<string, UnaryHandler>,
  onError: (method: string, err: unknown) => void,
  store: DurableStore | null = null,
  afterCall?: (method: string) => void,
): grpc.UntypedServiceImplementation {
  const impl: grpc.UntypedServiceImplementation = {};
  for (const name of methodNames(fullName)) {
    const h = handlers[name];
    impl[name] = (call: grpc.ServerUnaryCall<any, any>, callback: grpc.sendUnaryData<any>) => {
      if (!h) {
        callback({ code: grpc.status.UNIMPLEMENTED, details: `${name} is not implemented by the embedded Temporal server` });
        return;
      }
      let result: Promise<object> | object;
      if (TRACE) {
        const t0 = Date.now();
        const orig = callback;
        callback = ((err: any, r: any) => {
          appendFileSync(TRACE, `${new Date(t0).toISOString()} +${Date.now() - t0}ms ${name} ${err ? `ERR ${err.code} ${err.details}` : r && (r.taskToken?.length ? 'task' : '')} ${call.request?.taskQueue?.name ?? ''}\n`);
          orig(err, r);
        }) as typeof callback;
      }
      if (store) {
        // Durable: no answer (not even an error) leaves before the changes it follows are committed.
        const answer = callback;
        callback = ((err: any, r: any) => {
          afterCall?.(name);
          store.sync().then(() => answer(err, r), (e: unknown) => answer({ code: grpc.status.UNAVAILABLE, details: e instanceof Error ? e.message : String(e) }, null));
        }) as typeof callback;
      }
      try {
        result = h(call.request, call);
      } catch (err) {
        reply(err);
        return;
      }
      if (STATS) {
        count(name);
        const done = callback;
        callback = ((err: any, r: any) => {
          if (!err && name.startsWith('Poll')) count(r?.taskToken?.length ? `${name}:task` : `${name}:empty`);
          if (!err && name === 'RespondWorkflowTaskCompleted') count('eagerActivityTasks', r?.activityTasks?.length ?? 0);
          done(err, r);
        }) as typeof callback;
      }
      if (result instanceof Promise) result.then((r) => callback(null, r), reply);
      else callback(null, result);

      function reply(err: unknown): void {
        if (err instanceof ServiceError) {
          callback({ code: err.code, details: err.message });
          return;
        }
        onError(name, err);
        callback({ code: grpc.status.INTERNAL, details: `embedded Temporal server error in ${name}: ${err instanceof Error ? err.message : String(err)}` });
      }
    };
  }
  return impl;
}

/** Start the server in this process. */
export async function startEmbeddedTemporal(options: EmbeddedTemporalOptions = {}): Promise<EmbeddedTemporal> {
  const { host: _h, port: _p, onError: _e, persistence, ...serverOptions } = options;
  const opts: ServerOptions = { ...DEFAULT_OPTIONS, ...stripUndefined(serverOptions) };
  const onError = options.onError ?? ((method, err) => process.stderr.write(`embedded-temporal: ${method} failed: ${err instanceof Error ? err.stack : String(err)}\n`));
  let server: grpc.Server | null = null;
  let state: ServerState;
  let store: DurableStore | null = null;
  if (persistence) {
    const onFatal = (err: Error) => {
      // The store is gone (session lost, write failed): stop answering at once; the next server
      // (this one restarted, or a standby) resumes from what was committed.
      server?.forceShutdown();
      if (persistence.onFatal) persistence.onFatal(err);
      else process.stderr.write(`embedded-temporal: ${err.message}\n`);
    };
    ({ state, store } = await openDurableState(opts, persistence, onFatal));
  } else {
    state = new ServerState(opts);
  }
  const s = store;
  // Operator calls and RegisterNamespace change namespaces or their search attributes in place.
  const namespaceChange = s ? (method: string) => {
    if (method === 'RegisterNamespace' || method === 'AddSearchAttributes' || method === 'RemoveSearchAttributes') s.namespacesChanged();
  } : undefined;
  server = new grpc.Server({
    'grpc.max_receive_message_length': 128 * 1024 * 1024,
    'grpc.max_send_message_length': 128 * 1024 * 1024,
    'grpc.keepalive_permit_without_calls': 1,
  });
  server.addService(serviceDefinition(SERVICES.workflow), implementation(SERVICES.workflow, workflowServiceHandlers(state), onError, s, namespaceChange));
  server.addService(serviceDefinition(SERVICES.operator), implementation(SERVICES.operator, operatorServiceHandlers(state), onError, s, namespaceChange));
  server.addService(serviceDefinition(SERVICES.test), implementation(SERVICES.test, testServiceHandlers(state), onError, s));
  let stopped = false;
  server.addService(healthServiceDefinition, healthServiceImplementation(() => !stopped));
  const host = options.host ?? '127.0.0.1';
  const srv = server;
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      srv.bindAsync(`${host}:${options.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
    });
  } catch (err) {
    state.dispose();
    await store?.close();
    throw err;
  }
  return {
    address: `${host}:${port}`,
    port,
    namespace: opts.namespace,
    state,
    persistence: persistence ? { url: redactUrl(persistence.url), schema: persistence.schema ?? DEFAULT_STORE_SCHEMA } : null,
    store,
    async stop() {
      if (stopped) return;
      stopped = true;
      state.dispose();
      // Changes made by calls already handled are written before the store is given up.
      const closing = store?.close();
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => { srv.forceShutdown(); resolve(); }, 2000);
        srv.tryShutdown(() => { clearTimeout(t); resolve(); });
      });
      await closing;
    },
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
