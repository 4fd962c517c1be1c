#!/usr/bin/env node
/**
 * Executable launcher with the two argv contracts of `@temporalio/testing`:
 *   time-skipping:  main.js <port> [--search-attribute K=Type ...]
 *   local (dev):    main.js server start-dev --port P --namespace N [--search-attribute K=Type ...] [other flags ignored]
 * Either form takes `--data <postgres URL>` (and `--data-schema S`) to keep the state in PostgreSQL
 * instead of memory (wall clock only). While another server holds that store this one stands by
 * (a line on stderr) and listens once it has taken over.
 * It exits when its parent process goes away (the SDK stops it with SIGKILL and never cleans up).
 */
import { callStats, startEmbeddedTemporal } from './server';
import { parseSearchAttributeFlag } from './cli-args';
import { type SearchAttributeType } from './visibility-query';

interface Parsed {
  port: number;
  namespace: string;
  timeSkipping: boolean;
  searchAttributes: Record<string, SearchAttributeType>;
  retentionMs?: number;
  data?: string;
  dataSchema?: string;
}

function parseArgs(argv: string[]): Parsed {
  const searchAttributes: Record<string, SearchAttributeType> = {};
  const rest = [...argv];
  let port = 7233;
  let namespace = 'default';
  let timeSkipping = true;
  let retentionMs: number | undefined;
  let data: string | undefined;
  let dataSchema: string | undefined;
  if (rest[0] === 'server' && rest[1] === 'start-dev') {
    timeSkipping = false;
    rest.splice(0, 2);
  } else if (rest[0] && /^\d+$/.test(rest[0])) {
    port = Number(rest.shift());
  }
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    const next = () => {
      const v = rest[++i];
      if (v === undefined) throw new Error(`missing value after ${a}`);
      return v;
    };
    if (a === '--port' || a === '-p') port = Number(next());
    else if (a === '--namespace' || a === '-n') namespace = next();
    else if (a === '--search-attribute') {
      const [k, t] = parseSearchAttributeFlag(next());
      searchAttributes[k] = t;
    } else if (a === '--retention-ms') retentionMs = Number(next());
    else if (a === '--data') data = next();
    else if (a === '--data-schema') dataSchema = next();
    else if (a === '--time-skipping') timeSkipping = true;
    else if (a.startsWith('--') && rest[i + 1] !== undefined && !rest[i + 1]!.startsWith('--')) i++; // ignored flag with a value
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port: ${port}`);
  if (data !== undefined && timeSkipping) throw new Error('--data: a durable server runs on the wall clock; use the `server start-dev` form (time skipping keeps no state worth saving)');
  return { port, namespace, timeSkipping, searchAttributes, retentionMs, data, dataSchema };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  let stopping: (() => void) | null = null;
  const parent = process.ppid;
  const watch = setInterval(() => {
    let gone = process.ppid !== parent;
    try {
      process.kill(parent, 0);
    } catch {
      gone = true;
    }
    if (gone) {
      if (stopping) stopping();
      else process.exit(0);
    }
  }, 500);
  watch.unref();
  const server = await startEmbeddedTemporal({
    host: '127.0.0.1',
    port: args.port,
    namespace: args.namespace,
    timeSkipping: args.timeSkipping,
    searchAttributes: args.searchAttributes,
    retentionMs: args.retentionMs,
    persistence: args.data === undefined ? undefined : {
      url: args.data,
      schema: args.dataSchema,
      onStandby: (holder) => process.stderr.write(`embedded Temporal server standing by: ${holder} serves this store; taking over when it stops\n`),
      onFatal: (err) => {
        process.stderr.write(`embedded Temporal server stopped: ${err.message}\n`);
        process.exit(1);
      },
    },
  });
  const where = server.persistence
    ? `durable, state in PostgreSQL ${server.persistence.url} schema ${server.persistence.schema}`
    : 'in memory, not durable';
  process.stdout.write(`embedded Temporal server (${where}) listening on ${server.address}, namespace ${server.namespace}${args.timeSkipping ? ', time skipping' : ''}\n`);
  const stop = () => {
    void server.stop().then(() => process.exit(0));
  };
  stopping = stop;
  // Benchmarks read the call counters (EMBEDDED_TEMPORAL_STATS=1) with SIGUSR2: one JSON line on stderr.
  process.on('SIGUSR2', () => {
    const store = server.store ? { storeCommits: server.store.stats.commits, storeEvents: server.store.stats.eventsWritten } : {};
    // With --expose-gc, the heap after a full collection: what the runs it holds really take.
    (globalThis as { gc?: () => void }).gc?.();
    let closedRuns = 0;
    let openRuns = 0;
    let packedBytes = 0;
    for (const n of server.state.allNamespaces()) {
      for (const r of n.runs.values()) {
        if (r.isOpen) openRuns++;
        else closedRuns++;
        packedBytes += r.packedBytes;
      }
    }
    // Buffers (a packed history among them) live outside the JS heap: counted too.
    const m = process.memoryUsage();
    const memory = { heapUsedBytes: m.heapUsed + m.arrayBuffers, closedRuns, openRuns, packedBytes };
    process.stderr.write(`embedded-temporal-stats ${JSON.stringify({ ...callStats, ...store, ...memory })}\n`);
  });
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  process.stderr.write(`embedded Temporal server failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
