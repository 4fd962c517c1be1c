/**
 * Installs the peer pipeline into a bench database: graphile-worker's schema, then a row trigger on
 * the change-log table that enqueues one job per committed row, in the row's own transaction.
 * Run by bench/e2e.ts before it starts the peer worker; the service's own migrations must already
 * have created the change-log table.
 */
import { readFileSync } from 'node:fs';
import { Client } from 'pg';
import { runMigrations } from 'graphile-worker';
import { quietLogger } from './logger';

/** The task name the trigger enqueues and the peer worker runs. */
export const PEER_TASK = 'deliver_change';

/** The installed graphile-worker version, for messages and the bench header. */
export const GRAPHILE_WORKER_VERSION = (JSON.parse(readFileSync(require.resolve('graphile-worker/package.json'), 'utf8')) as { version: string }).version;

/** The database named in messages: its URL without credentials. */
function displayDatabase(databaseUrl: string): string {
  const u = new URL(databaseUrl);
  u.username = '';
  u.password = '';
  return u.toString();
}

/**
 * Installs graphile-worker's schema in `databaseUrl` and the enqueueing trigger on `table`.
 *
 * @throws Error naming the database and the step that failed: a bench without its yardstick must
 *   not quietly print service rows alone.
 */
export async function installPeer(databaseUrl: string, table: string): Promise<void> {
  const where = displayDatabase(databaseUrl);
  try {
    await runMigrations({ connectionString: databaseUrl, logger: quietLogger });
  } catch (err) {
    throw new Error(`peer pipeline: graphile-worker ${GRAPHILE_WORKER_VERSION} could not install its schema (graphile_worker) in ${where}: ${(err as Error).message}`, { cause: err });
  }
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
       WHERE n.nspname = 'graphile_worker' AND p.proname = 'add_job'`,
    );
    if ((rows[0]?.n ?? 0) === 0) {
      throw new Error(`peer pipeline: graphile-worker ${GRAPHILE_WORKER_VERSION} reported its schema installed in ${where}, but graphile_worker.add_job does not exist there`);
    }
    // A row trigger, as a team wiring this by hand would write it: the whole row travels as the
    // job payload, so the task needs no second read of the change log.
    try {
      await client.query(`
        CREATE FUNCTION public.bench_peer_enqueue() RETURNS trigger LANGUAGE plpgsql AS $fn$
        BEGIN
          PERFORM graphile_worker.add_job('${PEER_TASK}', to_json(NEW));
          RETURN NULL;
        END
        $fn$;
        CREATE TRIGGER bench_peer_enqueue AFTER INSERT ON ${table}
          FOR EACH ROW EXECUTE FUNCTION public.bench_peer_enqueue();
      `);
    } catch (err) {
      throw new Error(`peer pipeline: could not create the enqueueing trigger on ${table} in ${where}: ${(err as Error).message}`, { cause: err });
    }
  } finally {
    await client.end();
  }
}
