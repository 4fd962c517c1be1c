/**
 * SIGTERM with a backlog: `start` is stopped while the embedded Temporal server holds about a
 * thousand accepted events whose webhooks have not been sent (a slow receiver, few activity slots).
 * Nothing accepted may be lost: in memory the stop drains every open workflow before the server
 * goes; in the durable default the server's state is saved and the next start finishes the rest.
 * A second SIGTERM forces the stop and says what was left.
 */
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate } from '../../src/db/migrate';
import { parsePrometheusText } from '../../src/metrics/parse-text';
import { startDeliveryLedger, type DeliveryLedger } from '../helpers/delivery-ledger';
import { createTestDatabase, waitFor, type TestDatabase } from '../helpers/pg';
import { assertBuilt, type CliProcess, killAll, spawnCli, waitStarted } from '../helpers/start-process';

jest.setTimeout(300_000);

const BACKLOG = 1000;
/** oclif wraps error messages with ` › ` prefixes; join them back into one line. */
const unwrap = (text: string) => text.replace(/\s*›\s*/g, ' ').replace(/\s+/g, ' ');

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

describe('start: a graceful stop with a backlog loses nothing', () => {
  let db: TestDatabase;
  let ledger: DeliveryLedger;
  let dir: string;
  let configFile: string;
  const processes: CliProcess[] = [];

  beforeAll(async () => {
    assertBuilt();
    db = await createTestDatabase('graceful_stop');
    await migrate({ pool: db.pool });
    // Slow enough that the worker falls far behind the listener.
    ledger = await startDeliveryLedger(async (_req, res) => {
      await new Promise((r) => setTimeout(r, 15));
      res.end('ok');
    });
    dir = mkdtempSync(join(tmpdir(), 'graceful-stop-'));
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
      '',
    ].join('\n'));
  });

  afterAll(async () => {
    killAll(processes);
    await ledger?.close();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const env = (listenerId: string, extra: Record<string, string> = {}) => ({
    DATABASE_URL: db.url,
    LISTENER_ID: listenerId,
    POLL_INTERVAL_MS: '200',
    METRICS_HOST: '127.0.0.1',
    WORKER_MAX_CONCURRENT_ACTIVITIES: '4',
    ...extra,
  });

  /** Inserts the backlog for one listener's pass: rows of entity type `Order`, returns their event ids. */
  async function insertBacklog(n: number): Promise<string[]> {
    const { rows } = await db.pool.query<{ id: string }>(
      `INSERT INTO core.tb_entity_change_log (object_type, modification_type, object_id, object_data)
       SELECT 'Order', 'INSERT', gen_random_uuid(), jsonb_build_object('n', g) FROM generate_series(1, $1) g
       RETURNING id::text`,
      [n],
    );
    return rows.map((r) => r.id);
  }

  /** Starts `start`, inserts the backlog, waits until the listener accepted all of it, then sends SIGTERM. */
  async function stopWithBacklog(args: string[], listenerId: string): Promise<{ cli: CliProcess; ids: string[]; deliveredAtStop: number }> {
    await skipExistingRows(db, listenerId);
    const cli = spawnCli(['start', '--config', configFile, '--temporal-port', '0', '--metrics-port', '0', ...args], env(listenerId));
    processes.push(cli);
    const info = await waitStarted(cli);
    const ids = await insertBacklog(BACKLOG);
    const metricsUrl = String(info.metrics_url);
    await waitFor(`${BACKLOG} workflows started`, async () => (await metric(metricsUrl, 'observer_workflows_started_total')) >= BACKLOG, 90_000, 100);
    const delivered = ledger.deliveredIds();
    const deliveredAtStop = ids.filter((id) => delivered.has(id)).length;
    cli.child.kill('SIGTERM');
    return { cli, ids, deliveredAtStop };
  }

  it('in memory (--memory): the stop drains every accepted event before the server goes', async () => {
    const { cli, ids, deliveredAtStop } = await stopWithBacklog(['--memory'], 'graceful-memory');
    expect(cli.lines.find((l) => l.msg === 'service started')).toMatchObject({ temporal_storage: 'memory', temporal_store: null });
    expect(cli.stderr()).toContain('IN MEMORY, NOT DURABLE: a crash loses accepted changes');
    // A real backlog was there when the signal came.
    expect(deliveredAtStop).toBeLessThan(BACKLOG - 100);
    expect(await cli.exited).toEqual({ code: 0, signal: null });

    const report = ledger.report(ids);
    expect(report.lost).toEqual([]);
    expect(report.inconsistent).toEqual([]);
    expect(new Set(ids).size).toBe(BACKLOG);
    // The drain said what it waited for, and that nothing was left.
    const progress = cli.lines.filter((l) => l.msg === 'draining: waiting for open workflows');
    expect(progress.length).toBeGreaterThan(0);
    expect(Number(progress[0]!.open_workflows)).toBeGreaterThan(0);
    expect(cli.lines.find((l) => l.msg === 'drained: no open workflow left')).toBeDefined();
    // The checkpoint is past the backlog: a restart would not start it again, so the drain had to deliver it.
    const cp = (await db.pool.query<{ last_processed_id: string }>(`SELECT last_processed_id::text FROM observer_checkpoints WHERE listener_id = 'graceful-memory'`)).rows[0];
    const maxPk = (await db.pool.query<{ max: string }>('SELECT max(pk_entity_change_log)::text AS max FROM core.tb_entity_change_log')).rows[0]!.max;
    expect(BigInt(cp!.last_processed_id)).toBeGreaterThanOrEqual(BigInt(maxPk));
  });

  it('durable (default): the stop saves what is left, and the next start delivers it', async () => {
    const { cli, ids, deliveredAtStop } = await stopWithBacklog([], 'graceful-durable');
    const where = new URL(db.url);
    expect(cli.lines.find((l) => l.msg === 'service started')).toMatchObject({ temporal_storage: 'postgresql', temporal_store: `${where.hostname}:${where.port}/${db.name}` });
    expect(cli.stderr()).toContain(`durable: state in PostgreSQL ${where.hostname}:${where.port}/${db.name}`);
    expect(deliveredAtStop).toBeLessThan(BACKLOG - 100);
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    // No drain in the durable mode: the stop is quick and says how many workflows it saved.
    expect(cli.lines.some((l) => l.msg === 'draining: waiting for open workflows')).toBe(false);
    const saved = cli.lines.find((l) => l.msg === 'stopping with open workflows saved');
    expect(Number(saved?.open_workflows)).toBeGreaterThan(0);

    const again = spawnCli(['start', '--config', configFile, '--temporal-port', '0', '--metrics-port', '0'], env('graceful-durable'));
    processes.push(again);
    await waitStarted(again);
    await waitFor(`all ${BACKLOG} events delivered after the restart`, () => ledger.report(ids).lost.length === 0, 120_000, 250);
    again.child.kill('SIGTERM');
    expect(await again.exited).toEqual({ code: 0, signal: null });
    const report = ledger.report(ids);
    expect(report.lost).toEqual([]);
    expect(report.inconsistent).toEqual([]);
  });

  it('in memory: a second SIGTERM forces the stop and names what was left', async () => {
    // The receiver holds every answer: nothing can finish while the drain waits.
    const release: Array<() => void> = [];
    ledger.receiver.respond((_req, res) => new Promise<void>((resolve) => {
      release.push(() => {
        res.end('ok');
        resolve();
      });
    }));
    try {
      await skipExistingRows(db, 'graceful-force');
      const cli = spawnCli(['start', '--config', configFile, '--temporal-port', '0', '--metrics-port', '0', '--memory'], env('graceful-force', { WORKER_SHUTDOWN_GRACE_MS: '500' }));
      processes.push(cli);
      const info = await waitStarted(cli);
      await insertBacklog(50);
      await waitFor('50 workflows started', async () => (await metric(String(info.metrics_url), 'observer_workflows_started_total')) >= 50, 60_000, 100);
      cli.child.kill('SIGTERM');
      await waitFor('the drain to report progress', () => cli.lines.some((l) => l.msg === 'draining: waiting for open workflows'), 30_000, 50);
      cli.child.kill('SIGTERM');
      const exit = await cli.exited;
      expect(exit.signal).toBeNull();
      expect(exit.code).toBe(130);
      const forced = cli.lines.find((l) => l.msg === 'drain stopped: workflows left open');
      expect(forced).toMatchObject({ reason: 'second signal', durable: false });
      expect(Number(forced!.open_workflows)).toBeGreaterThan(0);
      expect(String(forced!.consequence)).toContain('lost');
    } finally {
      for (const r of release.splice(0)) r();
      ledger.receiver.respond((_req, res) => {
        res.end('ok');
      });
    }
  });

  it('refuses --memory and --temporal-data with TEMPORAL_ADDRESS, or together, and a bad --temporal-data URL or schema', async () => {
    const withAddress = spawnCli(['start', '--config', configFile, '--memory'], { ...env('graceful-flags'), TEMPORAL_ADDRESS: '127.0.0.1:7233' });
    expect(await withAddress.exited).toEqual({ code: 2, signal: null });
    expect(unwrap(withAddress.stderr())).toContain('--memory applies to the embedded Temporal server only, and TEMPORAL_ADDRESS (127.0.0.1:7233) is set');
    const notPg = spawnCli(['start', '--config', configFile, '--temporal-data', 'mysql://db/temporal'], env('graceful-flags'));
    expect(await notPg.exited).toEqual({ code: 2, signal: null });
    expect(unwrap(notPg.stderr())).toContain('--temporal-data: expected a postgres:// or postgresql:// URL');
    const badSchema = spawnCli(['start', '--config', configFile, '--temporal-data-schema', 'Temporal-State'], env('graceful-flags'));
    expect(await badSchema.exited).toEqual({ code: 2, signal: null });
    expect(unwrap(badSchema.stderr())).toContain('--temporal-data-schema: expected a lower-case SQL identifier (letters, digits, _), got "Temporal-State"');
    const both = spawnCli(['start', '--config', configFile, '--memory', '--temporal-data', db.url], env('graceful-flags'));
    expect(await both.exited).toEqual({ code: 2, signal: null });
    expect(unwrap(both.stderr())).toMatch(/--temporal-data=.* cannot also be provided when using --memory|--memory=.* cannot also be provided when using --temporal-data/);
  });
});
