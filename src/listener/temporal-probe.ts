/**
 * Short-lived Temporal access for the operator commands (`status`, `debug-event`): connect with a
 * short timeout, run a few visibility or describe calls under a deadline, always close. An
 * unreachable server is a result ({ reachable: false, error }), never an exception, because these
 * commands must still report what the database knows.
 */
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { ObserversError } from '../errors';
import type { TemporalSecurity } from '../temporal/connection';
import { PROCESS_CHANGE_EVENT } from '../contract';
import { openTemporal, type AddressSource, type TemporalSession } from '../temporal/connect';
import { countDlqEntries } from '../dlq/entries';

/** Outcome of a probe: the value, or why Temporal could not be used. */
export type Probe<T> = { reachable: true; address: string; namespace: string; value: T } | { reachable: false; address: string; namespace: string; error: string };

/** Options of {@link probeTemporal}. */
export interface ProbeOptions {
  address: string;
  namespace: string;
  /** Connection and per-probe deadline (default 2000 ms). */
  timeoutMs?: number;
  /** TLS / API key for a real cluster (`temporalSecurity(env)`), as every other connection of the service. */
  security?: TemporalSecurity;
  /** How the address was chosen, for the message when nothing answers. */
  source?: AddressSource;
}

/**
 * Connect to Temporal and run `fn` with a client, within `timeoutMs`. Any failure — refused
 * connection, timeout, unknown namespace — becomes `{ reachable: false, error }`.
 */
export async function probeTemporal<T>(o: ProbeOptions, fn: (client: Client) => Promise<T>): Promise<Probe<T>> {
  const timeoutMs = o.timeoutMs ?? 2000;
  const base = { address: o.address, namespace: o.namespace };
  let session: TemporalSession | null = null;
  try {
    // The same connection (and the same errors) as every other command: src/temporal/connect.ts.
    session = await openTemporal({ address: o.address, namespace: o.namespace, security: o.security ?? {}, connectTimeoutMs: timeoutMs, source: o.source });
    const s = session;
    const value = await s.connection.withDeadline(Date.now() + timeoutMs, () => fn(s.client));
    return { reachable: true, ...base, value };
  } catch (err) {
    return { reachable: false, ...base, error: err instanceof ObserversError ? err.message : describeTemporalError(err, o.address, timeoutMs) };
  } finally {
    await session?.close().catch(() => undefined);
  }
}

/** Open `processChangeEvent` runs, and dead-letter entries as `dlq list` and `observer_dlq_size` count them. */
export interface WorkflowCounts {
  open: number;
  /** Dead-letter entries: failed runs not replaced by a later run of their id (src/dlq/entries.ts). */
  dlqEntries: number;
}

/** Count open runs and dead-letter entries through visibility. */
export async function countChangeEventWorkflows(client: Client): Promise<WorkflowCounts> {
  const [open, dlqEntries] = await Promise.all([
    client.workflow.count(`WorkflowType = '${PROCESS_CHANGE_EVENT}' AND ExecutionStatus = 'Running'`),
    countDlqEntries(client),
  ]);
  return { open: open.count, dlqEntries };
}

/** What Temporal knows of one workflow id. */
export type WorkflowState =
  | { found: false }
  | { found: true; runId: string; status: string; type: string; taskQueue: string; startTime: string; closeTime: string | null; historyLength: number };

/** Describe the latest run of `workflowId`, or `{ found: false }`. */
export async function describeWorkflow(client: Client, workflowId: string): Promise<WorkflowState> {
  try {
    const d = await client.workflow.getHandle(workflowId).describe();
    return {
      found: true,
      runId: d.runId,
      status: d.status.name,
      type: d.type,
      taskQueue: d.taskQueue,
      startTime: d.startTime.toISOString(),
      closeTime: d.closeTime ? d.closeTime.toISOString() : null,
      historyLength: d.historyLength,
    };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return { found: false };
    throw err;
  }
}

function describeTemporalError(err: unknown, address: string, timeoutMs: number): string {
  const e = err as { message?: unknown; code?: unknown; details?: unknown; name?: unknown };
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (/deadline|timed? ?out|timeout/i.test(message) || e?.code === 4) return `no answer from Temporal at ${address} within ${timeoutMs} ms (not running there, or too slow)`;
  if (/ECONNREFUSED|UNAVAILABLE|No connection established|14 /i.test(message) || e?.code === 14) return `cannot connect to Temporal at ${address} (connection refused or unavailable)`;
  return `Temporal at ${address}: ${message}`;
}
