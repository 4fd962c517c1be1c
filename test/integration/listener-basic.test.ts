/** The listener end to end against a real PostgreSQL with an in-memory starter. */
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { Registry } from 'prom-client';
import { migrate } from '../../src/db/migrate';
import { ChangeLogListener, RecordingStarter, listBadRows, readCheckpoint, setCheckpoint, type ListenerOptions } from '../../src/listener';
import { backlogAdmission } from '../../src/listener/admission';
import { createTestDatabase, insertChanges, stubRowHandler, waitFor, type TestDatabase } from '../helpers/pg';

jest.setTimeout(90_000);
const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

describe('listener', () => {
  let db: TestDatabase;
  const running: ChangeLogListener[] = [];

  function listener(overrides: Partial<ListenerOptions> & Pick<ListenerOptions, 'starter'>): ChangeLogListener {
    const l = new ChangeLogListener({
      connectionString: db.url,
      listenerId: `l-${randomUUID()}`,
      handler: stubRowHandler,
      pollIntervalMs: 200,
      checkpointIntervalMs: 20,
      logger,
      ...overrides,
    });
    running.push(l);
    return l;
  }

  async function checkpoint(l: ChangeLogListener): Promise<string | undefined> {
    return (await readCheckpoint(db.pool, l.status().listenerId))?.lastProcessedId;
  }

  beforeAll(async () => {
    db = await createTestDatabase('listener');
    await migrate({ pool: db.pool });
  });
  beforeEach(async () => {
    // Restarting the identity keeps each test's first pk at 1, so no gap lies below it.
    await db.pool.query('TRUNCATE core.tb_entity_change_log RESTART IDENTITY');
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((l) => l.kill()));
  });
  afterAll(async () => {
    await db.drop();
  });

  it('starts one workflow per row, wakes on NOTIFY, and checkpoints past acknowledged rows', async () => {
    const pks = await insertChanges(db.pool, 40);
    const starter = new RecordingStarter();
    // A minute-long poll interval: only NOTIFY can explain a prompt pickup of the later rows.
    const l = listener({ starter, pollIntervalMs: 60_000 });
    await l.start();
    await l.whenLeader();
    await waitFor('first rows', () => starter.size === 40);
    await waitFor('notify session', () => l.status().notifyConnected);
    const more = await insertChanges(db.pool, 5);
    await waitFor('rows woken by NOTIFY', () => starter.size === 45, 5000);
    await waitFor('checkpoint at head', async () => (await checkpoint(l)) === more[more.length - 1]);
    expect(starter.starts.map((s) => s.decision.event.position)).toEqual([...pks, ...more]);
    expect(starter.starts[0]!.workflowId).toMatch(/^fraiseql-event:[0-9a-f-]{36}$/);
    expect(starter.duplicates).toBe(0);
    expect(l.status()).toMatchObject({ isLeader: true, healthy: true, openGaps: 0, rlsHidesRows: false, notifyTrigger: true });
  });

  it('backpressure: reads nothing while the admission holds it back, then everything once it lets go', async () => {
    let backlog = 500;
    let probes = 0;
    const admission = backlogAdmission({
      limit: 100,
      refreshMs: 20,
      backlog: async () => {
        probes += 1;
        return backlog;
      },
    });
    await insertChanges(db.pool, 10);
    const starter = new RecordingStarter();
    const l = listener({ starter, admission });
    await l.start();
    await l.whenLeader();
    await waitFor('the listener asked for the backlog a few times', () => probes >= 5);
    expect(starter.size).toBe(0);
    backlog = 49; // below half the limit: reading resumes
    await waitFor('rows started after the workers caught up', () => starter.size === 10);
    const more = await insertChanges(db.pool, 3);
    await waitFor('new rows start at once while the backlog stays low', () => starter.size === 13);
    expect(starter.starts.slice(-3).map((s) => s.decision.event.position)).toEqual(more);
  });

  it('backpressure: a backlog probe that fails never stalls the stream', async () => {
    const errors: unknown[] = [];
    const admission = backlogAdmission({
      limit: 1,
      refreshMs: 20,
      backlog: async () => {
        throw new Error('Temporal unreachable');
      },
      onError: (err) => errors.push(err),
    });
    await insertChanges(db.pool, 5);
    const starter = new RecordingStarter();
    const l = listener({ starter, admission });
    await l.start();
    await waitFor('rows started although the probe fails', () => starter.size === 5);
    expect(errors.length).toBeGreaterThan(0);
  });

  it('records bad rows with their reason, skips unwanted rows, and never stalls', async () => {
    const registry = new Registry();
    await insertChanges(db.pool, 3);
    const [bad] = await insertChanges(db.pool, 1, { modificationType: 'EXPLODE' });
    await insertChanges(db.pool, 2, { objectType: 'Ignored' });
    const last = await insertChanges(db.pool, 3);
    const starter = new RecordingStarter();
    const l = listener({ starter, metrics: registry });
    await l.start();
    await waitFor('checkpoint past everything', async () => (await checkpoint(l)) === last[2]);
    expect(starter.size).toBe(6);
    const recorded = await listBadRows(db.pool, { listenerId: l.status().listenerId });
    expect(recorded).toEqual([expect.objectContaining({ pk: bad, reason: 'unknown_modification_type', message: `unknown modification_type "EXPLODE" at position ${bad}` })]);
    const metrics = await registry.getMetricsAsJSON();
    const value = (name: string) => metrics.find((m) => m.name === name)?.values;
    expect(value('observer_bad_rows_total')).toEqual([expect.objectContaining({ value: 1, labels: { reason: 'unknown_modification_type' } })]);
    expect(value('observer_events_processed_total')?.[0]?.value).toBe(9);
    expect(value('observer_workflows_started_total')).toEqual([expect.objectContaining({ value: 6, labels: { entity_type: 'Order' } })]);
    expect(value('observer_listener_is_leader')?.[0]?.value).toBe(1);
    expect(value('observer_checkpoint_lag_ids')?.[0]?.value).toBe(0);
  });

  it('holds the checkpoint below a row whose start keeps failing, then moves on once it succeeds', async () => {
    const pks = await insertChanges(db.pool, 10);
    const stuck = pks[3]!;
    let failing = true;
    const starter = new RecordingStarter({
      beforeStart: () => undefined,
    });
    const failingStarter = {
      attempts: 0,
      async start(id: string, d: Parameters<RecordingStarter['start']>[1]) {
        if (d.event.position === stuck && failing) {
          this.attempts++;
          throw new Error('temporal unavailable');
        }
        return starter.start(id, d);
      },
    };
    const l = listener({ starter: failingStarter });
    await l.start();
    await waitFor('other rows started', () => starter.size === 9);
    await waitFor('a few retries', () => failingStarter.attempts >= 2);
    expect(await checkpoint(l)).toBe((BigInt(stuck) - 1n).toString());
    expect(l.status()).toMatchObject({ healthy: false, lastError: expect.stringContaining('temporal unavailable') });
    expect((await readCheckpoint(db.pool, l.status().listenerId))?.lastError).toContain('temporal unavailable');
    failing = false;
    await waitFor('checkpoint past the stuck row', async () => (await checkpoint(l)) === pks[9], 30_000);
    expect(starter.size).toBe(10);
    expect(l.status().healthy).toBe(true);
  });

  it('stops gracefully: finishes in-flight starts, saves the checkpoint, releases the lease', async () => {
    const pks = await insertChanges(db.pool, 20);
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const starter = new RecordingStarter({ beforeStart: () => gate });
    const id = `l-${randomUUID()}`;
    const l = listener({ starter, listenerId: id, maxStartsInFlight: 5 });
    await l.start();
    await waitFor('starts in flight', () => l.status().inFlight === 5);
    const stopping = l.stop();
    setTimeout(release, 100);
    await stopping;
    expect(starter.size).toBe(5);
    const cp = BigInt((await checkpoint(l))!);
    expect(cp).toBe(BigInt(pks[4]!));
    // The lock is free at once: a successor becomes leader without waiting for a timeout.
    const next = listener({ starter, listenerId: id });
    await next.start();
    await next.whenLeader(3000);
    await waitFor('successor finishes', async () => (await checkpoint(next)) === pks[19]);
    expect(starter.size).toBe(20);
    expect(starter.duplicates).toBe(0);
  });

  it('continues from where an operator moved the checkpoint while it runs', async () => {
    const starter = new RecordingStarter();
    const l = listener({ starter });
    await l.start();
    await l.whenLeader();
    const first = await insertChanges(db.pool, 5);
    await waitFor('first rows', async () => (await checkpoint(l)) === first[4]);
    const skipped = await insertChanges(db.pool, 5);
    await setCheckpoint(db.pool, { listenerId: l.status().listenerId, position: skipped[4]!, updatedBy: 'operator' });
    const after = await insertChanges(db.pool, 3);
    await waitFor('rows after the new position', async () => (await checkpoint(l)) === after[2]);
    const started = new Set(starter.starts.map((s) => s.decision.event.position));
    for (const pk of after) expect(started.has(pk)).toBe(true);
  });

  it('reads the minimal table of the guides (unqualified, bigint id, text object_id)', async () => {
    await db.pool.query(`CREATE TABLE tb_entity_change_log (id bigserial PRIMARY KEY, object_type text, object_id text,
      modification_type text, object_data jsonb)`);
    await db.pool.query(`INSERT INTO tb_entity_change_log (object_type, object_id, modification_type, object_data)
      VALUES ('Order', 'ord-1', 'INSERT', '{"total": 5}'), ('Order', 'ord-1', 'NOOP', '{}')`);
    const starter = new RecordingStarter();
    const l = listener({ starter, table: 'tb_entity_change_log' });
    await l.start();
    await waitFor('both rows', () => starter.size === 2);
    expect(l.status()).toMatchObject({ table: 'public.tb_entity_change_log', cursorColumn: 'id', notifyTrigger: false });
    expect(starter.starts.map((s) => [s.workflowId, s.decision.event.entityId, s.decision.event.kind])).toEqual([
      ['fraiseql-event:pk-1', 'ord-1', 'INSERT'],
      ['fraiseql-event:pk-2', 'ord-1', 'CUSTOM'],
    ]);
    await db.pool.query('DROP TABLE tb_entity_change_log');
  });

  it('fails to start with a clear message when the table is missing', async () => {
    const l = listener({ starter: new RecordingStarter(), table: 'core.nope' });
    await expect(l.start()).rejects.toThrow('Change-log table core.nope does not exist (or is not on the search_path): run `fraiseql-observers migrate` or set the table name');
    const down = listener({ starter: new RecordingStarter(), connectionString: 'postgres://u:pw@127.0.0.1:1/x' });
    await expect(down.start()).rejects.toThrow('Cannot reach PostgreSQL at 127.0.0.1:1/x: ECONNREFUSED');
  });
});
