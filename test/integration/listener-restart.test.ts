/**
 * Restart at any point: while writers keep committing (out of order, with rollbacks), listener
 * instances are killed abruptly again and again, mid-batch with starts in flight. The starter is
 * shared across instances, as Temporal is, so it deduplicates re-read rows by workflow id.
 * Afterwards every committed row has exactly one workflow and none is missing.
 */
import pino from 'pino';
import { Client } from 'pg';
import { migrate } from '../../src/db/migrate';
import { ChangeLogListener, RecordingStarter, readCheckpoint } from '../../src/listener';
import { createTestDatabase, stubRowHandler, waitFor, type TestDatabase } from '../helpers/pg';

jest.setTimeout(180_000);
const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('listener: restart at any point', () => {
  let db: TestDatabase;
  // Run even when a test fails, so a failure never leaves listeners or loops running.
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  const clients: Client[] = [];
  beforeAll(async () => {
    db = await createTestDatabase('restart');
    await migrate({ pool: db.pool });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    await db.drop();
  });

  it('loses nothing and starts nothing twice across many abrupt kills', async () => {
    const committed = new Map<string, string>(); // event id -> pk
    const rolledBack = new Set<string>();
    let writing = true;
    cleanups.push(() => {
      writing = false;
    });
    const writers = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const c = new Client({ connectionString: db.url });
        await c.connect();
        clients.push(c);
        return c;
      }),
    );
    const writing$ = Promise.all(
      writers.map(async (c) => {
        while (writing) {
          await c.query('BEGIN');
          const { rows } = await c.query<{ pk: string; id: string }>(
            `INSERT INTO core.tb_entity_change_log (object_type, modification_type, object_id, object_data)
             SELECT 'Order', 'INSERT', gen_random_uuid(), '{}'::jsonb FROM generate_series(1, 1 + (random() * 3)::int)
             RETURNING pk_entity_change_log::text AS pk, id::text AS id`,
          );
          await sleep(Math.floor(Math.random() * 30));
          if (Math.random() < 0.1) {
            await c.query('ROLLBACK');
            for (const r of rows) rolledBack.add(r.id);
          } else {
            await c.query('COMMIT');
            for (const r of rows) committed.set(r.id, r.pk);
          }
        }
      }),
    );

    // Starts take a little time, so kills land with starts in flight and batches half dispatched.
    const starter = new RecordingStarter({ beforeStart: () => sleep(Math.random() < 0.3 ? 2 : 0) });
    const options = {
      connectionString: db.url, listenerId: 'restart', handler: stubRowHandler, starter, logger,
      pollIntervalMs: 20, batchSize: 25, checkpointIntervalMs: 10, maxStartsInFlight: 8, rejoinDelayMs: 0,
    };
    const checkpoints: bigint[] = [];
    for (let round = 0; round < 15; round++) {
      const l = new ChangeLogListener(options);
      cleanups.push(() => l.kill());
      await l.start();
      await l.whenLeader(10_000);
      await sleep(50 + Math.floor(Math.random() * 250));
      await l.kill();
      checkpoints.push(BigInt((await readCheckpoint(db.pool, 'restart'))?.lastProcessedId ?? '0'));
    }
    writing = false;
    await writing$;

    const final = new ChangeLogListener(options);
    cleanups.push(() => final.kill());
    await final.start();
    const maxCommitted = [...committed.values()].map(BigInt).reduce((a, b) => (a > b ? a : b), 0n);
    await waitFor('final listener to catch up', async () => BigInt((await readCheckpoint(db.pool, 'restart'))?.lastProcessedId ?? '0') >= maxCommitted, 60_000);
    await final.stop();

    // Progress was made across the kills (the checkpoint survives them and only moves forward).
    expect(checkpoints[checkpoints.length - 1]).toBeGreaterThan(0n);
    for (let i = 1; i < checkpoints.length; i++) expect(checkpoints[i]!).toBeGreaterThanOrEqual(checkpoints[i - 1]!);

    const startedIds = starter.starts.map((s) => s.decision.event.id);
    expect(new Set(startedIds).size).toBe(startedIds.length);
    const missing = [...committed.keys()].filter((id) => !starter.get(`fraiseql-event:${id}`));
    expect(missing).toEqual([]);
    expect(startedIds.filter((id) => !committed.has(id))).toEqual([]);
    expect(startedIds.some((id) => rolledBack.has(id))).toBe(false);
    expect(starter.size).toBe(committed.size);
    expect(committed.size).toBeGreaterThan(200);
    // Kills really happened mid-stream: some rows were re-read and deduplicated.
    expect(starter.duplicates).toBeGreaterThan(0);
  });
});
