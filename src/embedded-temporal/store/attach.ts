/**
 * Start-up of a durable embedded server: take the store (standing by while another server holds
 * it), create its schema when missing, rebuild the in-memory state from the stored histories,
 * attach the store so every later change is written, and resume the open runs.
 */
import { attrs, type HistoryEvent } from '../history';
import { enums, msFromTs, optMs } from '../proto';
import { DEFAULT_WORKFLOW_TASK_TIMEOUT_MS, type RunStart } from '../run';
import { type ServerOptions, ServerState } from '../state';
import { DurableStore, type StoredRun } from './durable-store';
import { acquireStoreSession } from './leadership';
import { checkSchemaName, DEFAULT_STORE_SCHEMA } from './schema';

/** `persistence` option of `startEmbeddedTemporal`: where the server keeps its state. */
export interface PersistenceOptions {
  /** PostgreSQL connection URL of the store (e.g. the service's DATABASE_URL). */
  url: string;
  /** Schema of the store's tables (default `fraiseql_temporal`); created when missing. */
  schema?: string;
  /**
   * When another server holds the store: stand by until it goes away and take over (true, the
   * default), or fail at once with a message naming the holder (false).
   */
  waitForLeadership?: boolean;
  /** Interval between lock attempts while standing by (default 500 ms). */
  standbyRetryMs?: number;
  /** Told once when this server stands by behind another one. */
  onStandby?: (holder: string) => void;
  /**
   * The store failed while serving (its session died, a write failed): the server has stopped
   * answering calls and must not go on. Default: a message on stderr.
   */
  onFatal?: (err: Error) => void;
  /** Abort a standby wait. */
  signal?: AbortSignal;
}

/** Open the store and build the server state from it. */
export async function openDurableState(options: ServerOptions, p: PersistenceOptions, onFatal: (err: Error) => void): Promise<{ state: ServerState; store: DurableStore }> {
  if (options.timeSkipping) {
    throw new Error('persistence: a durable embedded server runs on the wall clock; time skipping cannot be combined with persistence');
  }
  if (!p.url) throw new Error('persistence.url: a PostgreSQL connection URL is required');
  const schema = checkSchemaName(p.schema ?? DEFAULT_STORE_SCHEMA);
  const session = await acquireStoreSession({
    url: p.url, schema, wait: p.waitForLeadership ?? true, retryMs: p.standbyRetryMs ?? 500, onStandby: p.onStandby, signal: p.signal,
  });
  const store = new DurableStore(session, schema, onFatal);
  let state: ServerState | null = null;
  try {
    await store.ensureSchema();
    const loaded = await store.load();
    state = new ServerState(options);
    for (const n of loaded.namespaces) {
      const ns = state.registerNamespace(n.name, { seconds: Math.floor(n.retentionMs / 1000), nanos: (n.retentionMs % 1000) * 1e6 });
      ns.namespaceId = n.id;
      // Attributes registered at run time survive; the ones given in the options are added on top.
      for (const [k, t] of Object.entries(n.searchAttributes)) if (!ns.searchAttributes.has(k)) ns.searchAttributes.set(k, t);
    }
    for (const [k, t] of Object.entries(options.searchAttributes)) state.namespace(options.namespace).searchAttributes.set(k, t);
    const s = state;
    store.setNamespaceSource(() => s.allNamespaces());
    state.attachStore(store);
    store.namespacesChanged();

    const byNamespace = new Map<string, StoredRun[]>();
    for (const r of loaded.runs) {
      const list = byNamespace.get(r.namespace) ?? [];
      list.push(r);
      byNamespace.set(r.namespace, list);
    }
    const restored = [];
    for (const [name, runs] of byNamespace) {
      const ns = state.allNamespaces().find((n) => n.namespace === name) ?? state.registerNamespace(name, null);
      restored.push(...ns.restoreRuns(runs.map((r) => ({ start: runStartOf(r), events: r.events, saved: r.saved, batchStarts: r.batchStarts }))));
    }
    for (const run of restored) run.resumeAfterRestart();
    for (const ns of state.allNamespaces()) ns.sweep();
    await store.sync();
    return { state, store };
  } catch (err) {
    state?.dispose();
    await store.close().catch(() => undefined);
    throw err;
  }
}

/** The start parameters of a stored run, from its WorkflowExecutionStarted event. */
function runStartOf(r: StoredRun): RunStart {
  const first: HistoryEvent | undefined = r.events[0];
  if (!first || first.eventType !== enums.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED) {
    throw new Error(`the durable store is inconsistent: run ${r.runId} does not begin with WorkflowExecutionStarted`);
  }
  const a = attrs(first) as any;
  return {
    workflowId: r.workflowId,
    runId: r.runId,
    firstRunId: a.firstExecutionRunId || r.runId,
    workflowType: a.workflowType?.name ?? '',
    taskQueue: a.taskQueue?.name ?? '',
    input: a.input ?? undefined,
    header: a.header ?? undefined,
    memo: { ...(a.memo?.fields ?? {}) },
    searchAttributes: { ...(a.searchAttributes?.indexedFields ?? {}) },
    userMetadata: r.userMetadata,
    identity: a.identity ?? '',
    requestId: r.requestId,
    runTimeoutMs: optMs(a.workflowRunTimeout),
    executionTimeoutMs: optMs(a.workflowExecutionTimeout),
    executionExpiration: a.workflowExecutionExpirationTime ? msFromTs(a.workflowExecutionExpirationTime) : null,
    taskTimeoutMs: optMs(a.workflowTaskTimeout) ?? DEFAULT_WORKFLOW_TASK_TIMEOUT_MS,
    retryPolicy: a.retryPolicy ?? undefined,
    continuedExecutionRunId: a.continuedExecutionRunId || undefined,
    initiator: a.initiator || undefined,
    lastCompletionResult: a.lastCompletionResult ?? undefined,
    continuedFailure: a.continuedFailure ?? undefined,
    firstWorkflowTaskBackoffMs: optMs(a.firstWorkflowTaskBackoff) ?? 0,
    priority: a.priority ?? undefined,
  };
}
