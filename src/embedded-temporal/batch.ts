/**
 * Batch operations (StartBatchOperation and friends), which the Web UI offers on a selection of
 * workflows: terminate, cancel, signal, delete or reset every run a visibility query (or a list of
 * executions) names. A real server runs a batch as a system workflow at a rate limit; here the
 * operations are applied at once and the job is recorded COMPLETED with its counts. A run that is
 * closed or missing (NOT_FOUND) counts as a success, as in the real server's batcher.
 */
import * as grpc from '@grpc/grpc-js';
import { type Namespace } from './namespace';
import { enums, failedPrecondition, invalidArgument, notFound, ServiceError, tsFromMs, type Timestamp } from './proto';
import { listExecutions } from './visibility';

const T = enums.BatchOperationType;
const STATE = enums.BatchOperationState;

interface BatchJob {
  namespace: string;
  operationType: number;
  jobId: string;
  state: number;
  startTime: Timestamp;
  closeTime: Timestamp;
  totalOperationCount: number;
  completeOperationCount: number;
  failureOperationCount: number;
  identity: string;
  reason: string;
  query: string;
}

/** At most this many jobs are remembered; the oldest go first. */
const MAX_JOBS = 1000;

export class BatchJobs {
  private jobs = new Map<string, BatchJob>();

  /** Apply a StartBatchOperation request to `ns` now and record the job. */
  start(ns: Namespace, req: any, now: number): object {
    const jobId: string = req.jobId ?? '';
    if (!jobId) throw invalidArgument('JobId is not set on request.');
    if (!req.reason) throw invalidArgument('Reason is not set on request.');
    if (this.jobs.has(jobId)) throw failedPrecondition(`Batch job ${jobId} already exists.`);
    const executions: Array<{ workflowId: string; runId?: string }> = req.executions ?? [];
    const query: string = req.visibilityQuery ?? '';
    if (executions.length === 0 && !query) throw invalidArgument('VisibilityQuery or Executions must be set on request.');
    if (executions.length > 0 && query) throw invalidArgument('VisibilityQuery and Executions cannot both be set on request.');
    const { type, apply } = operation(ns, req);
    const targets = executions.length > 0 ? executions : queryTargets(ns, query);
    let complete = 0;
    let failure = 0;
    for (const t of targets) {
      try {
        apply({ workflowId: t.workflowId, runId: t.runId ?? '' });
        complete++;
      } catch (err) {
        // As the real server's batcher does: NOT_FOUND means the run is closed or gone, nothing
        // is left to do, and it counts as done; any other error is a failure.
        if (err instanceof ServiceError && err.code === grpc.status.NOT_FOUND) complete++;
        else failure++;
      }
    }
    this.jobs.set(jobId, {
      namespace: ns.namespace, operationType: type, jobId, state: STATE.BATCH_OPERATION_STATE_COMPLETED,
      startTime: tsFromMs(now), closeTime: tsFromMs(now), totalOperationCount: targets.length, completeOperationCount: complete,
      failureOperationCount: failure, identity: operationIdentity(req), reason: req.reason, query,
    });
    if (this.jobs.size > MAX_JOBS) this.jobs.delete(this.jobs.keys().next().value!);
    return {};
  }

  describe(ns: Namespace, jobId: string): object {
    const job = this.jobs.get(jobId);
    if (!job || job.namespace !== ns.namespace) throw notFound(`Batch operation ${jobId} not found.`);
    const { namespace: _namespace, ...rest } = job;
    return rest;
  }

  list(ns: Namespace): object {
    const operationInfo = [...this.jobs.values()].filter((j) => j.namespace === ns.namespace).reverse()
      .map((j) => ({ jobId: j.jobId, state: j.state, startTime: j.startTime, closeTime: j.closeTime }));
    return { operationInfo, nextPageToken: Buffer.alloc(0) };
  }

  /** A finished job cannot be stopped; stopping it again is not an error (as on a real server). */
  stop(ns: Namespace, jobId: string): object {
    this.describe(ns, jobId);
    return {};
  }
}

function operationIdentity(req: any): string {
  const op = req.terminationOperation ?? req.cancellationOperation ?? req.signalOperation ?? req.deletionOperation ?? req.resetOperation;
  return op?.identity ?? '';
}

function queryTargets(ns: Namespace, query: string): Array<{ workflowId: string; runId: string }> {
  const out: Array<{ workflowId: string; runId: string }> = [];
  let token: Uint8Array | undefined;
  do {
    const page = listExecutions(ns, query, 1000, token) as { executions: Array<{ execution: { workflowId: string; runId: string } }>; nextPageToken: Uint8Array };
    out.push(...page.executions.map((e) => e.execution));
    token = page.nextPageToken.length > 0 ? page.nextPageToken : undefined;
  } while (token);
  return out;
}

function operation(ns: Namespace, req: any): { type: number; apply: (e: { workflowId: string; runId: string }) => void } {
  const reason: string = req.reason;
  // Each operation message carries the caller's identity.
  const identity = operationIdentity(req);
  if (req.terminationOperation) return { type: T.BATCH_OPERATION_TYPE_TERMINATE, apply: (e) => ns.getOpenRun(e).terminate(reason, undefined, identity) };
  if (req.cancellationOperation) return { type: T.BATCH_OPERATION_TYPE_CANCEL, apply: (e) => ns.getOpenRun(e).requestCancel(reason, identity, '') };
  if (req.signalOperation) {
    const s = req.signalOperation;
    if (!s.signal) throw invalidArgument('SignalOperation.Signal is not set on request.');
    return { type: T.BATCH_OPERATION_TYPE_SIGNAL, apply: (e) => ns.getOpenRun(e).signal(s.signal, s.input ?? undefined, identity, s.header ?? undefined, '') };
  }
  if (req.deletionOperation) {
    return {
      type: T.BATCH_OPERATION_TYPE_DELETE,
      apply: (e) => {
        const run = ns.getRun(e);
        if (run.isOpen) run.terminate('deleted', undefined, identity);
        run.closedAtWall = 0;
        ns.sweep();
      },
    };
  }
  if (req.resetOperation) {
    return {
      type: T.BATCH_OPERATION_TYPE_RESET,
      apply: (e) => {
        const run = ns.getRun(e);
        const options = req.resetOperation.options ?? {};
        const completed = run.history.filter((ev) => ev.eventType === enums.EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
        // The first workflow task unless the request names another point.
        const point = options.workflowTaskId ? Number(options.workflowTaskId) : options.lastWorkflowTask ? completed.at(-1)?.eventId : completed[0]?.eventId;
        if (!point) throw invalidArgument(`run ${run.runId} has no completed workflow task to reset to`);
        ns.resetRun({ workflowExecution: e, reason, identity, workflowTaskFinishEventId: point });
      },
    };
  }
  throw invalidArgument('The batch operation is not set on request (terminate, cancel, signal, delete or reset are supported).');
}
