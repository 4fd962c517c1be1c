/**
 * One server per store: a session-level advisory lock held by the store's own session, which is
 * also the session every write goes through. A write therefore succeeds only while the lock is
 * held: when the session dies, PostgreSQL releases the lock and the writes stop with it, so a
 * server that lost its store can never write beside the one that took over (never two writers).
 * A second server on the same store stands by, trying the lock every `retryMs`, and takes over
 * when the holder's session ends (a kill -9 ends it at once: the socket closes).
 */
import { hostname } from 'node:os';
import { Client } from 'pg';
import { advisoryKey } from '../../db/advisory';
import { destroySession } from '../../listener/session';

export interface LeadershipOptions {
  url: string;
  schema: string;
  /** Stand by until the store is free (true, the default) or fail at once when another server holds it. */
  wait: boolean;
  /** Interval between lock attempts while standing by (ms). */
  retryMs: number;
  /** Called once when another server holds the store and this one starts standing by. */
  onStandby?: (holder: string) => void;
  signal?: AbortSignal;
}

/** The store is served by another process and `wait` is false. */
export class StoreBusyError extends Error {}

/** The store could not be reached or opened. */
export class StoreUnavailableError extends Error {}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/** Open the store's session and take its lock (standing by while another server holds it). */
export async function acquireStoreSession(o: LeadershipOptions): Promise<Client> {
  const key = advisoryKey('embedded-temporal-store', o.schema);
  const appName = `fraiseql-observers temporal-store pid ${process.pid} on ${hostname()}`.slice(0, 63);
  let announced = false;
  for (;;) {
    if (o.signal?.aborted) throw new StoreUnavailableError('stopped while waiting for the durable store');
    const client = new Client({ connectionString: o.url, application_name: appName, keepAlive: true, keepAliveInitialDelayMillis: 5000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      // Keepalives make PostgreSQL notice a vanished server host within seconds and free its lock.
      await client.query('SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3');
    } catch (err) {
      destroySession(client);
      throw new StoreUnavailableError(`cannot open the durable store at ${redactUrl(o.url)}: ${(err as Error).message}`, { cause: err });
    }
    for (;;) {
      let ok: boolean;
      try {
        const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [key.key]);
        ok = rows[0]?.ok === true;
      } catch (err) {
        destroySession(client);
        throw new StoreUnavailableError(`cannot lock the durable store at ${redactUrl(o.url)}: ${(err as Error).message}`, { cause: err });
      }
      if (ok) return client;
      const holder = await describeHolder(client, key.classid, key.objid);
      const what = `the durable store "${o.schema}" in ${redactUrl(o.url)} is served by another embedded Temporal server (${holder})`;
      if (!o.wait) {
        destroySession(client);
        throw new StoreBusyError(`${what}; only one server may serve a store at a time. Stop it, or give this one another database or schema.`);
      }
      if (!announced) {
        announced = true;
        o.onStandby?.(holder);
      }
      await new Promise((r) => setTimeout(r, o.retryMs));
      if (o.signal?.aborted) {
        destroySession(client);
        throw new StoreUnavailableError('stopped while waiting for the durable store');
      }
    }
  }
}

async function describeHolder(client: Client, classid: number, objid: number): Promise<string> {
  try {
    const { rows } = await client.query<{ pid: number; app: string | null; addr: string | null }>(
      `SELECT a.pid, a.application_name AS app, host(a.client_addr) AS addr
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 1 AND l.granted
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [classid, objid],
    );
    const r = rows[0];
    if (!r) return 'holder not visible to this role';
    return `${r.app || 'unnamed session'}, backend pid ${r.pid}${r.addr ? ` from ${r.addr}` : ''}`;
  } catch {
    return 'holder unknown';
  }
}
