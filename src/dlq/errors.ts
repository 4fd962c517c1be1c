/**
 * Errors of the dead-letter queue commands. Each carries a message an operator can act on; the
 * CLI prints it as is and picks the exit code from the class.
 */
import { EXIT_CODES, ObserversError, type ExitCode } from '../errors';

/** Base class of the DLQ module's errors. */
export class DlqError extends ObserversError {}

/** A filter or option is malformed; `flag` names the CLI flag it came from (e.g. `--since`). */
export class DlqInputError extends DlqError {
  override readonly exitCode: ExitCode = EXIT_CODES.usage;
  constructor(
    readonly flag: string,
    problem: string,
  ) {
    super(`${flag}: ${problem}`);
  }
}

/** No workflow with that id, or no failed run of it, is retained by Temporal. */
export class DlqNotFoundError extends DlqError {
  constructor(
    readonly workflowId: string,
    message: string,
  ) {
    super(message);
  }
}

/** Why a DLQ retry was refused. */
export type RetryRefusal =
  /** The latest run is still running (a retry in progress, or the first run has not finished). */
  | 'running'
  /** The latest run completed (already retried successfully, or it never failed). */
  | 'completed'
  /** The latest run ended another way (terminated, cancelled, timed out, continued as new). */
  | 'not_failed'
  /** The run failed, but not with an `ActionsFailed` summary, so there is nothing safe to re-run. */
  | 'not_dlq_entry'
  /** Another retry started this workflow id between our check and our start. */
  | 'already_retrying'
  /** With the current config, no action of the event is left to run. */
  | 'nothing_to_run';

/** `dlq retry` refused to start a run, so that no action ever runs twice. */
export class DlqRetryRefusedError extends DlqError {
  constructor(
    readonly workflowId: string,
    readonly reason: RetryRefusal,
    message: string,
  ) {
    super(message);
  }
}
