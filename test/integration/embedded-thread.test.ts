/**
 * The embedded server on its own worker thread (what `start` runs by default): it serves over gRPC,
 * keeps its runs in the store across a stop and a start, and what it reports through callbacks in
 * the thread (standby, a lost store, a failed start with the error's code and cause) reaches the
 * caller on the main thread.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { isUnreachableError } from '../../src/db/errors';
import { migrate } from '../../src/db/migrate';
import { startEmbeddedTemporal } from '../../src/embedded-temporal';
import { type EmbeddedTemporalHandle, fromPlainError, startEmbeddedTemporalThread, toPlainError } from '../../src/embedded-temporal/thread';
import { createTestDatabase, type TestDatabase, waitFor } from '../helpers/pg';

jest.setTimeout(120_000);

let db: TestDatabase;
const servers: EmbeddedTemporalHandle[] = [];

beforeAll(async () => {
  db = await createTestDatabase('embedded_thread');
  await migrate({ pool: db.pool });
});

afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop().catch(() => undefined);
});

afterAll(async () => {
  await db?.drop();
});

async function connect(s: EmbeddedTemporalHandle): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect({ address: s.address });
  return { connection, client: new Client({ connection, namespace: s.namespace }) };
}

describe('embedded Temporal server on a worker thread', () => {
  it('serves over gRPC and keeps its runs in the store across a stop and a start', async () => {
    const first = await startEmbeddedTemporalThread({ port: 0, persistence: { url: db.url } });
    servers.push(first);
    expect(first.persistence).toEqual({ url: expect.stringContaining('127.0.0.1'), schema: 'fraiseql_temporal' });
    const workflowId = `kept-${randomUUID()}`;
    let { client, connection } = await connect(first);
    const handle = await client.workflow.start('noWorker', { taskQueue: 'nobody-polls', workflowId });
    await connection.close();
    await first.stop();
    // Stopped means given up: the next server takes the store at once instead of standing by.
    const second = await startEmbeddedTemporalThread({ port: 0, persistence: { url: db.url, waitForLeadership: false } });
    servers.push(second);
    ({ client, connection } = await connect(second));
    const described = await client.workflow.getHandle(workflowId).describe();
    expect(described.runId).toBe(handle.firstExecutionRunId);
    expect(described.status.name).toBe('RUNNING');
    await connection.close();
  });

  it('stops twice without error, and a stopped server no longer answers', async () => {
    const s = await startEmbeddedTemporalThread({ port: 0 });
    const { client, connection } = await connect(s);
    await expect(client.workflowService.getSystemInfo({})).resolves.toBeDefined();
    await Promise.all([s.stop(), s.stop()]);
    await s.stop();
    await expect(connection.withDeadline(Date.now() + 2000, () => client.workflowService.getSystemInfo({}))).rejects.toThrow();
    await connection.close();
  });

  it('tells the caller when it stands by behind another server, and serves once that one stops', async () => {
    const holder = await startEmbeddedTemporal({ port: 0, persistence: { url: db.url } });
    let standby: string | null = null;
    const starting = startEmbeddedTemporalThread({ port: 0, persistence: { url: db.url, standbyRetryMs: 100, onStandby: (h) => { standby = h; } } });
    await waitFor('the standby callback', () => standby !== null, 15_000, 50);
    expect(standby).toMatch(new RegExp(`pid ${process.pid}`));
    await holder.stop();
    const s = await starting;
    servers.push(s);
    const { client, connection } = await connect(s);
    await expect(client.workflowService.getSystemInfo({})).resolves.toBeDefined();
    await connection.close();
  });

  it('fails its start with the reason: store held, port taken, store unreachable (with the network code kept)', async () => {
    const holder = await startEmbeddedTemporalThread({ port: 0, persistence: { url: db.url } });
    servers.push(holder);
    await expect(startEmbeddedTemporalThread({ port: 0, persistence: { url: db.url, waitForLeadership: false } }))
      .rejects.toThrow(/served by another embedded Temporal server/);

    const taken = createServer();
    const port = await new Promise<number>((resolve) => taken.listen(0, '127.0.0.1', () => resolve((taken.address() as { port: number }).port)));
    try {
      await expect(startEmbeddedTemporalThread({ port })).rejects.toThrow(/No address added|EADDRINUSE|address already in use/i);
    } finally {
      taken.close();
    }

    const err = await startEmbeddedTemporalThread({ port: 0, persistence: { url: 'postgres://postgres@127.0.0.1:1/nowhere' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    const cause = (err as { cause?: unknown }).cause;
    expect(isUnreachableError(cause) || isUnreachableError(err)).toBe(true);
  });

  it('reports a lost store through onFatal and stops answering', async () => {
    let fatal: Error | null = null;
    const s = await startEmbeddedTemporalThread({ port: 0, persistence: { url: db.url, onFatal: (e) => { fatal = e; } } });
    servers.push(s);
    const { client, connection } = await connect(s);
    await client.workflow.start('noWorker', { taskQueue: 'nobody-polls', workflowId: `before-${randomUUID()}` });
    await db.pool.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'fraiseql-observers temporal-store%' AND datname = current_database()");
    await waitFor('the fatal report', () => fatal !== null, 15_000, 50);
    expect(String(fatal)).toMatch(/durable store's session ended/);
    await expect(connection.withDeadline(Date.now() + 3000, () => client.workflow.start('noWorker', { taskQueue: 'nobody-polls', workflowId: `after-${randomUUID()}` })))
      .rejects.toThrow();
    await connection.close();
  });
});

describe('a server thread that ends while serving', () => {
  it('is reported through onThreadFailure, also without a store', async () => {
    let failure: Error | null = null;
    const s = await startEmbeddedTemporalThread({ port: 0 }, { onThreadFailure: (e) => { failure = e; } });
    servers.push(s);
    await s.thread.terminate();
    await waitFor('the failure report', () => failure !== null, 10_000, 20);
    expect(String(failure)).toMatch(/thread exited unexpectedly/);
    // Stopping a server whose thread is gone returns at once.
    await s.stop();
  });
});

describe('errors across the thread boundary', () => {
  it('keep name, message, code, nested errors and cause', () => {
    const inner = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const agg = new AggregateError([inner], 'all attempts failed');
    const outer = new Error('cannot open the store', { cause: agg });
    outer.name = 'StoreUnavailableError';
    const back = fromPlainError(structuredClone(toPlainError(outer)));
    expect(back.name).toBe('StoreUnavailableError');
    expect(back.message).toBe('cannot open the store');
    const cause = back.cause as Error & { errors?: Array<Error & { code?: string }> };
    expect(cause.message).toBe('all attempts failed');
    expect(cause.errors?.[0]?.code).toBe('ECONNREFUSED');
    expect(isUnreachableError(cause)).toBe(true);
    expect(toPlainError('plain string')).toEqual({ name: 'Error', message: 'plain string' });
  });
});
