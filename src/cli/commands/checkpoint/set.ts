import { userInfo, hostname } from 'node:os';
import { Args } from '@oclif/core';
import { BaseCommand, Flags } from '../../base';
import { databaseFlags, tableFlags } from '../../flags';
import { advisoryKey } from '../../../db/advisory';
import { explainConnectionError } from '../../../db/errors';
import { createPool, type Queryable } from '../../../db/pool';
import { quoteIdent } from '../../../db/identifiers';
import { ObserversError, UsageError } from '../../../errors';
import { listCheckpoints, readCheckpoint, setCheckpoint } from '../../../listener/checkpoint-store';
import { inspectChangeLogTable } from '../../../listener/table-info';
import type { CommandSettings } from '../../../listener/settings';

/** Result of `checkpoint set` and `checkpoint reset`. */
export interface CheckpointSetResult {
  listenerId: string;
  previous: string | null;
  position: string;
  /** The change log's highest position when the checkpoint was moved (null: empty table). */
  head: string | null;
  /** True when the checkpoint row was created by this command (`--create`). */
  created: boolean;
  /** Backend pid of the running leader, which follows the new position at its next read. */
  runningLeaderPid: number | null;
}

/** No checkpoint exists for that listener id (a typo, usually): exit 1 unless `--create`. */
export class UnknownListenerError extends ObserversError {}

/** What a move may do; both guard against typos that would silently skip or strand rows. */
export interface MoveOptions {
  /** Allow a position past the change log's head. */
  force: boolean;
  /** Allow creating the checkpoint of a listener id that has none. */
  create: boolean;
}

// The channel the listener LISTENs on: any notification wakes it, so it reads the moved checkpoint at once.
const WAKE_CHANNEL = 'fraiseql_events';

async function changeLogHead(q: Queryable, table: string): Promise<string | null> {
  const info = await inspectChangeLogTable(q, table, WAKE_CHANNEL);
  const { rows } = await q.query<{ head: string | null }>(`SELECT max(${quoteIdent(info.cursorColumn)})::text AS head FROM ${info.sql}`);
  return rows[0]?.head ?? null;
}

/**
 * Move a checkpoint after checking it against the change log and the known listeners. A running
 * leader reads the stored checkpoint with every read of the change log and follows a move within
 * one poll interval (the NOTIFY sent here wakes it at once); rows re-read because of a backwards
 * move are deduplicated by workflow id while Temporal retains the earlier runs.
 *
 * @throws UsageError for a position past the head without `force`
 * @throws UnknownListenerError for a listener id without a checkpoint, without `create`
 */
export async function moveCheckpoint(s: CommandSettings, listenerId: string, position: string, options: MoveOptions): Promise<CheckpointSetResult> {
  const pool = createPool({ connectionString: s.databaseUrl, max: 1, connectionTimeoutMillis: 10_000 });
  try {
    const existing = await readCheckpoint(pool, listenerId);
    if (!existing && !options.create) {
      const known = (await listCheckpoints(pool)).map((c) => c.listenerId);
      throw new UnknownListenerError(
        `--listener-id: listener ${JSON.stringify(listenerId)} has no checkpoint in this database ` +
          `(known: ${known.length > 0 ? known.join(', ') : 'none'}); pass --create to create one`,
      );
    }
    const head = await changeLogHead(pool, s.changeLogTable.qualified);
    if (BigInt(position) > BigInt(head ?? '0') && !options.force) {
      throw new UsageError(
        `position ${position} is past the head of ${s.changeLogTable.qualified} (${head ?? 'empty table'}): the listener would skip every row ` +
          `written until the table gets there. Pass --force if that is what you want.`,
      );
    }
    const { previous } = await setCheckpoint(pool, { listenerId, position, updatedBy: `cli:${safeUser()}@${hostname()}` });
    await pool.query('SELECT pg_notify($1, $2)', [WAKE_CHANNEL, `checkpoint:${listenerId}`]);
    const key = advisoryKey('listener', listenerId);
    const { rows } = await pool.query<{ pid: number }>(
      `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = $1::oid AND objid = $2::oid AND objsubid = 1
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) LIMIT 1`,
      [key.classid, key.objid],
    );
    return { listenerId, previous, position, head, created: existing === null, runningLeaderPid: rows[0]?.pid ?? null };
  } catch (err) {
    throw explainConnectionError(err, s.databaseUrl);
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

/** Flags of `checkpoint set` and `checkpoint reset`. */
export const moveFlags = {
  ...databaseFlags,
  ...tableFlags,
  'listener-id': Flags.string({ required: true, description: 'listener whose checkpoint to move (LISTENER_ID of its `start`)' }),
  create: Flags.boolean({ default: false, description: 'create the checkpoint when this listener id has none (otherwise refused: usually a typo)' }),
};

/** `fraiseql-observers checkpoint set`: move a listener's checkpoint to a given position. */
export default class CheckpointSet extends BaseCommand<typeof CheckpointSet> {
  static override summary = "Set a listener's checkpoint to a change-log position";
  static override description =
    'Rows after the position are (re)read. Moving forward skips rows for good; moving backward re-reads them (workflow-id dedup prevents ' +
    'second runs while Temporal retains the first). A running leader follows the move within one poll interval. A position past the ' +
    "change log's head needs --force; a listener id without a checkpoint needs --create.";
  static override examples = ['<%= config.bin %> checkpoint set --listener-id orders 120345', '<%= config.bin %> checkpoint set --listener-id new-one --create 0'];
  static override args = {
    position: Args.string({ required: true, description: 'change-log position (pk) already processed' }),
  };
  static override flags = {
    ...moveFlags,
    force: Flags.boolean({ default: false, description: "allow a position past the change log's head" }),
  };

  public async run(): Promise<CheckpointSetResult> {
    const s = this.settings();
    const position = this.args.position;
    if (!/^\d{1,19}$/.test(position) || BigInt(position) > 9223372036854775807n) throw new UsageError(`argument POSITION: must be a non-negative integer, got ${JSON.stringify(position)}`);
    const result = await moveCheckpoint(s, this.flags['listener-id'], BigInt(position).toString(), { force: this.flags.force, create: this.flags.create });
    printMove(this, result);
    return result;
  }
}

/** The human summary of a move (nothing under --json). */
export function printMove(cmd: BaseCommand<any>, result: CheckpointSetResult): void {
  if (cmd.jsonEnabled()) return;
  cmd.log(`Checkpoint of ${result.listenerId}: ${result.previous ?? '(none, created)'} -> ${result.position} (change-log head ${result.head ?? 'none'})`);
  if (result.runningLeaderPid !== null) cmd.log(`Listener ${result.listenerId} is running (lease backend pid ${result.runningLeaderPid}); it continues from the new position at its next read.`);
}
