/**
 * What templates and receivers see of a change event: the template scope, and the JSON envelope
 * actions send by default. One definition, used by config validation and by every action.
 */
import type { ChangeEvent } from '../events/types';

/** Names a template may start a variable with; anything else is a typo caught at load. */
export const TEMPLATE_ROOTS = ['event', 'data', 'old', 'new', 'changes'] as const;

/** The variables a template sees. */
export interface TemplateScope {
  /** Every event field in snake_case, the images and the changes included. */
  event: {
    id: string;
    position: string;
    kind: string;
    raw_kind: string;
    entity_type: string;
    entity_id: string | null;
    tenant_id: string | null;
    user_id: string | null;
    customer_org_id: string | null;
    actor_type: string | null;
    acting_for: string | null;
    created_at: string | null;
    commit_time: string | null;
    trace_id: string | null;
    updated_fields: string[] | null;
    data: Record<string, unknown>;
    before: Record<string, unknown> | null;
    changes: Record<string, { old: unknown; new: unknown }> | null;
  };
  /** The after-image (the pre-image for DELETE). */
  data: Record<string, unknown>;
  /** The pre-image, when the producer recorded one. */
  old: Record<string, unknown> | null;
  /** The same as `data`, to pair with `old`. */
  new: Record<string, unknown>;
  changes: Record<string, { old: unknown; new: unknown }> | null;
}

/** The scope `{ event, data, old, new, changes }` of a change event. */
export function templateScope(event: ChangeEvent): TemplateScope {
  return {
    event: {
      id: event.id,
      position: event.position,
      kind: event.kind,
      raw_kind: event.rawKind,
      entity_type: event.entityType,
      entity_id: event.entityId,
      tenant_id: event.tenantId,
      user_id: event.userId,
      customer_org_id: event.customerOrgId ?? null,
      actor_type: event.actor?.type ?? null,
      acting_for: event.actor?.actingFor ?? null,
      created_at: event.createdAt,
      commit_time: event.commitTime,
      trace_id: event.trace?.traceId ?? null,
      updated_fields: event.updatedFields,
      data: event.data,
      before: event.before,
      changes: event.changes,
    },
    data: event.data,
    old: event.before,
    new: event.data,
    changes: event.changes,
  };
}

/**
 * The event as receivers get it by default (webhook body, database function argument).
 * It always carries the event id so receivers can deduplicate.
 */
export function eventEnvelope(event: ChangeEvent): Record<string, unknown> {
  return {
    id: event.id,
    kind: event.kind,
    raw_kind: event.rawKind,
    entity_type: event.entityType,
    entity_id: event.entityId,
    data: event.data,
    old: event.before,
    changes: event.changes,
    updated_fields: event.updatedFields,
    tenant_id: event.tenantId,
    user_id: event.userId,
    actor: event.actor ? { type: event.actor.type, acting_for: event.actor.actingFor } : null,
    created_at: event.createdAt,
    commit_time: event.commitTime,
    trace_id: event.trace?.traceId ?? null,
    position: event.position,
  };
}
