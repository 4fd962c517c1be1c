/**
 * A namespace: its runs, the workflow-id chains (every run of an id, newest last), task tokens,
 * registered search attributes and retention of closed runs.
 */
import { randomUUID } from 'node:crypto';
import { type ServerClock } from './clock';
import { attrs, makeEvent, type HistoryEvent } from './history';
import { type TaskQueues } from './matching';
import {
  alreadyExists, durationFromMs, enums, invalidArgument, msFromTs, notFound, num, optMs,
} from './proto';
import { type RunHost, type RunStart, type SavedRunState, type TaskRef, WorkflowRun, DEFAULT_WORKFLOW_TASK_TIMEOUT_MS } from './run';
import { type SearchAttributeType } from './visibility-query';

const S = enums.WorkflowExecutionStatus;
const REUSE = enums.WorkflowIdReusePolicy;
const CONFLICT = enums.WorkflowIdConflictPolicy;

/** Search attributes every Temporal server knows (system and the dev server's pre-registered ones). */
export const PREDEFINED_SEARCH_ATTRIBUTES: ReadonlyArray<[string, SearchAttributeType]> = [
  ['TemporalChangeVersion', 'KeywordList'],
  ['BinaryChecksums', 'KeywordList'],
  ['BuildIds', 'KeywordList'],
  ['BatcherUser', 'Keyword'],
  ['TemporalScheduledStartTime', 'Datetime'],
  ['TemporalScheduledById', 'Keyword'],
  ['TemporalSchedulePaused', 'Bool'],
  ['TemporalWorkerDeploymentVersion', 'Keyword'],
  ['TemporalWorkerDeployment', 'Keyword'],
  ['TemporalWorkflowVersioningBehavior', 'Keyword'],
  ['TemporalReportedProblems', 'KeywordList'],
  ['CustomKeywordField', 'Keyword'],
  ['CustomStringField', 'Text'],
  ['CustomTextField', 'Text'],
  ['CustomIntField', 'Int'],
  ['CustomDoubleField', 'Double'],
  ['CustomBoolField', 'Bool'],
  ['CustomDatetimeField', 'Datetime'],
];

const E = enums.EventType;
/** How long after its close a run's history is packed (see WorkflowRun.pack). */
const PACK_DELAY_MS = 1000;
/** Events a reset may name: the end of a workflow task. */
const RESET_POINTS = new Set<number>([E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, E.EVENT_TYPE_WORKFLOW_TASK_FAILED, E.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT]);
export const INDEXED_VALUE_TYPE: Record<SearchAttributeType, number> = {
  Text: enums.IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
  Keyword: enums.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  Int: enums.IndexedValueType.INDEXED_VALUE_TYPE_INT,
  Double: enums.IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
  Bool: enums.IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
  Datetime: enums.IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
  KeywordList: enums.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};

/** What a durable store needs to hear about (see store/). */
export interface StoreHooks {
  runChanged(ns: Namespace, run: WorkflowRun): void;
  runRemoved(ns: Namespace, run: WorkflowRun): void;
}

export interface NamespaceOptions {
  name: string;
  retentionMs: number;
  maxClosedRuns: number;
}

export class Namespace implements RunHost {
  readonly namespace: string;
  /** Stable id; a durable store restores the one it saved. */
  namespaceId: string = randomUUID();
  /** Set when the server keeps its state in a durable store. */
  hooks: StoreHooks | null = null;
  readonly searchAttributes = new Map<string, SearchAttributeType>(PREDEFINED_SEARCH_ATTRIBUTES);
  readonly runs = new Map<string, WorkflowRun>();
  private chains = new Map<string, string[]>();
  private tokens = new Map<string, TaskRef>();
  private closedQueue: WorkflowRun[] = [];
  private toPack: WorkflowRun[] = [];
  private packTimer: ReturnType<typeof setTimeout> | null = null;
  private closedHead = 0;
  private taskIdSeq = 1;
  retentionMs: number;
  maxClosedRuns: number;
  /** Bumped on every visibility-relevant change (used to invalidate list snapshots). */
  visibilityVersion = 0;

  constructor(
    opts: NamespaceOptions,
    readonly clock: ServerClock,
    readonly workflowQueues: TaskQueues<object>,
    readonly activityQueues: TaskQueues<object>,
  ) {
    this.namespace = opts.name;
    this.retentionMs = opts.retentionMs;
    this.maxClosedRuns = opts.maxClosedRuns;
  }

  // ------------------------------------------------------------ RunHost
  registerToken(token: string, ref: TaskRef): void {
    this.tokens.set(token, ref);
  }
  dropToken(token: string): void {
    this.tokens.delete(token);
  }
  nextTaskId(): number {
    return this.taskIdSeq++;
  }
  onClosed(run: WorkflowRun): void {
    run.closedAtWall = Date.now();
    this.closedQueue.push(run);
    this.packSoon(run);
    this.visibilityVersion++;
    this.sweep();
  }
  onSearchAttributesChanged(): void {
    this.visibilityVersion++;
  }
  markDirty(run: WorkflowRun): void {
    this.hooks?.runChanged(this, run);
  }

  continueAsNew(run: WorkflowRun, a: any, completedEventId: number): string {
    const newRunId = randomUUID();
    const now = this.clock.now();
    const s = run.start;
    const start: RunStart = {
      workflowId: run.workflowId,
      runId: newRunId,
      firstRunId: run.firstRunId,
      workflowType: a.workflowType?.name || run.workflowType,
      taskQueue: a.taskQueue?.name || run.taskQueue,
      input: a.input ?? undefined,
      header: a.header ?? undefined,
      memo: a.memo?.fields ? { ...a.memo.fields } : { ...run.memo },
      searchAttributes: a.searchAttributes?.indexedFields ? { ...a.searchAttributes.indexedFields } : { ...run.searchAttributes },
      userMetadata: undefined,
      identity: s.identity,
      requestId: randomUUID(),
      runTimeoutMs: optMs(a.workflowRunTimeout) ?? s.runTimeoutMs,
      executionTimeoutMs: s.executionTimeoutMs,
      executionExpiration: s.executionExpiration,
      taskTimeoutMs: optMs(a.workflowTaskTimeout) ?? s.taskTimeoutMs,
      retryPolicy: a.retryPolicy ?? s.retryPolicy,
      continuedExecutionRunId: run.runId,
      initiator: a.initiator || enums.ContinueAsNewInitiator.CONTINUE_AS_NEW_INITIATOR_WORKFLOW,
      lastCompletionResult: a.lastCompletionResult ?? undefined,
      continuedFailure: a.failure ?? undefined,
      firstWorkflowTaskBackoffMs: optMs(a.backoffStartInterval) ?? 0,
    };
    run.closeContinuedAsNew(makeEvent(enums.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW, now, {
      newExecutionRunId: newRunId,
      workflowType: { name: start.workflowType },
      taskQueue: { name: start.taskQueue, kind: enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      input: start.input,
      workflowRunTimeout: durationFromMs(start.runTimeoutMs),
      workflowTaskTimeout: durationFromMs(start.taskTimeoutMs),
      workflowTaskCompletedEventId: completedEventId,
      backoffStartInterval: a.backoffStartInterval ?? undefined,
      initiator: start.initiator,
      header: start.header,
      memo: { fields: start.memo },
      searchAttributes: { indexedFields: start.searchAttributes },
    }), newRunId);
    this.addRun(start);
    return newRunId;
  }

  // ------------------------------------------------------------ runs

  private addRun(start: RunStart): WorkflowRun {
    const run = new WorkflowRun(this, start);
    this.runs.set(run.runId, run);
    let chain = this.chains.get(run.workflowId);
    if (!chain) {
      chain = [];
      this.chains.set(run.workflowId, chain);
    }
    chain.push(run.runId);
    this.visibilityVersion++;
    run.begin();
    return run;
  }

  /** The newest run of a workflow id (open or retained). */
  currentRun(workflowId: string): WorkflowRun | undefined {
    const chain = this.chains.get(workflowId);
    if (!chain || chain.length === 0) return undefined;
    return this.runs.get(chain[chain.length - 1]!);
  }

  /** Resolve an execution reference the way the real service does (empty run id = newest run). */
  getRun(execution: { workflowId?: string; runId?: string } | null | undefined): WorkflowRun {
    const workflowId = execution?.workflowId ?? '';
    if (!workflowId) throw invalidArgument('WorkflowId is not set on request.');
    const runId = execution?.runId ?? '';
    const run = runId ? this.runs.get(runId) : this.currentRun(workflowId);
    if (!run || run.workflowId !== workflowId) {
      throw notFound(`workflow not found for ID: ${workflowId}${runId ? `, run ID: ${runId}` : ''}`);
    }
    return run;
  }

  /** The open run of a workflow id, for signal/cancel/terminate without a run id. */
  getOpenRun(execution: { workflowId?: string; runId?: string } | null | undefined): WorkflowRun {
    const run = this.getRun(execution);
    if (!run.isOpen) throw notFound('workflow execution already completed');
    return run;
  }

  lookupToken(tokenBytes: Uint8Array | null | undefined): { token: string; ref: TaskRef } {
    if (!tokenBytes || tokenBytes.length === 0) throw invalidArgument('Task token not set on request.');
    const token = Buffer.from(tokenBytes).toString('utf8');
    if (!/^(wt|at|qt):/.test(token)) throw invalidArgument('Error deserializing task token.');
    const ref = this.tokens.get(token);
    if (!ref) {
      throw notFound(token.startsWith('at:') ? 'Activity task not found.' : token.startsWith('qt:') ? 'Query task not found.' : 'Workflow task not found.');
    }
    return { token, ref };
  }

  /**
   * StartWorkflowExecution semantics: request-id dedup, then the id conflict policy (open run) or
   * the id reuse policy (closed, retained run).
   */
  startWorkflow(req: any, signal?: RunStart['signal']): { run: WorkflowRun; started: boolean } {
    const workflowId: string = req.workflowId;
    const requestId: string = req.requestId || randomUUID();
    let reuse: number = req.workflowIdReusePolicy || REUSE.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE;
    let conflict: number = req.workflowIdConflictPolicy || CONFLICT.WORKFLOW_ID_CONFLICT_POLICY_UNSPECIFIED;
    if (reuse === REUSE.WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING) {
      if (conflict !== CONFLICT.WORKFLOW_ID_CONFLICT_POLICY_UNSPECIFIED) {
        throw invalidArgument('Invalid WorkflowIDReusePolicy: WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING cannot be used together with a WorkflowIDConflictPolicy.');
      }
      reuse = REUSE.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE;
      conflict = CONFLICT.WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING;
    }
    if (conflict === CONFLICT.WORKFLOW_ID_CONFLICT_POLICY_UNSPECIFIED) {
      conflict = signal ? CONFLICT.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING : CONFLICT.WORKFLOW_ID_CONFLICT_POLICY_FAIL;
    }

    // A retried start (same request id) answers with the run it created.
    const chain = this.chains.get(workflowId) ?? [];
    for (let i = chain.length - 1; i >= 0; i--) {
      const r = this.runs.get(chain[i]!);
      if (r && r.requestIds.has(requestId)) return { run: r, started: true };
    }

    const current = this.currentRun(workflowId);
    if (current && current.isOpen) {
      if (conflict === CONFLICT.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING) {
        if (signal) current.signal(signal.name, signal.input, signal.identity, signal.header, '');
        return { run: current, started: false };
      }
      if (conflict === CONFLICT.WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING) {
        current.terminate('terminated by a new start of the same workflow id (TERMINATE_EXISTING)', undefined, req.identity ?? '');
      } else {
        throw alreadyExists(`Workflow execution is already running. WorkflowId: ${workflowId}, RunId: ${current.runId}.`);
      }
    } else if (current) {
      const failedLike = [
        S.WORKFLOW_EXECUTION_STATUS_FAILED, S.WORKFLOW_EXECUTION_STATUS_CANCELED,
        S.WORKFLOW_EXECUTION_STATUS_TERMINATED, S.WORKFLOW_EXECUTION_STATUS_TIMED_OUT,
      ].includes(current.status);
      if (reuse === REUSE.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE) {
        throw alreadyExists(`Workflow execution already finished and Workflow ID reuse policy is REJECT_DUPLICATE. WorkflowId: ${workflowId}, RunId: ${current.runId}.`);
      }
      if (reuse === REUSE.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY && !failedLike) {
        throw alreadyExists(`Workflow execution already finished successfully and Workflow ID reuse policy is ALLOW_DUPLICATE_FAILED_ONLY. WorkflowId: ${workflowId}, RunId: ${current.runId}.`);
      }
    }

    this.checkSearchAttributes(req.searchAttributes?.indexedFields);
    const now = this.clock.now();
    const runTimeoutMs = optMs(req.workflowRunTimeout);
    const executionTimeoutMs = optMs(req.workflowExecutionTimeout);
    const runId = randomUUID();
    const run = this.addRun({
      workflowId,
      runId,
      firstRunId: runId,
      workflowType: req.workflowType.name,
      taskQueue: req.taskQueue.name,
      input: req.input ?? undefined,
      header: req.header ?? undefined,
      memo: { ...(req.memo?.fields ?? {}) },
      searchAttributes: { ...(req.searchAttributes?.indexedFields ?? {}) },
      userMetadata: req.userMetadata ?? undefined,
      identity: req.identity ?? '',
      requestId,
      runTimeoutMs: runTimeoutMs ?? executionTimeoutMs,
      executionTimeoutMs,
      executionExpiration: executionTimeoutMs ? now + executionTimeoutMs : null,
      taskTimeoutMs: optMs(req.workflowTaskTimeout) ?? DEFAULT_WORKFLOW_TASK_TIMEOUT_MS,
      retryPolicy: req.retryPolicy ?? undefined,
      firstWorkflowTaskBackoffMs: optMs(req.workflowStartDelay) ?? 0,
      priority: req.priority ?? undefined,
      signal,
    });
    return { run, started: true };
  }

  /**
   * ResetWorkflowExecution: a new run of the workflow id that replays the base run up to a
   * workflow task and continues from there; an open current run is terminated. This server resets
   * only to a workflow task that precedes every command of the run (for a processChangeEvent run:
   * its first workflow task, so the event is processed again from the start), because rebuilding
   * pending activities and timers from a later point is not implemented.
   */
  resetRun(req: any): { run: WorkflowRun; started: boolean } {
    const base = this.getRun(req.workflowExecution);
    const requestId: string = req.requestId || randomUUID();
    for (const id of this.chains.get(base.workflowId) ?? []) {
      const r = this.runs.get(id);
      if (r && r.requestIds.has(requestId)) return { run: r, started: false };
    }
    const finishId = num(req.workflowTaskFinishEventId);
    const baseHistory = base.history;
    const finish = baseHistory[finishId - 1];
    if (!finish || !RESET_POINTS.has(finish.eventType)) {
      throw invalidArgument(`Invalid WorkflowTaskFinishEventId ${finishId}: not a WorkflowTaskCompleted, WorkflowTaskFailed or WorkflowTaskTimedOut event of run ${base.runId}.`);
    }
    const startedId = num(attrs(finish).startedEventId);
    if (startedId < 3 || baseHistory[startedId - 1]?.eventType !== E.EVENT_TYPE_WORKFLOW_TASK_STARTED) {
      throw invalidArgument(`Invalid WorkflowTaskFinishEventId ${finishId}: its workflow task has no WorkflowTaskStarted event in run ${base.runId}.`);
    }
    // The new run replays the base run's events up to the reset point's WorkflowTaskStarted:
    // whatever was pending then (activities, timers) is pending again in the new run.
    const prefix = baseHistory.slice(0, startedId);
    const reason: string = req.reason || 'reset';
    const identity: string = req.identity || '';
    const current = this.currentRun(base.workflowId);
    if (current && current.isOpen) current.terminate(`reset: ${reason}`, undefined, identity);
    // Signals after the reset point are re-applied unless the request says otherwise.
    const excluded: number[] = req.resetReapplyExcludeTypes ?? [];
    const reapply = req.resetReapplyType !== enums.ResetReapplyType.RESET_REAPPLY_TYPE_NONE
      && !excluded.includes(enums.ResetReapplyExcludeType.RESET_REAPPLY_EXCLUDE_TYPE_SIGNAL);
    const signals: HistoryEvent[] = reapply
      ? baseHistory.slice(startedId).filter((e) => e.eventType === enums.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)
      : [];
    const runId = randomUUID();
    const run = this.addRun({
      ...base.start,
      // A packed (closed) base run keeps its input only in its first event.
      input: base.start.input ?? attrs(baseHistory[0]!).input,
      runId,
      requestId,
      signal: undefined,
      searchAttributes: { ...base.start.searchAttributes },
      memo: { ...base.start.memo },
      resetFrom: { baseRunId: base.runId, prefix, prefixBatchStarts: base.batchStarts.filter((id) => id <= startedId), signals, reason, identity },
    });
    return { run, started: true };
  }

  /** Reject undeclared search attributes, as the real service does. */
  checkSearchAttributes(fields: Record<string, unknown> | null | undefined): void {
    for (const [name, payload] of Object.entries(fields ?? {})) {
      const type = this.searchAttributes.get(name);
      if (!type) {
        throw invalidArgument(`Namespace ${this.namespace} has no mapping defined for search attribute ${name}`);
      }
      const problem = searchAttributeValueProblem(payload, type);
      if (problem) throw invalidArgument(`invalid value for search attribute ${name} of type ${type}: ${problem}`);
    }
  }

  /** Drop closed runs past retention or past the retained-run cap. */
  sweep(): void {
    const cutoff = Date.now() - this.retentionMs;
    const q = this.closedQueue;
    while (this.closedHead < q.length) {
      const run = q[this.closedHead]!;
      const retained = q.length - this.closedHead;
      if (run.closedAtWall > cutoff && retained <= this.maxClosedRuns) break;
      this.closedHead++;
      this.removeRun(run);
    }
    if (this.closedHead > 4096 && this.closedHead * 2 > q.length) {
      this.closedQueue = q.slice(this.closedHead);
      this.closedHead = 0;
    }
  }

  private removeRun(run: WorkflowRun): void {
    if (this.runs.get(run.runId) !== run) return;
    this.runs.delete(run.runId);
    const chain = this.chains.get(run.workflowId);
    if (chain) {
      const i = chain.indexOf(run.runId);
      if (i >= 0) chain.splice(i, 1);
      if (chain.length === 0) this.chains.delete(run.workflowId);
    }
    run.dispose();
    this.hooks?.runRemoved(this, run);
    this.visibilityVersion++;
  }

  /** Number of retained closed runs (for tests and diagnostics). */
  get retainedClosed(): number {
    return this.closedQueue.length - this.closedHead;
  }

  /**
   * Put runs read from a durable store back (oldest first): chains, retention queue and task ids
   * as they were. Their timers and tasks are armed later by {@link WorkflowRun.resumeAfterRestart}.
   */
  restoreRuns(stored: ReadonlyArray<{ start: RunStart; events: HistoryEvent[]; saved: SavedRunState; batchStarts?: number[] }>): WorkflowRun[] {
    const restored: WorkflowRun[] = [];
    const closed: WorkflowRun[] = [];
    for (const r of stored) {
      const first = r.events[0];
      const startTime = (first ? msFromTs(first.eventTime) : null) ?? this.clock.now();
      const run = new WorkflowRun(this, r.start, startTime);
      run.restoreFromHistory(r.events, r.saved, r.batchStarts);
      this.runs.set(run.runId, run);
      let chain = this.chains.get(run.workflowId);
      if (!chain) {
        chain = [];
        this.chains.set(run.workflowId, chain);
      }
      chain.push(run.runId);
      for (const ev of r.events) if (ev.taskId >= this.taskIdSeq) this.taskIdSeq = ev.taskId + 1;
      if (!run.isOpen) {
        // Retention runs from the close time (the wall clock: a durable server never skips time).
        run.closedAtWall = run.closeTime ?? Date.now();
        closed.push(run);
        run.pack();
      }
      restored.push(run);
    }
    closed.sort((a, b) => a.closedAtWall - b.closedAtWall);
    this.closedQueue.push(...closed);
    this.visibilityVersion++;
    return restored;
  }

  /**
   * Closed runs are packed (their history kept in wire form, see WorkflowRun.pack) a moment after
   * they close: by then a durable store has written their last events from the objects, and the
   * calls that follow a close (the result, the last history page) have read them.
   */
  private packSoon(run: WorkflowRun): void {
    this.toPack.push(run);
    if (this.packTimer) return;
    this.packTimer = setTimeout(() => {
      this.packTimer = null;
      for (const r of this.toPack.splice(0)) r.pack();
    }, PACK_DELAY_MS);
    this.packTimer.unref?.();
  }

  disposeAll(): void {
    if (this.packTimer) clearTimeout(this.packTimer);
    this.packTimer = null;
    this.toPack = [];
    for (const run of this.runs.values()) run.dispose();
    this.runs.clear();
    this.chains.clear();
    this.tokens.clear();
  }
}

/** Why a search-attribute payload does not fit its registered type, or null when it does. */
export function searchAttributeValueProblem(payload: any, type: SearchAttributeType): string | null {
  const data: Uint8Array | undefined = payload?.data;
  if (!data || data.length === 0) return null; // empty = unset
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(data).toString('utf8'));
  } catch {
    return 'the payload is not JSON';
  }
  if (v === null) return null;
  const values = Array.isArray(v) ? v : [v];
  if (type !== 'KeywordList' && values.length > 1) return `expected a single value, got ${values.length}`;
  for (const x of values) {
    switch (type) {
      case 'Keyword': case 'Text': case 'KeywordList':
        if (typeof x !== 'string') return `${JSON.stringify(x)} is not a string`;
        break;
      case 'Int':
        if (typeof x !== 'number' || !Number.isInteger(x)) return `${JSON.stringify(x)} is not an integer`;
        break;
      case 'Double':
        if (typeof x !== 'number') return `${JSON.stringify(x)} is not a number`;
        break;
      case 'Bool':
        if (typeof x !== 'boolean') return `${JSON.stringify(x)} is not a boolean`;
        break;
      case 'Datetime':
        if (typeof x !== 'string' || Number.isNaN(Date.parse(x))) return `${JSON.stringify(x)} is not an RFC 3339 time`;
        break;
    }
  }
  return null;
}
