/**
 * `checkpoint show|set|reset` against a real PostgreSQL: an unmigrated database gets "run migrate
 * first" (never the raw driver error, nor its C file and line under --json); `set` past the head
 * needs --force, an unknown listener id needs --create; and a running leader follows a moved
 * checkpoint at once instead of waiting for a save to fail its compare-and-swap.
 */
import path from 'node:path';
import pino from 'pino';
import CheckpointReset from '../../src/cli/commands/checkpoint/reset';
import CheckpointSet, { type CheckpointSetResult } from '../../src/cli/commands/checkpoint/set';
import CheckpointShow from '../../src/cli/commands/checkpoint/show';
import { migrate } from '../../src/db/migrate';
import { ChangeLogListener, RecordingStarter } from '../../src/listener';
import { createTestDatabase, insertChanges, stubRowHandler, waitFor, type TestDatabase } from '../helpers/pg';
import { runCommand } from '../helpers/run-command';

jest.setTimeout(90_000);
const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

beforeAll(() => {
  // See migrate.test.ts: keeps oclif's Config.load away from a dynamic import Jest cannot run.
  const oclifOs = require(path.join(path.dirname(require.resolve('@oclif/core')), 'util/os.js'));
  jest.spyOn(oclifOs, 'getPlatform').mockResolvedValue(process.platform);
});
afterEach(() => {
  // oclif sets the exit code of a failed command on this (shared) process.
  process.exitCode = undefined;
});


describe('checkpoint commands on a database that was never migrated', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('cp_unmigrated');
  });
  afterAll(async () => {
    await db.drop();
  });

  it.each([
    ['show', CheckpointShow, []],
    ['set', CheckpointSet, ['--listener-id', 'orders', '5']],
    ['reset', CheckpointReset, ['--listener-id', 'orders', '--force']],
  ] as const)('checkpoint %s says to run migrate first (exit 3), also with --json', async (_name, cmd, args) => {
    const plain = await runCommand(cmd, ['--database-url', db.url, ...args]);
    expect(plain.error?.message).toMatch(/^The table observer_checkpoints does not exist in 127\.0\.0\.1:5432\/fo_cp_unmigrated\S*: run `fraiseql-observers migrate` first$/);
    expect(plain.error?.oclif?.exit).toBe(3);
    const json = await runCommand(cmd, ['--database-url', db.url, ...args, '--json']);
    const printed = JSON.parse(json.stdout) as { error: Record<string, unknown> };
    expect(printed.error.message).toMatch(/run `fraiseql-observers migrate` first$/);
    // Nothing of the driver error: no SQLSTATE, no C source file and line.
    expect(Object.keys(printed.error).sort()).toEqual(['exitCode', 'message', 'name', 'oclif']);
  });
});

describe('checkpoint set / reset', () => {
  let db: TestDatabase;
  let listener: ChangeLogListener;
  const starter = new RecordingStarter();

  beforeAll(async () => {
    db = await createTestDatabase('cp_move');
    await migrate({ pool: db.pool });
    listener = new ChangeLogListener({
      connectionString: db.url, listenerId: 'orders', handler: stubRowHandler, starter, logger, pollIntervalMs: 1000, checkpointIntervalMs: 10,
    });
    await listener.start();
  });
  afterAll(async () => {
    await listener.stop();
    await db.drop();
  });

  it('refuses an unknown listener id unless --create, naming the known ones', async () => {
    await waitFor('the leader to create its checkpoint', () => listener.status().checkpoint !== null);
    const typo = await runCommand(CheckpointSet, ['--database-url', db.url, '--listener-id', 'ordres', '0']);
    expect(typo.error?.message).toBe('--listener-id: listener "ordres" has no checkpoint in this database (known: orders); pass --create to create one');
    expect(typo.error?.oclif?.exit).toBe(1);
    const reset = await runCommand(CheckpointReset, ['--database-url', db.url, '--listener-id', 'ordres', '--force']);
    expect(reset.error?.oclif?.exit).toBe(1);
    const created = await runCommand<CheckpointSetResult>(CheckpointSet, ['--database-url', db.url, '--listener-id', 'ordres', '--create', '0', '--json']);
    expect(created.error).toBeUndefined();
    expect(created.result).toMatchObject({ listenerId: 'ordres', previous: null, position: '0', created: true });
  });

  it('refuses a position past the head without --force; a running leader follows every move at once', async () => {
    const first = await insertChanges(db.pool, 3);
    const head = first[2] as string;
    await waitFor('the first rows behind the checkpoint', () => listener.status().checkpoint === head);

    const past = await runCommand(CheckpointSet, ['--database-url', db.url, '--listener-id', 'orders', '999']);
    expect(past.error?.message).toBe(
      `position 999 is past the head of core.tb_entity_change_log (${head}): the listener would skip every row written until the table gets there. Pass --force if that is what you want.`,
    );
    expect(past.error?.oclif?.exit).toBe(2);

    const forced = await runCommand<CheckpointSetResult>(CheckpointSet, ['--database-url', db.url, '--listener-id', 'orders', '999', '--force', '--json']);
    expect(forced.result).toMatchObject({ previous: head, position: '999', head, runningLeaderPid: expect.any(Number) });
    // Caught up, the leader saves nothing: it must see the move in the table, not through a failed save.
    await waitFor('the leader to adopt 999', () => listener.status().checkpoint === '999', 10_000);

    const back = await runCommand(CheckpointSet, ['--database-url', db.url, '--listener-id', 'orders', head]);
    expect(back.error).toBeUndefined();
    expect(back.stdout).toContain(`Checkpoint of orders: 999 -> ${head}`);
    await waitFor('the leader to adopt the move back', () => listener.status().checkpoint === head, 10_000);
    const [next] = await insertChanges(db.pool, 1);
    await waitFor('the next row to be started and saved', () => listener.status().checkpoint === next, 10_000);
    expect(starter.starts.map((s) => s.decision.kind === 'start' && s.decision.event.position)).toContain(next);
  });
});
