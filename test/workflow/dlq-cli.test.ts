/**
 * The `dlq` commands themselves (oclif, compiled in dist/) against the embedded Temporal server:
 * readable tables, `--json` shapes, exit codes, bad flags, and the message when nothing answers
 * at the Temporal address.
 */
import { execFile } from 'node:child_process';
import { Console } from 'node:console';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Config, settings } from '@oclif/core';
import { runCommand } from '@oclif/test';
import type { DlqShowResult, DlqStats, ListDlqResult, RetryAllResult, RetryDlqResult } from '../../src/dlq';
import type { ProcessChangeEventResult } from '../../src/contract';
import { rejectionOf } from '../helpers/temporal-env';
import { createDlqFixture, type DlqFixture, type StartedEvent } from './dlq-fixture';

// oclif looks for WSL with a dynamic import(), which jest rejects without --experimental-vm-modules.
jest.mock('../../node_modules/@oclif/core/lib/util/os', () => ({
  ...jest.requireActual<object>('../../node_modules/@oclif/core/lib/util/os'),
  getPlatform: async () => process.platform,
}));
settings.enableAutoTranspile = false;
jest.setTimeout(180_000);
process.env.TEMPORAL_TEST_LOG_LEVEL ??= 'ERROR';

const ROOT = join(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'run.js');
const run = promisify(execFile);

let fx: DlqFixture;
let oclif: Config;
let order: StartedEvent;
let invoice: StartedEvent;
let address: string;
const jestConsole = global.console;

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const dlq = (args: string[]) => runCommand(['dlq', ...args, '--address', address], oclif);

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'commands', 'dlq', 'list.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  // oclif prints through console.log; jest's console would decorate that output.
  global.console = new Console({ stdout: process.stdout, stderr: process.stderr });
  oclif = await Config.load({ root: ROOT });
  fx = await createDlqFixture('dlq-cli');
  address = fx.env.address;
  order = await fx.startEvent('Order');
  invoice = await fx.startEvent('Invoice');
  for (const e of [order, invoice]) await rejectionOf(fx.env.client.workflow.getHandle(e.workflowId, e.runId).result());
});

afterAll(async () => {
  global.console = jestConsole;
  await fx?.teardown();
});

afterEach(() => {
  process.exitCode = undefined;
});

describe('dlq list', () => {
  it('prints a table of entries', async () => {
    const { stdout, error } = await dlq(['list']);
    expect(error).toBeUndefined();
    expect(stdout).toMatch(/event id.*entity.*kind.*observers.*failed actions.*failed at.*summary/);
    expect(stdout).toContain(order.eventId);
    expect(stdout).toContain(invoice.eventId);
    expect(stdout).toContain('notify_billing:0');
    expect(stdout).toContain('2 entries. Details: fraiseql-observers dlq show <event id>');
  });

  it('returns the entries as data with --json', async () => {
    const { stdout, error } = await dlq(['list', '--entity', 'Order', '--json']);
    expect(error).toBeUndefined();
    const r = JSON.parse(stdout) as ListDlqResult;
    expect(r.query).toBe(`WorkflowType = 'processChangeEvent' AND ExecutionStatus = 'Failed' AND EntityType = 'Order'`);
    expect(r.nextPageToken).toBeNull();
    expect(r.entries).toHaveLength(1);
    expect(r.entries[0]).toEqual({
      workflowId: order.workflowId,
      runId: order.runId,
      eventId: order.eventId,
      entityType: 'Order',
      kind: 'UPDATE',
      observers: ['notify_warehouse', 'notify_billing'],
      failedActions: ['notify_billing:0'],
      position: '1',
      taskQueue: fx.taskQueue,
      startTime: expect.any(String),
      closeTime: expect.any(String),
      historyLength: expect.any(Number),
      summary: `UPDATE Order ${order.entityId} → notify_warehouse, notify_billing (2 actions)`,
    });
  });

  it('rejects a bad flag value naming the flag (exit 2)', async () => {
    const since = await dlq(['list', '--since', 'soon']);
    expect(since.error?.oclif?.exit).toBe(2);
    expect(since.error?.message).toMatch(/^--since: expected an ISO-8601 time .*, got "soon"$/);
    const limit = await dlq(['list', '--limit', '0']);
    expect(limit.error?.oclif?.exit).toBe(2);
    expect(limit.error?.message).toBe('--limit: expected a whole number from 1 to 10000, got 0');
  });
});

describe('dlq show', () => {
  it('prints the entry with each action, its error type and attempts', async () => {
    const { stdout, error } = await dlq(['show', order.eventId]);
    expect(error).toBeUndefined();
    expect(stdout).toContain(`workflow:  ${order.workflowId}`);
    expect(stdout).toContain(`run:       ${order.runId} (FAILED)`);
    expect(stdout).toMatch(/failure: {3}ActionsFailed: 1 of 2 actions failed: notify_billing:0 \(HttpClientError/);
    expect(stdout).toMatch(/notify_warehouse:0\s*│\s*webhook\s*│\s*succeeded\s*│\s*1\s*│/);
    expect(stdout).toMatch(/notify_billing:0\s*│\s*webhook\s*│\s*failed\s*│\s*1\s*│\s*HttpClientError\s*│.*answered 400/);
    expect(stdout).toContain('"status": "shipped"');
    expect(stdout).toContain(`Retry the failed actions with: fraiseql-observers dlq retry ${order.workflowId}`);
  });

  it('returns it as data with --json', async () => {
    const { stdout } = await dlq(['show', order.workflowId, '--json']);
    const r = JSON.parse(stdout) as DlqShowResult;
    expect(r).toMatchObject({
      workflowId: order.workflowId,
      runId: order.runId,
      eventId: order.eventId,
      status: 'FAILED',
      latestRun: { runId: order.runId, status: 'FAILED' },
      failure: { type: 'ActionsFailed' },
      event: { id: order.eventId, entityType: 'Order' },
      retry: null,
    });
    expect(r.actions.map((a) => [a.key, a.status, a.attempts, a.errorType])).toEqual([
      ['notify_warehouse:0', 'succeeded', 1, null],
      ['notify_billing:0', 'failed', 1, 'HttpClientError'],
    ]);
    expect(r.historyLength).toBeGreaterThan(5);
  });

  it('says when there is no such entry (exit 1)', async () => {
    const { error } = await dlq(['show', 'not-an-event']);
    expect(error?.oclif?.exit).toBe(1);
    expect(error?.message).toContain('No workflow fraiseql-event:not-an-event is retained by Temporal');
  });
});

describe('dlq stats', () => {
  it('prints the counts, and returns them with --json', async () => {
    const human = await dlq(['stats']);
    expect(human.error).toBeUndefined();
    expect(human.stdout).toContain('2 entries, 2 failed action(s)');
    expect(human.stdout).toMatch(/notify_billing\s*│\s*2\s*│\s*2/);
    expect(human.stdout).toMatch(/HttpClientError\s*│\s*2/);
    expect(human.stdout).toMatch(/Invoice\s*│\s*1/);
    const s = JSON.parse((await dlq(['stats', '--json'])).stdout) as DlqStats;
    expect(s).toMatchObject({ entries: 2, failedActions: 2, byErrorType: [{ errorType: 'HttpClientError', failedActions: 2 }] });
  });
});

describe('dlq retry-all --dry-run and dlq retry', () => {
  it('a dry run lists what it would do and starts nothing', async () => {
    const before = await fx.countRuns();
    const requests = fx.billing.requests.length + fx.warehouse.requests.length;
    const human = await dlq(['retry-all', '--dry-run']);
    expect(human.error).toBeUndefined();
    expect(human.stdout).toContain(`would retry ${order.workflowId} (#1): re-run notify_billing:0; carry notify_warehouse:0`);
    expect(human.stdout).toContain('2 entries matched: 2 would be retried (dry run: nothing was started), 0 refused, 0 failed.');
    const json = JSON.parse((await dlq(['retry-all', '--dry-run', '--observer', 'notify_warehouse', '--json'])).stdout) as RetryAllResult;
    expect(json).toMatchObject({ dryRun: true, matched: 1, counts: { wouldRetry: 1, retried: 0 } });
    expect(json.items.map((i) => i.workflowId)).toEqual([order.workflowId]);
    expect(await fx.countRuns()).toBe(before);
    expect(fx.billing.requests.length + fx.warehouse.requests.length).toBe(requests);
  });

  it('rejects a bad rate naming the flag', async () => {
    const { error } = await dlq(['retry-all', '--rate', 'fast', '--dry-run']);
    expect(error?.oclif?.exit).toBe(2);
    expect(error?.message).toBe('--rate: expected retries per second from 0.01 to 1000, got NaN');
  });

  it('dlq retry starts a run that re-runs only the failed action; a second retry is refused', async () => {
    fx.setBilling('ok');
    const { stdout, error } = await dlq(['retry', order.eventId, '--json']);
    expect(error).toBeUndefined();
    const r = JSON.parse(stdout) as RetryDlqResult;
    expect(r).toMatchObject({ workflowId: order.workflowId, previousRunId: order.runId, retryNumber: 1, actionKeys: ['notify_billing:0'], carriedKeys: ['notify_warehouse:0'] });
    const result: ProcessChangeEventResult = await fx.env.client.workflow.getHandle(order.workflowId, r.runId).result();
    expect(result.actions.map((a) => a.status)).toEqual(['carried', 'succeeded']);
    expect(fx.requestsFor(fx.warehouse, order.entityId)).toHaveLength(1);
    expect(fx.requestsFor(fx.billing, order.entityId)).toHaveLength(2);

    const again = await dlq(['retry', order.eventId]);
    expect(again.error?.oclif?.exit).toBe(1);
    expect(again.error?.message).toBe(`${order.workflowId}: its latest run ${r.runId} completed (DLQ retry #1); it is no longer in the DLQ and is not retried again`);

    const human = await dlq(['retry', invoice.eventId]);
    expect(human.error).toBeUndefined();
    expect(human.stdout).toMatch(new RegExp(`^Started DLQ retry #1 of ${invoice.workflowId}: new run \\S+ on task queue ${fx.taskQueue}\\.`));
    expect(human.stdout).toContain('Re-runs: notify_billing:0');
    expect(human.stdout).toContain('Carried over (not called again): none');
    expect((await dlq(['list'])).stdout).toContain('The dead-letter queue is empty for these filters.');
  });
});

describe('when Temporal is unreachable', () => {
  it('says that nothing answers and what to change: the flag that was given (exit 3)', async () => {
    const port = await closedPort();
    const { error } = await runCommand(['dlq', 'list', '--address', `127.0.0.1:${port}`], oclif);
    expect(error?.oclif?.exit).toBe(3);
    expect(error?.message).toMatch(new RegExp(`^Cannot reach Temporal at 127\\.0\\.0\\.1:${port}: .*Check --address\\.$`));
  });

  it('reports a bad flag as such without waiting for Temporal', async () => {
    const port = await closedPort();
    const { error } = await runCommand(['dlq', 'retry-all', '--since', 'soon', '--address', `127.0.0.1:${port}`], oclif);
    expect(error?.oclif?.exit).toBe(2);
    expect(error?.message).toMatch(/^--since: /);
  });

  it('rejects a malformed address naming the flag, with the same validator as status', async () => {
    const { error } = await runCommand(['dlq', 'stats', '--address', 'localhost'], oclif);
    expect(error?.oclif?.exit).toBe(2);
    expect(error?.message).toBe("--address: expected host:port, got 'localhost'");
  });

  it('reads TEMPORAL_ADDRESS as the real binary, and exits 3 when nothing answers there', async () => {
    const port = await closedPort();
    const err = (await rejectionOf(run(process.execPath, [BIN, 'dlq', 'stats'], { env: { ...process.env, TEMPORAL_ADDRESS: `127.0.0.1:${port}` } }))) as {
      code: number;
      stderr: string;
    };
    expect(err.code).toBe(3);
    expect(err.stderr).toContain(`Cannot reach Temporal at 127.0.0.1:${port}`);
    expect(err.stderr.replace(/\s*›\s*/g, ' ')).toContain(`Check TEMPORAL_ADDRESS (127.0.0.1:${port})`);
    // --json: the error as data on stdout, and the same exit code.
    const json = (await rejectionOf(run(process.execPath, [BIN, 'dlq', 'list', '--json', '--address', `127.0.0.1:${port}`]))) as { code: number; stdout: string };
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { message: expect.stringMatching(/^Cannot reach Temporal at /), oclif: { exit: 3 } } });
    const ok = await run(process.execPath, [BIN, 'dlq', 'list', '--json'], { env: { ...process.env, TEMPORAL_ADDRESS: address } });
    expect((JSON.parse(ok.stdout) as ListDlqResult).entries).toEqual([]);
    // Without TEMPORAL_ADDRESS, the operator commands look where `start` serves its embedded server:
    // 127.0.0.1:$EMBEDDED_TEMPORAL_PORT, not a hard-coded 7233.
    const { TEMPORAL_ADDRESS: _unset, ...noAddress } = process.env;
    const embeddedPort = address.slice(address.lastIndexOf(':') + 1);
    const viaPort = await run(process.execPath, [BIN, 'dlq', 'list', '--json'], { env: { ...noAddress, EMBEDDED_TEMPORAL_PORT: embeddedPort } });
    expect((JSON.parse(viaPort.stdout) as ListDlqResult).entries).toEqual([]);
    const down = (await rejectionOf(run(process.execPath, [BIN, 'dlq', 'list'], { env: { ...noAddress, EMBEDDED_TEMPORAL_PORT: String(port) } }))) as { code: number; stderr: string };
    expect(down.code).toBe(3);
    // It names the variable as the reason for the address, and does not tell the user to set it.
    expect(down.stderr.replace(/\s*›\s*/g, ' ')).toContain(`Cannot reach Temporal at 127.0.0.1:${port}`);
    expect(down.stderr.replace(/\s*›\s*/g, ' ')).toContain('EMBEDDED_TEMPORAL_PORT says the embedded server of `fraiseql-observers start` serves');
  });

  it('names an unknown namespace', async () => {
    const { error } = await dlq(['list', '--namespace', 'nope']);
    expect(error?.oclif?.exit).toBe(2);
    expect(error?.message).toBe(`--namespace (TEMPORAL_NAMESPACE): namespace "nope" does not exist on Temporal at ${address} (create it: temporal operator namespace create --namespace nope)`);
  });
});
