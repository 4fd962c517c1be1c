/** Databases of their own for benchmark phases, created on a PostgreSQL server and dropped after. */
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/** Runs `fn` with an admin session on the server at `serverUrl`, closed afterwards. */
export async function onAdmin<T>(serverUrl: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: serverUrl });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A fresh database `<prefix>_<random>` on that server; `drop()` removes it (with FORCE). */
export async function benchDatabase(prefix: string, serverUrl: string): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(3).toString('hex')}`;
  await onAdmin(serverUrl, (c) => c.query(`CREATE DATABASE "${name}"`));
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return { url: u.toString(), name, drop: () => onAdmin(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined) };
}
