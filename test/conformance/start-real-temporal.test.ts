/**
 * `fraiseql-observers start` on a real Temporal server: the built CLI in a child process with
 * TEMPORAL_ADDRESS pointing at the real dev server (`temporal server start-dev`, built by
 * scripts/real-temporal.sh), started with the service's search attributes registered the way the
 * README says. Change-log rows become webhooks to a loopback receiver; a permanently failing action
 * of a `dlq` observer becomes an entry that `dlq list`, `dlq show` and `dlq retry` (the real binary)
 * find, show and re-run on the real server. Run by `npm run test:conformance` only.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { freeLoopbackPort, startRealDevServer, type RealDevServer } from '../../bench/real-temporal';
import { migrate } from '../../src/db/migrate';
import type { DlqShowResult, ListDlqResult, RetryDlqResult } from '../../src/dlq';
import { SEARCH_ATTRIBUTES } from '../../src/temporal/search-attributes';
import type { ProcessChangeEventResult } from '../../src/contract';
import { type Cli, ROOT, startCli } from '../helpers/cli-process';
import { createTestDatabase, waitFor, type TestDatabase } from '../helpers/pg';
import { type HttpReceiver, startHttpReceiver } from '../helpers/receivers';

jest.setTimeout(300_000);
const run = promisify(execFile);

describe('start against the real Temporal dev server', () => {
  let server: RealDevServer;
  let db: TestDatabase;
  let receiver: HttpReceiver;
  let dir: string;
  let cli: Cli | undefined;
  let connection: Connection;
  let client: Client;
  let refundsFail = true;

  beforeAll(async () => {
    server = await startRealDevServer({ port: await freeLoopbackPort(), searchAttributes: SEARCH_ATTRIBUTES });
    connection = await Connection.connect({ address: server.address });
    client = new Client({ connection });
    db = await createTestDatabase('start_real');
    await migrate({ pool: db.pool });
    // /refund answers 400 (a permanent failure: the run is a DLQ entry) until the test fixes it.
    receiver = await startHttpReceiver((req, res) => {
      res.statusCode = req.path.startsWith('/refund') && refundsFail ? 400 : 200;
      res.end(res.statusCode === 200 ? 'ok' : 'bad request');
    });
    dir = mkdtempSync(join(tmpdir(), 'start-real-'));
    writeFileSync(join(dir, 'observers.yaml'), [
      'ssrf:',
      '  allow: [127.0.0.1]',
      'observers:',
      '  order_shipped:',
      '    entity: Order',
      '    events: [UPDATE]',
      "    condition: \"status == 'shipped'\"",
      '    actions:',
      '      - type: webhook',
      `        url: "${receiver.url}/hooks/{{ event.entity_id }}"`,
      '        signing_secret_env: REAL_TEST_SIGNING_SECRET',
      '  order_refunded:',
      '    entity: Order',
      '    events: [UPDATE]',
      "    condition: \"status == 'refunded'\"",
      '    failure_policy: dlq',
      '    actions:',
      '      - type: webhook',
      `        url: "${receiver.url}/refund/{{ event.entity_id }}"`,
      '',
    ].join('\n'));
  });

  afterAll(async () => {
    if (cli && cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
    await connection?.close();
    await server?.stop();
    await receiver?.close();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const dlq = async (args: string[]) => {
    const { stdout } = await run(process.execPath, [join(ROOT, 'bin', 'run.js'), 'dlq', ...args, '--json'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', TEMPORAL_ADDRESS: server.address },
    });
    return JSON.parse(stdout) as unknown;
  };

  it('delivers events, and the DLQ commands list, show and retry a failed run', async () => {
    cli = startCli(['start', '--config', join(dir, 'observers.yaml'), '--metrics-port', '0'], {
      DATABASE_URL: db.url,
      TEMPORAL_ADDRESS: server.address,
      LISTENER_ID: 'start-real',
      POLL_INTERVAL_MS: '200',
      METRICS_HOST: '127.0.0.1',
      REAL_TEST_SIGNING_SECRET: 'real-test-secret-value',
    });
    const started = () => cli!.lines.find((l) => l.msg === 'service started');
    await waitFor(`"service started" (stderr so far: ${cli.stderr().slice(-500)})`, () => started() !== undefined || cli!.child.exitCode !== null, 180_000, 100);
    expect(started()).toMatchObject({ temporal_embedded: false, temporal_address: server.address, namespace: 'default' });
    // Every search attribute is registered, so `start` names none as missing.
    expect(JSON.stringify(cli.lines)).not.toContain('search-attribute create');
    const base = String(started()!.metrics_url).replace(/\/metrics$/, '');

    const shipped = (await db.pool.query<{ id: string; object_id: string }>(`INSERT INTO core.tb_entity_change_log (object_type, modification_type, object_id, object_data)
      SELECT 'Order', 'UPDATE', gen_random_uuid(), '{"status": "shipped"}' FROM generate_series(1, 4) RETURNING id::text, object_id::text`)).rows;
    const [refunded] = (await db.pool.query<{ id: string; object_id: string }>(`INSERT INTO core.tb_entity_change_log (object_type, modification_type, object_id, object_data)
      VALUES ('Order', 'UPDATE', gen_random_uuid(), '{"status": "refunded"}') RETURNING id::text, object_id::text`)).rows;

    await waitFor('4 signed webhooks', () => receiver.requests.filter((r) => r.path.startsWith('/hooks/')).length >= 4, 120_000, 100);
    const hooks = receiver.requests.filter((r) => r.path.startsWith('/hooks/'));
    expect(hooks.map((r) => r.path).sort()).toEqual(shipped.map((r) => `/hooks/${r.object_id}`).sort());
    for (const r of hooks) expect(r.headers['x-fraiseql-signature-256']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    // The runs are on the real server, with the service's search attributes.
    await waitFor('the 4 shipped runs in visibility, by search attribute', async () => {
      const { count } = await client.workflow.count("EntityType = 'Order' AND EventKind = 'UPDATE' AND ExecutionStatus = 'Completed'");
      return count === 4;
    }, 60_000, 500);

    // The failed run is a DLQ entry (visibility on a real server is eventually consistent: wait for it).
    const workflowId = `fraiseql-event:${refunded!.id}`;
    await waitFor('the DLQ entry in dlq list', async () => ((await dlq(['list'])) as ListDlqResult).entries.length === 1, 60_000, 500);
    const list = (await dlq(['list'])) as ListDlqResult;
    expect(list.entries[0]).toMatchObject({ workflowId, eventId: refunded!.id, entityType: 'Order', kind: 'UPDATE', observers: ['order_refunded'], failedActions: ['order_refunded:0'] });
    const show = (await dlq(['show', refunded!.id])) as DlqShowResult;
    expect(show).toMatchObject({ workflowId, status: 'FAILED', failure: { type: 'ActionsFailed' }, event: { id: refunded!.id, entityType: 'Order' }, retry: null });
    expect(show.actions.map((a) => [a.key, a.status, a.errorType])).toEqual([['order_refunded:0', 'failed', 'HttpClientError']]);

    // The receiver is fixed; the retry re-runs the failed action on the real server and succeeds.
    refundsFail = false;
    const retry = (await dlq(['retry', refunded!.id])) as RetryDlqResult;
    expect(retry).toMatchObject({ workflowId, previousRunId: list.entries[0]!.runId, retryNumber: 1, actionKeys: ['order_refunded:0'] });
    const result: ProcessChangeEventResult = await client.workflow.getHandle(workflowId, retry.runId).result();
    expect(result.actions.map((a) => a.status)).toEqual(['succeeded']);
    expect(receiver.requests.filter((r) => r.path === `/refund/${refunded!.object_id}`)).toHaveLength(2);
    await waitFor('the DLQ empty again', async () => ((await dlq(['list'])) as ListDlqResult).entries.length === 0, 60_000, 500);

    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    expect(JSON.stringify(cli.lines) + cli.stderr()).not.toContain('real-test-secret-value');
  });
});
