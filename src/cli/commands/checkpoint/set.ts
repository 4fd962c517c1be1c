import { userInfo, hostname } from 'node:os';
import { Args } from '@oclif/core';
import { BaseCommand, Flags } from '../../base';
import { advisoryKey } from '../../../db/advisory';
import { DatabaseUnreachableError, explainConnectionError } from '../../../db/errors';
import { createPool } from '../../../db/pool';
import { setCheckpoint } from '../../../listener/checkpoint-store';

/** Result of `checkpoint set` and `checkpoint reset`. */
export interface CheckpointSetResult {
  listenerId: string;
  previous: string | null;
  position: string;
  /** Backend pid of the running leader, which adopts the new position at its next save. */
  runningLeaderPid: number | null;
}

/**
 * Move a checkpoint unconditionally. A running leader notices at its next compare-and-swap and
 * continues from the new position; rows re-read because of a backwards move are deduplicated by
 * workflow id while Temporal retains the earlier runs.
 */
export async function moveCheckpoint(url: string, listenerId: string, position: string): Promise<CheckpointSetResult> {
  const pool = createPool({ connectionString: url, max: 1, connectionTimeoutMillis: 10_000 });
  try {
    const { previous } = await setCheckpoint(pool, { listenerId, position, updatedBy: `cli:${safeUser()}@${hostname()}` });
    const key = advisoryKey('listener', listenerId);
    const { rows } = await pool.query<{ pid: number }>(
      `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = $1::oid AND objid = $2::oid AND objsubid = 1
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) LIMIT 1`,
      [key.classid, key.objid],
    );
    return { listenerId, previous, position, runningLeaderPid: rows[0]?.pid ?? null };
  } finally {
    await pool.end().catch(() => undefined);
  }
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

/** `fraiseql-observers checkpoint set`: move a listener's checkpoint to a given position. */
export default class CheckpointSet extends BaseCommand<typeof CheckpointSet> {
  static override summary = "Set a listener's checkpoint to a change-log position";
  static override description = 'Rows after the position are (re)read. Moving forward skips rows for good; moving backward re-reads them (workflow-id dedup prevents second runs while Temporal retains the first).';
  static override examples = ['<%= config.bin %> checkpoint set --listener-id orders 120345'];
  static override args = {
    position: Args.string({ required: true, description: 'change-log position (pk) already processed' }),
  };
  static override flags = {
    'database-url': Flags.string({ env: 'DATABASE_URL', description: 'PostgreSQL connection string (default: $DATABASE_URL)' }),
    'listener-id': Flags.string({ required: true, description: 'listener whose checkpoint to move' }),
  };

  public async run(): Promise<CheckpointSetResult> {
    const url = this.flags['database-url'];
    if (!url) this.error('No database given: pass --database-url or set DATABASE_URL', { exit: 2 });
    const position = this.args.position;
    if (!/^\d{1,19}$/.test(position) || BigInt(position) > 9223372036854775807n) this.error(`Position must be a non-negative integer, got ${JSON.stringify(position)}`, { exit: 2 });
    const result = await runMove(this, url, this.flags['listener-id'], BigInt(position).toString());
    return result;
  }
}

/** Shared by set and reset: move, translate connection errors, print the human summary. */
export async function runMove(cmd: BaseCommand<any>, url: string, listenerId: string, position: string): Promise<CheckpointSetResult> {
  let result: CheckpointSetResult;
  try {
    result = await moveCheckpoint(url, listenerId, position);
  } catch (err) {
    const e = explainConnectionError(err, url);
    if (e instanceof DatabaseUnreachableError) cmd.error(e.message, { exit: 2 });
    throw e;
  }
  if (!cmd.jsonEnabled()) {
    cmd.log(`Checkpoint of ${listenerId}: ${result.previous ?? '(none)'} -> ${result.position}`);
    if (result.runningLeaderPid !== null) cmd.log(`Listener ${listenerId} is running (lease backend pid ${result.runningLeaderPid}); it continues from the new position at its next checkpoint save.`);
  }
  return result;
}
