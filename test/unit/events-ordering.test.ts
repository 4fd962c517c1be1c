/** Per-entity ordering on the listener side: the row handler names each ordered event's predecessor. */
import { parseObserversYaml } from '../../src/config';
import { compileObservers } from '../../src/events/match';
import type { ChangeLogRow } from '../../src/events/types';
import { createRowHandler, EntityOrderTracker } from '../../src/listener/row-handler';
import type { RowDecision } from '../../src/listener/types';
import type { ProcessChangeEventInput } from '../../src/contract';

const compiled = compileObservers(
  parseObserversYaml(
    `
observers:
  ordered:
    entity: Order
    events: [INSERT, UPDATE]
    ordering: per_entity
    actions: [{ type: log }]
  unordered:
    entity: "*"
    events: [INSERT, UPDATE, DELETE]
    actions: [{ type: log }]
`,
    'observers.yaml',
  ),
);

let pk = 0;
function row(objectType: string, objectId: string | null, kind = 'UPDATE'): ChangeLogRow {
  pk++;
  return {
    pk: String(pk), id: `00000000-0000-4000-8000-${String(pk).padStart(12, '0')}`, object_type: objectType, modification_type: kind,
    object_id: objectId, object_data: { n: pk },
  };
}

function started(d: RowDecision): Extract<RowDecision, { kind: 'start' }> & { payload: ProcessChangeEventInput } {
  if (d.kind !== 'start') throw new Error(`expected a start, got ${d.kind}`);
  return d as Extract<RowDecision, { kind: 'start' }> & { payload: ProcessChangeEventInput };
}

describe('per-entity ordering in the row handler', () => {
  it('names the previous ordered event of the same entity as predecessor, and starts after it', () => {
    const handle = createRowHandler(compiled, { workflowIdPrefix: 'p' });
    const a1 = started(handle(row('Order', 'a')));
    const b1 = started(handle(row('Order', 'b')));
    const a2 = started(handle(row('Order', 'a')));
    const a3 = started(handle(row('Order', 'a')));
    expect(a1.payload.predecessorWorkflowId).toBeUndefined();
    expect(a1.startAfter).toBeUndefined();
    expect(b1.payload.predecessorWorkflowId).toBeUndefined();
    expect(a2.payload.predecessorWorkflowId).toBe(`p:${a1.event.id}`);
    expect(a2.startAfter).toBe(`p:${a1.event.id}`);
    expect(a3.payload.predecessorWorkflowId).toBe(`p:${a2.event.id}`);
  });

  it('ignores events no per_entity observer matched, and events without an entity id', () => {
    const handle = createRowHandler(compiled);
    const first = started(handle(row('Order', 'c')));
    // DELETE: only the unordered observer matches, so it neither waits nor becomes a predecessor.
    const del = started(handle(row('Order', 'c', 'DELETE')));
    expect(del.payload.predecessorWorkflowId).toBeUndefined();
    const next = started(handle(row('Order', 'c')));
    expect(next.payload.predecessorWorkflowId).toBe(`fraiseql-event:${first.event.id}`);
    // Same entity id on another type is another entity.
    expect(started(handle(row('Invoice', 'c'))).payload.predecessorWorkflowId).toBeUndefined();
    expect(started(handle(row('Order', null))).payload.predecessorWorkflowId).toBeUndefined();
    expect(started(handle(row('Order', null))).payload.predecessorWorkflowId).toBeUndefined();
  });

  it('gives a re-read event the same predecessor, never itself', () => {
    const handle = createRowHandler(compiled);
    const r1 = row('Order', 'd');
    const r2 = row('Order', 'd');
    const first = started(handle(r1));
    const second = started(handle(r2));
    const again = started(handle(r2));
    expect(again.payload.predecessorWorkflowId).toBe(second.payload.predecessorWorkflowId);
    expect(again.payload.predecessorWorkflowId).toBe(`fraiseql-event:${first.event.id}`);
    expect(started(handle(r1)).payload.predecessorWorkflowId).not.toBe(`fraiseql-event:${first.event.id}`);
  });

  it('stays bounded, forgetting the least recently used entity first', () => {
    const tracker = new EntityOrderTracker(2);
    const ev = (id: string) => ({ entityType: 'Order', entityId: id }) as Parameters<EntityOrderTracker['next']>[0];
    tracker.next(ev('x'), 'w1');
    tracker.next(ev('y'), 'w2');
    tracker.next(ev('x'), 'w3'); // x is now the most recent
    tracker.next(ev('z'), 'w4'); // evicts y
    expect(tracker.size).toBe(2);
    expect(tracker.next(ev('y'), 'w5')).toBeUndefined();
    expect(tracker.next(ev('z'), 'w6')).toBe('w4');
    expect(() => new EntityOrderTracker(0)).toThrow('maxOrderedEntities must be a positive integer, got 0');
  });
});
