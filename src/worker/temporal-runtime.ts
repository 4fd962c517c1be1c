/**
 * The Temporal SDK's process-wide Runtime, set up once by the entry point: SDK and core logs go
 * through the service's pino logger (JSON on stdout), and the SDK does not install its own
 * SIGINT/SIGTERM handlers, because `start` shuts the listener down before the worker.
 */
import type { LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';
import { Runtime } from '@temporalio/worker';
import type { Logger } from 'pino';

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error',
};

// The SDK's own lifecycle lines, which it logs with the workflow's component too.
const SDK_LIFECYCLE = /^(Workflow|Activity) (started|completed|failed|continued as new|cancelled|heartbeat)/i;

/** An error as log fields: pino writes an Error under any key but `err` as `{}`. */
function errorFields(err: Error): { type: string; message: string } {
  const type = (err as { type?: unknown }).type;
  return { type: typeof type === 'string' && type !== '' ? type : err.name, message: err.message };
}

/**
 * A Temporal `Logger` writing to pino; the SDK's metadata (workflow id, run id, ...) becomes fields.
 *
 * The SDK's own lines (worker, activity, core: "Activity failed", "Workflow failed", state changes)
 * go to debug: the service already logs one line per failed attempt with its error type and
 * message, so at info they would only say the same thing twice. Lines of our workflow code
 * (`sdkComponent: workflow`, e.g. "action X failed (dlq)") keep their level.
 */
export function temporalLogger(log: Logger): TemporalLogger {
  const write = (level: LogLevel, message: string, meta?: LogMetadata) => {
    const fields: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(meta ?? {})) {
      // Rename the SDK's camelCase ids to the snake_case fields the rest of the service logs.
      fields[k === 'workflowId' ? 'workflow_id' : k === 'runId' ? 'run_id' : k] = v instanceof Error ? errorFields(v) : v;
    }
    const own = fields.sdkComponent === 'workflow' && !SDK_LIFECYCLE.test(message);
    log[own ? (LEVELS[level] ?? 'info') : 'debug'](fields, message);
  };
  return {
    log: write,
    trace: (m, meta) => write('TRACE', m, meta),
    debug: (m, meta) => write('DEBUG', m, meta),
    info: (m, meta) => write('INFO', m, meta),
    warn: (m, meta) => write('WARN', m, meta),
    error: (m, meta) => write('ERROR', m, meta),
  };
}

/**
 * Installs the Runtime. Call before the first connection is opened.
 *
 * @returns false when a Runtime already exists in this process (its settings stay as they are).
 */
export function installTemporalRuntime(log: Logger, coreLevel: 'WARN' | 'INFO' | 'ERROR' = 'WARN'): boolean {
  try {
    Runtime.install({
      logger: temporalLogger(log.child({ component: 'temporal-sdk' })),
      shutdownSignals: [],
      telemetryOptions: { logging: { forward: {}, filter: { core: coreLevel, other: 'ERROR' } } },
    });
    return true;
  } catch {
    return false;
  }
}
