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
}

export interface EmbeddedTemporal {
  /** host:port to give to `Connection.connect({ address })` / `NativeConnection.connect`. */
  readonly address: string;
  readonly port: number;
  readonly namespace: string;
  /** The in-memory state (tests inspect retention and memory through it). */
  readonly state: ServerState;
  stop(): Promise<void>;
}

function implementation(
  fullName: string,
  handlers: Record<string, UnaryHandler>,
  onError: (method: string, err: unknown) => void,
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
  const opts: ServerOptions = { ...DEFAULT_OPTIONS, ...stripUndefined(options) };
  const state = new ServerState(opts);
  const onError = options.onError ?? ((method, err) => process.stderr.write(`embedded-temporal: ${method} failed: ${err instanceof Error ? err.stack : String(err)}\n`));
  const server = new grpc.Server({
    'grpc.max_receive_message_length': 128 * 1024 * 1024,
    'grpc.max_send_message_length': 128 * 1024 * 1024,
    'grpc.keepalive_permit_without_calls': 1,
  });
  server.addService(serviceDefinition(SERVICES.workflow), implementation(SERVICES.workflow, workflowServiceHandlers(state), onError));
  server.addService(serviceDefinition(SERVICES.operator), implementation(SERVICES.operator, operatorServiceHandlers(state), onError));
  server.addService(serviceDefinition(SERVICES.test), implementation(SERVICES.test, testServiceHandlers(state), onError));
  const host = options.host ?? '127.0.0.1';
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${options.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  let stopped = false;
  return {
    address: `${host}:${port}`,
    port,
    namespace: opts.namespace,
    state,
    async stop() {
      if (stopped) return;
      stopped = true;
      state.dispose();
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => { server.forceShutdown(); resolve(); }, 2000);
        server.tryShutdown(() => { clearTimeout(t); resolve(); });
      });
    },
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
