/** Workflow ids of change events, as the listener derives them (`<prefix>:<event id>`). */

/** The listener's default workflow id prefix (`WORKFLOW_ID_PREFIX`). */
export const DEFAULT_WORKFLOW_ID_PREFIX = 'fraiseql-event';

/**
 * The workflow id for what a person typed: a workflow id as is, or a bare event id with the
 * prefix added. Event ids are UUIDs (no `:`), and every workflow id this service starts contains
 * one, so a `:` tells the two apart even when the prefix is not the configured one.
 */
export function toWorkflowId(id: string, prefix: string = DEFAULT_WORKFLOW_ID_PREFIX): string {
  const trimmed = id.trim();
  if (trimmed.startsWith(`${prefix}:`) || trimmed.includes(':')) return trimmed;
  return `${prefix}:${trimmed}`;
}

/** The event id inside a workflow id (the part after the prefix), or null when it has none. */
export function eventIdOf(workflowId: string, prefix: string = DEFAULT_WORKFLOW_ID_PREFIX): string | null {
  if (workflowId.startsWith(`${prefix}:`)) return workflowId.slice(prefix.length + 1) || null;
  const cut = workflowId.lastIndexOf(':');
  return cut >= 0 && cut < workflowId.length - 1 ? workflowId.slice(cut + 1) : null;
}
