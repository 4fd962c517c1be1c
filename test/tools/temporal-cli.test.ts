/**
 * The real `temporal` CLI (v1.5.1, built from the Go module proxy) against the service's Temporal
 * server, as a person inspects a running installation: once against `start`'s own embedded
 * server, once against `fraiseql-observers dev-server` with `start` on TEMPORAL_ADDRESS. Each
 * command is checked in its JSON output and in the text a person reads.
 */
import { spawn } from 'node:child_process';
import { waitFor } from '../helpers/pg';
import { requireTool, startServiceFixture, temporalCli, type ServerKind, type ServiceFixture } from './fixture';

jest.setTimeout(180_000);

/** Search-attribute payloads as the CLI prints them in JSON: base64 JSON data. */
function decodeSearchAttributes(indexedFields: Record<string, { data: string }>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(indexedFields).map(([k, p]) => [k, JSON.parse(Buffer.from(p.data, 'base64').toString('utf8'))]));
}

/**
 * A payload as the CLI prints it in JSON: already the value (its shorthand for json/plain
 * payloads), or `{ metadata, data }` with base64 data (`workflow show`, which turns shorthand off).
 */
function payloadValue(p: unknown): unknown {
  const raw = p as { metadata?: { encoding?: string }; data?: string };
  if (raw && typeof raw === 'object' && typeof raw.data === 'string' && raw.metadata) return JSON.parse(Buffer.from(raw.data, 'base64').toString('utf8'));
  return p;
}

/** The rows of a CLI table: each line split on runs of two or more spaces. */
function tableRows(text: string): string[][] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '').map((l) => l.split(/\s{2,}/));
}

describe.each<ServerKind>(['start', 'dev-server'])('the temporal CLI against %s', (kind) => {
  let f: ServiceFixture;
  beforeAll(async () => {
    requireTool('temporal');
    f = await startServiceFixture(kind);
  });
  afterAll(async () => {
    await f?.close();
  });

  const cli = async (...args: string[]) => {
    const r = await temporalCli(f.address, args, f.home);
    if (r.code !== 0) throw new Error(`temporal ${args.join(' ')} exited ${String(r.code)}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const json = async <T = any>(...args: string[]): Promise<T> => JSON.parse(await cli(...args, '-o', 'json')) as T;

  it('workflow list --query filters on the service\'s search attributes', async () => {
    const orders = await json<Array<{ execution: { workflowId: string }; status: string; searchAttributes: { indexedFields: Record<string, { data: string }> } }>>(
      'workflow', 'list', '--query', "EntityType = 'Order'",
    );
    const orderIds = [...f.runs.created, f.runs.deadLetter, ...f.runs.held];
    expect(orders.map((w) => w.execution.workflowId).sort()).toEqual([...orderIds].sort());
    const dead = orders.find((w) => w.execution.workflowId === f.runs.deadLetter)!;
    expect(dead.status).toBe('WORKFLOW_EXECUTION_STATUS_FAILED');
    expect(decodeSearchAttributes(dead.searchAttributes.indexedFields)).toMatchObject({
      EntityType: 'Order', EventKind: 'UPDATE', ObserverNames: ['order_paid'], FailedActions: ['order_paid:0'],
    });
    expect(typeof decodeSearchAttributes(dead.searchAttributes.indexedFields).ChangeLogPosition).toBe('number');

    // The dead-letter query of the README, as a person types it.
    const text = await cli('workflow', 'list', '--query', "WorkflowType = 'processChangeEvent' AND ExecutionStatus = 'Failed' AND FailedActions = 'order_paid:0'");
    const rows = tableRows(text);
    expect(rows[0]).toEqual(['Status', 'WorkflowId', 'Type', 'StartTime']);
    expect(rows.slice(1).map((r) => r.slice(0, 3))).toEqual([['Failed', f.runs.deadLetter, 'processChangeEvent']]);

    const invoices = tableRows(await cli('workflow', 'list', '--query', "EntityType = 'Invoice' AND ObserverNames = 'invoice_created'")).slice(1);
    expect(invoices.map((r) => r[1]).sort()).toEqual([...f.runs.invoices].sort());
    expect(invoices.every((r) => r[0] === 'Completed')).toBe(true);
  });

  it('workflow count groups by ExecutionStatus', async () => {
    const query = "WorkflowType = 'processChangeEvent' GROUP BY ExecutionStatus";
    const counted = await json<{ count: string; groups: Array<{ groupValues: string[]; count: string }> }>('workflow', 'count', '--query', query);
    const completed = f.runs.created.length + f.runs.invoices.length;
    const total = completed + 1 + f.runs.held.length;
    expect(Number(counted.count)).toBe(total);
    expect(Object.fromEntries(counted.groups.map((g) => [g.groupValues[0], Number(g.count)]))).toEqual({ Completed: completed, Failed: 1, Running: f.runs.held.length });
    const text = await cli('workflow', 'count', '--query', query);
    expect(text.split('\n').filter((l) => l !== '')).toEqual([
      `Total: ${total}`, `Group total: ${completed}, values: Completed`, 'Group total: 1, values: Failed', `Group total: ${f.runs.held.length}, values: Running`,
    ]);
  });

  it('workflow describe shows the summary, search attributes and the pending activity of an open run', async () => {
    const id = f.runs.held[0]!;
    const d = await json<any>('workflow', 'describe', '-w', id);
    expect(d.workflowExecutionInfo).toMatchObject({ execution: { workflowId: id }, type: { name: 'processChangeEvent' }, status: 'WORKFLOW_EXECUTION_STATUS_RUNNING', taskQueue: 'fraiseql-observers' });
    expect(d.executionConfig.userMetadata.summary).toMatch(/^UPDATE Order [0-9a-f-]{36} → order_held \(2 actions\)$/);
    expect(d.pendingActivities).toEqual([expect.objectContaining({ activityId: 'order_held:1', activityType: { name: 'runWebhook' }, state: 'PENDING_ACTIVITY_STATE_STARTED', attempt: 1 })]);
    const text = await cli('workflow', 'describe', '-w', id);
    expect(text).toContain(`WorkflowId            ${id}`);
    expect(text).toMatch(/StaticSummary\s+"UPDATE Order [0-9a-f-]{36} → order_held \(2 actions\)"/);
    expect(text).toContain('Pending Activities: 1');
    expect(text).toMatch(/ActivityId\s+order_held:1\n\s+Type\s+runWebhook\n\s+State\s+Started/);
  });

  it('workflow show lists a dead-letter run\'s events and its failure', async () => {
    const shown = await json<{ events: Array<{ eventType: string }> }>('workflow', 'show', '-w', f.runs.deadLetter);
    const types = shown.events.map((e) => e.eventType);
    expect(types[0]).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_STARTED');
    expect(types).toContain('EVENT_TYPE_ACTIVITY_TASK_FAILED');
    expect(types.at(-2)).toBe('EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES');
    expect(types.at(-1)).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_FAILED');
    const text = await cli('workflow', 'show', '-w', f.runs.deadLetter);
    expect(text).toMatch(/^Progress:\n\s+ID\s+Time\s+Type\s*\n\s+1\s+\S+\s+WorkflowExecutionStarted/);
    expect(text).toMatch(/Status\s+FAILED/);
    expect(text).toMatch(/Message: 1 of 1 action failed: order_paid:0 \(HttpClientError: http:\/\/127\.0\.0\.1:\d+\/reject\/[0-9a-f-]{36} answered 400: \{"error":"unknown order"\}\)/);
  });

  it('workflow query reads the current details table; workflow stack shows where the run waits', async () => {
    const id = f.runs.held[0]!;
    const answer = await json<{ queryResult: unknown[] | { payloads: unknown[] } }>('workflow', 'query', '-w', id, '--name', '__temporal_workflow_metadata');
    // With its payload shorthand the CLI prints the payloads list as a plain array of values.
    const payloads = Array.isArray(answer.queryResult) ? answer.queryResult : answer.queryResult.payloads;
    const metadata = payloadValue(payloads[0]) as { currentDetails: string };
    expect(metadata.currentDetails.split('\n').slice(2)).toEqual([
      '| action | type | status | attempts | error |',
      '|---|---|---|---|---|',
      '| order_held:0 | webhook | succeeded | 1 |  |',
      '| order_held:1 | webhook | running |  |  |',
    ]);
    const text = await cli('workflow', 'query', '-w', id, '--name', '__temporal_workflow_metadata');
    expect(text).toContain('Current Details:');
    expect(text).toContain('| order_held:1 | webhook | running |  |  |');
    const stack = await cli('workflow', 'stack', '-w', id);
    expect(stack).toContain('Query result:');
    expect(stack).toMatch(/at runAction \(.*process-change-event\.ts:\d+:\d+\)/);
    expect(stack).toMatch(/at processChangeEvent \(.*process-change-event\.ts:\d+:\d+\)/);
  });

  it('workflow signal is recorded in the history with its input', async () => {
    const id = f.runs.held[0]!;
    expect(await cli('workflow', 'signal', '-w', id, '--name', 'nudge', '-i', '"from the cli"')).toContain('Signal workflow succeeded');
    const shown = await json<{ events: Array<{ eventType: string; workflowExecutionSignaledEventAttributes?: { signalName: string; input: { payloads: Array<{ data: string }> } } }> }>('workflow', 'show', '-w', id);
    const signaled = shown.events.find((e) => e.eventType === 'EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED');
    expect(signaled?.workflowExecutionSignaledEventAttributes?.signalName).toBe('nudge');
    expect(payloadValue(signaled?.workflowExecutionSignaledEventAttributes?.input.payloads[0])).toBe('from the cli');
  });

  it('workflow cancel requests cancellation: the held action is cancelled and the run closes', async () => {
    const id = f.runs.held[1]!;
    expect(await cli('workflow', 'cancel', '-w', id)).toContain('Canceled workflow');
    await waitFor('the cancelled run to close', async () => (await json<any>('workflow', 'describe', '-w', id)).workflowExecutionInfo.status !== 'WORKFLOW_EXECUTION_STATUS_RUNNING', 60_000, 300);
    const d = await json<any>('workflow', 'describe', '-w', id);
    expect(d.workflowExtendedInfo.cancelRequested).toBe(true);
    const types = (await json<{ events: Array<{ eventType: string }> }>('workflow', 'show', '-w', id)).events.map((e) => e.eventType);
    expect(types).toEqual(expect.arrayContaining(['EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED', 'EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED']));
    // The run records the cancelled action as failed (its dead-letter entry says so).
    expect(await cli('workflow', 'describe', '-w', id)).toMatch(/Message: 1 of 2 actions failed: order_held:1 \(CancelledFailure/);
  });

  it('workflow terminate ends the run at once with the reason', async () => {
    const id = f.runs.held[2]!;
    expect(await cli('workflow', 'terminate', '-w', id, '--reason', 'stopped from the cli')).toContain('Workflow terminated');
    const d = await json<any>('workflow', 'describe', '-w', id);
    expect(d.workflowExecutionInfo.status).toBe('WORKFLOW_EXECUTION_STATUS_TERMINATED');
    const last = (await json<{ events: Array<{ eventType: string; workflowExecutionTerminatedEventAttributes?: { reason: string } }> }>('workflow', 'show', '-w', id)).events.at(-1)!;
    expect(last).toMatchObject({ eventType: 'EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED', workflowExecutionTerminatedEventAttributes: { reason: 'stopped from the cli' } });
    const rows = tableRows(await cli('workflow', 'list', '--query', `WorkflowId = '${id}'`)).slice(1);
    expect(rows.map((r) => r.slice(0, 2))).toEqual([['Terminated', id]]);
  });

  it('workflow show --follow prints events as they happen until the run completes', async () => {
    const id = f.runs.held[3]!;
    const child = spawn(requireTool('temporal'), ['workflow', 'show', '-w', id, '--follow', '--address', f.address, '--color', 'never'], {
      env: { PATH: process.env.PATH ?? '', HOME: f.home },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      await waitFor('the events so far', () => /ActivityTaskCompleted/.test(out), 60_000, 100);
      expect(out).not.toContain('WorkflowExecutionCompleted');
      f.releaseHeld();
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    expect(out).toMatch(/\d+\s+\S+\s+WorkflowExecutionCompleted/);
    expect(out).toMatch(/Status\s+COMPLETED/);
    // The result: the run's summary, every action delivered.
    expect(out).toMatch(/Result\s+\{"actions":\[.*"key":"order_held:1".*"status":"succeeded".*\],.*"observers":\["order_held"\],"status":"succeeded"\}/);
  });

  it('workflow reset --type FirstWorkflowTask re-runs a dead-letter event under a new run', async () => {
    const id = f.runs.deadLetter;
    const before = await json<any>('workflow', 'describe', '-w', id);
    expect(await cli('workflow', 'reset', '-w', id, '--type', 'FirstWorkflowTask', '--reason', 'replay from the cli')).toBe(`Resetting workflow ${id} to event ID 4\n`);
    await waitFor('the new run to fail again (its webhook still answers 400)', async () => {
      const d = await json<any>('workflow', 'describe', '-w', id);
      return d.workflowExecutionInfo.execution.runId !== before.workflowExecutionInfo.execution.runId && d.workflowExecutionInfo.status === 'WORKFLOW_EXECUTION_STATUS_FAILED';
    }, 60_000, 300);
    const events = (await json<{ events: Array<{ eventType: string; workflowTaskFailedEventAttributes?: { cause: string; baseRunId: string } }> }>('workflow', 'show', '-w', id)).events;
    expect(events[3]).toMatchObject({ eventType: 'EVENT_TYPE_WORKFLOW_TASK_FAILED', workflowTaskFailedEventAttributes: { cause: 'WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW', baseRunId: before.workflowExecutionInfo.execution.runId } });
    // Both runs of the id are listed: the base run and the reset one.
    const runs = tableRows(await cli('workflow', 'list', '--query', `WorkflowId = '${id}'`)).slice(1);
    expect(runs.map((r) => r[0])).toEqual(['Failed', 'Failed']);
  });

  it('workflow terminate --query runs a batch operation over the selected runs', async () => {
    const added = await f.addHeld(2);
    const query = `WorkflowType = 'processChangeEvent' AND ExecutionStatus = 'Running'`;
    const open = tableRows(await cli('workflow', 'list', '--query', query)).slice(1);
    expect(open.map((r) => r[1]).sort()).toEqual([...added].sort());
    expect(await cli('workflow', 'terminate', '--query', query, '--reason', 'batch from the cli', '--yes')).toMatch(/Started batch for job ID: \S+/);
    await waitFor('no run open any more', async () => tableRows(await cli('workflow', 'list', '--query', query)).length === 0, 30_000, 300);
    for (const id of added) expect((await json<any>('workflow', 'describe', '-w', id)).workflowExecutionInfo.status).toBe('WORKFLOW_EXECUTION_STATUS_TERMINATED');
    const jobs = await json<any>('batch', 'list');
    expect(JSON.stringify(jobs)).toContain('BATCH_OPERATION_STATE_COMPLETED');
    f.releaseHeld();
  });

  it('operator commands: search attributes, namespace, cluster health', async () => {
    const listed = await json<{ customAttributes: Record<string, string>; systemAttributes: Record<string, string> }>('operator', 'search-attribute', 'list');
    expect(listed.customAttributes).toMatchObject({
      EntityType: 'INDEXED_VALUE_TYPE_KEYWORD', EventKind: 'INDEXED_VALUE_TYPE_KEYWORD', ObserverNames: 'INDEXED_VALUE_TYPE_KEYWORD_LIST',
      FailedActions: 'INDEXED_VALUE_TYPE_KEYWORD_LIST', ChangeLogPosition: 'INDEXED_VALUE_TYPE_INT',
    });
    expect(listed.systemAttributes).toMatchObject({
      WorkflowId: 'INDEXED_VALUE_TYPE_KEYWORD', ExecutionStatus: 'INDEXED_VALUE_TYPE_KEYWORD', StartTime: 'INDEXED_VALUE_TYPE_DATETIME',
      ParentWorkflowId: 'INDEXED_VALUE_TYPE_KEYWORD', HistorySizeBytes: 'INDEXED_VALUE_TYPE_INT',
    });
    expect(tableRows(await cli('operator', 'search-attribute', 'list'))).toEqual(expect.arrayContaining([['EntityType', 'Keyword'], ['ChangeLogPosition', 'Int'], ['ObserverNames', 'KeywordList']]));
    expect(await cli('operator', 'search-attribute', 'create', '--name', 'Region', '--type', 'Keyword')).toContain('Search attributes have been added');
    expect(tableRows(await cli('operator', 'search-attribute', 'list'))).toContainEqual(['Region', 'Keyword']);

    const ns = await json<any>('operator', 'namespace', 'describe', '-n', 'default');
    expect(ns).toMatchObject({ namespaceInfo: { name: 'default', state: 'NAMESPACE_STATE_REGISTERED' }, config: { workflowExecutionRetentionTtl: '86400s' } });
    const nsText = await cli('operator', 'namespace', 'describe', '-n', 'default');
    expect(nsText).toMatch(/NamespaceInfo\.Name\s+default/);
    expect(nsText).toMatch(/Config\.WorkflowExecutionRetentionTtl\s+24h0m0s/);

    expect(await cli('operator', 'cluster', 'health')).toBe('SERVING\n');
    expect(await json('operator', 'cluster', 'health')).toEqual({ status: 'SERVING' });
  });
});
