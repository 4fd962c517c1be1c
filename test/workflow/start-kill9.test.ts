/**
 * Crash at any point in the default mode (`start` without TEMPORAL_ADDRESS: the embedded Temporal
 * server inside the process, its state in PostgreSQL). Writers keep committing change-log rows out
 * of order (concurrent transactions, random commit delays, rollbacks, one long transaction held
 * across a crash) while `start` is killed with SIGKILL and started again; afterwards every
 * committed row reached the loopback webhook receiver: none lost, none phantom, repeats only as
 * retries carrying the same Idempotency-Key. A failed run stays in the dead-letter queue across a
 * kill and can be retried from it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { migrate } from '../../src/db/migrate';
import type { ListDlqResult, RetryDlqResult } from '../../src/dlq';
import { parsePrometheusText } from '../../src/metrics/parse-text';
import { startDeliveryLedger, type DeliveryLedger } from '../helpers/delivery-ledger';
import { createTestDatabase, waitFor, type TestDatabase } from '../helpers/pg';
import { assertBuilt, type CliProcess, killAll, runCli, spawnCli, waitStarted } from '../helpers/start-process';

jest.setTimeout(300_000);

const KILLS = 2;
const MAX_ROWS = 600;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const between = (min: number, max: number) => min + Math.floor(Math.random() * (max - min));

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(url)).text();
  return parsePrometheusText(text).samples.filter((s) => s.name === name).reduce((n, s) => n + s.value, 0);
}

/** A listener id that starts after the rows earlier tests wrote (a new id would read the table from its start). */
async function skipExistingRows(db: TestDatabase, listenerId: string): Promise<void> {
  await db.pool.query(
    `INSERT INTO observer_checkpoints (listener_id, last_processed_id)
     SELECT $1, coalesce(max(pk_entity_change_log), 0) FROM core.tb_entity_change_log ON CONFLICT (listener_id) DO NOTHING`,
    [listenerId],
  );
}

describe('start (durable default): kill -9 at any point loses nothing', () => {
  let db: TestDatabase;
  let ledger: DeliveryLedger;
  let dir: string;
  let configFile: string;
  const processes: CliProcess[] = [];
  const clients: Client[] = [];
  const cleanups: Array<() => unknown> = [];
  /** /fail answers 400 (a permanent failure: the run goes to the DLQ) while this is set. */
  let failing = true;

  beforeAll(async () => {
    assertBuilt();
    db = await createTestDatabase('kill9');
    await migrate({ pool: db.pool });
    ledger = await startDeliveryLedger(async (req, res) => {
      await sleep(5);
      res.statusCode = req.path.startsWith('/fail') && failing ? 400 : 200;
      res.end(res.statusCode === 200 ? 'ok' : 'bad request');
    });
    dir = mkdtempSync(join(tmpdir(), 'kill9-'));
    configFile = join(dir, 'observers.yaml');
    writeFileSync(configFile, [
      'ssrf:',
      '  allow: [127.0.0.1]',
      'observers:',
      '  order_created:',
      '    entity: Order',
      '    events: [INSERT]',
      '    actions:',
      '      - type: webhook',
      `        url: "${ledger.receiver.url}/hooks/{{ event.entity_id }}"`,
      '  refund_created:',
      '    entity: Refund',
      '    events: [INSERT]',
      '    failure_policy: dlq',
      '    actions:',
      '      - type: webhook',
      `        url: "${ledger.receiver.url}/fail/{{ event.entity_id }}"`,
      '',
    ].join('\n'));
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    killAll(processes);
  });

  afterAll(async () => {
    killAll(processes);
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    await ledger?.close();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const startEnv = (listenerId: string) => ({
    DATABASE_URL: db.url,
    LISTENER_ID: listenerId,
    POLL_INTERVAL_MS: '200',
    METRICS_HOST: '127.0.0.1',
    WORKER_MAX_CONCURRENT_ACTIVITIES: '4',
  });

  /** `start` in the default mode; fails the test if it does not run durable. */
  async function startDurable(listenerId: string): Promise<{ cli: CliProcess; info: Record<string, unknown> }> {
    const cli = spawnCli(['start', '--config', configFile, '--temporal-port', '0', '--metrics-port', '0'], startEnv(listenerId));
    processes.push(cli);
    const info = await waitStarted(cli);
    expect(info).toMatchObject({ temporal_embedded: true, temporal_storage: 'postgresql' });
    return { cli, info };
  }

  async function kill9(cli: CliProcess): Promise<void> {
    cli.child.kill('SIGKILL');
    expect(await cli.exited).toEqual({ code: null, signal: 'SIGKILL' });
  }

  async function connect(): Promise<Client> {
    const c = new Client({ connectionString: db.url });
    await c.connect();
    clients.push(c);
    return c;
  }

  it('keeps the dead-letter queue across a kill -9; dlq retry works on it afterwards', async () => {
    await skipExistingRows(db, 'kill9-dlq');
    const first = await startDurable('kill9-dlq');
    const refund = (await db.pool.query<{ id: string }>(
      `INSERT INTO core.tb_entity_change_log (object_type, modification_type, object_id, object_data)
       VALUES ('Refund', 'INSERT', gen_random_uuid(), '{}') RETURNING id::text`,
    )).rows[0]!.id;
    await waitFor('the failed run counted in the DLQ', async () => (await metric(String(first.info.metrics_url), 'observer_dlq_items_total')) >= 1, 60_000, 200);
    await kill9(first.cli);

    const second = await startDurable('kill9-dlq');
    const address = String(second.info.temporal_address);
    const cliEnv = { TEMPORAL_ADDRESS: address };
    const listed = await runCli(['dlq', 'list', '--json'], cliEnv);
    expect(listed.code).toBe(0);
    const entries = (JSON.parse(listed.stdout) as ListDlqResult).entries;
    expect(entries.map((e) => e.eventId)).toContain(refund);

    failing = false;
    const before = ledger.receiver.requests.filter((r) => r.path.startsWith('/fail') && String(r.headers['idempotency-key']).startsWith(refund)).length;
    const retried = await runCli(['dlq', 'retry', refund, '--json'], cliEnv);
    expect(retried.code).toBe(0);
    expect(JSON.parse(retried.stdout) as RetryDlqResult).toMatchObject({ runId: expect.any(String) as unknown });
    await waitFor('the retried webhook answered 200', () =>
      ledger.receiver.requests.filter((r) => r.path.startsWith('/fail') && String(r.headers['idempotency-key']).startsWith(refund)).length > before, 60_000, 200);
    second.cli.child.kill('SIGTERM');
    expect(await second.cli.exited).toEqual({ code: 0, signal: null });
  });

  it('delivers every committed row exactly once per key across kills under an out-of-order write load', async () => {
    // Before any writer begins: the long transaction below must lie above this listener's start.
    await skipExistingRows(db, 'kill9');
    // Only this test's deliveries count (the receiver is shared with the DLQ test).
    ledger.receiver.requests.splice(0);
    const committed = new Set<string>();
    const rolledBack = new Set<string>();
    let writing = true;
    cleanups.push(() => {
      writing = false;
    });
    const writers = await Promise.all([connect(), connect(), connect()]);
    // ≈ 10 transactions/s of 1–3 rows, commits out of pk order, one in ten rolled back; at most
    // MAX_ROWS committed, so the catch-up after the last crash stays bounded on a slow machine.
    const writing$ = Promise.all(writers.map(async (c) => {
      while (writing && committed.size < MAX_ROWS) {
        await c.query('BEGIN');
        const { rows } = await c.query<{ id: string }>(
          `INSERT INTO core.tb_entity_change_log (object_type, modification_type, object_id, object_data)
           SELECT 'Order', 'INSERT', gen_random_uuid(), '{}'::jsonb FROM generate_series(1, 1 + (random() * 2)::int)
           RETURNING id::text`,
        );
        await sleep(between(0, 60));
        if (Math.random() < 0.1) {
          await c.query('ROLLBACK');
          for (const r of rows) rolledBack.add(r.id);
        } else {
          await c.query('COMMIT');
          for (const r of rows) committed.add(r.id);
        }
        await sleep(between(250, 600));
      }
    }));
    // A long transaction: its row takes a low position, and commits only after the first crash.
    const long = await connect();
    await long.query('BEGIN');
    const longRow = (await long.query<{ id: string }>(
      `INSERT INTO core.tb_entity_change_log (object_type, modification_type, object_id, object_data)
       VALUES ('Order', 'INSERT', gen_random_uuid(), '{"long": true}') RETURNING id::text`,
    )).rows[0]!.id;

    const atKill: number[] = [];
    for (let round = 0; round < KILLS; round++) {
      const { cli, info } = await startDurable('kill9');
      const deliveredBefore = ledger.deliveredIds().size;
      /**
       * A lower bound of the events this process's server accepted and has not delivered yet:
       * workflows it started, less the deliveries since it started (which also count events
       * resumed from before the crash).
       */
      const backlog = async () => (await metric(String(info.metrics_url), 'observer_workflows_started_total')) - (ledger.deliveredIds().size - deliveredBefore);
      // Crash mid-stream: once this process has delivered something and still holds accepted work
      // (bounded: crash anyway after 20 s).
      const deadline = Date.now() + 20_000;
      await sleep(between(500, 2000));
      while (Date.now() < deadline && !(ledger.deliveredIds().size > deliveredBefore && (await backlog()) > 0)) await sleep(100);
      atKill.push(Math.max(0, await backlog()));
      await kill9(cli);
      if (round === 0) {
        await long.query('COMMIT');
        committed.add(longRow);
      }
    }

    const { cli: final } = await startDurable('kill9');
    await sleep(2000);
    writing = false;
    await writing$;
    expect(committed.size).toBeGreaterThan(100);
    await waitFor(
      `every committed row delivered (${committed.size})`,
      () => ledger.report(committed).lost.length === 0,
      90_000,
      250,
    );
    final.child.kill('SIGTERM');
    expect(await final.exited).toEqual({ code: 0, signal: null });

    const report = ledger.report(committed);
    expect(report.lost).toEqual([]);
    expect(report.phantom).toEqual([]);
    expect(report.inconsistent).toEqual([]);
    // One action per event: one key per committed row; anything more was a retry of the same key.
    expect(report.distinctKeys).toBe(committed.size);
    expect([...ledger.deliveredIds()].filter((id) => rolledBack.has(id))).toEqual([]);
    // The crashes landed while accepted work was still undelivered: the case that used to lose it.
    expect(atKill.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });
});
