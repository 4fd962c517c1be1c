/**
 * An in-memory WorkflowStarter that rejects a second start of the same workflow id, as Temporal
 * does while a run is open or retained. Tests share one instance across listener instances to
 * model the cluster; the benchmark uses it to measure the listener without Temporal.
 */
import type { StartDecision, WorkflowStarter } from './types';

/** One accepted start. */
export interface RecordedStart {
  workflowId: string;
  decision: StartDecision;
  /** performance.now() at acceptance, for latency measurements. */
  at: number;
}

/** Options of {@link RecordingStarter}. */
export interface RecordingStarterOptions {
  /** Called before each start is decided; may delay (await) or throw to simulate failures. */
  beforeStart?: (workflowId: string) => Promise<void> | void;
  /** Called after a start is accepted (not for duplicates). */
  onStarted?: (start: RecordedStart) => void;
}

/** In-memory starter with workflow-id dedup. */
export class RecordingStarter implements WorkflowStarter {
  private readonly byId = new Map<string, RecordedStart>();
  /** Starts answered 'duplicate'. */
  duplicates = 0;
  /** Every call, including duplicates and failures. */
  attempts = 0;

  constructor(private readonly options: RecordingStarterOptions = {}) {}

  /** Start a workflow unless one with this id was already started. */
  async start(workflowId: string, decision: StartDecision): Promise<'started' | 'duplicate'> {
    this.attempts++;
    if (this.options.beforeStart) await this.options.beforeStart(workflowId);
    if (this.byId.has(workflowId)) {
      this.duplicates++;
      return 'duplicate';
    }
    const rec: RecordedStart = { workflowId, decision, at: performance.now() };
    this.byId.set(workflowId, rec);
    this.options.onStarted?.(rec);
    return 'started';
  }

  /** Accepted starts, in acceptance order. */
  get starts(): RecordedStart[] {
    return [...this.byId.values()];
  }

  /** Number of distinct workflows started. */
  get size(): number {
    return this.byId.size;
  }

  /** The accepted start of `workflowId`, if any. */
  get(workflowId: string): RecordedStart | undefined {
    return this.byId.get(workflowId);
  }
}
