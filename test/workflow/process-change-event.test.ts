/**
 * `processChangeEvent` with the real SDK worker, the real action activities and loopback HTTP
 * receivers, on the embedded server (time skipping, so retry backoffs cost no wall time):
 * parallel actions, per-observer retry policies, failure policies (dlq / log / alert), the
 * `ActionsFailed` summary of a dead-letter run, DLQ-retry input that re-runs only failed actions,
 * and the per-entity ordering gate.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, type SearchAttributeType } from '@temporalio/common';
import type { SearchAttributeKey } from '@temporalio/common/lib/search-attributes';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type InjectedSinks } from '@temporalio/worker';
import { cachedWorkflowBundle } from '../helpers/bundle';
import { InMemoryBreakerStore, closeActivities, createActivities, type ObserverActivities } from '../../src/activities';
import { parseConfig } from '../../src/config';
import { compileObservers, matchEvent } from '../../src/events/match';
import type { ChangeEvent } from '../../src/events/types';
import { FailedActions } from '../../src/temporal/search-attributes';
import type { EventFinished, ObserverSinks } from '../../src/workflows/sinks';
import { ACTIONS_FAILED, type ProcessChangeEventInput, type ProcessChangeEventResult } from '../../src/contract';
import { decodeHistoryFixture, encodeHistoryFixture, loadHistoryFixture, recordHistoryFixtureIfAbsent } from '../helpers/history-fixtures';
import { captureLogger, orderEvent, startHttpReceiver, type HttpReceiver } from '../helpers/receivers';
import { createTestEnv, createWorker, eventTypes, SERVICE_WORKFLOWS, uniqueTaskQueue, uniqueWorkflowId } from '../helpers/temporal-env';

jest.setTimeout(120_000);

let env: TestWorkflowEnvironment;
let ok: HttpReceiver;
let bad: HttpReceiver;
let flaky: HttpReceiver;
let slow: HttpReceiver;
let activities: ObserverActivities;
let worker: Worker;
let running: Promise<void>;
const finished: EventFinished[] = [];
const alerts: EventFinished[] = [];
const predecessorCalls: string[] = [];
let releasePredecessor: () => void = () => undefined;
const taskQueue = uniqueTaskQueue('pce');
/** Representative runs, replayed at the end and kept as fixtures (name → workflow id, run id). */
const representative = new Map<string, { workflowId: string; runId?: string }>();
const FIXTURES = ['pce-succeeded', 'pce-dlq-failed', 'pce-retried-linear', 'pce-tolerated', 'pce-dlq-retry-run', 'pce-ordered'];

function observersYaml(): string {
  return `
ssrf:
  allow: [127.0.0.1/32]
observers:
  notify_ok:
    entity: Order
    events: [INSERT]
    actions:
      - type: webhook
        url: "${ok.url}/ok/{{ event.entity_id }}"
      - type: log
        message: "order {{ event.entity_id }}"
  notify_bad:
    entity: Order
    events: [INSERT]
    condition: "total > 100"
    retry: { max_attempts: 5, initial_delay_ms: 1000, backoff: fixed }
    actions:
      - type: webhook
        url: "${bad.url}/bad"
  notify_flaky:
    entity: Order
    events: [UPDATE]
    retry: { max_attempts: 5, initial_delay_ms: 2000, max_delay_ms: 10000, backoff: linear }
    actions:
      - type: webhook
        url: "${flaky.url}/flaky"
  tolerant:
    entity: Order
    events: [DELETE]
    failure_policy: log
    retry: { max_attempts: 2, initial_delay_ms: 10 }
    actions:
      - type: webhook
        url: "${bad.url}/tolerant"
  alerting:
    entity: Order
    events: [DELETE]
    failure_policy: alert
    retry: { max_attempts: 1 }
    actions:
      - type: webhook
        url: "${bad.url}/alerting"
  parallel:
    entity: Invoice
    events: [INSERT]
    actions:
      - { type: webhook, url: "${slow.url}/a" }
      - { type: webhook, url: "${slow.url}/b" }
      - { type: webhook, url: "${slow.url}/c" }
  ordered:
    entity: Shipment
    events: [UPDATE]
    ordering: per_entity
    actions:
      - { type: webhook, url: "${ok.url}/ordered" }
  unordered:
    entity: Shipment
    events: [UPDATE]
    actions:
      - { type: webhook, url: "${ok.url}/unordered" }
`;
}

function inputFor(event: ChangeEvent, extra: Partial<ProcessChangeEventInput> = {}): ProcessChangeEventInput {
  const config = parseConfig({ env: { DATABASE_URL: 'postgres://x@127.0.0.1/x' }, text: observersYaml(), source: 'observers.yaml' });
  const { matches, conditionErrors } = matchEvent(event, compileObservers(config));
  expect(matches.length).toBeGreaterThan(0);
  return { event, matches, conditionErrors, readAt: new Date().toISOString(), ...extra };
}

async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return cause as ApplicationFailure;
}

function start(input: ProcessChangeEventInput, id = uniqueWorkflowId('pce')) {
  return env.client.workflow.start('processChangeEvent', { taskQueue, workflowId: id, args: [input] });
}

beforeAll(async () => {
  env = await createTestEnv({ searchAttributes: [FailedActions as SearchAttributeKey<SearchAttributeType>] });
  ok = await startHttpReceiver();
  bad = await startHttpReceiver((_req, res) => {
    res.statusCode = 400;
    res.end('{"error":"unknown order"}');
  });
  flaky = await startHttpReceiver();
  slow = await startHttpReceiver();
  activities = createActivities({
    env: {},
    log: captureLogger().log,
    breaker: new InMemoryBreakerStore({ minimumCalls: 1000 }),
    ssrf: { allow: ['127.0.0.1/32'] },
  });
  const sinks: InjectedSinks<ObserverSinks> = {
    observer: {
      eventFinished: { fn: (_info, f) => void finished.push(f) },
      alert: { fn: (_info, f) => void alerts.push(f) },
    },
  };
  worker = await createWorker(env, {
    taskQueue,
    workflowsPath: SERVICE_WORKFLOWS,
    activities: {
      ...activities,
      async awaitPredecessor(input: { workflowId: string }) {
        predecessorCalls.push(input.workflowId);
        await new Promise<void>((resolve) => (releasePredecessor = resolve));
        return { status: 'completed', waitedMs: 0 };
      },
    },
    sinks,
  });
  running = worker.run();
});

afterAll(async () => {
  // A failed assertion in the ordering test must not leave its activity waiting: shutdown waits for it.
  releasePredecessor();
  worker?.shutdown();
  await running;
  await closeActivities(activities);
  await Promise.all([ok, bad, flaky, slow].map((r) => r?.close()));
  await env?.teardown();
});

it('runs every action and completes with a per-action summary', async () => {
  const event = orderEvent({ kind: 'INSERT', data: { total: 10 } });
  const handle = await start(inputFor(event));
  representative.set('pce-succeeded', { workflowId: handle.workflowId });
  const result: ProcessChangeEventResult = await handle.result();
  expect(result).toMatchObject({ eventId: event.id, entityType: 'Order', kind: 'INSERT', status: 'succeeded', observers: ['notify_ok'], failedActions: [] });
  expect(result.actions.map((a) => [a.key, a.type, a.status, a.attempts])).toEqual([
    ['notify_ok:0', 'webhook', 'succeeded', 1],
    ['notify_ok:1', 'log', 'succeeded', 1],
  ]);
  expect(result.actions[0]?.result).toMatchObject({ type: 'webhook', status_code: 200, idempotency_key: `${event.id}:notify_ok:0` });
  expect(ok.requests.filter((r) => r.path === `/ok/${event.entityId}`)).toHaveLength(1);
  expect(finished.find((f) => f.result.eventId === event.id)?.result.status).toBe('succeeded');
});

it('starts all actions of an event before any of them finishes', async () => {
  const inFlight: string[] = [];
  const startedBeforeFirstFinish: string[] = [];
  let firstFinished = false;
  slow.respond(async (req, res) => {
    inFlight.push(req.path);
    if (!firstFinished) startedBeforeFirstFinish.push(req.path);
    // Hold each answer until all three requests arrived (or 5 s passed): only overlap lets this finish early.
    const deadline = Date.now() + 5_000;
    while (inFlight.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    firstFinished = true;
    res.end('ok');
  });
  const result: ProcessChangeEventResult = await (await start(inputFor(orderEvent({ kind: 'INSERT', entityType: 'Invoice' })))).result();
  expect(result.status).toBe('succeeded');
  expect(startedBeforeFirstFinish.sort()).toEqual(['/a', '/b', '/c']);
});

it('fails the run with ActionsFailed when a dlq observer action fails permanently, after the others finished', async () => {
  const event = orderEvent({ kind: 'INSERT', data: { total: 500 } });
  const before = bad.requests.length;
  const handle = await start(inputFor(event));
  representative.set('pce-dlq-failed', { workflowId: handle.workflowId });
  const failure = await failureOf(handle.result());
  expect(failure.type).toBe(ACTIONS_FAILED);
  expect(failure.message).toMatch(/^1 of 3 actions failed: notify_bad:0 \(HttpClientError: .*400/);
  const summary = failure.details?.[0] as ProcessChangeEventResult;
  expect(summary.status).toBe('failed');
  expect(summary.failedActions).toEqual(['notify_bad:0']);
  const failed = summary.actions.find((a) => a.key === 'notify_bad:0');
  expect(failed).toMatchObject({ status: 'failed', attempts: 1, failurePolicy: 'dlq', error: { type: 'HttpClientError', nonRetryable: true } });
  expect(summary.actions.filter((a) => a.status === 'succeeded').map((a) => a.key)).toEqual(['notify_ok:0', 'notify_ok:1']);
  // 400 is permanent: one request, no retries.
  expect(bad.requests.length - before).toBe(1);
  const described = await handle.describe();
  expect(described.status.name).toBe('FAILED');
  expect(described.typedSearchAttributes.get(FailedActions)).toEqual(['notify_bad:0']);
});

it('retries a transient failure with the observer policy (linear backoff) until it recovers', async () => {
  let calls = 0;
  flaky.respond((_req, res) => {
    calls += 1;
    res.statusCode = calls <= 2 ? 503 : 200;
    res.end();
  });
  const event = orderEvent({ kind: 'UPDATE' });
  const handle = await start(inputFor(event));
  representative.set('pce-retried-linear', { workflowId: handle.workflowId });
  const result: ProcessChangeEventResult = await handle.result();
  expect(result.actions[0]).toMatchObject({ key: 'notify_flaky:0', status: 'succeeded', attempts: 3 });
  expect(calls).toBe(3);
  // Linear backoff: the activity sets each next delay (2 s after attempt 1, 4 s after attempt 2).
  const history = await handle.fetchHistory();
  const started = history.events!.filter((e) => e.activityTaskStartedEventAttributes);
  const last = started.at(-1)?.activityTaskStartedEventAttributes;
  expect(last?.attempt).toBe(3);
  expect(last?.lastFailure?.applicationFailureInfo?.nextRetryDelay?.seconds?.toString()).toBe('4');
});

it('completes with the failure recorded under log / alert failure policies, and alerts for alert', async () => {
  const event = orderEvent({ kind: 'DELETE' });
  const handle = await start(inputFor(event));
  representative.set('pce-tolerated', { workflowId: handle.workflowId });
  const result: ProcessChangeEventResult = await handle.result();
  expect(result.status).toBe('tolerated');
  expect(result.failedActions.sort()).toEqual(['alerting:0', 'tolerant:0']);
  expect(result.actions.find((a) => a.key === 'tolerant:0')).toMatchObject({ status: 'failed', failurePolicy: 'log', error: { type: 'HttpClientError' } });
  expect(alerts.map((a) => a.result.eventId)).toContain(event.id);
  expect((await handle.describe()).typedSearchAttributes.get(FailedActions)?.sort()).toEqual(['alerting:0', 'tolerant:0']);
});

it('re-runs only the listed actions on a DLQ retry and carries the others over', async () => {
  const event = orderEvent({ kind: 'INSERT', data: { total: 500 } });
  const id = uniqueWorkflowId('pce-retry');
  const first = await start(inputFor(event), id);
  const summary = (await failureOf(first.result())).details?.[0] as ProcessChangeEventResult;

  const okBefore = ok.requests.length;
  bad.respond((_req, res) => {
    res.end('fixed');
  });
  try {
    const input = inputFor(event, {
      retry: {
        previousRunId: first.firstExecutionRunId,
        actionKeys: summary.failedActions,
        carried: summary.actions.filter((a) => a.status !== 'failed'),
        retryNumber: 1,
      },
    });
    const second = await env.client.workflow.start('processChangeEvent', {
      taskQueue, workflowId: id, args: [input], workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
    });
    representative.set('pce-dlq-retry-run', { workflowId: id, runId: second.firstExecutionRunId });
    const result: ProcessChangeEventResult = await second.result();
    expect(result.status).toBe('succeeded');
    expect(result.retryNumber).toBe(1);
    expect(result.actions.map((a) => [a.key, a.status])).toEqual([
      ['notify_ok:0', 'carried'],
      ['notify_ok:1', 'carried'],
      ['notify_bad:0', 'succeeded'],
    ]);
    // The succeeded webhook was not called again; only the failed one ran.
    expect(ok.requests.length).toBe(okBefore);
    const scheduled = (await second.fetchHistory()).events!.filter((e) => e.activityTaskScheduledEventAttributes);
    expect(scheduled.map((e) => e.activityTaskScheduledEventAttributes?.activityId)).toEqual(['notify_bad:0']);
  } finally {
    bad.respond((_req, res) => {
      res.statusCode = 400;
      res.end('{"error":"unknown order"}');
    });
  }
});

it('holds per_entity observers until the predecessor closed, and runs the others at once', async () => {
  const event = orderEvent({ kind: 'UPDATE', entityType: 'Shipment' });
  const orderedBefore = ok.requests.filter((r) => r.path === '/ordered').length;
  const handle = await start(inputFor(event, { predecessorWorkflowId: 'fraiseql-event:previous' }));
  representative.set('pce-ordered', { workflowId: handle.workflowId });
  // The unordered action is delivered while the ordered one still waits for its predecessor.
  // The two activities are scheduled together, but a server may dispatch them in either order
  // (the Java test server has handed out the webhook first), so wait for both.
  const delivered = () => ok.requests.some((r) => r.path === '/unordered' && r.headers['idempotency-key'] === `${event.id}:unordered:0`);
  for (let i = 0; i < 200 && !(delivered() && predecessorCalls.includes('fraiseql-event:previous')); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(ok.requests.some((r) => r.headers['idempotency-key'] === `${event.id}:unordered:0`)).toBe(true);
  expect(predecessorCalls).toContain('fraiseql-event:previous');
  expect(ok.requests.filter((r) => r.path === '/ordered').length).toBe(orderedBefore);
  // What the Web UI shows for a running event ("current details", through the metadata query).
  // The unordered action's row turns `succeeded` once its completion reaches the workflow.
  const details = async () => (await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails ?? '';
  for (let i = 0; i < 200 && !(await details()).includes('| unordered:0 | webhook | succeeded | 1 |'); i++) await new Promise((r) => setTimeout(r, 50));
  expect((await details()).split('\n')).toEqual([
    `Running 2 actions for UPDATE Shipment ${event.entityId}`,
    '',
    '| action | type | status | attempts | error |',
    '|---|---|---|---|---|',
    '| ordered:0 | webhook | running |  |  |',
    '| unordered:0 | webhook | succeeded | 1 |  |',
  ]);
  releasePredecessor();
  const result: ProcessChangeEventResult = await handle.result();
  expect(result.status).toBe('succeeded');
  expect(ok.requests.filter((r) => r.path === '/ordered').length).toBe(orderedBefore + 1);
  expect(eventTypes(await handle.fetchHistory())).toContain('ActivityTaskCompleted');
  const done = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  expect(done.currentDetails).toContain('| ordered:0 | webhook | succeeded | 1 |');
});

it('writes histories that replay, and every committed processChangeEvent fixture replays', async () => {
  expect([...representative.keys()].sort()).toEqual([...FIXTURES].sort());
  const workflowBundle = await cachedWorkflowBundle(SERVICE_WORKFLOWS);
  for (const [name, { workflowId, runId }] of representative) {
    const history = await env.client.workflow.getHandle(workflowId, runId).fetchHistory();
    await expect(Worker.runReplayHistory({ workflowBundle, replayName: name }, decodeHistoryFixture(encodeHistoryFixture(history)), name)).resolves.toBeUndefined();
    recordHistoryFixtureIfAbsent(name, history);
  }
  const failures: string[] = [];
  let replayed = 0;
  const histories = FIXTURES.map((name) => ({ workflowId: name, history: loadHistoryFixture(name) }));
  for await (const r of Worker.runReplayHistories({ workflowBundle }, histories)) {
    replayed += 1;
    if (r.error) failures.push(`${r.workflowId}: ${String(r.error)}`);
  }
  expect(failures).toEqual([]);
  expect(replayed).toBe(FIXTURES.length);
});
