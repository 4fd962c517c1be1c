/**
 * The Elasticsearch audit sink against the official client with `@elastic/elasticsearch-mock`
 * (Elasticsearch cannot run here): the exact NDJSON bulk body on the wire, per-item errors
 * (retryable ones retried, others dropped and counted), whole-request failures kept for later,
 * and no event data or secret in a document.
 */
import { Client, errors } from '@elastic/elasticsearch';
import Mock from '@elastic/elasticsearch-mock';
import { Registry } from 'prom-client';
import { AuditSink } from '../../src/search';
import type { EventFinished } from '../../src/workflows/sinks';
import { captureLogger } from '../helpers/receivers';

interface Sent { path: string; contentType: string; body: string }

/** A client whose HTTP layer is the mock, recording every raw request body as sent. */
function mockedClient(mock: Mock, sent: Sent[]): Client {
  const Base = mock.getConnection();
  class Recording extends Base {
    override async request(params: any, options: any): Promise<any> {
      const headers = (params.headers ?? {}) as Record<string, string>;
      sent.push({ path: String(params.path), contentType: String(headers['content-type'] ?? ''), body: typeof params.body === 'string' ? params.body : String(params.body ?? '') });
      return super.request(params, options);
    }
  }
  return new Client({ node: 'http://127.0.0.1:9200', Connection: Recording as any, maxRetries: 0 });
}

function finished(n: number, status: 'succeeded' | 'failed' = 'succeeded'): EventFinished {
  return {
    workflowId: `fraiseql-event:ev-${n}`,
    runId: `run-${n}`,
    commitTime: '2026-12-01T10:00:00.000Z',
    readAt: '2026-12-01T10:00:00.010Z',
    result: {
      eventId: `ev-${n}`,
      entityType: 'Order',
      entityId: `order-${n}`,
      kind: 'UPDATE',
      status,
      observers: ['order_shipped'],
      failedActions: status === 'failed' ? ['order_shipped:0'] : [],
      actions: [
        status === 'failed'
          ? { key: 'order_shipped:0', observer: 'order_shipped', type: 'webhook', status: 'failed', failurePolicy: 'dlq', attempts: 1, error: { type: 'HttpClientError', message: 'answered 400', nonRetryable: true } }
          : {
              key: 'order_shipped:0', observer: 'order_shipped', type: 'webhook', status: 'succeeded', failurePolicy: 'dlq', attempts: 2,
              result: { type: 'webhook', key: 'order_shipped:0', duration_ms: 12, status_code: 204, url: 'https://h.example.com/x', redirects: 0, response_bytes: 0, idempotency_key: `ev-${n}:order_shipped:0` },
            },
      ],
    },
  };
}

const NOW = Date.parse('2026-12-01T10:00:00.250Z');

function sink(client: Client, registry: Registry, extra: Partial<ConstructorParameters<typeof AuditSink>[0]> = {}) {
  return new AuditSink({ client, log: captureLogger().log, metrics: registry, clock: () => NOW, batchSize: 100, flushIntervalMs: 60_000, ...extra });
}

async function metric(registry: Registry, name: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await registry.getSingleMetric(name)?.get())?.values ?? []) out[Object.values(v.labels).join(',')] = v.value;
  return out;
}

test('sends exactly one NDJSON action + document pair per run, newline-terminated', async () => {
  const mock = new Mock();
  const sent: Sent[] = [];
  mock.add({ method: 'POST', path: '/_bulk' }, (params: any) => ({
    errors: false,
    took: 1,
    items: (params.body as unknown[]).filter((_, i) => i % 2 === 0).map(() => ({ index: { status: 201, result: 'created' } })),
  }));
  const registry = new Registry();
  const s = sink(mockedClient(mock, sent), registry);
  s.record(finished(1));
  s.record(finished(2, 'failed'));
  await s.close();

  expect(sent).toHaveLength(1);
  expect(sent[0]!.path).toBe('/_bulk');
  expect(sent[0]!.contentType).toMatch(/application\/(vnd\.elasticsearch\+)?x-ndjson/);
  const expected =
    '{"index":{"_index":"fraiseql-observers-audit-2026.12.01","_id":"fraiseql-event:ev-1:run-1"}}\n' +
    '{"@timestamp":"2026-12-01T10:00:00.250Z","event_id":"ev-1","workflow_id":"fraiseql-event:ev-1","run_id":"run-1","entity_type":"Order","entity_id":"order-1","event_kind":"UPDATE","status":"succeeded","observers":["order_shipped"],"failed_actions":[],"retry_number":null,"commit_time":"2026-12-01T10:00:00.000Z","latency_ms":250,"actions":[{"key":"order_shipped:0","observer":"order_shipped","type":"webhook","status":"succeeded","failure_policy":"dlq","attempts":2,"duration_ms":12,"status_code":204,"error_type":null,"error_message":null}]}\n' +
    '{"index":{"_index":"fraiseql-observers-audit-2026.12.01","_id":"fraiseql-event:ev-2:run-2"}}\n' +
    '{"@timestamp":"2026-12-01T10:00:00.250Z","event_id":"ev-2","workflow_id":"fraiseql-event:ev-2","run_id":"run-2","entity_type":"Order","entity_id":"order-2","event_kind":"UPDATE","status":"failed","observers":["order_shipped"],"failed_actions":["order_shipped:0"],"retry_number":null,"commit_time":"2026-12-01T10:00:00.000Z","latency_ms":250,"actions":[{"key":"order_shipped:0","observer":"order_shipped","type":"webhook","status":"failed","failure_policy":"dlq","attempts":1,"duration_ms":null,"status_code":null,"error_type":"HttpClientError","error_message":"answered 400"}]}\n';
  expect(sent[0]!.body).toBe(expected);
  expect(await metric(registry, 'observer_audit_documents_total')).toEqual({ succeeded: 1, failed: 1 });
});

test('retries items rejected with 429/5xx, drops and counts the others, and keeps documents while the cluster is down', async () => {
  const mock = new Mock();
  const sent: Sent[] = [];
  let calls = 0;
  mock.add({ method: 'POST', path: '/_bulk' }, (params: any) => {
    calls += 1;
    if (calls === 1) return new errors.ResponseError({ body: { error: 'unavailable' }, statusCode: 503, headers: {}, warnings: null, meta: {} as any });
    const docs = (params.body as Array<Record<string, unknown>>).filter((_, i) => i % 2 === 1);
    return {
      errors: true,
      took: 1,
      items: docs.map((d) => {
        if (d.event_id === 'ev-2' && calls === 2) return { index: { status: 429, error: { type: 'es_rejected_execution_exception', reason: 'queue full' } } };
        if (d.event_id === 'ev-3') return { index: { status: 400, error: { type: 'mapper_parsing_exception', reason: 'bad field' } } };
        return { index: { status: 201, result: 'created' } };
      }),
    };
  });
  const registry = new Registry();
  const s = sink(mockedClient(mock, sent), registry);
  s.record(finished(1));
  s.record(finished(2));
  s.record(finished(3));
  await s.flush(); // the cluster answers 503: nothing is written and nothing dropped
  expect(s.pending).toBe(3);
  await s.flush(); // ev-1 written, ev-2 rejected 429 (retried), ev-3 rejected 400 (dropped)
  await s.flush(); // ev-2 written on its retry
  expect(s.pending).toBe(0);
  await s.close();
  const bodies = sent.map((x) => x.body.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>));
  expect(bodies.map((b) => b.filter((_, i) => i % 2 === 1).map((d) => d.event_id))).toEqual([['ev-1', 'ev-2', 'ev-3'], ['ev-1', 'ev-2', 'ev-3'], ['ev-2']]);
  expect(await metric(registry, 'observer_audit_documents_total')).toEqual({ succeeded: 2 });
  expect(await metric(registry, 'observer_audit_failures_total')).toEqual({ mapper_parsing_exception: 1 });
});

test('documents hold outcomes, never event data', async () => {
  const mock = new Mock();
  const sent: Sent[] = [];
  mock.add({ method: 'POST', path: '/_bulk' }, () => ({ errors: false, took: 1, items: [{ index: { status: 201 } }] }));
  const s = sink(mockedClient(mock, sent), new Registry());
  const f = finished(7);
  // Event data is not part of EventFinished; an error message is the only free text, and activities scrub secrets from it.
  s.record(f);
  await s.close();
  const doc = JSON.parse(sent[0]!.body.split('\n')[1]!) as Record<string, unknown>;
  expect(Object.keys(doc).sort()).toEqual(
    ['@timestamp', 'actions', 'commit_time', 'entity_id', 'entity_type', 'event_id', 'event_kind', 'failed_actions', 'latency_ms', 'observers', 'retry_number', 'run_id', 'status', 'workflow_id'].sort(),
  );
});
