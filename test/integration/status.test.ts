/**
 * `fraiseql-observers status` against a real PostgreSQL: a running leader and a standby, a
 * transaction held open below the checkpoint, recorded bad rows, a role that row-level security
 * filters, and Temporal both reachable (the embedded server, in process) and unreachable.
 */
import path from 'node:path';
import { Client as PgClient } from 'pg';
import pino from 'pino';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import Status, { type StatusResult } from '../../src/cli/commands/status';
import { countDlqEntries, listDlq } from '../../src/dlq';
import { migrate } from '../../src/db/migrate';
import { startEmbeddedTemporal, type EmbeddedTemporal } from '../../src/embedded-temporal';
import { ChangeLogListener, RecordingStarter, readCheckpoint } from '../../src/listener';
import { createTestDatabase, createTestRole, databaseUrl, insertChanges, stubRowHandler, waitFor, type TestDatabase } from '../helpers/pg';
import { runCommand } from '../helpers/run-command';

jest.setTimeout(90_000);
const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

beforeAll(() => {
  // oclif's Config.load asks wsl-utils for the platform through a dynamic import() that Jest's VM refuses.
  const oclifOs = require(path.join(path.dirname(require.resolve('@oclif/core')), 'util/os.js'));
  jest.spyOn(oclifOs, 'getPlatform').mockResolvedValue(process.platform);
});

function runStatus(argv: string[]) {
  return runCommand<StatusResult>(Status, argv);
}

describe('status command', () => {
  let db: TestDatabase;
  let embedded: EmbeddedTemporal;
  const listeners: ChangeLogListener[] = [];
  const roles: Array<{ drop(): Promise<void> }> = [];

  beforeAll(async () => {
    db = await createTestDatabase('status');
    await migrate({ pool: db.pool });
    embedded = await startEmbeddedTemporal({ port: 0 });
  });
  afterAll(async () => {
    await Promise.all(listeners.map((l) => l.kill()));
    await embedded.stop();
    await db.drop();
    for (const r of roles) await r.drop();
  });

  function listener(listenerId: string): ChangeLogListener {
    const l = new ChangeLogListener({
      connectionString: db.url, listenerId, handler: stubRowHandler, starter: new RecordingStarter(), logger,
      pollIntervalMs: 100, checkpointIntervalMs: 20, leaseRetryMs: 100,
    });
    listeners.push(l);
    return l;
  }

  it('fails with a clear message on a database that was never migrated', async () => {
    const empty = await createTestDatabase('status_empty');
    try {
      const { error } = await runStatus(['--database-url', empty.url, '--no-temporal']);
      expect(error?.message).toBe('The table observer_checkpoints does not exist in this database: run `fraiseql-observers migrate` first');
    } finally {
      await empty.drop();
    }
  });

  it('shows the leader session, a standby, checkpoint and lag, a held-open gap and bad rows', async () => {
    const leader = listener('orders');
    await leader.start();
    await leader.whenLeader();
    const standby = listener('orders');
    await standby.start();

    await insertChanges(db.pool, 5);
    await db.pool.query(`INSERT INTO core.tb_entity_change_log (object_type, modification_type) VALUES ('Order', 'BOGUS')`);
    const { rows: headRows } = await db.pool.query<{ h: string }>('SELECT max(pk_entity_change_log)::text AS h FROM core.tb_entity_change_log');
    const settledHead = headRows[0]!.h;
    await waitFor('the checkpoint at the head', async () => (await readCheckpoint(db.pool, 'orders'))?.lastProcessedId === settledHead);

    // A transaction takes the next position and stays open; a later one commits above it.
    const held = new PgClient({ connectionString: db.url, application_name: 'held-open-writer' });
    await held.connect();
    try {
      await held.query('BEGIN');
      const { rows: heldRows } = await held.query<{ pk: string }>(
        `INSERT INTO core.tb_entity_change_log (object_type, modification_type) VALUES ('Order', 'INSERT') RETURNING pk_entity_change_log::text AS pk`,
      );
      const heldPk = heldRows[0]!.pk;
      const { rows: heldPid } = await held.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const [later] = await insertChanges(db.pool, 1);
      await waitFor('the later row read', () => BigInt(leader.status().highestSeen ?? '0') >= BigInt(later!));

      const { result, error, stdout } = await runStatus(['--database-url', db.url, '--no-temporal', '--json']);
      expect(error).toBeUndefined();
      const r = result!;
      expect(r.table).toMatchObject({ name: 'core.tb_entity_change_log', cursorColumn: 'pk_entity_change_log', head: later, notifyTrigger: true, rlsHidesRows: false, error: null });
      expect(r.listeners.map((l) => l.listenerId)).toEqual(['orders']);
      const l = r.listeners[0]!;
      expect(l.checkpoint?.lastProcessedId).toBe(settledHead);
      expect(l.checkpoint?.consecutiveErrors).toBe(0);
      expect(l.lagIds).toBe('2');
      expect(l.lagSeconds).toBeGreaterThanOrEqual(0);
      expect(l.missing).toEqual({ ranges: 1, positions: '1', first: heldPk, truncated: false });
      expect(l.leader).toMatchObject({
        pid: leader.status().leaseBackendPid, applicationName: 'fraiseql-observers lease orders', clientAddr: '127.0.0.1', user: 'postgres',
      });
      expect(l.standbys).toBe(1);
      expect(l.badRows.count).toBe(1);
      expect(l.badRows.latest[0]).toMatchObject({ reason: 'unknown_modification_type', message: expect.stringContaining('"BOGUS"') });
      expect(r.oldestWriteTransaction).toMatchObject({ pid: heldPid[0]!.pid, applicationName: 'held-open-writer' });
      expect(r.temporal).toEqual({ reachable: null, skipped: true });
      expect(JSON.parse(stdout)).toMatchObject({ listeners: [{ listenerId: 'orders' }] }); // --json prints only the document

      const human = await runStatus(['--database-url', db.url, '--no-temporal']);
      expect(human.stdout).toContain(`pid ${leader.status().leaseBackendPid} from 127.0.0.1 (fraiseql-observers lease orders)`);
      expect(human.stdout).toContain(`1 in 1 gap(s) from ${heldPk}`);
      expect(human.stdout).toMatch(/bad row \d+ \(orders, .*\): unknown_modification_type: /);
      expect(human.stdout).toContain('oldest open write transaction: pid');
      expect(human.stdout).toContain('row-level security: hides nothing from this role');
      await held.query('COMMIT');
    } finally {
      await held.end();
    }

    // Once the writer has committed, the gap fills and the checkpoint catches up with the head.
    const { rows: after } = await db.pool.query<{ h: string }>('SELECT max(pk_entity_change_log)::text AS h FROM core.tb_entity_change_log');
    await waitFor('the checkpoint past the filled gap', async () => (await readCheckpoint(db.pool, 'orders'))?.lastProcessedId === after[0]!.h);
    const { result } = await runStatus(['--database-url', db.url, '--no-temporal', '--listener-id', 'orders', '--json']);
    expect(result?.listeners[0]).toMatchObject({ lagIds: '0', lagSeconds: 0, missing: { ranges: 0, positions: '0', first: null } });
    expect(result?.oldestWriteTransaction).toBeNull();

    // After the leader dies, the standby holds the lock.
    await leader.kill();
    await standby.whenLeader();
    const { result: failedOver } = await runStatus(['--database-url', db.url, '--no-temporal', '--json']);
    expect(failedOver?.listeners[0]?.leader?.pid).toBe(standby.status().leaseBackendPid);
    expect(failedOver?.listeners[0]?.standbys).toBe(0);
    await standby.stop();
    const { result: stopped } = await runStatus(['--database-url', db.url, '--no-temporal', '--json']);
    expect(stopped?.listeners[0]?.leader).toBeNull();
  });

  it('says when row-level security hides rows from the connecting role', async () => {
    await db.pool.query(`ALTER TABLE core.tb_entity_change_log ENABLE ROW LEVEL SECURITY;
      CREATE POLICY tenant_isolation ON core.tb_entity_change_log USING (tenant_id = nullif(current_setting('fraiseql.tenant_id', true), '')::uuid)`);
    const role = await createTestRole('status_reader');
    roles.push(role);
    await db.pool.query(`GRANT USAGE ON SCHEMA core TO "${role.name}"; GRANT SELECT ON core.tb_entity_change_log, observer_checkpoints, observer_bad_rows TO "${role.name}"`);
    const l = listener('rls');
    await l.start();
    await l.whenLeader();
    try {
      const { result, error, stdout } = await runStatus(['--database-url', databaseUrl(db.name, role.name), '--no-temporal', '--listener-id', 'rls', '--json']);
      expect(error).toBeUndefined();
      expect(result?.table).toMatchObject({ role: role.name, rlsHidesRows: true, rlsWarning: expect.stringContaining(`role ${role.name} is neither the owner (postgres) nor BYPASSRLS`) });
      // The head as this role sees it: every row is hidden.
      expect(result?.table.head).toBeNull();
      // pg_locks is visible to every role, so the leader is still found.
      expect(result?.listeners[0]?.leader?.pid).toBe(l.status().leaseBackendPid);
      expect(JSON.parse(stdout)).toMatchObject({ table: { rlsHidesRows: true } });
      const human = await runStatus(['--database-url', databaseUrl(db.name, role.name), '--no-temporal']);
      expect(human.stdout).toContain(`WARNING: Row-level security is active on core.tb_entity_change_log and role ${role.name} is neither the owner`);
      expect(human.stdout).toContain('unknown (RLS)');
    } finally {
      await l.stop();
      await db.pool.query(`DROP POLICY tenant_isolation ON core.tb_entity_change_log; ALTER TABLE core.tb_entity_change_log DISABLE ROW LEVEL SECURITY;
        REVOKE ALL ON core.tb_entity_change_log, observer_checkpoints, observer_bad_rows FROM "${role.name}"; REVOKE USAGE ON SCHEMA core FROM "${role.name}"`);
    }
  });

  it('counts open workflows and dead-letter entries (as dlq list does) when Temporal answers, and says so when it does not', async () => {
    const connection = await Connection.connect({ address: embedded.address });
    try {
      const client = new Client({ connection });
      await client.workflow.start('processChangeEvent', { taskQueue: 'status-test-no-worker', workflowId: 'fraiseql-event:status-open', args: [{}] });
      // A dead-letter entry: a run that failed. Played by hand as a worker would (poll its task, fail the run).
      const failQueue = 'status-test-fail';
      await client.workflow.start('processChangeEvent', { taskQueue: failQueue, workflowId: 'fraiseql-event:status-failed', args: [{}] });
      const task = await connection.workflowService.pollWorkflowTaskQueue({ namespace: 'default', taskQueue: { name: failQueue }, identity: 'status-test' });
      await connection.workflowService.respondWorkflowTaskCompleted({
        namespace: 'default', taskToken: task.taskToken, identity: 'status-test',
        commands: [{
          commandType: temporal.api.enums.v1.CommandType.COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION,
          failWorkflowExecutionCommandAttributes: { failure: { message: '1 of 1 action failed', applicationFailureInfo: { type: 'ActionsFailed', nonRetryable: true } } },
        }],
      });
      const { result } = await runStatus(['--database-url', db.url, '--address', embedded.address, '--json']);
      expect(result?.temporal).toEqual({ reachable: true, address: embedded.address, namespace: 'default', value: { open: 1, dlqEntries: 1 } });
      const human = await runStatus(['--database-url', db.url, '--address', embedded.address]);
      expect(human.stdout).toContain(`Temporal ${embedded.address} (default): 1 open processChangeEvent workflows, 1 in the dead-letter queue`);

      // A retry replaces the failed run (here: still running). It has left the DLQ: status, `dlq list`
      // and the gauge use one definition (src/dlq/entries.ts), so none of them counts it any more.
      await client.workflow.start('processChangeEvent', {
        taskQueue: failQueue, workflowId: 'fraiseql-event:status-failed', args: [{}], workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
      });
      const after = await runStatus(['--database-url', db.url, '--address', embedded.address, '--json']);
      expect(after.result?.temporal).toEqual({ reachable: true, address: embedded.address, namespace: 'default', value: { open: 2, dlqEntries: 0 } });
      expect((await listDlq(client)).entries).toEqual([]);
      expect(await countDlqEntries(client)).toBe(0);
    } finally {
      await connection.close();
    }

    const down = await runStatus(['--database-url', db.url, '--address', '127.0.0.1:1', '--temporal-timeout', '1000', '--json']);
    expect(down.error).toBeUndefined();
    expect(down.result?.temporal).toMatchObject({ reachable: false, address: '127.0.0.1:1', error: expect.stringMatching(/127\.0\.0\.1:1/) });
    expect(down.result?.listeners.length).toBeGreaterThan(0);
    const human = await runStatus(['--database-url', db.url, '--address', '127.0.0.1:1', '--temporal-timeout', '1000']);
    expect(human.stdout).toMatch(/Temporal: unreachable — .*127\.0\.0\.1:1/);
  });

  it('rejects a bad Temporal address naming the flag, and bad TLS settings naming the variable', async () => {
    const { error } = await runStatus(['--database-url', db.url, '--address', 'not an address']);
    expect(error?.message).toBe("--address: expected host:port, got 'not an address'");
    expect(error?.oclif?.exit).toBe(2);
    // The TLS / API-key variables every Temporal connection of the service uses are checked too.
    process.env.TEMPORAL_TLS = 'maybe';
    try {
      const tls = await runStatus(['--database-url', db.url]);
      expect(tls.error?.message).toBe("env.TEMPORAL_TLS: expected true or false, got 'maybe'");
      expect(tls.error?.oclif?.exit).toBe(2);
    } finally {
      delete process.env.TEMPORAL_TLS;
    }
  });
});
