/**
 * Commit-order safety: rows become visible out of pk order (concurrent writers with random commit
 * delays, a transaction held open across many polls and committed last, rolled-back ids). Every
 * committed row must start exactly once, and the saved checkpoint must never pass a pk whose
 * transaction is still open.
 */
import pino from 'pino';
import { Client } from 'pg';
import { migrate } from '../../src/db/migrate';
import { ChangeLogListener, RecordingStarter, readCheckpoint } from '../../src/listener';
import { createTestDatabase, stubRowHandler, waitFor, type TestDatabase } from '../helpers/pg';

jest.setTimeout(120_000);
const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Bookkeeping shared by the writers and the sampler. */
class Ledger {
  /** pk -> event id of rows whose transaction has not finished. */
  readonly open = new Map<bigint, string>();
  readonly committed = new Map<bigint, string>();
  readonly rolledBack = new Set<bigint>();

  async transaction(c: Client, rows: number, holdMs: number, outcome: 'commit' | 'rollback'): Promise<bigint[]> {
    await c.query('BEGIN');
    const { rows: ins } = await c.query<{ pk: string; id: string }>(
      `INSERT INTO core.tb_entity_change_log (object_type, modification_type, object_id, object_data)
       SELECT 'Order', 'INSERT', gen_random_uuid(), jsonb_build_object('n', g) FROM generate_series(1, $1) g
       RETURNING pk_entity_change_log::text AS pk, id::text AS id`,
      [rows],
    );
    const mine = ins.map((r) => [BigInt(r.pk), r.id] as const);
    for (const [pk, id] of mine) this.open.set(pk, id);
    await sleep(holdMs);
    await c.query(outcome === 'commit' ? 'COMMIT' : 'ROLLBACK');
    // Removed from `open` only once the outcome is final, so a sampled open pk really was open.
    for (const [pk, id] of mine) {
      this.open.delete(pk);
      if (outcome === 'commit') this.committed.set(pk, id);
      else this.rolledBack.add(pk);
    }
    return mine.map(([pk]) => pk);
  }
}

describe('listener: out-of-order commits', () => {
  let db: TestDatabase;
  // Run even when a test fails, so a failure never leaves listeners or loops running.
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  const clients: Client[] = [];
  beforeAll(async () => {
    db = await createTestDatabase('ooo');
    await migrate({ pool: db.pool });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    await db.drop();
  });

  async function client(): Promise<Client> {
    const c = new Client({ connectionString: db.url });
    await c.connect();
    clients.push(c);
    return c;
  }

  it('starts every committed row exactly once and never checkpoints past an open transaction', async () => {
    const ledger = new Ledger();
    const starter = new RecordingStarter();
    const listener = new ChangeLogListener({
      connectionString: db.url, listenerId: 'ooo', handler: stubRowHandler, starter, logger,
      pollIntervalMs: 25, batchSize: 40, checkpointIntervalMs: 5, maxStartsInFlight: 16,
    });
    cleanups.push(() => listener.kill());
    await listener.start();
    await listener.whenLeader();

    // The sampler: a checkpoint read between two looks at the open set must stay below every pk
    // that was open in both looks.
    const violations: string[] = [];
    let sampling = true;
    cleanups.push(() => {
      sampling = false;
    });
    const sampler = (async () => {
      while (sampling) {
        const before = new Map(ledger.open);
        const cp = BigInt((await readCheckpoint(db.pool, 'ooo'))?.lastProcessedId ?? '0');
        for (const pk of before.keys()) {
          if (ledger.open.has(pk) && cp >= pk) violations.push(`checkpoint ${cp} passed open pk ${pk}`);
        }
        await sleep(5);
      }
    })();

    // Held open from the start: its pk is among the lowest, and it commits last.
    const longClient = await client();
    let longDone = false;
    let releaseLong!: () => void;
    const longGate = new Promise<void>((r) => {
      releaseLong = r;
    });
    cleanups.push(() => releaseLong());
    const longTx = (async () => {
      await longClient.query('BEGIN');
      const { rows } = await longClient.query<{ pk: string; id: string }>(
        `INSERT INTO core.tb_entity_change_log (object_type, modification_type, object_data) VALUES ('Order', 'INSERT', '{"long": true}')
         RETURNING pk_entity_change_log::text AS pk, id::text AS id`,
      );
      const pk = BigInt(rows[0]!.pk);
      ledger.open.set(pk, rows[0]!.id);
      await longGate;
      await longClient.query('COMMIT');
      ledger.open.delete(pk);
      ledger.committed.set(pk, rows[0]!.id);
      longDone = true;
      return pk;
    })();
    await waitFor('long transaction to allocate its pk', () => ledger.open.size === 1);
    const longOpenedAt = Date.now();

    // One transaction that allocates pks, waits across polls, and rolls back.
    const rollbackClient = await client();
    const rolledBack = ledger.transaction(rollbackClient, 3, 300, 'rollback');

    const writers = await Promise.all(Array.from({ length: 8 }, () => client()));
    await Promise.all(
      writers.map(async (c, w) => {
        for (let i = 0; i < 25; i++) {
          const outcome = Math.random() < 0.08 ? 'rollback' : 'commit';
          await ledger.transaction(c, 1 + ((i + w) % 3), Math.floor(Math.random() * 40), outcome);
          await sleep(Math.floor(Math.random() * 10));
        }
      }),
    );
    await rolledBack;

    // Everything but the long transaction is committed: those rows are processed above its gap
    // while the checkpoint waits below it.
    const othersCommitted = ledger.committed.size;
    await waitFor('rows above the open gap to start', () => starter.size === othersCommitted);
    const held = listener.status();
    expect(held.openGaps).toBeGreaterThan(0);
    expect(longDone).toBe(false);
    await sleep(300); // many more polls with the gap still open
    const [heldPk] = [...ledger.open.keys()];
    expect(heldPk).toBeDefined();
    // Held exactly below the open transaction's pk, though every row above it is done.
    expect((await readCheckpoint(db.pool, 'ooo'))?.lastProcessedId).toBe((heldPk! - 1n).toString());
    const openForMs = Date.now() - longOpenedAt;
    releaseLong();
    const longPk = await longTx;
    expect(longPk).toBeLessThan([...ledger.committed.keys()].sort((a, b) => (a < b ? 1 : -1))[0]!);

    const maxCommitted = [...ledger.committed.keys()].reduce((a, b) => (a > b ? a : b));
    // The last committed pk, not the last allocated one: positions above every visible row (a
    // rolled-back transaction at the top) cannot be told apart from rows not yet written.
    await waitFor('checkpoint to reach the last committed pk', async () => {
      const cp = BigInt((await readCheckpoint(db.pool, 'ooo'))?.lastProcessedId ?? '0');
      return cp >= maxCommitted;
    });
    sampling = false;
    await sampler;
    await listener.stop();

    expect(violations).toEqual([]);
    const started = starter.starts.map((s) => s.decision.event.id).sort();
    const expected = [...ledger.committed.values()].sort();
    expect(started).toEqual(expected);
    expect(starter.duplicates).toBe(0);
    expect(ledger.rolledBack.size).toBeGreaterThanOrEqual(3);
    expect(maxCommitted).toBeGreaterThan(longPk);
    expect(openForMs).toBeGreaterThan(40 * 25); // open across at least 40 poll intervals
  });
});
