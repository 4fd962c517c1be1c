/**
 * The event model shared by the listener, the matcher and the workflows.
 * Everything here is plain data (JSON-serialisable) so it can travel as workflow input.
 */

export type EventKind = 'INSERT' | 'UPDATE' | 'DELETE' | 'CUSTOM';

/** A row of the change-log table as read by the listener (columns absent from the table are undefined). */
export interface ChangeLogRow {
  /** pk_entity_change_log (bigint, as a decimal string) — the cursor position. */
  pk: string;
  id?: string | null;
  object_type?: unknown;
  modification_type?: unknown;
  object_id?: unknown;
  object_data?: unknown;
  object_data_before?: unknown;
  updated_fields?: unknown;
  created_at?: Date | string | null;
  commit_time?: Date | string | null;
  tenant_id?: string | null;
  fk_contact?: string | null;
  fk_customer_org?: string | null;
  actor_type?: string | null;
  acting_for?: string | null;
  trace_id?: string | null;
  trace_context?: unknown;
}

/** One committed change, as observers and actions see it. */
export interface ChangeEvent {
  /** Stable event id: the row's uuid, or a derived one for tables without it. */
  id: string;
  /** The change-log position it came from (decimal string). */
  position: string;
  kind: EventKind;
  /** The raw modification_type (e.g. NOOP or READ map to CUSTOM). */
  rawKind: string;
  entityType: string;
  entityId: string | null;
  /** After-image; for DELETE the pre-image or {}. */
  data: Record<string, unknown>;
  /** Pre-image when the producer recorded one. */
  before: Record<string, unknown> | null;
  /** For UPDATE with a pre-image: the changed fields. */
  changes: Record<string, { old: unknown; new: unknown }> | null;
  updatedFields: string[] | null;
  tenantId: string | null;
  userId: string | null;
  /** fk_customer_org (the organisation join key), when the table has it. */
  customerOrgId?: string | null;
  actor: { type: string | null; actingFor: string | null } | null;
  /** ISO-8601 timestamps. */
  createdAt: string | null;
  commitTime: string | null;
  trace: { traceId: string | null; context: unknown } | null;
}
