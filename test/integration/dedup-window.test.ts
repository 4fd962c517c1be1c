/**
 * The duplicate-event window against a real Redis (and the in-process fallback): the second
 * identical event within the window is skipped and names the first; different data, another
 * entity, or an expired window run; a failed start releases the window; a re-read or retry of the
 * original is never its own duplicate; observers without a window still run; a store that cannot
 * be reached or a key template that fails lets the event through and counts the error.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import pino from 'pino';
import { Registry } from 'prom-client';
import { parseObserversYaml, type ObserverConfig } from '../../src/config';
import { dedupKeyOf, dedupStoreKey, stableJson } from '../../src/events/dedup-key';
import { compileObservers } from '../../src/events/match';
import type { ChangeLogRow } from '../../src/events/types';
import { RecordingStarter } from '../../src/listener/recording-starter';
import { DedupStarter, withDedupWindow } from '../../src/listener/dedup-starter';
import { type DedupStore, MemoryDedupStore, RedisDedupStore } from '../../src/listener/dedup-store';
import { createRowHandler } from '../../src/listener/row-handler';
import type { StartDecision } from '../../src/listener/types';
import { dedupMetrics } from '../../src/metrics/dedup';
import type { ProcessChangeEventInput } from '../../src/contract';
import { waitFor } from '../helpers/pg';

jest.setTimeout(30_000);

async function counterValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values.filter((v) => Object.entries(labels).every(([k, want]) => (v.labels as Record<string, unknown>)[k] === want)).reduce((n, v) => n + v.value, 0);
}

let redis: Redis;
beforeAll(() => {
  redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
});
afterAll(async () => {
  await redis.quit();
});

const namespaces: string[] = [];
afterEach(async () => {
  for (const ns of namespaces.splice(0)) {
    const keys = await redis.keys(`${ns}:*`);
    if (keys.length) await redis.del(...keys);
  }
});
function namespace(): string {
  const ns = `test:fo:${randomUUID()}`;
  namespaces.push(ns);
  return ns;
}

const FILE = `
observers:
  invalidate:
    entity: Order
    events: [INSERT, UPDATE]
    dedup: { window_ms: 60000 }
    actions:
      - type: log
  by_order:
    entity: Invoice
    events: [INSERT]
    dedup: { window_ms: 60000, key: "{{ data.order_id }}" }
    actions:
      - type: log
  short:
    entity: Ping
    events: [INSERT]
    dedup: { window_ms: 400 }
    actions:
      - type: log
  audit:
    entity: Order
    events: [INSERT, UPDATE]
    actions:
      - type: log
  ordered:
    entity: Shipment
    events: [INSERT, UPDATE]
    ordering: per_entity
    dedup: { window_ms: 60000 }
    actions:
      - type: log
`;
const observers: readonly ObserverConfig[] = parseObserversYaml(FILE, 'observers.yaml').observers;
let pk = 0;

/** A row the way the listener reads it. */
function row(type: string, data: Record<string, unknown>, o: { objectId?: string; kind?: string; id?: string } = {}): ChangeLogRow {
  pk += 1;
  return { pk: String(pk), id: o.id ?? randomUUID(), object_type: type, modification_type: o.kind ?? 'INSERT', object_id: o.objectId ?? 'a0000000-0000-4000-8000-000000000001', object_data: data };
}

interface Harness {
  starter: DedupStarter;
  inner: RecordingStarter;
  registry: Registry;
  decide(r: ChangeLogRow): StartDecision;
  start(r: ChangeLogRow): Promise<string>;
}

function harness(store: DedupStore, ns: string, inner = new RecordingStarter(), only?: readonly string[]): Harness {
  const registry = new Registry();
  const chosen = only ? observers.filter((o) => only.includes(o.name)) : observers;
  const handler = createRowHandler(compileObservers({ observers: chosen }), { mapping: { table: 'core.tb_entity_change_log' } });
  const starter = new DedupStarter(inner, { store, namespace: ns, observers: chosen, metrics: dedupMetrics(registry), log: pino({ level: 'silent' }) });
  const decide = (r: ChangeLogRow): StartDecision => {
    const d = handler(r);
    if (d.kind !== 'start') throw new Error(`row ${r.pk} did not match: ${d.kind}`);
    return d;
  };
  return { starter, inner, registry, decide, start: (r) => starter.start(`fraiseql-event:${r.id}`, decide(r)) };
}

describe('dedup keys', () => {
  it('default key: entity type, id, kind and a hash of the data that ignores key order', () => {
    const settings = { windowMs: 1000, key: null };
    const h = harness(new MemoryDedupStore(), 'ns');
    const a = h.decide(row('Order', { status: 'paid', total: 10 })).event;
    const b = h.decide(row('Order', { total: 10, status: 'paid' })).event;
    const c = h.decide(row('Order', { status: 'paid', total: 11 })).event;
    expect(dedupKeyOf(settings, a)).toBe(dedupKeyOf(settings, b));
    expect(dedupKeyOf(settings, a)).toMatch(/^Order:a0000000-0000-4000-8000-000000000001:INSERT:[0-9a-f]{64}$/);
    expect(dedupKeyOf(settings, a)).not.toBe(dedupKeyOf(settings, c));
    expect(stableJson({ b: [1, { d: 1, c: 2 }], a: null })).toBe('{"a":null,"b":[1,{"c":2,"d":1}]}');
    expect(dedupStoreKey('fo:x', 'invalidate', 'k')).toMatch(/^fo:x:dedup:invalidate:[0-9a-f]{40}$/);
  });

  it('a key template renders through the template module and fails for a missing field', () => {
    const h = harness(new MemoryDedupStore(), 'ns');
    const e = h.decide(row('Invoice', { order_id: 'o-1', n: 1 })).event;
    expect(dedupKeyOf({ windowMs: 1, key: '{{ data.order_id }}' }, e)).toBe('o-1');
    expect(() => dedupKeyOf({ windowMs: 1, key: '{{ data.missing }}' }, e)).toThrow(/missing/);
  });
});

describe.each([
  ['redis', () => new RedisDedupStore(redis)],
  ['memory', () => new MemoryDedupStore()],
] as const)('dedup window (%s store)', (kind, makeStore) => {
  it('skips the second identical event and records which event it duplicated', async () => {
    const ns = namespace();
    const store = makeStore();
    const h = harness(store, ns, undefined, ['invalidate']);
    const first = row('Order', { status: 'paid' });
    const second = row('Order', { status: 'paid' });
    expect(await h.start(first)).toBe('started');
    expect(await h.start(second)).toBe('deduplicated');
    expect(h.inner.starts.map((s) => s.workflowId)).toEqual([`fraiseql-event:${first.id}`]);
    const key = dedupStoreKey(ns, 'invalidate', dedupKeyOf({ windowMs: 60000, key: null }, h.decide(first).event));
    const held = await store.peek(key);
    expect(held?.eventId).toBe(first.id);
    expect(held!.ttlMs).toBeGreaterThan(50_000);
    expect(held!.ttlMs).toBeLessThanOrEqual(60_000);
    if (kind === 'redis') expect(await redis.get(key)).toBe(first.id);
    expect(await counterValue(h.registry, 'observer_dedup_hits_total', { observer: 'invalidate' })).toBe(1);
    expect(await counterValue(h.registry, 'observer_dedup_misses_total', { observer: 'invalidate' })).toBe(1);
  });

  it('runs events with other data, another entity or another kind', async () => {
    const h = harness(makeStore(), namespace(), undefined, ['invalidate']);
    const results = [
      await h.start(row('Order', { status: 'paid' })),
      await h.start(row('Order', { status: 'shipped' })),
      await h.start(row('Order', { status: 'paid' }, { objectId: 'a0000000-0000-4000-8000-000000000002' })),
      await h.start(row('Order', { status: 'paid' }, { kind: 'UPDATE' })),
    ];
    expect(results).toEqual(['started', 'started', 'started', 'started']);
    expect(await counterValue(h.registry, 'observer_dedup_hits_total')).toBe(0);
  });

  it('a custom key groups events by what the template renders', async () => {
    const h = harness(makeStore(), namespace(), undefined, ['by_order']);
    expect(await h.start(row('Invoice', { order_id: 'o-1', n: 1 }))).toBe('started');
    expect(await h.start(row('Invoice', { order_id: 'o-1', n: 2 }))).toBe('deduplicated');
    expect(await h.start(row('Invoice', { order_id: 'o-2', n: 1 }))).toBe('started');
  });

  it('after the window an identical event runs again', async () => {
    const ns = namespace();
    const store = makeStore();
    const h = harness(store, ns, undefined, ['short']);
    const first = row('Ping', { n: 1 });
    expect(await h.start(first)).toBe('started');
    expect(await h.start(row('Ping', { n: 1 }))).toBe('deduplicated');
    const key = dedupStoreKey(ns, 'short', dedupKeyOf({ windowMs: 400, key: null }, h.decide(first).event));
    await waitFor('the 400 ms window to expire', async () => (await store.peek(key)) === null, 10_000, 25);
    const third = row('Ping', { n: 1 });
    expect(await h.start(third)).toBe('started');
    expect((await store.peek(key))?.eventId).toBe(third.id);
  });

  it('a re-read or retried start of the original is not its own duplicate', async () => {
    const h = harness(makeStore(), namespace(), undefined, ['invalidate']);
    const first = row('Order', { status: 'paid' });
    expect(await h.start(first)).toBe('started');
    // The same row read again (restart, failover): workflow-id dedup answers, not the window.
    expect(await h.start({ ...first })).toBe('duplicate');
    expect(h.inner.duplicates).toBe(1);
    expect(await counterValue(h.registry, 'observer_dedup_hits_total')).toBe(0);
  });

  it('a failed start releases the window; the retried start of the same event then runs', async () => {
    let failures = 1;
    const inner = new RecordingStarter({
      beforeStart: () => {
        if (failures > 0) {
          failures -= 1;
          throw new Error('Temporal unavailable');
        }
      },
    });
    const ns = namespace();
    const store = makeStore();
    const h = harness(store, ns, inner, ['invalidate']);
    const first = row('Order', { status: 'paid' });
    const key = dedupStoreKey(ns, 'invalidate', dedupKeyOf({ windowMs: 60000, key: null }, h.decide(first).event));
    await expect(h.start(first)).rejects.toThrow('Temporal unavailable');
    expect(await store.peek(key)).toBeNull();
    expect(await counterValue(h.registry, 'observer_dedup_misses_total')).toBe(0);
    // A copy arriving while the original's start was failing is not hidden by a start that never happened.
    const copy = row('Order', { status: 'paid' });
    expect(await h.start(copy)).toBe('started');
    // The original, retried by the listener, now duplicates the copy: one of the two runs, never none.
    expect(await h.start(first)).toBe('deduplicated');
    expect(h.inner.starts.map((s) => s.workflowId)).toEqual([`fraiseql-event:${copy.id}`]);
  });

  it('observers without a window still run; the workflow input lists the skipped observer', async () => {
    const h = harness(makeStore(), namespace(), undefined, ['invalidate', 'audit']);
    const first = row('Order', { status: 'paid' });
    const second = row('Order', { status: 'paid' });
    expect(await h.start(first)).toBe('started');
    expect(await h.start(second)).toBe('started');
    const started = h.inner.get(`fraiseql-event:${second.id}`)!.decision;
    const input = started.payload as ProcessChangeEventInput;
    expect(input.matches.map((m) => m.observer)).toEqual(['audit']);
    expect(input.deduplicated).toEqual([{ observer: 'invalidate', duplicateOf: first.id }]);
    expect(started.searchAttributes?.ObserverNames).toEqual(['audit']);
    expect(started.summary).toContain('dedup skipped invalidate');
    const original = h.inner.get(`fraiseql-event:${first.id}`)!.decision.payload as ProcessChangeEventInput;
    expect(original.matches.map((m) => m.observer)).toEqual(['invalidate', 'audit']);
    expect(original.deduplicated).toBeUndefined();
  });

  it('an ordered successor of a skipped event waits for the event before it instead', async () => {
    const h = harness(makeStore(), namespace(), undefined, ['ordered']);
    const objectId = 'a0000000-0000-4000-8000-0000000000aa';
    const a = row('Shipment', { at: 'depot' }, { objectId });
    const b = row('Shipment', { at: 'depot' }, { objectId });
    const c = row('Shipment', { at: 'door' }, { objectId, kind: 'UPDATE' });
    expect(await h.start(a)).toBe('started');
    expect(await h.start(b)).toBe('deduplicated');
    expect(await h.start(c)).toBe('started');
    const input = h.inner.get(`fraiseql-event:${c.id}`);
    // The row handler named b (never started) as c's predecessor; the window redirects it to a.
    expect((input!.decision.payload as ProcessChangeEventInput).predecessorWorkflowId).toBe(`fraiseql-event:${a.id}`);
  });
});

describe('when the window cannot be checked', () => {
  it('a store that cannot be reached lets the event run and counts the error', async () => {
    const dead = new Redis({ host: '127.0.0.1', port: 1, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    dead.on('error', () => undefined);
    try {
      const h = harness(new RedisDedupStore(dead), namespace(), undefined, ['invalidate']);
      expect(await h.start(row('Order', { status: 'paid' }))).toBe('started');
      expect(await h.start(row('Order', { status: 'paid' }))).toBe('started');
      expect(await counterValue(h.registry, 'observer_dedup_errors_total', { observer: 'invalidate', reason: 'store_unavailable' })).toBe(2);
      expect(await counterValue(h.registry, 'observer_dedup_hits_total')).toBe(0);
    } finally {
      dead.disconnect();
    }
  });

  it('a key template failing for one event lets that event run', async () => {
    const h = harness(new MemoryDedupStore(), namespace(), undefined, ['by_order']);
    expect(await h.start(row('Invoice', { n: 1 }))).toBe('started');
    expect(await h.start(row('Invoice', { n: 1 }))).toBe('started');
    expect(await counterValue(h.registry, 'observer_dedup_errors_total', { observer: 'by_order', reason: 'key_template' })).toBe(2);
  });

  it('without any windowed observer the starter is not wrapped', () => {
    const inner = new RecordingStarter();
    const plain = observers.filter((o) => o.dedup === null);
    expect(withDedupWindow(inner, { store: new MemoryDedupStore(), namespace: 'x', observers: plain, metrics: dedupMetrics(new Registry()), log: pino({ level: 'silent' }) })).toBe(inner);
  });
});
