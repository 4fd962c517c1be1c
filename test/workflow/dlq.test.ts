/**
 * The dead-letter queue end to end on the embedded Temporal server: a partial failure becomes a
 * failed run (the DLQ entry), `listDlq` / `showDlq` / `dlqStats` read it back, `retryDlq` re-runs
 * only the failed action (same idempotency key; the succeeded one is not called again), a second
 * or concurrent retry is refused, a failed retry is the next entry, a terminated run is not one,
 * `retryAll --dry-run` changes nothing, and the size gauge follows.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { Registry } from 'prom-client';
import { countDlqEntries, dlqStats, DlqRetryRefusedError, listDlq, retryAll, retryDlq, showDlq, startDlqGauge } from '../../src/dlq';
import { EntityType, EventKind, ObserverNames, ChangeLogPosition } from '../../src/temporal/search-attributes';
import type { ProcessChangeEventResult } from '../../src/contract';
import { eventually, rejectionOf } from '../helpers/temporal-env';
import { createDlqFixture, type DlqFixture, type StartedEvent } from './dlq-fixture';

jest.setTimeout(180_000);
// The failing runs are the point here: keep the worker's warnings about them out of the output.
process.env.TEMPORAL_TEST_LOG_LEVEL ??= 'ERROR';

let fx: DlqFixture;
let order: StartedEvent;
let invoice: StartedEvent;

async function failed(e: StartedEvent): Promise<void> {
  const err = await rejectionOf(fx.env.client.workflow.getHandle(e.workflowId, e.runId).result());
  expect(err).toBeInstanceOf(WorkflowFailedError);
}

beforeAll(async () => {
  fx = await createDlqFixture('dlq');
  order = await fx.startEvent('Order');
  invoice = await fx.startEvent('Invoice');
  await Promise.all([failed(order), failed(invoice)]);
});

afterAll(async () => {
  await fx?.teardown();
});

describe('a partial failure is a DLQ entry', () => {
  it('dlq list shows both failed runs with their event, observers, failed actions and summary', async () => {
    const { entries, query, nextPageToken } = await listDlq(fx.env.client);
    expect(query).toBe(`WorkflowType = 'processChangeEvent' AND ExecutionStatus = 'Failed'`);
    expect(nextPageToken).toBeNull();
    expect(entries.map((e) => e.eventId).sort()).toEqual([order.eventId, invoice.eventId].sort());
    const o = entries.find((e) => e.eventId === order.eventId)!;
    expect(o).toMatchObject({
      workflowId: order.workflowId,
      runId: order.runId,
      entityType: 'Order',
      kind: 'UPDATE',
      observers: ['notify_warehouse', 'notify_billing'],
      failedActions: ['notify_billing:0'],
      taskQueue: fx.taskQueue,
    });
    expect(o.summary).toBe(`UPDATE Order ${order.entityId} → notify_warehouse, notify_billing (2 actions)`);
    expect(Date.parse(o.closeTime!)).toBeGreaterThanOrEqual(Date.parse(o.startTime));
  });

  it('filters by observer, entity and time, and pages with a token', async () => {
    const ids = async (opts: Parameters<typeof listDlq>[1]) => (await listDlq(fx.env.client, opts)).entries.map((e) => e.eventId);
    expect(await ids({ observer: 'notify_warehouse' })).toEqual([order.eventId]);
    expect((await ids({ observer: 'notify_billing' })).sort()).toEqual([order.eventId, invoice.eventId].sort());
    expect(await ids({ entity: 'Invoice' })).toEqual([invoice.eventId]);
    expect(await ids({ entity: 'Shipment' })).toEqual([]);
    expect((await ids({ since: '1h' })).length).toBe(2);
    expect(await ids({ since: new Date(Date.now() + 60_000).toISOString() })).toEqual([]);

    const first = await listDlq(fx.env.client, { limit: 1 });
    expect(first.entries).toHaveLength(1);
    expect(first.nextPageToken).toEqual(expect.any(String));
    const second = await listDlq(fx.env.client, { limit: 1, pageToken: first.nextPageToken! });
    expect(second.entries).toHaveLength(1);
    expect(second.entries[0]!.eventId).not.toBe(first.entries[0]!.eventId);
  });

  it('dlq show (by bare event id) has the event, each outcome with error type and attempts, and the history length', async () => {
    const shown = await showDlq(fx.env.client, order.eventId);
    expect(shown.workflowId).toBe(order.workflowId);
    expect(shown.runId).toBe(order.runId);
    expect(shown.status).toBe('FAILED');
    expect(shown.latestRun).toEqual({ runId: order.runId, status: 'FAILED' });
    expect(shown.event).toMatchObject({ id: order.eventId, entityType: 'Order', entityId: order.entityId, kind: 'UPDATE', data: { status: 'shipped', total: 42 } });
    expect(shown.failure?.type).toBe('ActionsFailed');
    expect(shown.failure?.message).toMatch(/^1 of 2 actions failed: notify_billing:0 \(HttpClientError: .*400/);
    expect(shown.actions.map((a) => [a.key, a.status, a.attempts, a.errorType])).toEqual([
      ['notify_warehouse:0', 'succeeded', 1, null],
      ['notify_billing:0', 'failed', 1, 'HttpClientError'],
    ]);
    expect(shown.actions[1]!.errorMessage).toMatch(/400/);
    const described = await fx.env.client.workflow.getHandle(order.workflowId, order.runId).describe();
    expect(shown.historyLength).toBe(described.historyLength);
    expect(shown.historyLength).toBeGreaterThan(5);
    expect(shown.retry).toBeNull();
    // 400 is permanent: one billing request, and one warehouse request.
    expect(fx.requestsFor(fx.billing, order.entityId)).toHaveLength(1);
    expect(fx.requestsFor(fx.warehouse, order.entityId)).toHaveLength(1);
  });

  it('dlq show names what is missing', async () => {
    await expect(showDlq(fx.env.client, 'no-such-event')).rejects.toThrow('No workflow fraiseql-event:no-such-event is retained by Temporal');
    await expect(showDlq(fx.env.client, order.workflowId, { runId: '00000000-0000-4000-8000-000000000000' })).rejects.toThrow(
      `Temporal does not retain run 00000000-0000-4000-8000-000000000000 of ${order.workflowId}`,
    );
  });

  it('dlq stats counts by observer, error type and entity type', async () => {
    const s = await dlqStats(fx.env.client);
    expect(s).toMatchObject({
      entries: 2,
      failedActions: 2,
      byObserver: [{ observer: 'notify_billing', entries: 2, failedActions: 2 }],
      byErrorType: [{ errorType: 'HttpClientError', failedActions: 2 }],
      truncated: false,
    });
    expect(s.byEntityType).toEqual([
      { entityType: 'Invoice', entries: 1 },
      { entityType: 'Order', entries: 1 },
    ]);
    expect((await dlqStats(fx.env.client, { entity: 'Order' })).entries).toBe(1);
    expect(await countDlqEntries(fx.env.client)).toBe(2);
  });
});

describe('retries', () => {
  it('retry-all --dry-run says what it would do, calls nothing and starts no run', async () => {
    const runsBefore = await fx.countRuns();
    const requestsBefore = fx.billing.requests.length + fx.warehouse.requests.length;
    const r = await retryAll(fx.env.client, {}, { dryRun: true });
    expect(r).toMatchObject({ dryRun: true, matched: 2, truncated: false, counts: { wouldRetry: 2, retried: 0, refused: 0, failed: 0 } });
    const o = r.items.find((i) => i.workflowId === order.workflowId)!;
    expect(o).toMatchObject({ status: 'would_retry', previousRunId: order.runId, actionKeys: ['notify_billing:0'], carriedKeys: ['notify_warehouse:0'], retryNumber: 1, runId: null });
    const i = r.items.find((x) => x.workflowId === invoice.workflowId)!;
    expect(i).toMatchObject({ status: 'would_retry', actionKeys: ['notify_billing:0'], carriedKeys: [] });
    expect(await fx.countRuns()).toBe(runsBefore);
    expect(fx.billing.requests.length + fx.warehouse.requests.length).toBe(requestsBefore);
    for (const e of [order, invoice]) {
      expect((await fx.env.client.workflow.getHandle(e.workflowId).describe()).runId).toBe(e.runId);
    }
  });

  it('dlq retry re-runs only the failed action, with the same idempotency key, and cannot be repeated', async () => {
    const registry = new Registry();
    const stopGauge = startDlqGauge(fx.env.client, registry, 200);
    const gaugeValue = async () => (await registry.getSingleMetric('observer_dlq_size')!.get()).values[0]?.value;
    try {
      await eventually(async () => expect(await gaugeValue()).toBe(2));
      fx.setBilling('ok');
      const r = await retryDlq(fx.env.client, order.eventId);
      expect(r).toMatchObject({
        workflowId: order.workflowId,
        previousRunId: order.runId,
        retryNumber: 1,
        actionKeys: ['notify_billing:0'],
        carriedKeys: ['notify_warehouse:0'],
        taskQueue: fx.taskQueue,
      });
      expect(r.runId).not.toBe(order.runId);
      const handle = fx.env.client.workflow.getHandle(order.workflowId, r.runId);
      const result: ProcessChangeEventResult = await handle.result();
      expect(result.status).toBe('succeeded');
      expect(result.retryNumber).toBe(1);
      expect(result.actions.map((a) => [a.key, a.status, a.attempts])).toEqual([
        ['notify_warehouse:0', 'carried', 0],
        ['notify_billing:0', 'succeeded', 1],
      ]);

      // The warehouse, which succeeded before, was not called again; billing got one more call, same key.
      expect(fx.requestsFor(fx.warehouse, order.entityId)).toHaveLength(1);
      const billing = fx.requestsFor(fx.billing, order.entityId);
      expect(billing).toHaveLength(2);
      expect(billing[1]!.headers['idempotency-key']).toBe(`${order.eventId}:notify_billing:0`);
      expect(billing[1]!.headers['idempotency-key']).toBe(billing[0]!.headers['idempotency-key']);

      // Same search attributes, a summary that says what it is, the input that says what to re-run.
      const described = await handle.describe();
      const sa = described.typedSearchAttributes;
      expect([sa.get(EntityType), sa.get(EventKind), sa.get(ObserverNames), sa.get(ChangeLogPosition)]).toEqual(['Order', 'UPDATE', ['notify_warehouse', 'notify_billing'], 1]);
      expect(await described.staticSummary()).toBe(`DLQ retry #1 (re-runs notify_billing:0) — UPDATE Order ${order.entityId} → notify_warehouse, notify_billing (2 actions)`);
      const shownRetry = await showDlq(fx.env.client, order.workflowId, { runId: r.runId });
      expect(shownRetry).toMatchObject({ status: 'COMPLETED', retry: { retryNumber: 1, previousRunId: order.runId, actionKeys: ['notify_billing:0'] } });

      // The entry has left the DLQ (its failed run is superseded), and a second retry is refused.
      expect((await listDlq(fx.env.client)).entries.map((e) => e.eventId)).toEqual([invoice.eventId]);
      const withRetried = await listDlq(fx.env.client, { includeRetried: true });
      expect(withRetried.entries.map((e) => e.eventId).sort()).toEqual([order.eventId, invoice.eventId].sort());
      const shownOld = await showDlq(fx.env.client, order.eventId);
      expect(shownOld).toMatchObject({ runId: order.runId, latestRun: { runId: r.runId, status: 'COMPLETED' } });
      const refused = await rejectionOf(retryDlq(fx.env.client, order.eventId));
      expect(refused).toBeInstanceOf(DlqRetryRefusedError);
      expect(refused).toMatchObject({ reason: 'completed' });
      expect((refused as Error).message).toBe(
        `${order.workflowId}: its latest run ${r.runId} completed (DLQ retry #1); it is no longer in the DLQ and is not retried again`,
      );
      expect(fx.requestsFor(fx.billing, order.entityId)).toHaveLength(2);
      await eventually(async () => expect(await gaugeValue()).toBe(1));
    } finally {
      await stopGauge();
    }
  });

  it('a retry in progress cannot be started twice', async () => {
    const release = fx.holdBilling();
    let released = false;
    try {
      const r = await retryDlq(fx.env.client, invoice.workflowId);
      await eventually(() => expect(fx.requestsFor(fx.billing, invoice.entityId)).toHaveLength(2));
      const again = await rejectionOf(retryDlq(fx.env.client, invoice.workflowId));
      expect(again).toBeInstanceOf(DlqRetryRefusedError);
      expect(again).toMatchObject({ reason: 'running' });
      expect((again as Error).message).toBe(`${invoice.workflowId}: its latest run ${r.runId} is still running (DLQ retry #1); it is retried only if it fails`);
      const dry = await retryAll(fx.env.client, {}, { dryRun: true });
      expect(dry.matched).toBe(0);
      release();
      released = true;
      const result: ProcessChangeEventResult = await fx.env.client.workflow.getHandle(invoice.workflowId, r.runId).result();
      expect(result.status).toBe('succeeded');
      expect(fx.requestsFor(fx.billing, invoice.entityId)).toHaveLength(2);
    } finally {
      if (!released) release();
      fx.setBilling('ok');
    }
    expect(await countDlqEntries(fx.env.client)).toBe(0);
    expect((await dlqStats(fx.env.client)).entries).toBe(0);
  });

  it('retry-all retries every entry at the given rate and reports each', async () => {
    fx.setBilling('failing');
    const a = await fx.startEvent('Order');
    const b = await fx.startEvent('Order');
    await Promise.all([failed(a), failed(b)]);
    fx.setBilling('ok');
    const seen: string[] = [];
    const sleeps: number[] = [];
    // A clock that only moves when the limiter sleeps: the pacing is exact whatever the machine's load.
    let t = 0;
    const pacing = { clock: () => t, sleep: async (ms: number) => { sleeps.push(ms); t += ms; } };
    const r = await retryAll(fx.env.client, { entity: 'Order' }, { ratePerSecond: 2, onItem: (i) => seen.push(i.workflowId), ...pacing });
    expect(r).toMatchObject({ dryRun: false, matched: 2, counts: { retried: 2, wouldRetry: 0, refused: 0, failed: 0 } });
    expect(seen.sort()).toEqual([a.workflowId, b.workflowId].sort());
    // Two starts at 2/s: the second half a second after the first.
    expect(sleeps).toEqual([500]);
    for (const item of r.items) {
      const res: ProcessChangeEventResult = await fx.env.client.workflow.getHandle(item.workflowId, item.runId!).result();
      expect(res.actions.map((x) => x.status)).toEqual(['carried', 'succeeded']);
    }
    for (const e of [a, b]) expect(fx.requestsFor(fx.warehouse, e.entityId)).toHaveLength(1);
    expect(await countDlqEntries(fx.env.client)).toBe(0);
  });

  it('a retry that fails again is the new entry; the next retry carries everything done so far', async () => {
    fx.setBilling('failing');
    const e = await fx.startEvent('Order');
    await failed(e);
    const first = await retryDlq(fx.env.client, e.eventId);
    await failed({ ...e, runId: first.runId });

    const { entries } = await listDlq(fx.env.client);
    expect(entries.map((x) => [x.workflowId, x.runId])).toEqual([[e.workflowId, first.runId]]);
    const shown = await showDlq(fx.env.client, e.eventId);
    expect(shown).toMatchObject({ runId: first.runId, retry: { retryNumber: 1, previousRunId: e.runId, actionKeys: ['notify_billing:0'] } });
    expect(shown.actions.map((a) => [a.key, a.status, a.attempts, a.errorType])).toEqual([
      ['notify_warehouse:0', 'carried', 0, null],
      ['notify_billing:0', 'failed', 1, 'HttpClientError'],
    ]);

    fx.setBilling('ok');
    const second = await retryDlq(fx.env.client, e.workflowId);
    expect(second).toMatchObject({ previousRunId: first.runId, retryNumber: 2, actionKeys: ['notify_billing:0'], carriedKeys: ['notify_warehouse:0'] });
    const result: ProcessChangeEventResult = await fx.env.client.workflow.getHandle(e.workflowId, second.runId).result();
    expect(result).toMatchObject({ status: 'succeeded', retryNumber: 2 });
    expect(result.actions.map((a) => [a.key, a.status])).toEqual([
      ['notify_warehouse:0', 'carried'],
      ['notify_billing:0', 'succeeded'],
    ]);
    const summary = await (await fx.env.client.workflow.getHandle(e.workflowId, second.runId).describe()).staticSummary();
    expect(summary).toBe(`DLQ retry #2 (re-runs notify_billing:0) — UPDATE Order ${e.entityId} → notify_warehouse, notify_billing (2 actions)`);
    expect(fx.requestsFor(fx.warehouse, e.entityId)).toHaveLength(1);
    const keys = fx.requestsFor(fx.billing, e.entityId).map((r) => r.headers['idempotency-key']);
    expect(keys).toEqual([`${e.eventId}:notify_billing:0`, `${e.eventId}:notify_billing:0`, `${e.eventId}:notify_billing:0`]);
    expect(await countDlqEntries(fx.env.client)).toBe(0);
  });

  it('two retries racing for one entry start one run: the other is refused', async () => {
    fx.setBilling('failing');
    const e = await fx.startEvent('Order');
    await failed(e);
    fx.setBilling('ok');
    const settled = await Promise.allSettled([retryDlq(fx.env.client, e.eventId), retryDlq(fx.env.client, e.eventId), retryDlq(fx.env.client, e.eventId)]);
    const won = settled.filter((r): r is PromiseFulfilledResult<Awaited<ReturnType<typeof retryDlq>>> => r.status === 'fulfilled');
    const lost = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(2);
    for (const l of lost) {
      expect(l.reason).toBeInstanceOf(DlqRetryRefusedError);
      // Refused either by our check (the winner's run already visible) or by Temporal's reuse policy.
      expect(['already_retrying', 'running', 'completed']).toContain((l.reason as DlqRetryRefusedError).reason);
    }
    await fx.env.client.workflow.getHandle(e.workflowId, won[0]!.value.runId).result();
    expect(fx.requestsFor(fx.billing, e.entityId)).toHaveLength(2);
    expect(fx.requestsFor(fx.warehouse, e.entityId)).toHaveLength(1);
  });

  it('a terminated run is not a DLQ entry and is not retried', async () => {
    const release = fx.holdBilling();
    let e: StartedEvent;
    try {
      e = await fx.startEvent('Invoice');
      await eventually(() => expect(fx.requestsFor(fx.billing, e.entityId)).toHaveLength(1));
      await fx.env.client.workflow.getHandle(e.workflowId).terminate('operator stopped it');
    } finally {
      release();
      fx.setBilling('ok');
    }
    const err = await rejectionOf(retryDlq(fx.env.client, e.eventId));
    expect(err).toBeInstanceOf(DlqRetryRefusedError);
    expect(err).toMatchObject({ reason: 'not_failed' });
    expect((err as Error).message).toBe(`${e.workflowId}: its latest run ${e.runId} ended TERMINATED, not FAILED; only failed runs are DLQ entries`);
    expect((await listDlq(fx.env.client, { entity: 'Invoice' })).entries).toEqual([]);
    await expect(showDlq(fx.env.client, e.eventId)).rejects.toThrow(`${e.workflowId} has no failed run: its latest run ${e.runId} is TERMINATED`);
  });
});
