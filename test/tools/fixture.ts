/**
 * A running service with events in every state, for the tests that look at it with Temporal's own
 * tools (the `temporal` CLI and the Web UI), and the way to find those tools.
 *
 * The tools are Go programs built from the Go module proxy (`scripts/real-temporal.sh`), found under
 * `$REAL_TEMPORAL_DIR/bin` (default `<repo>/.real-temporal/bin`). A missing binary fails the test
 * with what to do, never skips it.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { migrate } from '../../src/db/migrate';
import { createTestDatabase, waitFor, type TestDatabase } from '../helpers/pg';
import { type HttpReceiver, startHttpReceiver } from '../helpers/receivers';
import { type CliProcess, ROOT, startDevServer, startService, type DevServer, type RunningService } from '../helpers/service-process';

/** Where the real tools are: `$REAL_TEMPORAL_DIR`, else `<repo>/.real-temporal`. */
export function realTemporalDir(): string {
  const dir = process.env.REAL_TEMPORAL_DIR;
  return dir && dir !== '' ? resolve(dir) : join(ROOT, '.real-temporal');
}

/**
 * Path of a real Temporal tool (`temporal` or `ui-server`).
 * @throws Error naming the missing file and how to build it
 */
export function requireTool(name: 'temporal' | 'ui-server'): string {
  const path = join(realTemporalDir(), 'bin', name);
  if (!existsSync(path)) {
    throw new Error(
      `npm run test:tools needs the real Temporal ${name === 'temporal' ? 'CLI' : 'Web UI server'} at ${path}, which does not exist. ` +
        'Build the tools with `bash scripts/real-temporal.sh` (needs Go), or set REAL_TEMPORAL_DIR to a folder whose bin/ holds `temporal` and `ui-server`.',
    );
  }
  return path;
}

export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the `temporal` CLI against `address` with no user config or TEMPORAL_* variables in the way. */
export async function temporalCli(address: string, args: string[], home: string): Promise<ToolResult> {
  const bin = requireTool('temporal');
  return await new Promise<ToolResult>((resolvePromise, reject) => {
    const child = spawn(bin, [...args, '--address', address, '--color', 'never'], {
      env: { PATH: process.env.PATH ?? '', HOME: home },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** Which server the service uses: its own embedded one (`start`), or a separate `dev-server`. */
export type ServerKind = 'start' | 'dev-server';

export interface EventRuns {
  /** Completed Order INSERT runs (one webhook each). */
  created: string[];
  /** Completed Invoice INSERT runs. */
  invoices: string[];
  /** The failed (dead-letter) run: its webhook answered 400. */
  deadLetter: string;
  /** Open runs: one webhook delivered, one held open by the receiver (a pending activity). */
  held: string[];
}

export interface ServiceFixture {
  /** host:port of the Temporal server the service uses. */
  address: string;
  service: RunningService;
  devServer: DevServer | null;
  db: TestDatabase;
  receiver: HttpReceiver;
  runs: EventRuns;
  /** An SDK client on the same server, for checks the tools do not cover. */
  client: Client;
  /** A temporary HOME for the tools (no user config). */
  home: string;
  /** Answer every held webhook request (those held later are answered at once). */
  releaseHeld(): void;
  /** Insert `n` more held Order events (holding again) and wait until each has its webhook held open. */
  addHeld(n: number): Promise<string[]>;
  close(): Promise<void>;
}

const workflowId = (eventId: string) => `fraiseql-event:${eventId}`;

/**
 * Start the service (`start`, or `dev-server` plus `start` with TEMPORAL_ADDRESS) with three
 * observers on Order and one on Invoice, insert events, and wait until every run has reached the
 * state it is meant to show: completed, failed (dead letter) or open with a pending activity.
 */
export async function startServiceFixture(kind: ServerKind, counts = { created: 3, invoices: 2, held: 4 }): Promise<ServiceFixture> {
  const children: CliProcess[] = [];
  const db = await createTestDatabase(`tools_${kind.replace('-', '_')}`);
  let receiver: HttpReceiver | undefined;
  let client: Client | undefined;
  const home = mkdtempSync(join(tmpdir(), 'tools-home-'));
  const held: ServerResponse[] = [];
  let released = false;
  const releaseHeld = () => {
    released = true;
    for (const res of held.splice(0)) if (!res.writableEnded) res.end('ok');
  };
  const close = async () => {
    releaseHeld();
    for (const c of children.reverse()) await c.stop(5000);
    await client?.connection.close();
    await receiver?.close();
    await db.drop();
    rmSync(home, { recursive: true, force: true });
  };
  try {
    await migrate({ pool: db.pool });
    receiver = await startHttpReceiver((req, res) => {
      if (req.path.startsWith('/hold/') && !released) {
        held.push(res);
        return;
      }
      res.statusCode = req.path.startsWith('/reject/') ? 400 : 200;
      res.end(res.statusCode === 200 ? 'ok' : '{"error":"unknown order"}');
    });
    const config = join(home, 'observers.yaml');
    writeFileSync(config, [
      'ssrf:',
      '  allow: [127.0.0.1]',
      'observers:',
      '  order_created:',
      '    entity: Order',
      '    events: [INSERT]',
      '    actions:',
      '      - type: webhook',
      `        url: "${receiver.url}/created/{{ event.entity_id }}"`,
      '  order_paid:',
      '    entity: Order',
      '    events: [UPDATE]',
      "    condition: \"status == 'paid'\"",
      '    failure_policy: dlq',
      '    actions:',
      '      - type: webhook',
      `        url: "${receiver.url}/reject/{{ event.entity_id }}"`,
      '  order_held:',
      '    entity: Order',
      '    events: [UPDATE]',
      "    condition: \"status == 'held'\"",
      '    actions:',
      '      - type: webhook',
      `        url: "${receiver.url}/notify/{{ event.entity_id }}"`,
      '      - type: webhook',
      `        url: "${receiver.url}/hold/{{ event.entity_id }}"`,
      '        timeout_ms: 240000',
      '  invoice_created:',
      '    entity: Invoice',
      '    events: [INSERT]',
      '    actions:',
      '      - type: webhook',
      `        url: "${receiver.url}/invoice/{{ event.entity_id }}"`,
      '',
    ].join('\n'));

    let devServer: DevServer | null = null;
    const env: Record<string, string> = {
      DATABASE_URL: db.url, LISTENER_ID: `tools-${kind}`, POLL_INTERVAL_MS: '200', METRICS_HOST: '127.0.0.1', WORKER_SHUTDOWN_GRACE_MS: '1000',
      // `temporal workflow stack` and the UI's call stack need them (off by default: README "Performance").
      WORKER_WORKFLOW_STACK_TRACES: 'true',
    };
    if (kind === 'dev-server') {
      devServer = await startDevServer();
      children.push(devServer);
      env.TEMPORAL_ADDRESS = devServer.address;
    }
    const service = await startService(['--config', config, '--metrics-port', '0', ...(kind === 'start' ? ['--temporal-port', '0'] : [])], env);
    children.push(service);
    const address = String(service.info.temporal_address);

    const insert = async (entity: string, kind: 'INSERT' | 'UPDATE', status: string | null, n: number) => {
      const { rows } = await db.pool.query<{ id: string }>(
        `INSERT INTO core.tb_entity_change_log (object_type, modification_type, object_id, object_data)
         SELECT $1, $2, gen_random_uuid(), CASE WHEN $3::text IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('status', $3::text) END
           FROM generate_series(1, $4::int) RETURNING id::text`,
        [entity, kind, status, n],
      );
      return rows.map((r) => workflowId(r.id));
    };
    const runs: EventRuns = {
      created: await insert('Order', 'INSERT', null, counts.created),
      invoices: await insert('Invoice', 'INSERT', null, counts.invoices),
      deadLetter: (await insert('Order', 'UPDATE', 'paid', 1))[0]!,
      held: await insert('Order', 'UPDATE', 'held', counts.held),
    };

    const connection = await Connection.connect({ address });
    client = new Client({ connection, namespace: 'default' });
    const c = client;
    const status = async (id: string) => (await c.workflow.getHandle(id).describe().catch(() => null))?.status.name;
    const all = [...runs.created, ...runs.invoices];
    await waitFor('the completed runs', async () => (await Promise.all(all.map(status))).every((s) => s === 'COMPLETED'), 120_000, 200);
    await waitFor('the dead-letter run to fail', async () => (await status(runs.deadLetter)) === 'FAILED', 60_000, 200);
    await waitFor('every held run with its webhook held open', () => held.length >= counts.held, 60_000, 100);
    // The other action of each held run has finished: the run shows one outcome and one pending activity.
    await waitFor('the held runs\' first actions delivered', () => receiver!.requests.filter((r) => r.path.startsWith('/notify/')).length >= counts.held, 60_000, 100);
    const addHeld = async (n: number) => {
      released = false;
      const before = held.length;
      const ids = await insert('Order', 'UPDATE', 'held', n);
      await waitFor(`${n} more held webhooks`, () => held.length >= before + n, 60_000, 100);
      return ids;
    };
    return { address, service, devServer, db, receiver, runs, client, home, releaseHeld, addHeld, close };
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
}
