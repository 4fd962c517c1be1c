/**
 * One workflow run's mutable state: its history, the workflow task state machine, pending
 * activities and timers, and the commands a completed workflow task applies. All mutation of a
 * run happens here, synchronously, on the event loop; the gRPC layer only validates and routes.
 */
import { randomUUID } from 'node:crypto';
import { type ServerClock, type TimerHandle } from './clock';
import { attrs, approxSize, type HistoryEvent, makeEvent } from './history';
import { decodeEvents, encodeEvents } from './store/codec';
import { type TaskQueues } from './matching';
import {
  durationFromMs, enums, failedPrecondition, invalidArgument, msFromDuration, msFromTs, notFound, num, optMs, tsFromMs,
} from './proto';

const E = enums.EventType;
const S = enums.WorkflowExecutionStatus;
const RS = enums.RetryState;
const TT = enums.TimeoutType;
const CT = enums.CommandType;
const WFC = enums.WorkflowTaskFailedCause;

export const DEFAULT_WORKFLOW_TASK_TIMEOUT_MS = 10_000;

/** What a run needs from its namespace. */
export interface RunHost {
  readonly namespace: string;
  readonly namespaceId: string;
  readonly clock: ServerClock;
  readonly workflowQueues: TaskQueues<object>;
  readonly activityQueues: TaskQueues<object>;
  registerToken(token: string, ref: TaskRef): void;
  dropToken(token: string): void;
  nextTaskId(): number;
  onClosed(run: WorkflowRun): void;
  continueAsNew(run: WorkflowRun, a: any, completedEventId: number): string;
  onSearchAttributesChanged(run: WorkflowRun): void;
  /** The run changed (event written, event buffered, activity attempt moved): the durable store saves it. */
  markDirty(run: WorkflowRun): void;
}

export type TaskRef =
  | { kind: 'workflow'; run: WorkflowRun; scheduledEventId: number }
  | { kind: 'activity'; run: WorkflowRun; scheduledEventId: number; attempt: number }
  | { kind: 'query'; run: WorkflowRun; queryId: string };

type WftState = 'none' | 'scheduled' | 'started';

interface WorkflowTask {
  state: WftState;
  /** Changes at every scheduling, so that a queue entry of an earlier attempt is never taken. */
  seq: number;
  /**
   * A retry after a failed or timed-out task (attempt > 1): its WorkflowTaskScheduled and
   * WorkflowTaskStarted events are not in the history; the poll response carries them after the
   * history, and they are written only if the attempt completes (the real server's transient task).
   */
  transient: boolean;
  /** The transient task's scheduled and started events, as sent to the worker. */
  transientEvents: HistoryEvent[];
  timeoutMs: number;
  scheduledEventId: number;
  startedEventId: number;
  attempt: number;
  taskQueue: string;
  token: string;
  scheduledTime: number;
  startedTime: number;
  timeout: TimerHandle | null;
  requestId: string;
}

type ActState = 'scheduled' | 'started' | 'backoff';

export interface ActivityState {
  scheduledEventId: number;
  activityId: string;
  activityType: string;
  taskQueue: string;
  header: unknown;
  input: unknown;
  scheduleToCloseMs: number | null;
  scheduleToStartMs: number | null;
  startToCloseMs: number | null;
  heartbeatMs: number | null;
  retryPolicy: {
    initialIntervalMs: number; backoffCoefficient: number; maximumIntervalMs: number;
    maximumAttempts: number; nonRetryableErrorTypes: string[];
  };
  state: ActState;
  attempt: number;
  firstScheduledTime: number;
  attemptScheduledTime: number;
  startedTime: number;
  token: string;
  startedIdentity: string;
  startedRequestId: string;
  heartbeatDetails: unknown;
  lastHeartbeatTime: number;
  lastFailure: any;
  cancelRequested: boolean;
  cancelRequestedEventId: number;
  timers: TimerHandle[];
  heartbeatTimer: TimerHandle | null;
  priority: unknown;
  /** While in backoff: when the next attempt is dispatched (kept by the durable store). */
  retryAt?: number;
}

interface PendingQuery {
  id: string;
  query: any;
  resolve(r: { answer?: unknown; error?: string; failure?: unknown }): void;
  dispatched: boolean;
}

/** Start parameters of a run (from StartWorkflowExecution, SignalWithStart or continue-as-new). */
export interface RunStart {
  workflowId: string;
  runId: string;
  firstRunId: string;
  workflowType: string;
  taskQueue: string;
  input: unknown;
  header: unknown;
  memo: Record<string, unknown>;
  searchAttributes: Record<string, unknown>;
  userMetadata: unknown;
  identity: string;
  requestId: string;
  runTimeoutMs: number | null;
  executionTimeoutMs: number | null;
  /** Absolute expiration of the whole chain (set by the first run). */
  executionExpiration: number | null;
  taskTimeoutMs: number;
  retryPolicy: unknown;
  continuedExecutionRunId?: string;
  initiator?: number;
  lastCompletionResult?: unknown;
  continuedFailure?: unknown;
  firstWorkflowTaskBackoffMs?: number;
  priority?: unknown;
  /** Signal delivered with the start (SignalWithStart). */
  signal?: { name: string; input: unknown; header: unknown; identity: string };
  /** A reset: the new run starts with the base run's history up to a workflow task, then fails that task. */
  resetFrom?: ResetFrom;
}

/** What a reset copies from its base run (see Namespace.resetRun). */
export interface ResetFrom {
  baseRunId: string;
  /** Base history through the WorkflowTaskStarted event of the reset point. */
  prefix: HistoryEvent[];
  /** The base run's batch boundaries within the prefix (the new run keeps them). */
  prefixBatchStarts: number[];
  /** Signals of the base run after the prefix, re-applied to the new run. */
  signals: HistoryEvent[];
  reason: string;
  identity: string;
}

/**
 * Deep copies of decoded request data (plain objects, messages, arrays) whose byte arrays all live
 * in one new allocation of exactly their total size. A view of a request's buffer keeps the whole
 * request alive; a small copy from Node's buffer pool keeps a whole 8 KiB slab alive.
 */
function detachBuffers<T extends unknown[]>(values: T): T {
  const isLong = (v: object) => 'low' in v && 'high' in v && 'unsigned' in v;
  let total = 0;
  const measure = (v: unknown, depth: number): void => {
    if (v instanceof Uint8Array) total += v.length;
    else if (v !== null && typeof v === 'object' && depth <= 12 && !isLong(v)) for (const x of Object.values(v)) measure(x, depth + 1);
  };
  for (const v of values) measure(v, 0);
  const arena = Buffer.allocUnsafeSlow(total);
  let at = 0;
  const copy = (v: unknown, depth: number): unknown => {
    if (v instanceof Uint8Array) {
      const view = arena.subarray(at, at + v.length);
      view.set(v);
      at += v.length;
      return view;
    }
    if (v === null || typeof v !== 'object' || depth > 12 || isLong(v)) return v;
    if (Array.isArray(v)) return v.map((x) => copy(x, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = copy(x, depth + 1);
    return out;
  };
  return values.map((v) => copy(v, 0)) as T;
}

export class WorkflowRun {
  readonly workflowId: string;
  readonly runId: string;
  readonly firstRunId: string;
  readonly workflowType: string;
  readonly taskQueue: string;
  readonly startTime: number;
  readonly executionTime: number;
  start: RunStart;
  status: number = S.WORKFLOW_EXECUTION_STATUS_RUNNING;
  closeTime: number | null = null;
  /** The history while the run is open (or not packed yet); null once {@link pack} has packed it. */
  private liveHistory: HistoryEvent[] | null = [];
  /** A closed run's history in wire form (one `History` message) and its length in events. */
  private packed: { bytes: Buffer; length: number } | null = null;
  /**
   * Event id of the first event of each history batch, ascending. A batch is what one request or
   * timer appends at once (the real server's transaction); history pages are whole batches.
   */
  batchStarts: number[] = [];
  historyBytes = 0;
  memo: Record<string, unknown>;
  searchAttributes: Record<string, unknown>;
  requestIds = new Set<string>();
  cancelRequested = false;
  newExecutionRunId = '';
  /** When set, the run's memory may be reclaimed after this wall-clock time. */
  closedAtWall = 0;
  stateTransitions = 0;

  private buffered: HistoryEvent[] = [];
  /** True while the events being written belong to the batch opened last. */
  private batchOpen = false;
  private wft: WorkflowTask;
  private previousStartedEventId = 0;
  private activities = new Map<number, ActivityState>();
  private timers = new Map<string, { startedEventId: number; handle: TimerHandle }>();
  private runTimer: TimerHandle | null = null;
  private firstTaskTimer: TimerHandle | null = null;
  private waiters = new Set<() => void>();
  private queries: PendingQuery[] = [];

  /** `restoredStartTime`: the start time of a run rebuilt from a durable store after a restart. */
  constructor(private readonly host: RunHost, s: RunStart, restoredStartTime?: number) {
    this.start = s;
    this.workflowId = s.workflowId;
    this.runId = s.runId;
    this.firstRunId = s.firstRunId;
    this.workflowType = s.workflowType;
    this.taskQueue = s.taskQueue;
    this.memo = { ...s.memo };
    this.searchAttributes = { ...s.searchAttributes };
    const now = restoredStartTime ?? host.clock.now();
    this.startTime = now;
    this.executionTime = now + (s.firstWorkflowTaskBackoffMs ?? 0);
    this.requestIds.add(s.requestId);
    this.wft = {
      state: 'none', seq: 0, transient: false, transientEvents: [], timeoutMs: s.taskTimeoutMs, scheduledEventId: 0, startedEventId: 0, attempt: 1, taskQueue: s.taskQueue, token: '',
      scheduledTime: 0, startedTime: 0, timeout: null, requestId: '',
    };
  }

  // ---------------------------------------------------------------- lifecycle

  /** Write the start events and schedule the first workflow task. */
  begin(): void {
    const s = this.start;
    const now = this.host.clock.now();
    if (s.resetFrom) {
      this.beginFromReset(s.resetFrom, now);
      return;
    }
    this.write(makeEvent(E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, now, {
      workflowType: { name: s.workflowType },
      taskQueue: { name: s.taskQueue, kind: enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      input: s.input ?? undefined,
      workflowExecutionTimeout: durationFromMs(s.executionTimeoutMs),
      workflowRunTimeout: durationFromMs(s.runTimeoutMs),
      workflowTaskTimeout: durationFromMs(s.taskTimeoutMs),
      continuedExecutionRunId: s.continuedExecutionRunId ?? '',
      initiator: s.initiator ?? 0,
      continuedFailure: s.continuedFailure ?? undefined,
      lastCompletionResult: s.lastCompletionResult ?? undefined,
      originalExecutionRunId: this.runId,
      identity: s.identity,
      firstExecutionRunId: this.firstRunId,
      retryPolicy: s.retryPolicy ?? undefined,
      attempt: 1,
      workflowExecutionExpirationTime: s.executionExpiration ? tsFromMs(s.executionExpiration) : undefined,
      firstWorkflowTaskBackoff: s.firstWorkflowTaskBackoffMs ? durationFromMs(s.firstWorkflowTaskBackoffMs) : undefined,
      memo: { fields: s.memo },
      searchAttributes: { indexedFields: s.searchAttributes },
      header: s.header ?? undefined,
      workflowId: this.workflowId,
      priority: s.priority ?? undefined,
    }));
    if (s.signal) {
      this.write(makeEvent(E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, now, {
        signalName: s.signal.name, input: s.signal.input ?? undefined, identity: s.signal.identity,
        header: s.signal.header ?? undefined,
      }));
    }
    const deadlines = [
      s.runTimeoutMs ? now + s.runTimeoutMs : Infinity,
      s.executionExpiration ?? Infinity,
    ];
    const deadline = Math.min(...deadlines);
    if (deadline !== Infinity) this.runTimer = this.host.clock.at(deadline, () => this.timeOutRun());
    const backoff = s.firstWorkflowTaskBackoffMs ?? 0;
    if (backoff > 0) {
      this.firstTaskTimer = this.host.clock.after(backoff, () => this.scheduleWorkflowTask());
    } else {
      this.scheduleWorkflowTask();
    }
  }

  /**
   * A reset run: the base run's events through the reset point's WorkflowTaskStarted, that task
   * failed with cause RESET_WORKFLOW (naming both runs), the base run's later signals, then a new
   * workflow task. The run's state (pending activities and timers, search attributes, memo) is
   * rebuilt from those events the way a restart rebuilds it, so a reset may name any completed
   * workflow task; the worker replays the prefix and continues from there.
   */
  private beginFromReset(r: ResetFrom, now: number): void {
    const starts = new Set(r.prefixBatchStarts);
    for (const ev of r.prefix) {
      if (starts.has(ev.eventId)) this.endBatch();
      this.write({ ...ev });
    }
    this.endBatch();
    const started = r.prefix[r.prefix.length - 1]!;
    this.write(makeEvent(E.EVENT_TYPE_WORKFLOW_TASK_FAILED, now, {
      scheduledEventId: attrs(started).scheduledEventId,
      startedEventId: started.eventId,
      cause: enums.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW,
      failure: { message: r.reason, source: 'embedded-temporal' },
      identity: r.identity,
      baseRunId: r.baseRunId,
      newRunId: this.runId,
    }));
    for (const sig of r.signals) this.write(makeEvent(E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, now, { ...attrs(sig) }));
    this.restoreFromHistory(this.history, {}, this.batchStarts);
    // A reset starts the workflow task attempts afresh (as the real server does for RESET_WORKFLOW).
    this.wft.attempt = 1;
    this.host.onSearchAttributesChanged(this);
    this.resumeAfterRestart();
    this.scheduleWorkflowTask();
  }

  /**
   * The events. A packed (closed) run decodes them on each read: such reads are rare (history,
   * reset, batch), and what they return must not be changed.
   */
  get history(): HistoryEvent[] {
    return this.liveHistory ?? decodeEvents(this.packed!.bytes);
  }

  /** Bytes of the packed history (0 while it is not packed). */
  get packedBytes(): number {
    return this.packed?.bytes.length ?? 0;
  }

  /** How many events the history holds, without decoding a packed one. */
  get historyLength(): number {
    return this.liveHistory?.length ?? this.packed!.length;
  }

  /**
   * Keep a closed run's history in wire form (≈ 7 KiB for a processChangeEvent run) instead of as
   * objects: the embedded server keeps closed runs for the retention period, tens of thousands a
   * day at a modest rate (with the copies below, 3,020 of them took 61 instead of 94 MiB of heap).
   * Open runs are never packed; packing twice does nothing.
   */
  pack(): void {
    if (this.isOpen || this.liveHistory === null) return;
    // The packed history and every byte array the closed run keeps share one exact-size
    // allocation (see detachBuffers): payloads decoded from a request are views of that request's
    // buffer and would keep all of it alive. The input is in the first event (a reset takes it
    // from there).
    const [bytes, start, memo, searchAttributes] = detachBuffers([
      encodeEvents(this.liveHistory), { ...this.start, input: undefined }, this.memo, this.searchAttributes,
    ]);
    this.packed = { bytes, length: this.liveHistory.length };
    this.liveHistory = null;
    this.start = start;
    this.memo = memo;
    this.searchAttributes = searchAttributes;
  }

  get isOpen(): boolean {
    return this.status === S.WORKFLOW_EXECUTION_STATUS_RUNNING;
  }

  get nextEventId(): number {
    return this.historyLength + 1;
  }

  /** Wait for the next change of the history (new event or close). */
  onChange(cb: () => void): () => void {
    this.waiters.add(cb);
    return () => this.waiters.delete(cb);
  }

  private notify(): void {
    if (this.waiters.size === 0) return;
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }

  /** Append an event to the history now (assigning its id). */
  private write(ev: HistoryEvent): HistoryEvent {
    const history = this.liveHistory;
    if (history === null) throw new Error(`run ${this.runId} is closed and packed: no event can be written to it`);
    ev.eventId = history.length + 1;
    if (!this.batchOpen) {
      // Every mutation of a run runs synchronously, so what is written before the next microtask
      // checkpoint came from one request or timer: one batch.
      this.batchStarts.push(ev.eventId);
      this.batchOpen = true;
      queueMicrotask(() => this.endBatch());
    }
    ev.taskId = this.host.nextTaskId();
    history.push(ev);
    this.historyBytes += approxSize(ev);
    this.stateTransitions++;
    this.host.markDirty(this);
    this.notify();
    return ev;
  }

  /** Close the current history batch: the next event written starts a new one. */
  private endBatch(): void {
    this.batchOpen = false;
  }

  /** The index in {@link batchStarts} of the batch holding event `eventId`. */
  batchIndexOf(eventId: number): number {
    let lo = 0;
    let hi = this.batchStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.batchStarts[mid]! <= eventId) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Append an event that arrived from outside the workflow: held back while a workflow task runs. */
  private deliver(...events: HistoryEvent[]): void {
    if (!this.isOpen) return;
    if (this.wft.state === 'started') {
      this.buffered.push(...events);
      this.host.markDirty(this);
      return;
    }
    for (const ev of events) this.writeResolved(ev);
    if (this.wft.state === 'none') this.scheduleWorkflowTask();
  }

  /** Write an event whose cross-references (to a started event) are resolved at write time. */
  private writeResolved(ev: HistoryEvent): void {
    const a = attrs(ev);
    const ref = a._startedRef as HistoryEvent | undefined;
    if (ref) {
      a.startedEventId = ref.eventId;
      delete a._startedRef;
    }
    this.write(ev);
  }

  private flushBuffered(): boolean {
    if (this.buffered.length === 0) return false;
    const evs = this.buffered;
    this.buffered = [];
    for (const ev of evs) this.writeResolved(ev);
    return true;
  }

  // ---------------------------------------------------------------- workflow tasks

  private setWftState(state: WftState): void {
    const wasBusy = this.wft.state !== 'none';
    const isBusy = state !== 'none';
    this.wft.state = state;
    if (wasBusy !== isBusy) this.host.clock.markBusy(isBusy ? 1 : -1);
  }

  private scheduleWorkflowTask(): void {
    if (!this.isOpen || this.wft.state !== 'none') return;
    if (this.firstTaskTimer) {
      this.firstTaskTimer.cancel();
      this.firstTaskTimer = null;
    }
    const now = this.host.clock.now();
    const transient = this.wft.attempt > 1;
    this.wft.timeoutMs = workflowTaskTimeoutMs(this.start.taskTimeoutMs, this.wft.attempt);
    if (transient) {
      // Where the scheduled event would go; if other events are written before the task starts,
      // it becomes a normal task (see startWorkflowTask).
      this.wft.scheduledEventId = this.nextEventId;
    } else {
      this.wft.scheduledEventId = this.write(this.workflowTaskScheduledEvent(now)).eventId;
    }
    this.wft.transient = transient;
    this.wft.transientEvents = [];
    this.wft.startedEventId = 0;
    this.wft.scheduledTime = now;
    this.setWftState('scheduled');
    const seq = ++this.wft.seq;
    this.host.workflowQueues.add(queueKey(this.host.namespace, this.taskQueue), {
      take: (identity) => this.startWorkflowTask(seq, identity),
    });
  }

  private workflowTaskScheduledEvent(time: number): HistoryEvent {
    return makeEvent(E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, time, {
      taskQueue: { name: this.taskQueue, kind: enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      startToCloseTimeout: durationFromMs(this.wft.timeoutMs),
      attempt: this.wft.attempt,
    });
  }

  /** Dispatch: mark the scheduled workflow task started and build the poll response. */
  private startWorkflowTask(seq: number, identity: string): object | null {
    if (!this.isOpen || this.wft.state !== 'scheduled' || this.wft.seq !== seq) return null;
    const now = this.host.clock.now();
    const requestId = randomUUID();
    // A poll may take the task in the same turn that scheduled it; the real server still writes
    // WorkflowTaskStarted in a transaction of its own.
    this.endBatch();
    if (this.wft.transient && this.wft.scheduledEventId !== this.nextEventId) {
      // Events were written since the retry was scheduled: the workflow has something new to see,
      // so this is a normal first attempt again, written to the history.
      this.wft.transient = false;
      this.wft.attempt = 1;
      this.wft.timeoutMs = this.start.taskTimeoutMs;
      this.wft.scheduledEventId = this.write(this.workflowTaskScheduledEvent(this.wft.scheduledTime)).eventId;
    }
    const scheduledEventId = this.wft.scheduledEventId;
    const startedAttrs = { scheduledEventId, identity, requestId, historySizeBytes: this.historyBytes };
    if (this.wft.transient) {
      const scheduled = this.workflowTaskScheduledEvent(this.wft.scheduledTime);
      scheduled.eventId = scheduledEventId;
      const started = makeEvent(E.EVENT_TYPE_WORKFLOW_TASK_STARTED, now, startedAttrs);
      started.eventId = scheduledEventId + 1;
      this.wft.transientEvents = [scheduled, started];
      this.wft.startedEventId = started.eventId;
    } else {
      this.wft.startedEventId = this.write(makeEvent(E.EVENT_TYPE_WORKFLOW_TASK_STARTED, now, startedAttrs)).eventId;
      this.endBatch();
    }
    this.wft.startedTime = now;
    this.wft.requestId = requestId;
    this.setWftState('started');
    const token = `wt:${this.runId}:${scheduledEventId}:${randomUUID()}`;
    this.wft.token = token;
    this.host.registerToken(token, { kind: 'workflow', run: this, scheduledEventId });
    this.wft.timeout = this.host.clock.after(this.wft.timeoutMs, () => this.timeOutWorkflowTask(token));
    return this.workflowTaskResponse(token);
  }

  /**
   * A completing transient task's scheduled and started events are written now, as one batch
   * before the completion's (ids as the worker saw them: nothing is written while a task runs).
   */
  private writeTransientEvents(identity: string): void {
    if (!this.wft.transient) return;
    const started = this.wft.transientEvents[1];
    this.endBatch();
    this.wft.scheduledEventId = this.write(this.workflowTaskScheduledEvent(this.wft.scheduledTime)).eventId;
    this.wft.startedEventId = this.write(makeEvent(E.EVENT_TYPE_WORKFLOW_TASK_STARTED, this.wft.startedTime, {
      ...attrs(started!), scheduledEventId: this.wft.scheduledEventId, identity: identity || attrs(started!).identity,
    })).eventId;
    this.endBatch();
    this.wft.transient = false;
  }

  /**
   * After a failed or timed-out task: the next attempt, unless events held back meanwhile are
   * written now, which make the next task a normal first attempt (as on the real server).
   */
  private retryWorkflowTask(): void {
    this.wft.attempt++;
    if (this.flushBuffered()) this.wft.attempt = 1;
    this.host.markDirty(this);
    this.scheduleWorkflowTask();
  }

  private workflowTaskResponse(token: string): object {
    return {
      taskToken: Buffer.from(token),
      workflowExecution: { workflowId: this.workflowId, runId: this.runId },
      workflowType: { name: this.workflowType },
      previousStartedEventId: this.previousStartedEventId,
      startedEventId: this.wft.startedEventId,
      attempt: this.wft.attempt,
      backlogCountHint: 0,
      history: { events: this.wft.transient ? [...this.history, ...this.wft.transientEvents] : this.history },
      nextPageToken: Buffer.alloc(0),
      workflowExecutionTaskQueue: { name: this.taskQueue, kind: enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      scheduledTime: tsFromMs(this.wft.scheduledTime),
      startedTime: tsFromMs(this.wft.startedTime),
      messages: [],
    };
  }

  private endWorkflowTask(): void {
    if (this.wft.timeout) this.wft.timeout.cancel();
    this.wft.timeout = null;
    if (this.wft.token) this.host.dropToken(this.wft.token);
    this.wft.token = '';
    this.wft.transientEvents = [];
    this.setWftState('none');
  }

  private timeOutWorkflowTask(token: string): void {
    if (this.wft.token !== token || this.wft.state !== 'started' || !this.isOpen) return;
    const now = this.host.clock.now();
    // A transient attempt's failure is not written: the history keeps only the first one.
    if (!this.wft.transient) {
      this.write(makeEvent(E.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT, now, {
        scheduledEventId: this.wft.scheduledEventId,
        startedEventId: this.wft.startedEventId,
        timeoutType: TT.TIMEOUT_TYPE_START_TO_CLOSE,
      }));
    }
    this.endWorkflowTask();
    this.retryWorkflowTask();
  }

  /** RespondWorkflowTaskFailed. */
  failWorkflowTask(token: string, req: any): void {
    this.requireStartedTask(token);
    const now = this.host.clock.now();
    if (!this.wft.transient) {
      this.write(makeEvent(E.EVENT_TYPE_WORKFLOW_TASK_FAILED, now, {
        scheduledEventId: this.wft.scheduledEventId,
        startedEventId: this.wft.startedEventId,
        cause: req.cause || WFC.WORKFLOW_TASK_FAILED_CAUSE_UNSPECIFIED,
        failure: req.failure ?? undefined,
        identity: req.identity ?? '',
        binaryChecksum: req.binaryChecksum ?? '',
      }));
    }
    this.endWorkflowTask();
    this.retryWorkflowTask();
    this.dispatchQueries();
  }

  private requireStartedTask(token: string): void {
    if (!this.isOpen) throw notFound('Workflow execution already completed.');
    if (this.wft.state !== 'started' || this.wft.token !== token) throw notFound('Workflow task not found.');
  }

  /**
   * RespondWorkflowTaskCompleted: apply the commands. Returns activity tasks dispatched eagerly.
   */
  completeWorkflowTask(token: string, req: any): object[] {
    this.requireStartedTask(token);
    const commands: any[] = req.commands ?? [];
    const closing = commands.find((c) => CLOSE_COMMANDS.has(c.commandType));
    const now = this.host.clock.now();

    const invalid = this.validateCommands(commands);
    if (invalid || (closing && this.buffered.length > 0)) {
      // A run may not close while events it has not seen are waiting (UNHANDLED_COMMAND), and a
      // malformed command fails the task; either way the commands are discarded and a new task runs.
      if (!this.wft.transient) {
        this.write(makeEvent(E.EVENT_TYPE_WORKFLOW_TASK_FAILED, now, {
          scheduledEventId: this.wft.scheduledEventId,
          startedEventId: this.wft.startedEventId,
          cause: invalid ? invalid.cause : WFC.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
          failure: { message: invalid ? invalid.message : 'Unhandled commands: new events arrived while the task ran.' },
          identity: req.identity ?? '',
        }));
      }
      this.endWorkflowTask();
      this.retryWorkflowTask();
      // The real service answers INVALID_ARGUMENT; core recognises the exact message
      // "UnhandledCommand", evicts its cached run and replays with the new events.
      throw invalidArgument(invalid ? invalid.message : 'UnhandledCommand');
    }

    this.writeTransientEvents(req.identity ?? '');
    const completed = this.write(makeEvent(E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, now, {
      scheduledEventId: this.wft.scheduledEventId,
      startedEventId: this.wft.startedEventId,
      identity: req.identity ?? '',
      binaryChecksum: req.binaryChecksum ?? '',
      sdkMetadata: req.sdkMetadata ?? undefined,
      meteringMetadata: req.meteringMetadata ?? undefined,
      workerVersion: req.workerVersionStamp ?? undefined,
    }));
    this.previousStartedEventId = this.wft.startedEventId;
    this.wft.attempt = 1;
    this.endWorkflowTask();

    let needTask = Boolean(req.forceCreateNewWorkflowTask);
    const eager: ActivityState[] = [];
    for (const c of commands) {
      if (!this.isOpen) break;
      const r = this.applyCommand(c, completed.eventId, req.identity ?? '');
      if (r === 'needTask') needTask = true;
      else if (r) eager.push(r);
    }
    if (!this.isOpen) return [];
    if (this.flushBuffered()) needTask = true;
    if (needTask) this.scheduleWorkflowTask();
    const responses: object[] = [];
    for (const a of eager) {
      const r = this.startActivityAttempt(a.scheduledEventId, a.attempt, req.identity ?? '');
      if (r) responses.push(r);
    }
    this.dispatchQueries();
    return responses;
  }

  private validateCommands(commands: any[]): { cause: number; message: string } | null {
    for (const c of commands) {
      switch (c.commandType) {
        case CT.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK: {
          const a = c.scheduleActivityTaskCommandAttributes;
          if (!a?.activityId) return { cause: WFC.WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES, message: 'ActivityId is not set on command.' };
          if (!a.activityType?.name) return { cause: WFC.WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES, message: 'ActivityType is not set on command.' };
          if (!optMs(a.startToCloseTimeout) && !optMs(a.scheduleToCloseTimeout)) {
            return { cause: WFC.WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES, message: 'A valid StartToClose or ScheduleToCloseTimeout is not set on command.' };
          }
          break;
        }
        case CT.COMMAND_TYPE_START_TIMER: {
          const a = c.startTimerCommandAttributes;
          if (!a?.timerId) return { cause: WFC.WORKFLOW_TASK_FAILED_CAUSE_BAD_START_TIMER_ATTRIBUTES, message: 'TimerId is not set.' };
          if (this.timers.has(a.timerId)) return { cause: WFC.WORKFLOW_TASK_FAILED_CAUSE_START_TIMER_DUPLICATE_ID, message: `Timer ${a.timerId} is already started.` };
          break;
        }
        case CT.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK + 1000:
          break;
        default:
          if (!SUPPORTED_COMMANDS.has(c.commandType)) {
            return {
              cause: WFC.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
              message: `Command ${CT[c.commandType] ?? c.commandType} is not supported by the embedded Temporal server.`,
            };
          }
      }
    }
    return null;
  }

  /** Apply one command; returns 'needTask' when it produced events the workflow must see. */
  private applyCommand(c: any, wftCompletedId: number, identity: string): 'needTask' | ActivityState | null {
    const now = this.host.clock.now();
    switch (c.commandType) {
      case CT.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK:
        return this.scheduleActivity(c.scheduleActivityTaskCommandAttributes, wftCompletedId, now);
      case CT.COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK:
        return this.requestCancelActivity(num(c.requestCancelActivityTaskCommandAttributes?.scheduledEventId), wftCompletedId, identity, now);
      case CT.COMMAND_TYPE_START_TIMER: {
        const a = c.startTimerCommandAttributes;
        const ms = msFromDuration(a.startToFireTimeout) ?? 0;
        const ev = this.write(makeEvent(E.EVENT_TYPE_TIMER_STARTED, now, {
          timerId: a.timerId, startToFireTimeout: a.startToFireTimeout ?? durationFromMs(0), workflowTaskCompletedEventId: wftCompletedId,
        }));
        const timerId: string = a.timerId;
        const handle = this.host.clock.after(ms, () => this.fireTimer(timerId, ev.eventId));
        this.timers.set(timerId, { startedEventId: ev.eventId, handle });
        return null;
      }
      case CT.COMMAND_TYPE_CANCEL_TIMER: {
        const timerId: string = c.cancelTimerCommandAttributes?.timerId ?? '';
        const t = this.timers.get(timerId);
        if (!t) return null;
        t.handle.cancel();
        this.timers.delete(timerId);
        this.write(makeEvent(E.EVENT_TYPE_TIMER_CANCELED, now, {
          timerId, startedEventId: t.startedEventId, workflowTaskCompletedEventId: wftCompletedId, identity,
        }));
        return null;
      }
      case CT.COMMAND_TYPE_RECORD_MARKER: {
        const a = c.recordMarkerCommandAttributes;
        this.write(makeEvent(E.EVENT_TYPE_MARKER_RECORDED, now, {
          markerName: a.markerName, details: a.details ?? {}, workflowTaskCompletedEventId: wftCompletedId,
          header: a.header ?? undefined, failure: a.failure ?? undefined,
        }));
        return null;
      }
      case CT.COMMAND_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: {
        const fields = c.upsertWorkflowSearchAttributesCommandAttributes?.searchAttributes?.indexedFields ?? {};
        this.write(makeEvent(E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES, now, {
          workflowTaskCompletedEventId: wftCompletedId, searchAttributes: { indexedFields: fields },
        }));
        for (const [k, p] of Object.entries(fields)) {
          if (isEmptyPayload(p)) delete this.searchAttributes[k];
          else this.searchAttributes[k] = p;
        }
        this.host.onSearchAttributesChanged(this);
        return null;
      }
      case CT.COMMAND_TYPE_MODIFY_WORKFLOW_PROPERTIES: {
        const memo = c.modifyWorkflowPropertiesCommandAttributes?.upsertedMemo?.fields ?? {};
        this.write(makeEvent(E.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED, now, {
          workflowTaskCompletedEventId: wftCompletedId, upsertedMemo: { fields: memo },
        }));
        for (const [k, p] of Object.entries(memo)) {
          if (isEmptyPayload(p)) delete this.memo[k];
          else this.memo[k] = p;
        }
        return null;
      }
      case CT.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION:
        this.close(makeEvent(E.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, now, {
          result: c.completeWorkflowExecutionCommandAttributes?.result ?? undefined, workflowTaskCompletedEventId: wftCompletedId,
        }), S.WORKFLOW_EXECUTION_STATUS_COMPLETED);
        return null;
      case CT.COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION:
        this.close(makeEvent(E.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED, now, {
          failure: c.failWorkflowExecutionCommandAttributes?.failure ?? undefined,
          retryState: RS.RETRY_STATE_RETRY_POLICY_NOT_SET, workflowTaskCompletedEventId: wftCompletedId,
        }), S.WORKFLOW_EXECUTION_STATUS_FAILED);
        return null;
      case CT.COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION:
        this.close(makeEvent(E.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED, now, {
          details: c.cancelWorkflowExecutionCommandAttributes?.details ?? undefined, workflowTaskCompletedEventId: wftCompletedId,
        }), S.WORKFLOW_EXECUTION_STATUS_CANCELED);
        return null;
      case CT.COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION: {
        const a = c.continueAsNewWorkflowExecutionCommandAttributes;
        const newRunId = this.host.continueAsNew(this, a, wftCompletedId);
        void newRunId;
        return null;
      }
      default:
        return null;
    }
  }

  /** Close the run with its final event (used by commands, termination, timeouts). */
  close(ev: HistoryEvent, status: number): void {
    if (!this.isOpen) return;
    this.write(ev);
    this.status = status;
    this.closeTime = this.host.clock.now();
    this.buffered = [];
    if (this.wft.state !== 'none') this.endWorkflowTask();
    if (this.runTimer) this.runTimer.cancel();
    if (this.firstTaskTimer) this.firstTaskTimer.cancel();
    for (const t of this.timers.values()) t.handle.cancel();
    this.timers.clear();
    for (const a of this.activities.values()) this.dropActivity(a);
    this.activities.clear();
    this.host.onClosed(this);
    this.dispatchQueries();
    this.notify();
  }

  /** Continue-as-new close (the new run id is known by then). */
  closeContinuedAsNew(ev: HistoryEvent, newRunId: string): void {
    this.newExecutionRunId = newRunId;
    this.close(ev, S.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW);
  }

  private timeOutRun(): void {
    if (!this.isOpen) return;
    this.close(makeEvent(E.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT, this.host.clock.now(), {
      retryState: RS.RETRY_STATE_TIMEOUT, newExecutionRunId: '',
    }), S.WORKFLOW_EXECUTION_STATUS_TIMED_OUT);
  }

  terminate(reason: string, details: unknown, identity: string): void {
    if (!this.isOpen) throw notFound('Workflow execution already completed.');
    this.flushBuffered();
    this.close(makeEvent(E.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED, this.host.clock.now(), {
      reason, details: details ?? undefined, identity,
    }), S.WORKFLOW_EXECUTION_STATUS_TERMINATED);
  }

  signal(name: string, input: unknown, identity: string, header: unknown, requestId: string): void {
    if (!this.isOpen) throw notFound('workflow execution already completed');
    if (requestId) {
      if (this.requestIds.has(`signal:${requestId}`)) return;
      this.requestIds.add(`signal:${requestId}`);
    }
    this.deliver(makeEvent(E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, this.host.clock.now(), {
      signalName: name, input: input ?? undefined, identity, header: header ?? undefined,
    }));
  }

  requestCancel(reason: string, identity: string, requestId: string): void {
    if (!this.isOpen) throw notFound('workflow execution already completed');
    if (this.cancelRequested) return;
    if (requestId) this.requestIds.add(`cancel:${requestId}`);
    this.cancelRequested = true;
    this.deliver(makeEvent(E.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED, this.host.clock.now(), {
      cause: reason, identity,
    }));
  }

  private fireTimer(timerId: string, startedEventId: number): void {
    const t = this.timers.get(timerId);
    if (!t || t.startedEventId !== startedEventId || !this.isOpen) return;
    this.timers.delete(timerId);
    this.deliver(makeEvent(E.EVENT_TYPE_TIMER_FIRED, this.host.clock.now(), { timerId, startedEventId }));
  }

  // ---------------------------------------------------------------- activities

  private setActState(a: ActivityState, state: ActState | 'done'): void {
    const wasBusy = a.state === 'scheduled' || a.state === 'started';
    const isBusy = state === 'scheduled' || state === 'started';
    if (state !== 'done') a.state = state;
    if (wasBusy !== isBusy) this.host.clock.markBusy(isBusy ? 1 : -1);
  }

  private scheduleActivity(cmd: any, wftCompletedId: number, now: number): ActivityState | null {
    const rp = cmd.retryPolicy ?? {};
    const initialIntervalMs = optMs(rp.initialInterval) ?? 1000;
    let scheduleToCloseMs = optMs(cmd.scheduleToCloseTimeout);
    const runDeadline = this.runDeadline();
    if (runDeadline !== null) {
      const left = Math.max(0, runDeadline - now);
      scheduleToCloseMs = scheduleToCloseMs === null ? left : Math.min(scheduleToCloseMs, left);
    }
    const startToCloseMs = optMs(cmd.startToCloseTimeout) ?? scheduleToCloseMs;
    const scheduleToStartMs = optMs(cmd.scheduleToStartTimeout) ?? scheduleToCloseMs;
    const policy = {
      initialIntervalMs,
      backoffCoefficient: rp.backoffCoefficient && rp.backoffCoefficient >= 1 ? rp.backoffCoefficient : 2,
      maximumIntervalMs: optMs(rp.maximumInterval) ?? initialIntervalMs * 100,
      maximumAttempts: rp.maximumAttempts ?? 0,
      nonRetryableErrorTypes: [...(rp.nonRetryableErrorTypes ?? [])],
    };
    const taskQueue = cmd.taskQueue?.name || this.taskQueue;
    const ev = this.write(makeEvent(E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, now, {
      activityId: cmd.activityId,
      activityType: { name: cmd.activityType.name },
      taskQueue: { name: taskQueue, kind: enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      header: cmd.header ?? undefined,
      input: cmd.input ?? undefined,
      scheduleToCloseTimeout: durationFromMs(scheduleToCloseMs),
      scheduleToStartTimeout: durationFromMs(scheduleToStartMs),
      startToCloseTimeout: durationFromMs(startToCloseMs),
      heartbeatTimeout: durationFromMs(optMs(cmd.heartbeatTimeout)),
      workflowTaskCompletedEventId: wftCompletedId,
      retryPolicy: {
        initialInterval: durationFromMs(policy.initialIntervalMs),
        backoffCoefficient: policy.backoffCoefficient,
        maximumInterval: durationFromMs(policy.maximumIntervalMs),
        maximumAttempts: policy.maximumAttempts,
        nonRetryableErrorTypes: policy.nonRetryableErrorTypes,
      },
      priority: cmd.priority ?? undefined,
    }));
    const a: ActivityState = {
      scheduledEventId: ev.eventId,
      activityId: cmd.activityId,
      activityType: cmd.activityType.name,
      taskQueue,
      header: cmd.header ?? undefined,
      input: cmd.input ?? undefined,
      scheduleToCloseMs, scheduleToStartMs, startToCloseMs,
      heartbeatMs: optMs(cmd.heartbeatTimeout),
      retryPolicy: policy,
      state: 'backoff',
      attempt: 1,
      firstScheduledTime: now,
      attemptScheduledTime: now,
      startedTime: 0,
      token: '',
      startedIdentity: '',
      startedRequestId: '',
      heartbeatDetails: undefined,
      lastHeartbeatTime: 0,
      lastFailure: undefined,
      cancelRequested: false,
      cancelRequestedEventId: 0,
      timers: [],
      heartbeatTimer: null,
      priority: cmd.priority ?? undefined,
    };
    this.activities.set(a.scheduledEventId, a);
    if (scheduleToCloseMs) {
      a.timers.push(this.host.clock.after(scheduleToCloseMs, () => this.activityTimedOut(a, TT.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE, a.attempt)));
    }
    if (cmd.requestEagerExecution && taskQueue === this.taskQueue) {
      this.setActState(a, 'scheduled');
      return a;
    }
    this.enqueueActivity(a);
    return null;
  }

  private runDeadline(): number | null {
    const s = this.start;
    const d = Math.min(s.runTimeoutMs ? this.startTime + s.runTimeoutMs : Infinity, s.executionExpiration ?? Infinity);
    return d === Infinity ? null : d;
  }

  private enqueueActivity(a: ActivityState): void {
    this.setActState(a, 'scheduled');
    a.attemptScheduledTime = this.host.clock.now();
    const attempt = a.attempt;
    if (a.scheduleToStartMs && a.scheduleToStartMs !== a.scheduleToCloseMs) {
      const h = this.host.clock.after(a.scheduleToStartMs, () => {
        if (a.state === 'scheduled' && a.attempt === attempt) this.activityTimedOut(a, TT.TIMEOUT_TYPE_SCHEDULE_TO_START, attempt);
      });
      a.timers.push(h);
    }
    this.host.activityQueues.add(queueKey(this.host.namespace, a.taskQueue), {
      take: (identity) => this.startActivityAttempt(a.scheduledEventId, attempt, identity),
    });
  }

  private startActivityAttempt(scheduledEventId: number, attempt: number, identity: string): object | null {
    const a = this.activities.get(scheduledEventId);
    if (!a || !this.isOpen || a.state !== 'scheduled' || a.attempt !== attempt) return null;
    const now = this.host.clock.now();
    this.setActState(a, 'started');
    this.host.markDirty(this);
    a.startedTime = now;
    a.startedIdentity = identity;
    a.startedRequestId = randomUUID();
    a.token = `at:${this.runId}:${scheduledEventId}:${attempt}:${randomUUID()}`;
    this.host.registerToken(a.token, { kind: 'activity', run: this, scheduledEventId, attempt });
    if (a.startToCloseMs) {
      a.timers.push(this.host.clock.after(a.startToCloseMs, () => this.activityTimedOut(a, TT.TIMEOUT_TYPE_START_TO_CLOSE, attempt)));
    }
    this.armHeartbeat(a, attempt);
    return {
      taskToken: Buffer.from(a.token),
      workflowNamespace: this.host.namespace,
      workflowType: { name: this.workflowType },
      workflowExecution: { workflowId: this.workflowId, runId: this.runId },
      activityType: { name: a.activityType },
      activityId: a.activityId,
      header: a.header,
      input: a.input,
      heartbeatDetails: a.heartbeatDetails,
      scheduledTime: tsFromMs(a.firstScheduledTime),
      currentAttemptScheduledTime: tsFromMs(a.attemptScheduledTime),
      startedTime: tsFromMs(now),
      attempt,
      scheduleToCloseTimeout: durationFromMs(a.scheduleToCloseMs),
      startToCloseTimeout: durationFromMs(a.startToCloseMs),
      heartbeatTimeout: durationFromMs(a.heartbeatMs),
      retryPolicy: {
        initialInterval: durationFromMs(a.retryPolicy.initialIntervalMs),
        backoffCoefficient: a.retryPolicy.backoffCoefficient,
        maximumInterval: durationFromMs(a.retryPolicy.maximumIntervalMs),
        maximumAttempts: a.retryPolicy.maximumAttempts,
        nonRetryableErrorTypes: a.retryPolicy.nonRetryableErrorTypes,
      },
      priority: a.priority,
    };
  }

  private armHeartbeat(a: ActivityState, attempt: number): void {
    if (a.heartbeatTimer) a.heartbeatTimer.cancel();
    a.heartbeatTimer = null;
    if (!a.heartbeatMs) return;
    a.heartbeatTimer = this.host.clock.after(a.heartbeatMs, () => this.activityTimedOut(a, TT.TIMEOUT_TYPE_HEARTBEAT, attempt));
  }

  private requireActivity(scheduledEventId: number, attempt: number, token: string): ActivityState {
    const a = this.activities.get(scheduledEventId);
    if (!this.isOpen) throw notFound('workflow execution already completed');
    if (!a || a.state !== 'started' || a.attempt !== attempt || a.token !== token) throw notFound('Activity task not found.');
    return a;
  }

  /** The token of the running attempt of an activity, for the *ById calls. */
  activityTokenFor(activityId: string): { token: string; ref: { kind: 'activity'; run: WorkflowRun; scheduledEventId: number; attempt: number } } | null {
    for (const a of this.activities.values()) {
      if (a.activityId === activityId && a.state === 'started') {
        return { token: a.token, ref: { kind: 'activity', run: this, scheduledEventId: a.scheduledEventId, attempt: a.attempt } };
      }
    }
    return null;
  }

  /** RecordActivityTaskHeartbeat: returns whether cancellation was requested. */
  heartbeat(ref: { scheduledEventId: number; attempt: number }, token: string, details: unknown): boolean {
    const a = this.requireActivity(ref.scheduledEventId, ref.attempt, token);
    if (details) a.heartbeatDetails = details;
    a.lastHeartbeatTime = this.host.clock.now();
    this.armHeartbeat(a, a.attempt);
    return a.cancelRequested;
  }

  private clearAttemptTimers(a: ActivityState, keepScheduleToClose: boolean): void {
    if (a.heartbeatTimer) a.heartbeatTimer.cancel();
    a.heartbeatTimer = null;
    const keep: TimerHandle[] = [];
    a.timers.forEach((t, i) => {
      // The first timer is schedule-to-close when set; it spans all attempts.
      if (keepScheduleToClose && i === 0 && a.scheduleToCloseMs) keep.push(t);
      else t.cancel();
    });
    a.timers = keep;
    if (a.token) this.host.dropToken(a.token);
    a.token = '';
  }

  private dropActivity(a: ActivityState): void {
    this.clearAttemptTimers(a, false);
    this.setActState(a, 'done');
  }

  private startedEvent(a: ActivityState, now: number): HistoryEvent {
    return makeEvent(E.EVENT_TYPE_ACTIVITY_TASK_STARTED, now, {
      scheduledEventId: a.scheduledEventId, identity: a.startedIdentity, requestId: a.startedRequestId,
      attempt: a.attempt, lastFailure: a.attempt > 1 ? a.lastFailure : undefined,
    });
  }

  /** Finish the activity with a closing event pair (Started + outcome). */
  private finishActivity(a: ActivityState, outcomeType: number, outcome: Record<string, unknown>, withStarted: boolean): void {
    const now = this.host.clock.now();
    this.dropActivity(a);
    this.activities.delete(a.scheduledEventId);
    const evs: HistoryEvent[] = [];
    if (withStarted) {
      const started = this.startedEvent(a, now);
      evs.push(started);
      outcome._startedRef = started;
    } else {
      outcome.startedEventId = 0;
    }
    evs.push(makeEvent(outcomeType, now, { scheduledEventId: a.scheduledEventId, ...outcome }));
    this.deliver(...evs);
  }

  completeActivity(ref: { scheduledEventId: number; attempt: number }, token: string, result: unknown, identity: string): void {
    const a = this.requireActivity(ref.scheduledEventId, ref.attempt, token);
    this.finishActivity(a, E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, { result: result ?? undefined, identity }, true);
  }

  cancelActivity(ref: { scheduledEventId: number; attempt: number }, token: string, details: unknown, identity: string): void {
    const a = this.requireActivity(ref.scheduledEventId, ref.attempt, token);
    this.finishActivity(a, E.EVENT_TYPE_ACTIVITY_TASK_CANCELED, {
      details: details ?? undefined, latestCancelRequestedEventId: a.cancelRequestedEventId, identity,
    }, true);
  }

  failActivity(ref: { scheduledEventId: number; attempt: number }, token: string, failure: any, identity: string, lastHeartbeatDetails: unknown): void {
    const a = this.requireActivity(ref.scheduledEventId, ref.attempt, token);
    if (lastHeartbeatDetails) a.heartbeatDetails = lastHeartbeatDetails;
    const info = failure?.applicationFailureInfo;
    const nonRetryable = Boolean(info?.nonRetryable) || (info?.type && a.retryPolicy.nonRetryableErrorTypes.includes(info.type));
    const override = optMs(info?.nextRetryDelay);
    this.retryOrFinish(a, failure, nonRetryable ? RS.RETRY_STATE_NON_RETRYABLE_FAILURE : null, override, (retryState) => {
      this.finishActivity(a, E.EVENT_TYPE_ACTIVITY_TASK_FAILED, { failure, identity, retryState }, true);
    });
  }

  /**
   * Retry the activity when its policy allows (server-side backoff), else call `finish` with the
   * retry state explaining why not.
   */
  private retryOrFinish(a: ActivityState, failure: any, forcedState: number | null, overrideDelayMs: number | null, finish: (retryState: number) => void): void {
    const now = this.host.clock.now();
    let retryState = forcedState;
    const p = a.retryPolicy;
    if (a.cancelRequested) retryState = RS.RETRY_STATE_CANCEL_REQUESTED;
    if (retryState === null && p.maximumAttempts > 0 && a.attempt >= p.maximumAttempts) retryState = RS.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED;
    let delay = 0;
    if (retryState === null) {
      delay = overrideDelayMs ?? Math.min(p.initialIntervalMs * Math.pow(p.backoffCoefficient, a.attempt - 1), p.maximumIntervalMs);
      if (a.scheduleToCloseMs && now + delay >= a.firstScheduledTime + a.scheduleToCloseMs) retryState = RS.RETRY_STATE_TIMEOUT;
    }
    if (retryState !== null) {
      finish(retryState);
      return;
    }
    a.lastFailure = failure;
    this.clearAttemptTimers(a, true);
    this.setActState(a, 'backoff');
    a.attempt++;
    a.retryAt = now + delay;
    this.host.markDirty(this);
    const attempt = a.attempt;
    a.timers.push(this.host.clock.after(delay, () => {
      if (this.isOpen && this.activities.get(a.scheduledEventId) === a && a.attempt === attempt && a.state === 'backoff') {
        this.enqueueActivity(a);
      }
    }));
  }

  private activityTimedOut(a: ActivityState, timeoutType: number, attempt: number): void {
    if (!this.isOpen || this.activities.get(a.scheduledEventId) !== a) return;
    if (timeoutType !== TT.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE && a.attempt !== attempt) return;
    if ((timeoutType === TT.TIMEOUT_TYPE_START_TO_CLOSE || timeoutType === TT.TIMEOUT_TYPE_HEARTBEAT) && a.state !== 'started') return;
    const wasStarted = a.state === 'started';
    const failure = {
      message: `activity ${TIMEOUT_NAMES[timeoutType]} timeout`,
      source: 'Server',
      timeoutFailureInfo: { timeoutType, lastHeartbeatDetails: a.heartbeatDetails ?? undefined },
      cause: timeoutType === TT.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE && a.lastFailure ? a.lastFailure : undefined,
    };
    const finish = (retryState: number) =>
      this.finishActivity(a, E.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT, { failure, retryState }, wasStarted);
    if (timeoutType === TT.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE || timeoutType === TT.TIMEOUT_TYPE_SCHEDULE_TO_START) {
      // As the real server (v1.29 RetryActivity): these timeouts are never retryable, so the retry
      // state says NON_RETRYABLE_FAILURE; TIMEOUT is for a retry that would start past the deadline.
      finish(a.cancelRequested ? RS.RETRY_STATE_CANCEL_REQUESTED : RS.RETRY_STATE_NON_RETRYABLE_FAILURE);
      return;
    }
    this.retryOrFinish(a, failure, null, null, finish);
  }

  private requestCancelActivity(scheduledEventId: number, wftCompletedId: number, identity: string, now: number): 'needTask' | null {
    const a = this.activities.get(scheduledEventId);
    if (!a) return null;
    const req = this.write(makeEvent(E.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED, now, {
      scheduledEventId, workflowTaskCompletedEventId: wftCompletedId,
    }));
    a.cancelRequested = true;
    a.cancelRequestedEventId = req.eventId;
    if (a.state === 'started') return null;
    // Not running: cancel at once, no worker involved.
    this.dropActivity(a);
    this.activities.delete(scheduledEventId);
    this.write(makeEvent(E.EVENT_TYPE_ACTIVITY_TASK_CANCELED, now, {
      scheduledEventId, latestCancelRequestedEventId: req.eventId, startedEventId: 0, identity,
    }));
    return 'needTask';
  }

  // ---------------------------------------------------------------- queries

  /** Queue a query; it is sent to a worker as soon as no workflow task is outstanding. */
  query(query: any): Promise<{ answer?: unknown; error?: string; failure?: unknown }> {
    return new Promise((resolve) => {
      this.queries.push({ id: randomUUID(), query, resolve, dispatched: false });
      this.dispatchQueries();
    });
  }

  private dispatchQueries(): void {
    if (this.queries.length === 0 || this.wft.state !== 'none') return;
    for (const q of this.queries) {
      if (q.dispatched) continue;
      q.dispatched = true;
      const token = `qt:${this.runId}:${q.id}`;
      this.host.registerToken(token, { kind: 'query', run: this, queryId: q.id });
      this.host.workflowQueues.add(queueKey(this.host.namespace, this.taskQueue), {
        take: () => {
          if (!this.queries.includes(q)) return null;
          return {
            taskToken: Buffer.from(token),
            workflowExecution: { workflowId: this.workflowId, runId: this.runId },
            workflowType: { name: this.workflowType },
            previousStartedEventId: this.lastStartedEventId(),
            startedEventId: 0,
            attempt: 1,
            history: { events: this.history },
            nextPageToken: Buffer.alloc(0),
            query: q.query,
            workflowExecutionTaskQueue: { name: this.taskQueue, kind: enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
            messages: [],
          };
        },
      });
    }
  }

  private lastStartedEventId(): number {
    const history = this.history;
    for (let i = history.length - 1; i >= 0; i--) {
      if (history[i]!.eventType === E.EVENT_TYPE_WORKFLOW_TASK_STARTED) return history[i]!.eventId;
    }
    return 0;
  }

  /** RespondQueryTaskCompleted. */
  answerQuery(queryId: string, token: string, req: any): void {
    const i = this.queries.findIndex((q) => q.id === queryId);
    this.host.dropToken(token);
    if (i < 0) throw notFound('Query task not found.');
    const [q] = this.queries.splice(i, 1);
    if (req.completedType === enums.QueryResultType.QUERY_RESULT_TYPE_ANSWERED) q!.resolve({ answer: req.queryResult ?? undefined });
    else q!.resolve({ error: req.errorMessage || 'query failed', failure: req.failure ?? undefined });
  }

  /** Forget a query whose caller gave up. */
  abandonQuery(q: Promise<unknown>): void {
    void q;
  }

  // ---------------------------------------------------------------- describe

  pendingActivities(): object[] {
    const out: object[] = [];
    for (const a of this.activities.values()) {
      out.push({
        activityId: a.activityId,
        activityType: { name: a.activityType },
        state: a.cancelRequested
          ? enums.PendingActivityState.PENDING_ACTIVITY_STATE_CANCEL_REQUESTED
          : a.state === 'started' ? enums.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
          : enums.PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED,
        heartbeatDetails: a.heartbeatDetails,
        lastHeartbeatTime: a.lastHeartbeatTime ? tsFromMs(a.lastHeartbeatTime) : undefined,
        lastStartedTime: a.startedTime ? tsFromMs(a.startedTime) : undefined,
        attempt: a.attempt,
        maximumAttempts: a.retryPolicy.maximumAttempts,
        scheduledTime: tsFromMs(a.attemptScheduledTime),
        expirationTime: a.scheduleToCloseMs ? tsFromMs(a.firstScheduledTime + a.scheduleToCloseMs) : undefined,
        lastFailure: a.lastFailure,
        lastWorkerIdentity: a.startedIdentity,
      });
    }
    return out;
  }

  pendingWorkflowTask(): object | undefined {
    if (this.wft.state === 'none') return undefined;
    return {
      state: this.wft.state === 'started'
        ? enums.PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_STARTED
        : enums.PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_SCHEDULED,
      scheduledTime: tsFromMs(this.wft.scheduledTime),
      originalScheduledTime: tsFromMs(this.wft.scheduledTime),
      startedTime: this.wft.state === 'started' ? tsFromMs(this.wft.startedTime) : undefined,
      attempt: this.wft.attempt,
    };
  }

  runExpiration(): number | null {
    return this.runDeadline();
  }

  /** Drop every timer and token (the run's memory is being reclaimed or the server stops). */
  dispose(): void {
    if (this.isOpen) {
      if (this.wft.state !== 'none') this.endWorkflowTask();
      for (const a of this.activities.values()) this.dropActivity(a);
      this.activities.clear();
      for (const t of this.timers.values()) t.handle.cancel();
      if (this.runTimer) this.runTimer.cancel();
    }
    for (const q of this.queries) q.resolve({ error: 'workflow run was removed' });
    this.queries = [];
    this.notify();
  }

  // ---------------------------------------------------------------- durable store (see store/)

  /** The part of the run's state that no event records, for the durable store. */
  savedState(): SavedRunState {
    const out: SavedRunState = {};
    if (this.buffered.length > 0) {
      out.buffered = this.buffered.map((ev) => {
        const ref = attrs(ev)._startedRef as HistoryEvent | undefined;
        return { event: ev, startedRef: ref ? this.buffered.indexOf(ref) : -1 };
      });
    }
    const acts: SavedActivity[] = [];
    for (const a of this.activities.values()) {
      acts.push({
        scheduledEventId: a.scheduledEventId, attempt: a.attempt, state: a.state,
        retryAt: a.state === 'backoff' ? a.retryAt : undefined,
        lastFailure: a.lastFailure, heartbeatDetails: a.heartbeatDetails,
        startedIdentity: a.startedIdentity || undefined,
      });
    }
    if (acts.length > 0) out.activities = acts;
    if (this.requestIds.size > 1) out.requestIds = [...this.requestIds].filter((r) => r !== this.start.requestId);
    if (this.wft.attempt > 1) out.workflowTaskAttempt = this.wft.attempt;
    return out;
  }

  /**
   * Rebuild the run from its stored history after a restart: status, memo and search attributes,
   * the workflow task, pending activities and timers. Nothing is armed or dispatched until
   * {@link resumeAfterRestart}.
   */
  restoreFromHistory(events: HistoryEvent[], saved: SavedRunState, batchStarts?: number[]): void {
    this.liveHistory = events;
    this.packed = null;
    // A store that kept no boundaries gives one batch per event (pages then hold exactly the size asked).
    this.batchStarts = batchStarts && batchStarts[0] === 1 ? [...batchStarts] : events.map((ev) => ev.eventId);
    this.historyBytes = events.reduce((n, ev) => n + approxSize(ev), 0);
    this.stateTransitions = events.length;
    for (const r of saved.requestIds ?? []) this.requestIds.add(r);
    let wftScheduled: HistoryEvent | null = null;
    let wftStarted: HistoryEvent | null = null;
    let nextWftAttempt = 1;
    const pendingActivities = new Map<number, HistoryEvent>();
    const cancelRequests = new Map<number, number>();
    const pendingTimers = new Map<string, HistoryEvent>();
    for (const ev of events) {
      const a = attrs(ev);
      switch (ev.eventType) {
        case E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED: wftScheduled = ev; wftStarted = null; break;
        case E.EVENT_TYPE_WORKFLOW_TASK_STARTED: wftStarted = ev; break;
        case E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
          this.previousStartedEventId = num(a.startedEventId);
          wftScheduled = null; wftStarted = null; nextWftAttempt = 1;
          break;
        case E.EVENT_TYPE_WORKFLOW_TASK_FAILED: case E.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
          nextWftAttempt = (wftScheduled ? num(attrs(wftScheduled).attempt) || 1 : 1) + 1;
          wftScheduled = null; wftStarted = null;
          break;
        case E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: pendingActivities.set(ev.eventId, ev); break;
        case E.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED: cancelRequests.set(num(a.scheduledEventId), ev.eventId); break;
        case E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: case E.EVENT_TYPE_ACTIVITY_TASK_FAILED:
        case E.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: case E.EVENT_TYPE_ACTIVITY_TASK_CANCELED:
          pendingActivities.delete(num(a.scheduledEventId));
          break;
        case E.EVENT_TYPE_TIMER_STARTED: pendingTimers.set(String(a.timerId), ev); break;
        case E.EVENT_TYPE_TIMER_FIRED: case E.EVENT_TYPE_TIMER_CANCELED: pendingTimers.delete(String(a.timerId)); break;
        case E.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED: this.cancelRequested = true; break;
        case E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: {
          const fields = (a.searchAttributes as { indexedFields?: Record<string, unknown> } | undefined)?.indexedFields ?? {};
          for (const [k, p] of Object.entries(fields)) {
            if (isEmptyPayload(p)) delete this.searchAttributes[k];
            else this.searchAttributes[k] = p;
          }
          break;
        }
        case E.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED: {
          const fields = (a.upsertedMemo as { fields?: Record<string, unknown> } | undefined)?.fields ?? {};
          for (const [k, p] of Object.entries(fields)) {
            if (isEmptyPayload(p)) delete this.memo[k];
            else this.memo[k] = p;
          }
          break;
        }
        default: {
          const status = CLOSE_STATUS[ev.eventType];
          if (status !== undefined) {
            this.status = status;
            this.closeTime = msFromTs(ev.eventTime) ?? this.startTime;
            if (ev.eventType === E.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW) this.newExecutionRunId = String(a.newExecutionRunId ?? '');
          }
        }
      }
    }
    if (!this.isOpen) return;
    // Outcomes held back while the workflow task ran already ended their activity or timer.
    for (const b of saved.buffered ?? []) {
      const a = attrs(b.event);
      switch (b.event.eventType) {
        case E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: case E.EVENT_TYPE_ACTIVITY_TASK_FAILED:
        case E.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: case E.EVENT_TYPE_ACTIVITY_TASK_CANCELED:
          pendingActivities.delete(num(a.scheduledEventId));
          break;
        case E.EVENT_TYPE_TIMER_FIRED:
          pendingTimers.delete(String(a.timerId));
          break;
      }
    }

    if (wftScheduled) {
      const sa = attrs(wftScheduled);
      this.wft.attempt = num(sa.attempt) || 1;
      this.wft.scheduledEventId = wftScheduled.eventId;
      this.wft.scheduledTime = msFromTs(wftScheduled.eventTime) ?? this.startTime;
      this.wft.startedEventId = wftStarted ? wftStarted.eventId : 0;
      this.wft.startedTime = wftStarted ? msFromTs(wftStarted.eventTime) ?? 0 : 0;
      this.setWftState(wftStarted ? 'started' : 'scheduled');
    } else {
      // Transient attempts leave no events: their count is kept in the saved state.
      this.wft.attempt = Math.max(nextWftAttempt, saved.workflowTaskAttempt ?? 1);
    }
    this.buffered = (saved.buffered ?? []).map((b) => b.event);
    (saved.buffered ?? []).forEach((b, i) => {
      if (b.startedRef >= 0) attrs(this.buffered[i]!)._startedRef = this.buffered[b.startedRef];
    });

    const savedActs = new Map((saved.activities ?? []).map((s) => [s.scheduledEventId, s]));
    for (const ev of pendingActivities.values()) {
      const a = attrs(ev);
      const s = savedActs.get(ev.eventId);
      const rp = (a.retryPolicy ?? {}) as any;
      const scheduledAt = msFromTs(ev.eventTime) ?? this.startTime;
      const cancelEventId = cancelRequests.get(ev.eventId);
      const act: ActivityState = {
        scheduledEventId: ev.eventId,
        activityId: String(a.activityId),
        activityType: String((a.activityType as { name?: string } | undefined)?.name ?? ''),
        taskQueue: String((a.taskQueue as { name?: string } | undefined)?.name || this.taskQueue),
        header: a.header ?? undefined,
        input: a.input ?? undefined,
        scheduleToCloseMs: optMs(a.scheduleToCloseTimeout as never),
        scheduleToStartMs: optMs(a.scheduleToStartTimeout as never),
        startToCloseMs: optMs(a.startToCloseTimeout as never),
        heartbeatMs: optMs(a.heartbeatTimeout as never),
        retryPolicy: {
          initialIntervalMs: optMs(rp.initialInterval) ?? 1000,
          backoffCoefficient: rp.backoffCoefficient && rp.backoffCoefficient >= 1 ? rp.backoffCoefficient : 2,
          maximumIntervalMs: optMs(rp.maximumInterval) ?? (optMs(rp.initialInterval) ?? 1000) * 100,
          maximumAttempts: rp.maximumAttempts ?? 0,
          nonRetryableErrorTypes: [...(rp.nonRetryableErrorTypes ?? [])],
        },
        state: 'backoff',
        attempt: s?.attempt ?? 1,
        firstScheduledTime: scheduledAt,
        attemptScheduledTime: scheduledAt,
        startedTime: 0,
        token: '',
        startedIdentity: s?.startedIdentity ?? '',
        startedRequestId: randomUUID(),
        heartbeatDetails: s?.heartbeatDetails,
        lastHeartbeatTime: 0,
        lastFailure: s?.lastFailure,
        cancelRequested: cancelEventId !== undefined,
        cancelRequestedEventId: cancelEventId ?? 0,
        timers: [],
        heartbeatTimer: null,
        priority: a.priority ?? undefined,
        retryAt: s?.state === 'backoff' ? s.retryAt : undefined,
      };
      this.activities.set(act.scheduledEventId, act);
      this.restoredActivityStates.set(act.scheduledEventId, s?.state ?? 'scheduled');
    }
    for (const [timerId, ev] of pendingTimers) {
      const fireAt = (msFromTs(ev.eventTime) ?? this.startTime) + (msFromDuration(attrs(ev).startToFireTimeout as never) ?? 0);
      this.timers.set(timerId, { startedEventId: ev.eventId, handle: { fireAt, cancel: () => undefined } });
    }
  }

  private restoredActivityStates = new Map<number, ActState>();

  /**
   * Re-arm the timers of a restored open run and hand its work out again: a workflow task that
   * was started when the previous server stopped times out at once (its worker's answer could
   * not be accepted any more) and a new one is scheduled; an activity attempt that was running is
   * treated like a start-to-close timeout of that attempt and retried at once when the policy
   * allows; queued tasks and attempts are dispatched again; retry backoffs and timers fire at
   * their original times (at once when those have passed).
   */
  resumeAfterRestart(): void {
    if (!this.isOpen) return;
    const clock = this.host.clock;
    const deadline = this.runDeadline();
    if (deadline !== null) this.runTimer = clock.at(deadline, () => this.timeOutRun());
    for (const [timerId, t] of [...this.timers]) {
      const startedEventId = t.startedEventId;
      this.timers.set(timerId, { startedEventId, handle: clock.at(t.handle.fireAt, () => this.fireTimer(timerId, startedEventId)) });
    }
    for (const a of [...this.activities.values()]) {
      const was = this.restoredActivityStates.get(a.scheduledEventId) ?? 'scheduled';
      if (a.scheduleToCloseMs) {
        a.timers.push(clock.at(a.firstScheduledTime + a.scheduleToCloseMs, () => this.activityTimedOut(a, TT.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE, a.attempt)));
      }
      if (was === 'backoff') {
        const attempt = a.attempt;
        a.timers.push(clock.at(a.retryAt ?? clock.now(), () => {
          if (this.isOpen && this.activities.get(a.scheduledEventId) === a && a.attempt === attempt && a.state === 'backoff') this.enqueueActivity(a);
        }));
      } else if (was === 'started') {
        this.setActState(a, 'started');
        a.startedTime = clock.now();
        const failure = {
          message: `activity attempt ${a.attempt} was running when the embedded Temporal server stopped`,
          source: 'Server',
          timeoutFailureInfo: { timeoutType: TT.TIMEOUT_TYPE_START_TO_CLOSE, lastHeartbeatDetails: a.heartbeatDetails ?? undefined },
        };
        if (a.cancelRequested) {
          this.finishActivity(a, E.EVENT_TYPE_ACTIVITY_TASK_CANCELED, {
            details: a.heartbeatDetails ?? undefined, latestCancelRequestedEventId: a.cancelRequestedEventId, identity: a.startedIdentity,
          }, true);
        } else {
          this.retryOrFinish(a, failure, null, 0, (retryState) => {
            this.finishActivity(a, E.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT, { failure, retryState }, true);
          });
        }
      } else {
        this.enqueueActivity(a);
      }
    }
    this.restoredActivityStates.clear();
    if (this.wft.state === 'started') {
      this.wft.token = 'restored';
      this.timeOutWorkflowTask('restored');
    } else if (this.wft.state === 'scheduled') {
      const seq = ++this.wft.seq;
      this.host.workflowQueues.add(queueKey(this.host.namespace, this.taskQueue), {
        take: (identity) => this.startWorkflowTask(seq, identity),
      });
    } else if (this.buffered.length > 0 || this.needsFirstTask() || this.wft.attempt > 1) {
      const backoffUntil = this.executionTime;
      if (this.needsFirstTask() && backoffUntil > clock.now()) {
        this.firstTaskTimer = clock.at(backoffUntil, () => this.scheduleWorkflowTask());
      } else {
        if (this.flushBuffered()) this.wft.attempt = 1;
        this.scheduleWorkflowTask();
      }
    }
  }

  /** No workflow task was ever scheduled (the start had a first-task backoff). */
  private needsFirstTask(): boolean {
    return !this.history.some((ev) => ev.eventType === E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED);
  }
}

/** Status of a run closed by each close event type. */
const CLOSE_STATUS: Record<number, number> = {
  [E.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED]: S.WORKFLOW_EXECUTION_STATUS_COMPLETED,
  [E.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED]: S.WORKFLOW_EXECUTION_STATUS_FAILED,
  [E.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED]: S.WORKFLOW_EXECUTION_STATUS_CANCELED,
  [E.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED]: S.WORKFLOW_EXECUTION_STATUS_TERMINATED,
  [E.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT]: S.WORKFLOW_EXECUTION_STATUS_TIMED_OUT,
  [E.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW]: S.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW,
};

/** One pending activity as the durable store keeps it (its scheduled event holds the rest). */
export interface SavedActivity {
  scheduledEventId: number;
  attempt: number;
  state: 'scheduled' | 'started' | 'backoff';
  retryAt?: number;
  lastFailure?: unknown;
  heartbeatDetails?: unknown;
  startedIdentity?: string;
}

/** What the durable store keeps of a run beside its history. */
export interface SavedRunState {
  /** Events held back while a workflow task ran; startedRef is the index of the ActivityTaskStarted an outcome refers to, or -1. */
  buffered?: Array<{ event: HistoryEvent; startedRef: number }>;
  activities?: SavedActivity[];
  /** Signal / cancel request ids seen (for dedup), beside the start's own request id. */
  requestIds?: string[];
  /** The workflow task attempt when it is above 1 (transient attempts write no events). */
  workflowTaskAttempt?: number;
}

/**
 * The start-to-close timeout of a workflow task attempt: the run's task timeout, plus, from the
 * fourth attempt on, a backoff of 5 s doubling per attempt up to 10 minutes (the real server's).
 */
export function workflowTaskTimeoutMs(taskTimeoutMs: number, attempt: number): number {
  if (attempt <= 3) return taskTimeoutMs;
  return taskTimeoutMs + Math.min(5_000 * 2 ** Math.min(attempt - 4, 30), 600_000);
}

const CLOSE_COMMANDS = new Set<number>([
  CT.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION,
  CT.COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION,
  CT.COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION,
  CT.COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION,
]);

const SUPPORTED_COMMANDS = new Set<number>([
  ...CLOSE_COMMANDS,
  CT.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK,
  CT.COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK,
  CT.COMMAND_TYPE_START_TIMER,
  CT.COMMAND_TYPE_CANCEL_TIMER,
  CT.COMMAND_TYPE_RECORD_MARKER,
  CT.COMMAND_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
  CT.COMMAND_TYPE_MODIFY_WORKFLOW_PROPERTIES,
]);

const TIMEOUT_NAMES: Record<number, string> = {
  [TT.TIMEOUT_TYPE_START_TO_CLOSE]: 'StartToClose',
  [TT.TIMEOUT_TYPE_SCHEDULE_TO_START]: 'ScheduleToStart',
  [TT.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE]: 'ScheduleToClose',
  [TT.TIMEOUT_TYPE_HEARTBEAT]: 'Heartbeat',
};

export function queueKey(namespace: string, name: string): string {
  return `${namespace}\u0000${name}`;
}

function isEmptyPayload(p: any): boolean {
  if (!p) return true;
  const data: Uint8Array | undefined = p.data;
  if (!data || data.length === 0) return true;
  const s = Buffer.from(data).toString('utf8').trim();
  return s === 'null' || s === '[]';
}

export { failedPrecondition, invalidArgument };
