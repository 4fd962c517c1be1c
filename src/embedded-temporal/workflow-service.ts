/**
 * WorkflowService handlers: request validation and routing onto namespaces and runs. Each handler
 * returns a plain response object or throws a ServiceError carrying the status the real service uses.
 */
import type * as grpc from '@grpc/grpc-js';
import { type ServerState } from './state';
import { CLOSE_EVENTS } from './history';
import { type WorkflowRun, queueKey } from './run';
import { countExecutions, executionInfo, listExecutions } from './visibility';
import { INDEXED_VALUE_TYPE, type Namespace } from './namespace';
import {
  durationFromMs, enums, invalidArgument, notFound, num, tsFromMs, type UnaryHandler, ServiceError,
} from './proto';

const HEF = enums.HistoryEventFilterType;
/** The one cluster of this server, named in GetClusterInfo and in each namespace's replication config. */
const CLUSTER_NAME = 'embedded';

function requireField(value: unknown, message: string): void {
  if (value === undefined || value === null || value === '') throw invalidArgument(message);
}

interface HistoryToken { runId: string; next: number }

export function workflowServiceHandlers(state: ServerState): Record<string, UnaryHandler> {
  const ns = (req: { namespace?: string }) => state.namespace(req.namespace);

  const poll = (kind: 'workflow' | 'activity') => async (req: any, call: grpc.ServerUnaryCall<any, any>) => {
    const n = ns(req);
    requireField(req.taskQueue?.name, 'TaskQueue is not set on request.');
    const sticky = req.taskQueue.kind === enums.TaskQueueKind.TASK_QUEUE_KIND_STICKY;
    // Every workflow task goes to the normal queue with the full history; sticky polls just wait.
    const key = sticky ? `sticky\u0000${queueKey(n.namespace, req.taskQueue.name)}` : queueKey(n.namespace, req.taskQueue.name);
    const queues = kind === 'workflow' ? state.workflowQueues : state.activityQueues;
    const workerKey: string = req.workerInstanceKey || '';
    const r = await queues.poll(key, workerKey || req.identity || '', () => call.cancelled, (cb) => call.on('cancelled', cb), req.identity || '');
    return r ?? {};
  };

  const historyPage = async (req: any): Promise<object> => {
    const n = ns(req);
    let run = n.getRun(req.execution);
    const filter = req.historyEventFilterType || HEF.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT;
    let start = 1;
    if (req.nextPageToken && req.nextPageToken.length > 0) {
      let tok: HistoryToken;
      try {
        tok = JSON.parse(Buffer.from(req.nextPageToken).toString('utf8')) as HistoryToken;
      } catch {
        throw invalidArgument('Invalid NextPageToken.');
      }
      const r = n.runs.get(tok.runId);
      if (!r) throw notFound(`workflow run ${tok.runId} not found`);
      run = r;
      start = tok.next;
    }
    const deadline = Date.now() + state.options.historyLongPollMs;
    const waitFor = async (ready: () => boolean) => {
      while (!ready() && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => { off(); resolve(); }, Math.max(1, deadline - Date.now()));
          const off = run.onChange(() => { clearTimeout(timer); resolve(); });
        });
      }
    };
    const token = (next: number) => Buffer.from(JSON.stringify({ runId: run.runId, next } satisfies HistoryToken));
    if (filter === HEF.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT) {
      if (run.isOpen && req.waitNewEvent) await waitFor(() => !run.isOpen);
      if (run.isOpen) return { history: { events: [] }, nextPageToken: req.waitNewEvent ? token(1) : Buffer.alloc(0) };
      const last = run.history.at(-1)!;
      return { history: { events: CLOSE_EVENTS.has(last.eventType) ? [last] : [] }, nextPageToken: Buffer.alloc(0) };
    }
    if (req.waitNewEvent) await waitFor(() => run.historyLength >= start || !run.isOpen);
    // Like the real server, a page is `maximumPageSize` whole batches (a batch is what one request
    // appended), so it may hold more events than that; a full page always carries a token, even
    // when the next page turns out empty.
    const size = req.maximumPageSize > 0 ? req.maximumPageSize : 1000;
    if (start > run.historyLength) {
      const more = run.isOpen && req.waitNewEvent;
      return { history: { events: [] }, nextPageToken: more ? token(start) : Buffer.alloc(0) };
    }
    const firstBatch = run.batchIndexOf(start);
    const endBatch = firstBatch + size;
    const next = endBatch < run.batchStarts.length ? run.batchStarts[endBatch]! : run.historyLength + 1;
    const events = run.history.slice(start - 1, next - 1);
    const full = endBatch <= run.batchStarts.length;
    const more = full || (run.isOpen && req.waitNewEvent);
    return { history: { events }, nextPageToken: more ? token(next) : Buffer.alloc(0) };
  };

  /** Newest events first, `maximumPageSize` at a time (the Web UI's default view pages this way). */
  const historyPageReverse = (req: any): object => {
    const n = ns(req);
    let run = n.getRun(req.execution);
    // The last event of the history when the first page was read: events written later are not
    // part of this listing (a reverse page cannot be followed by older and newer events at once).
    let last = run.historyLength;
    if (req.nextPageToken && req.nextPageToken.length > 0) {
      let tok: HistoryToken;
      try {
        tok = JSON.parse(Buffer.from(req.nextPageToken).toString('utf8')) as HistoryToken;
      } catch {
        throw invalidArgument('Invalid NextPageToken.');
      }
      const r = n.runs.get(tok.runId);
      if (!r || r.workflowId !== run.workflowId || typeof tok.next !== 'number') throw invalidArgument('Invalid NextPageToken.');
      run = r;
      last = Math.min(tok.next, run.historyLength);
    }
    // `maximumPageSize` whole batches, newest first, as the real server pages.
    const size = req.maximumPageSize > 0 ? req.maximumPageSize : 1000;
    const first = last < 1 ? 1 : run.batchStarts[Math.max(0, run.batchIndexOf(last) - size + 1)]!;
    const events = run.history.slice(first - 1, last).reverse();
    const nextPageToken = first > 1 ? Buffer.from(JSON.stringify({ runId: run.runId, next: first - 1 } satisfies HistoryToken)) : Buffer.alloc(0);
    return { history: { events }, nextPageToken };
  };

  /**
   * A namespace as the real service describes it, with the replication and archival sections the
   * `temporal` CLI reads unconditionally (it dereferences `replicationConfig` when printing).
   */
  const describeNamespace = (n: Namespace) => ({
    namespaceInfo: {
      name: n.namespace, state: enums.NamespaceState.NAMESPACE_STATE_REGISTERED, id: n.namespaceId,
      description: state.durable ? 'embedded namespace (durable store)' : 'embedded in-memory namespace',
      capabilities: { eagerWorkflowStart: false, syncUpdate: false, asyncUpdate: false, workerPollCompleteOnShutdown: true },
    },
    config: {
      workflowExecutionRetentionTtl: durationFromMs(n.retentionMs),
      badBinaries: { binaries: {} },
      historyArchivalState: enums.ArchivalState.ARCHIVAL_STATE_DISABLED,
      visibilityArchivalState: enums.ArchivalState.ARCHIVAL_STATE_DISABLED,
    },
    replicationConfig: {
      activeClusterName: CLUSTER_NAME,
      clusters: [{ clusterName: CLUSTER_NAME }],
    },
    isGlobalNamespace: false,
  });

  const describe = (req: any) => {
    const n = ns(req);
    const run = n.getRun(req.execution);
    const s = run.start;
    return {
      executionConfig: {
        taskQueue: { name: run.taskQueue, kind: enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
        workflowExecutionTimeout: durationFromMs(s.executionTimeoutMs),
        workflowRunTimeout: durationFromMs(s.runTimeoutMs),
        defaultWorkflowTaskTimeout: durationFromMs(s.taskTimeoutMs),
        userMetadata: s.userMetadata ?? undefined,
      },
      workflowExecutionInfo: executionInfo(run),
      pendingActivities: run.isOpen ? run.pendingActivities() : [],
      pendingWorkflowTask: run.isOpen ? run.pendingWorkflowTask() : undefined,
      workflowExtendedInfo: {
        executionExpirationTime: s.executionExpiration ? tsFromMs(s.executionExpiration) : undefined,
        runExpirationTime: run.runExpiration() !== null ? tsFromMs(run.runExpiration()!) : undefined,
        cancelRequested: run.cancelRequested,
        originalStartTime: tsFromMs(run.startTime),
      },
    };
  };

  const validateStart = (req: any) => {
    requireField(req.workflowId, 'WorkflowId is not set on request.');
    requireField(req.workflowType?.name, 'WorkflowType is not set on request.');
    requireField(req.taskQueue?.name, 'TaskQueue is not set on request.');
    if (req.workflowId.length > 1000) throw invalidArgument('WorkflowId exceeds length limit.');
    for (const f of ['workflowExecutionTimeout', 'workflowRunTimeout', 'workflowTaskTimeout']) {
      if (req[f] && num(req[f].seconds) < 0) throw invalidArgument(`Invalid ${f}.`);
    }
  };

  const activityRef = (req: any) => {
    const n = ns(req);
    const { token, ref } = n.lookupToken(req.taskToken);
    if (ref.kind !== 'activity') throw invalidArgument('Task token is not an activity task token.');
    return { token, ref };
  };
  const activityById = (req: any): { token: string; ref: { kind: 'activity'; run: WorkflowRun; scheduledEventId: number; attempt: number } } => {
    const n = ns(req);
    requireField(req.workflowId, 'WorkflowId is not set on request.');
    requireField(req.activityId, 'ActivityId is not set on request.');
    const run = n.getOpenRun({ workflowId: req.workflowId, runId: req.runId });
    const t = run.activityTokenFor(req.activityId);
    if (!t) throw notFound('Activity task not found.');
    return t;
  };

  return {
    GetSystemInfo: () => ({
      serverVersion: state.options.serverVersion,
      capabilities: {
        signalAndQueryHeader: true,
        internalErrorDifferentiation: true,
        activityFailureIncludeHeartbeat: true,
        supportsSchedules: false,
        encodedFailureAttributes: true,
        buildIdBasedVersioning: false,
        upsertMemo: true,
        eagerWorkflowStart: false,
        sdkMetadata: true,
        countGroupByExecutionStatus: true,
        nexus: false,
      },
    }),
    GetClusterInfo: () => ({
      supportedClients: {}, serverVersion: state.options.serverVersion, clusterId: state.clusterId,
      clusterName: CLUSTER_NAME, historyShardCount: 1, persistenceStore: state.durable ? 'postgresql' : 'memory', visibilityStore: 'memory',
    }),
    DescribeNamespace: (req: any) => {
      const name = req.namespace || '';
      if (!name && !req.id) throw invalidArgument('Namespace not set on request.');
      return describeNamespace(name ? state.namespace(name) : state.namespaceById(req.id));
    },
    ListNamespaces: () => ({ namespaces: state.allNamespaces().map(describeNamespace) }),
    RegisterNamespace: (req: any) => {
      requireField(req.namespace, 'Namespace not set on request.');
      state.registerNamespace(req.namespace, req.workflowExecutionRetentionPeriod);
      return {};
    },
    StartWorkflowExecution: (req: any) => {
      const n = ns(req);
      validateStart(req);
      const { run, started } = n.startWorkflow(req);
      return { runId: run.runId, started, status: run.status };
    },
    SignalWithStartWorkflowExecution: (req: any) => {
      const n = ns(req);
      validateStart(req);
      requireField(req.signalName, 'SignalName is not set on request.');
      const { run, started } = n.startWorkflow(req, {
        name: req.signalName, input: req.signalInput ?? undefined, header: req.header ?? undefined, identity: req.identity ?? '',
      });
      return { runId: run.runId, started };
    },
    PollWorkflowTaskQueue: poll('workflow'),
    PollActivityTaskQueue: poll('activity'),
    RespondWorkflowTaskCompleted: (req: any) => {
      const n = ns(req);
      const { token, ref } = n.lookupToken(req.taskToken);
      if (ref.kind !== 'workflow') throw invalidArgument('Task token is not a workflow task token.');
      const activityTasks = ref.run.completeWorkflowTask(token, req);
      return { activityTasks };
    },
    RespondWorkflowTaskFailed: (req: any) => {
      const n = ns(req);
      const { token, ref } = n.lookupToken(req.taskToken);
      if (ref.kind !== 'workflow') throw invalidArgument('Task token is not a workflow task token.');
      ref.run.failWorkflowTask(token, req);
      return {};
    },
    RespondQueryTaskCompleted: (req: any) => {
      const n = ns(req);
      const { token, ref } = n.lookupToken(req.taskToken);
      if (ref.kind !== 'query') throw invalidArgument('Task token is not a query task token.');
      ref.run.answerQuery(ref.queryId, token, req);
      return {};
    },
    RecordActivityTaskHeartbeat: (req: any) => {
      const { token, ref } = activityRef(req);
      return { cancelRequested: ref.run.heartbeat(ref, token, req.details ?? undefined) };
    },
    RecordActivityTaskHeartbeatById: (req: any) => {
      const { token, ref } = activityById(req);
      return { cancelRequested: ref.run.heartbeat(ref, token, req.details ?? undefined) };
    },
    RespondActivityTaskCompleted: (req: any) => {
      const { token, ref } = activityRef(req);
      ref.run.completeActivity(ref, token, req.result ?? undefined, req.identity ?? '');
      return {};
    },
    RespondActivityTaskCompletedById: (req: any) => {
      const { token, ref } = activityById(req);
      ref.run.completeActivity(ref, token, req.result ?? undefined, req.identity ?? '');
      return {};
    },
    RespondActivityTaskFailed: (req: any) => {
      const { token, ref } = activityRef(req);
      ref.run.failActivity(ref, token, req.failure ?? { message: 'activity failed' }, req.identity ?? '', req.lastHeartbeatDetails ?? undefined);
      return { failures: [] };
    },
    RespondActivityTaskFailedById: (req: any) => {
      const { token, ref } = activityById(req);
      ref.run.failActivity(ref, token, req.failure ?? { message: 'activity failed' }, req.identity ?? '', req.lastHeartbeatDetails ?? undefined);
      return { failures: [] };
    },
    RespondActivityTaskCanceled: (req: any) => {
      const { token, ref } = activityRef(req);
      ref.run.cancelActivity(ref, token, req.details ?? undefined, req.identity ?? '');
      return {};
    },
    RespondActivityTaskCanceledById: (req: any) => {
      const { token, ref } = activityById(req);
      ref.run.cancelActivity(ref, token, req.details ?? undefined, req.identity ?? '');
      return {};
    },
    SignalWorkflowExecution: (req: any) => {
      const n = ns(req);
      requireField(req.signalName, 'SignalName is not set on request.');
      n.getOpenRun(req.workflowExecution).signal(req.signalName, req.input ?? undefined, req.identity ?? '', req.header ?? undefined, req.requestId ?? '');
      return {};
    },
    RequestCancelWorkflowExecution: (req: any) => {
      const n = ns(req);
      n.getOpenRun(req.workflowExecution).requestCancel(req.reason ?? '', req.identity ?? '', req.requestId ?? '');
      return {};
    },
    TerminateWorkflowExecution: (req: any) => {
      const n = ns(req);
      const run = n.getOpenRun(req.workflowExecution);
      if (req.firstExecutionRunId && run.firstRunId !== req.firstExecutionRunId) throw notFound('workflow not found for the given first execution run id');
      run.terminate(req.reason ?? '', req.details ?? undefined, req.identity ?? '');
      return {};
    },
    DeleteWorkflowExecution: (req: any) => {
      const n = ns(req);
      const run = n.getRun(req.workflowExecution);
      if (run.isOpen) run.terminate('deleted', undefined, '');
      state.deleteRun(n, run);
      return {};
    },
    DescribeWorkflowExecution: describe,
    ResetWorkflowExecution: (req: any) => {
      const n = ns(req);
      requireField(req.workflowExecution?.workflowId, 'WorkflowId is not set on request.');
      return { runId: n.resetRun(req).run.runId };
    },
    StartBatchOperation: (req: any) => state.batches.start(ns(req), req, Date.now()),
    DescribeBatchOperation: (req: any) => {
      requireField(req.jobId, 'JobId is not set on request.');
      return state.batches.describe(ns(req), req.jobId);
    },
    ListBatchOperations: (req: any) => state.batches.list(ns(req)),
    StopBatchOperation: (req: any) => {
      requireField(req.jobId, 'JobId is not set on request.');
      return state.batches.stop(ns(req), req.jobId);
    },
    GetWorkflowExecutionHistory: historyPage,
    GetWorkflowExecutionHistoryReverse: historyPageReverse,
    ListWorkflowExecutions: (req: any) => listExecutions(ns(req), req.query ?? '', req.pageSize ?? 0, req.nextPageToken),
    ScanWorkflowExecutions: (req: any) => listExecutions(ns(req), req.query ?? '', req.pageSize ?? 0, req.nextPageToken),
    CountWorkflowExecutions: (req: any) => countExecutions(ns(req), req.query ?? ''),
    GetSearchAttributes: () => {
      const n = state.namespace(state.options.namespace);
      const keys: Record<string, number> = {};
      for (const [k, t] of n.searchAttributes) keys[k] = INDEXED_VALUE_TYPE[t];
      return { keys };
    },
    QueryWorkflow: async (req: any, call: grpc.ServerUnaryCall<any, any>) => {
      const n = ns(req);
      requireField(req.query?.queryType, 'QueryType is not set on request.');
      const run = n.getRun(req.execution);
      const RC = enums.QueryRejectCondition;
      const S = enums.WorkflowExecutionStatus;
      if (req.queryRejectCondition === RC.QUERY_REJECT_CONDITION_NOT_OPEN && !run.isOpen) {
        return { queryRejected: { status: run.status } };
      }
      if (req.queryRejectCondition === RC.QUERY_REJECT_CONDITION_NOT_COMPLETED_CLEANLY && !run.isOpen && run.status !== S.WORKFLOW_EXECUTION_STATUS_COMPLETED) {
        return { queryRejected: { status: run.status } };
      }
      const result = await run.query(req.query);
      if (call.cancelled) return {};
      if (result.error !== undefined) throw invalidArgument(result.error);
      return { queryResult: result.answer };
    },
    ResetStickyTaskQueue: (req: any) => {
      ns(req);
      return {};
    },
    ShutdownWorker: (req: any) => {
      ns(req);
      const key: string = req.workerInstanceKey || req.identity || '';
      state.workflowQueues.shutdownWorker(key);
      state.activityQueues.shutdownWorker(key);
      return {};
    },
    RecordWorkerHeartbeat: (req: any) => {
      ns(req);
      return {};
    },
    DescribeTaskQueue: (req: any) => {
      const n = ns(req);
      requireField(req.taskQueue?.name, 'TaskQueue is not set on request.');
      const TQT = enums.TaskQueueType;
      const type = req.taskQueueType || TQT.TASK_QUEUE_TYPE_WORKFLOW;
      // Nexus tasks are not served: no queue of that type ever has pollers.
      if (type === TQT.TASK_QUEUE_TYPE_NEXUS) return { pollers: [], taskQueueStatus: { backlogCountHint: 0 } };
      const sticky = req.taskQueue.kind === enums.TaskQueueKind.TASK_QUEUE_KIND_STICKY;
      const key = queueKey(n.namespace, req.taskQueue.name);
      const queues = type === TQT.TASK_QUEUE_TYPE_ACTIVITY ? state.activityQueues : state.workflowQueues;
      const pollers = queues.pollers(sticky ? `sticky\u0000${key}` : key).map((p) => ({
        identity: p.identity,
        lastAccessTime: tsFromMs(p.lastAccessTime),
        ratePerSecond: 100_000, // what the real server reports for a worker that sets no rate limit
      }));
      return { pollers, taskQueueStatus: { backlogCountHint: queues.backlog(key) } };
    },
  };
}

export { ServiceError };
