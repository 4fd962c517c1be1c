/** Checkpoint store: compare-and-swap, leader fencing, history, and the checkpoint CLI commands. */
import path from 'node:path';
import { Client } from 'pg';
import { advisoryKey } from '../../src/db/advisory';
import { migrate } from '../../src/db/migrate';
import {
  checkpointHistory, compareAndSwapCheckpoint, ensureCheckpoint, pruneCheckpointHistory, readCheckpoint,
  recordCheckpointError, setCheckpoint,
} from '../../src/listener/checkpoint-store';
import CheckpointShow from '../../src/cli/commands/checkpoint/show';
import CheckpointSet from '../../src/cli/commands/checkpoint/set';
import CheckpointReset from '../../src/cli/commands/checkpoint/reset';
import { createTestDatabase, insertChanges, type TestDatabase } from '../helpers/pg';
import { runCommand } from '../helpers/run-command';

jest.setTimeout(90_000);

beforeAll(() => {
  // See migrate.test.ts: keeps oclif's Config.load away from a dynamic import Jest cannot run.
  const oclifOs = require(path.join(path.dirname(require.resolve('@oclif/core')), 'util/os.js'));
  jest.spyOn(oclifOs, 'getPlatform').mockResolvedValue(process.platform);
});


describe('checkpoint store', () => {
  let db: TestDatabase;
  const sessions: Client[] = [];
  async function session(): Promise<Client> {
    const c = new Client({ connectionString: db.url });
    await c.connect();
    sessions.push(c);
    return c;
  }

  beforeAll(async () => {
    db = await createTestDatabase('checkpoint');
    await migrate({ pool: db.pool });
  });
  afterAll(async () => {
    await Promise.all(sessions.map((s) => s.end().catch(() => undefined)));
    await db.drop();
  });

  it('creates a checkpoint at 0 once and moves it only by compare-and-swap', async () => {
    const cp = await ensureCheckpoint(db.pool, { listenerId: 'cas', batchSize: 100, updatedBy: 'test' });
    expect(cp.lastProcessedId).toBe('0');
    expect((await ensureCheckpoint(db.pool, { listenerId: 'cas', batchSize: 100, updatedBy: 'test' })).lastProcessedId).toBe('0');

    const base = { listenerId: 'cas', eventCount: 5, batchSize: 100, updatedBy: 'a' };
    expect(await compareAndSwapCheckpoint(db.pool, { ...base, expected: '0', next: '10' })).toEqual({ outcome: 'saved' });
    // A second writer still expecting 0 loses and learns the current value.
    expect(await compareAndSwapCheckpoint(db.pool, { ...base, expected: '0', next: '7', updatedBy: 'b' })).toEqual({ outcome: 'conflict', current: '10' });
    expect((await readCheckpoint(db.pool, 'cas'))?.lastProcessedId).toBe('10');

    // Concurrent CAS from the same expectation: exactly one wins.
    const racers = await Promise.all([11, 12, 13, 14].map((n) => compareAndSwapCheckpoint(db.pool, { ...base, expected: '10', next: String(n) })));
    expect(racers.filter((r) => r.outcome === 'saved')).toHaveLength(1);
  });

  it('refuses a save from a session that does not hold the leader lock (fencing)', async () => {
    const key = advisoryKey('listener', 'fenced');
    const leader = await session();
    const deposed = await session();
    await ensureCheckpoint(db.pool, { listenerId: 'fenced', batchSize: 100, updatedBy: 'test' });
    await leader.query('SELECT pg_advisory_lock($1::bigint)', [key.key]);
    const base = { listenerId: 'fenced', eventCount: 1, batchSize: 100, updatedBy: 't', fence: key };
    expect(await compareAndSwapCheckpoint(leader, { ...base, expected: '0', next: '5' })).toEqual({ outcome: 'saved' });
    // Right expectation, but this session is not the lock holder.
    expect(await compareAndSwapCheckpoint(deposed, { ...base, expected: '5', next: '9' })).toEqual({ outcome: 'fenced' });
    await recordCheckpointError(deposed, { listenerId: 'fenced', message: 'nope', updatedBy: 't', fence: key });
    expect((await readCheckpoint(db.pool, 'fenced'))?.consecutiveErrors).toBe(0);

    await leader.query('SELECT pg_advisory_unlock($1::bigint)', [key.key]);
    await deposed.query('SELECT pg_advisory_lock($1::bigint)', [key.key]);
    expect(await compareAndSwapCheckpoint(leader, { ...base, expected: '5', next: '9' })).toEqual({ outcome: 'fenced' });
    expect(await compareAndSwapCheckpoint(deposed, { ...base, expected: '5', next: '9' })).toEqual({ outcome: 'saved' });
    await deposed.query('SELECT pg_advisory_unlock_all()');
  });

  it('keeps a history of every move, not of error bookkeeping, and prunes it', async () => {
    await ensureCheckpoint(db.pool, { listenerId: 'hist', batchSize: 100, updatedBy: 'creator' });
    await compareAndSwapCheckpoint(db.pool, { listenerId: 'hist', expected: '0', next: '3', eventCount: 3, batchSize: 100, updatedBy: 'l1' });
    await recordCheckpointError(db.pool, { listenerId: 'hist', message: 'start failed', updatedBy: 'l1' });
    expect((await readCheckpoint(db.pool, 'hist'))).toMatchObject({ consecutiveErrors: 1, lastError: 'start failed' });
    await compareAndSwapCheckpoint(db.pool, { listenerId: 'hist', expected: '3', next: '8', eventCount: 5, batchSize: 100, updatedBy: 'l1' });
    expect((await readCheckpoint(db.pool, 'hist'))?.consecutiveErrors).toBe(0);
    expect((await setCheckpoint(db.pool, { listenerId: 'hist', position: '2', updatedBy: 'operator' })).previous).toBe('8');

    const h = await checkpointHistory(db.pool, 'hist');
    expect(h.map((r) => [r.operation, r.previousId, r.lastProcessedId, r.updatedBy])).toEqual([
      ['UPDATE', '8', '2', 'operator'],
      ['UPDATE', '3', '8', 'l1'],
      ['UPDATE', '0', '3', 'l1'],
      ['INSERT', null, '0', 'creator'],
    ]);
    await db.pool.query(`UPDATE observer_checkpoint_history SET changed_at = now() - interval '10 days' WHERE listener_id = 'hist' AND operation = 'INSERT'`);
    expect(await pruneCheckpointHistory(db.pool, 'hist', 7 * 86_400)).toBe(1);
  });

  it('checkpoint set / show / reset commands', async () => {
    await insertChanges(db.pool, 25);
    const set = await runCommand<{ previous: string | null; position: string }>(CheckpointSet, ['--database-url', db.url, '--listener-id', 'cli', '--create', '20', '--json']);
    expect(set.error).toBeUndefined();
    expect(set.result).toMatchObject({ previous: null, position: '20', runningLeaderPid: null });

    const show = await runCommand<{ checkpoints: Array<{ listenerId: string; lastProcessedId: string; lag: string }> }>(CheckpointShow, ['--database-url', db.url, '--listener-id', 'cli', '--json']);
    expect(show.result?.checkpoints).toEqual([expect.objectContaining({ listenerId: 'cli', lastProcessedId: '20', lag: '5', head: '25' })]);

    const human = await runCommand(CheckpointShow, ['--database-url', db.url]);
    expect(human.stdout).toMatch(/cli\s+│\s+20\s+│\s+5/);

    const bad = await runCommand(CheckpointSet, ['--database-url', db.url, '--listener-id', 'cli', '-3']);
    expect(bad.error?.message).toBeDefined();
    const refused = await runCommand(CheckpointReset, ['--database-url', db.url, '--listener-id', 'cli']);
    expect(refused.error?.message).toMatch(/re-read the whole change log.*--force/);
    const reset = await runCommand(CheckpointReset, ['--database-url', db.url, '--listener-id', 'cli', '--force']);
    expect(reset.stdout).toContain('Checkpoint of cli: 20 -> 0');
    expect((await readCheckpoint(db.pool, 'cli'))?.lastProcessedId).toBe('0');

    const unknown = await runCommand(CheckpointShow, ['--database-url', db.url, '--listener-id', 'nobody']);
    expect(unknown.error?.message).toBe('--listener-id: listener "nobody" has no checkpoint yet');
    const down = await runCommand(CheckpointShow, ['--database-url', 'postgres://u:pw@127.0.0.1:1/db']);
    expect(down.error?.message).toBe('Cannot reach PostgreSQL at 127.0.0.1:1/db: ECONNREFUSED');
  });
});
