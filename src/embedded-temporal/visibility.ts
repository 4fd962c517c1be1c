/** Visibility: run → VisibilityRecord / WorkflowExecutionInfo, and list / count over a namespace. */
import { compileListQuery, ListQueryError, type ExecutionStatusName, type VisibilityRecord, type SearchAttributeType } from './visibility-query';
import { type Namespace } from './namespace';
import { type WorkflowRun } from './run';
import { durationFromMs, enums, invalidArgument, tsFromMs } from './proto';

const S = enums.WorkflowExecutionStatus;

const STATUS_NAME: Record<number, ExecutionStatusName> = {
  [S.WORKFLOW_EXECUTION_STATUS_RUNNING]: 'Running',
  [S.WORKFLOW_EXECUTION_STATUS_COMPLETED]: 'Completed',
  [S.WORKFLOW_EXECUTION_STATUS_FAILED]: 'Failed',
  [S.WORKFLOW_EXECUTION_STATUS_CANCELED]: 'Canceled',
  [S.WORKFLOW_EXECUTION_STATUS_TERMINATED]: 'Terminated',
  [S.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW]: 'ContinuedAsNew',
  [S.WORKFLOW_EXECUTION_STATUS_TIMED_OUT]: 'TimedOut',
};

/** Decode a search-attribute payload (JSON data) into the value the query language compares. */
export function decodeSearchAttribute(payload: any, type: SearchAttributeType | undefined): unknown {
  const data: Uint8Array | undefined = payload?.data;
  if (!data || data.length === 0) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(data).toString('utf8'));
  } catch {
    return undefined;
  }
  if (type === 'Datetime') {
    const one = Array.isArray(v) ? v[0] : v;
    const ms = typeof one === 'string' ? Date.parse(one) : typeof one === 'number' ? one : NaN;
    return Number.isNaN(ms) ? undefined : ms;
  }
  if (type === 'KeywordList') return Array.isArray(v) ? v.map(String) : [String(v)];
  if (Array.isArray(v)) return v.length === 1 ? v[0] : v.length === 0 ? undefined : v[0];
  return v;
}

export function toRecord(ns: Namespace, run: WorkflowRun): VisibilityRecord {
  const searchAttributes: Record<string, unknown> = {};
  for (const [k, p] of Object.entries(run.searchAttributes)) {
    const v = decodeSearchAttribute(p, ns.searchAttributes.get(k));
    if (v !== undefined) searchAttributes[k] = v;
  }
  return {
    workflowId: run.workflowId,
    runId: run.runId,
    workflowType: run.workflowType,
    taskQueue: run.taskQueue,
    status: STATUS_NAME[run.status] ?? 'Running',
    startTime: run.startTime,
    executionTime: run.executionTime,
    closeTime: run.closeTime,
    historyLength: run.historyLength,
    // No child workflows here: every run is its own root and has no parent.
    rootWorkflowId: run.workflowId,
    rootRunId: run.runId,
    stateTransitionCount: run.stateTransitions,
    historySizeBytes: run.historyBytes,
    searchAttributes,
  };
}

export function executionInfo(run: WorkflowRun): object {
  return {
    execution: { workflowId: run.workflowId, runId: run.runId },
    type: { name: run.workflowType },
    startTime: tsFromMs(run.startTime),
    closeTime: run.closeTime !== null ? tsFromMs(run.closeTime) : undefined,
    status: run.status,
    historyLength: run.historyLength,
    executionTime: tsFromMs(run.executionTime),
    memo: { fields: run.memo },
    searchAttributes: { indexedFields: run.searchAttributes },
    taskQueue: run.taskQueue,
    stateTransitionCount: run.stateTransitions,
    historySizeBytes: run.historyBytes,
    executionDuration: run.closeTime !== null ? durationFromMs(run.closeTime - run.executionTime) : undefined,
    rootExecution: { workflowId: run.workflowId, runId: run.runId },
    firstRunId: run.firstRunId,
  };
}

interface PageToken { offset: number; query: string }

/** Split an optional trailing `GROUP BY ExecutionStatus` off a count query. */
function splitGroupBy(query: string): { query: string; groupBy: string | null } {
  const m = /\s*group\s+by\s+([A-Za-z_][A-Za-z0-9_]*)\s*$/i.exec(query);
  if (!m) return { query, groupBy: null };
  if (m[1] !== 'ExecutionStatus') throw invalidArgument(`invalid query: 'GROUP BY' is only supported for ExecutionStatus, got '${m[1]}'`);
  return { query: query.slice(0, m.index), groupBy: m[1] };
}

function compile(ns: Namespace, query: string) {
  try {
    return compileListQuery(query, ns.searchAttributes);
  } catch (err) {
    if (err instanceof ListQueryError) throw invalidArgument(err.message);
    throw err;
  }
}

/** ListWorkflowExecutions with offset paging (the token pins the query it belongs to). */
export function listExecutions(ns: Namespace, query: string, pageSize: number, tokenBytes: Uint8Array | null | undefined): object {
  let offset = 0;
  if (tokenBytes && tokenBytes.length > 0) {
    let tok: PageToken;
    try {
      tok = JSON.parse(Buffer.from(tokenBytes).toString('utf8')) as PageToken;
    } catch {
      throw invalidArgument('Invalid NextPageToken.');
    }
    if (tok.query !== query || typeof tok.offset !== 'number') throw invalidArgument('Invalid NextPageToken: it belongs to another query.');
    offset = tok.offset;
  }
  const q = compile(ns, query);
  const size = pageSize > 0 ? pageSize : 1000;
  const matched: Array<{ rec: VisibilityRecord; run: WorkflowRun }> = [];
  for (const run of ns.runs.values()) {
    const rec = toRecord(ns, run);
    if (q.matches(rec)) matched.push({ rec, run });
  }
  matched.sort((a, b) => q.compare(a.rec, b.rec));
  const page = matched.slice(offset, offset + size);
  const next = offset + size < matched.length
    ? Buffer.from(JSON.stringify({ offset: offset + size, query } satisfies PageToken))
    : Buffer.alloc(0);
  return { executions: page.map((m) => executionInfo(m.run)), nextPageToken: next };
}

export function countExecutions(ns: Namespace, rawQuery: string): object {
  const { query, groupBy } = splitGroupBy(rawQuery);
  const q = compile(ns, query);
  let count = 0;
  const groups = new Map<string, number>();
  for (const run of ns.runs.values()) {
    const rec = toRecord(ns, run);
    if (!q.matches(rec)) continue;
    count++;
    if (groupBy) groups.set(rec.status, (groups.get(rec.status) ?? 0) + 1);
  }
  return {
    count,
    groups: [...groups.entries()].map(([status, n]) => ({
      groupValues: [{ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(JSON.stringify(status)) }],
      count: n,
    })),
  };
}
