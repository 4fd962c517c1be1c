/**
 * Activities used by the workflow-tier tests. They take their dependencies (a client, the in-test arrays
 * they record into, a barrier) from {@link createActivities}, so each test wires its own fresh state.
 */
import { ApplicationFailure, Context, CancelledFailure } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { Duration } from '@temporalio/common';

/** One activity attempt as the activity saw it. */
export interface AttemptRecord {
  activity: string;
  attempt: number;
  /** Server time at which this attempt was scheduled (after any retry backoff). */
  scheduledMs: number;
  heartbeatDetails: unknown;
  /** Wall-clock time in the test process when the attempt started running. */
  startedAt: number;
}

export interface ActivityDeps {
  /** Client the activities use to signal workflows (the test environment's client). */
  client?: Client;
  /** Every attempt of every activity, in start order. */
  attempts?: AttemptRecord[];
  /** Free-form events ("start:a", "end:a", "cancelled", ...) in the order they happened. */
  events?: string[];
  /** Task tokens seen by `captureToken`. */
  tokens?: Uint8Array[];
  /** Resolves once `parties` activities are waiting on it; used to prove activities run concurrently. */
  barrier?: Barrier;
}

/** How `flaky` behaves on its failing attempts. */
export interface FlakySpec {
  /** Attempts 1..failAttempts fail; later attempts succeed. */
  failAttempts: number;
  /** ApplicationFailure type; unset → a plain Error (retryable, type "Error"). */
  errorType?: string;
  nonRetryable?: boolean;
  /** Overrides the retry policy's backoff for the next attempt. */
  nextRetryDelay?: Duration;
}

/** Attempts 1..slowAttempts take `sleepMs` (cancellable); later attempts return at once. */
export interface SlowSpec {
  slowAttempts: number;
  sleepMs: number;
}

export class Barrier {
  private arrived = 0;
  private readonly done: Promise<void>;
  private open!: () => void;

  constructor(private readonly parties: number) {
    this.done = new Promise<void>((resolve) => {
      this.open = resolve;
    });
  }

  /** Wait for all parties; rejects if they do not all arrive within `timeoutMs` (i.e. they were not concurrent). */
  async arrive(timeoutMs: number): Promise<void> {
    this.arrived += 1;
    if (this.arrived >= this.parties) this.open();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`only ${this.arrived}/${this.parties} activities were running at once`)), timeoutMs);
    });
    try {
      await Promise.race([this.done, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

export function createActivities(deps: ActivityDeps = {}) {
  const recordAttempt = (activity: string): AttemptRecord => {
    const info = Context.current().info;
    const record: AttemptRecord = {
      activity,
      attempt: info.attempt,
      scheduledMs: info.currentAttemptScheduledTimestampMs,
      heartbeatDetails: info.heartbeatDetails,
      startedAt: Date.now(),
    };
    deps.attempts?.push(record);
    return record;
  };

  return {
    async greet(name: string): Promise<string> {
      return `Hello, ${name}!`;
    },

    async record(label: string): Promise<string> {
      deps.events?.push(label);
      return label;
    },

    /** Records its start, waits until every sibling has started too, then records its end. */
    async rendezvous(id: string): Promise<string> {
      deps.events?.push(`start:${id}`);
      if (!deps.barrier) throw ApplicationFailure.nonRetryable('rendezvous needs a barrier');
      try {
        await deps.barrier.arrive(10_000);
      } catch (err) {
        throw ApplicationFailure.nonRetryable((err as Error).message, 'NotConcurrent');
      }
      deps.events?.push(`end:${id}`);
      return id;
    },

    async flaky(spec: FlakySpec): Promise<string> {
      const { attempt } = recordAttempt('flaky');
      if (attempt > spec.failAttempts) return `succeeded on attempt ${attempt}`;
      const message = `attempt ${attempt} failed`;
      if (spec.errorType === undefined && !spec.nonRetryable && spec.nextRetryDelay === undefined) throw new Error(message);
      throw ApplicationFailure.create({
        message,
        type: spec.errorType ?? 'FlakyError',
        nonRetryable: spec.nonRetryable ?? false,
        nextRetryDelay: spec.nextRetryDelay,
      });
    },

    async slow(spec: SlowSpec): Promise<string> {
      const { attempt } = recordAttempt('slow');
      if (attempt <= spec.slowAttempts) {
        try {
          await Context.current().sleep(spec.sleepMs);
        } catch (err) {
          deps.events?.push(`slow attempt ${attempt} interrupted`);
          throw err;
        }
        return `late attempt ${attempt}`;
      }
      return `attempt ${attempt}`;
    },

    /** First attempt heartbeats once and then goes silent; later attempts return the details they were given. */
    async heartbeatThenStall(details: string, stallMs: number): Promise<unknown> {
      const ctx = Context.current();
      const { attempt, heartbeatDetails } = recordAttempt('heartbeatThenStall');
      if (attempt === 1) {
        ctx.heartbeat(details);
        try {
          await ctx.sleep(stallMs);
        } catch (err) {
          deps.events?.push('stalled attempt interrupted');
          throw err;
        }
        return 'stalled attempt finished';
      }
      return heartbeatDetails;
    },

    /** First attempt heartbeats each value then fails; later attempts return the details they were given. */
    async heartbeatThenFail(values: number[]): Promise<unknown> {
      const ctx = Context.current();
      const { attempt, heartbeatDetails } = recordAttempt('heartbeatThenFail');
      if (attempt === 1) {
        for (const value of values) ctx.heartbeat(value);
        throw new Error('failing after heartbeats');
      }
      return heartbeatDetails;
    },

    /** Tells its workflow it is running, then heartbeats until cancelled. */
    async heartbeatUntilCancelled(): Promise<string> {
      const ctx = Context.current();
      recordAttempt('heartbeatUntilCancelled');
      const execution = ctx.info.workflowExecution;
      if (!deps.client || !execution) throw ApplicationFailure.nonRetryable('needs a client and a workflow');
      await deps.client.workflow.getHandle(execution.workflowId, execution.runId).signal('activityStarted');
      try {
        for (let i = 0; i < 150; i += 1) {
          ctx.heartbeat(i);
          await ctx.sleep(200);
        }
      } catch (err) {
        if (err instanceof CancelledFailure) deps.events?.push(`cancelled: ${err.message}`);
        throw err;
      }
      return 'never cancelled';
    },

    /** Signals the calling workflow with `value` (the signal lands while the workflow may be mid-task). */
    async signalWorkflow(value: string): Promise<string> {
      const execution = Context.current().info.workflowExecution;
      if (!deps.client || !execution) throw ApplicationFailure.nonRetryable('needs a client and a workflow');
      await deps.client.workflow.getHandle(execution.workflowId, execution.runId).signal('add', value);
      return `signalled ${value}`;
    },

    async captureToken(value: string): Promise<string> {
      deps.tokens?.push(Context.current().info.taskToken);
      return value;
    },
  };
}

export type TestActivities = ReturnType<typeof createActivities>;
