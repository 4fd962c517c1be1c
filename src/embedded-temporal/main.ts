#!/usr/bin/env node
/**
 * Executable launcher with the two argv contracts of `@temporalio/testing`:
 *   time-skipping:  main.js <port> [--search-attribute K=Type ...]
 *   local (dev):    main.js server start-dev --port P --namespace N [--search-attribute K=Type ...] [other flags ignored]
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
}

function parseArgs(argv: string[]): Parsed {
  const searchAttributes: Record<string, SearchAttributeType> = {};
  const rest = [...argv];
  let port = 7233;
  let namespace = 'default';
  let timeSkipping = true;
  let retentionMs: number | undefined;
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
    else if (a === '--time-skipping') timeSkipping = true;
    else if (a.startsWith('--') && rest[i + 1] !== undefined && !rest[i + 1]!.startsWith('--')) i++; // ignored flag with a value
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port: ${port}`);
  return { port, namespace, timeSkipping, searchAttributes, retentionMs };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const server = await startEmbeddedTemporal({
    host: '127.0.0.1',
    port: args.port,
    namespace: args.namespace,
    timeSkipping: args.timeSkipping,
    searchAttributes: args.searchAttributes,
    retentionMs: args.retentionMs,
  });
  process.stdout.write(`embedded Temporal server (in memory, not durable) listening on ${server.address}, namespace ${server.namespace}${args.timeSkipping ? ', time skipping' : ''}\n`);
  const parent = process.ppid;
  const watch = setInterval(() => {
    try {
      process.kill(parent, 0);
    } catch {
      process.exit(0);
    }
    if (process.ppid !== parent) process.exit(0);
  }, 500);
  watch.unref();
  const stop = () => {
    void server.stop().then(() => process.exit(0));
  };
  // Benchmarks read the call counters (EMBEDDED_TEMPORAL_STATS=1) with SIGUSR2: one JSON line on stderr.
  process.on('SIGUSR2', () => process.stderr.write(`embedded-temporal-stats ${JSON.stringify(callStats)}\n`));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  process.stderr.write(`embedded Temporal server failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
