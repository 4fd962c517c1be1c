import { Flags } from '@oclif/core';
import { BaseCommand, EXIT_CODES } from '../base';
import type { SearchAttributeType } from '../../embedded-temporal/visibility-query';
import { SEARCH_ATTRIBUTES } from '../../temporal/search-attributes';

/** `fraiseql-observers dev-server`: the embedded Temporal-compatible server on the wall clock. */
export default class DevServer extends BaseCommand<typeof DevServer> {
  static override summary = 'Run the embedded Temporal-compatible server (in memory, or durable in PostgreSQL with --data)';
  static override description =
    'Starts the gRPC server the Temporal SDK and CLI talk to. By default all state is in memory and lost when it stops ' +
    '(development and tests). With --data <postgres URL> it keeps its state in that database (schema --data-schema, ' +
    'created when missing), resumes running workflows after a restart or crash, and serves the store alone: a second ' +
    'dev-server on the same store stands by until the first stops. Stops on SIGINT/SIGTERM (exit 0). With --json, stdout ' +
    'is JSON lines only: {"msg":"listening","address":...,"namespace":...,"durable":...} once it serves, {"msg":"stopped",...} when it stops. ' +
    'Exit code 3 when the port cannot be bound, 2 for a bad flag.';
  static override jsonLines = true;
  static override examples = [
    '<%= config.bin %> dev-server',
    '<%= config.bin %> dev-server --port 7233 --search-attribute Region=Keyword',
    '<%= config.bin %> dev-server --data postgres://localhost/app',
  ];

  static override flags = {
    port: Flags.integer({ char: 'p', default: 7233, min: 0, max: 65535, summary: 'Port to listen on (0 = any free port)' }),
    ip: Flags.string({ default: '127.0.0.1', summary: 'Interface to bind' }),
    namespace: Flags.string({ char: 'n', default: 'default', summary: 'Namespace to create' }),
    'search-attribute': Flags.string({ multiple: true, summary: 'Register a custom search attribute, Name=Type (Keyword, KeywordList, Text, Int, Double, Bool, Datetime)' }),
    'retention-hours': Flags.integer({ default: 24, min: 0, summary: 'How long closed runs are kept' }),
    data: Flags.string({ summary: 'PostgreSQL URL to keep the state in (durable); default: in memory' }),
    'data-schema': Flags.string({ default: 'fraiseql_temporal', summary: 'Schema of the durable store (with --data)' }),
    'service-search-attributes': Flags.boolean({
      default: true,
      allowNo: true,
      summary: `Register the search attributes this service sets (${Object.entries(SEARCH_ATTRIBUTES).map(([k, t]) => `${k}=${t}`).join(', ')}); --no-service-search-attributes starts without them`,
    }),
  };

  public async run(): Promise<undefined> {
    // Loaded here, not at the top: oclif loads every command module to list them.
    const { startEmbeddedTemporal, parseSearchAttributeFlag } = await import('../../embedded-temporal');
    // Without them every `start` against this server would fail its workflow starts.
    const searchAttributes: Record<string, SearchAttributeType> = this.flags['service-search-attributes'] ? { ...SEARCH_ATTRIBUTES } : {};
    for (const v of this.flags['search-attribute'] ?? []) {
      try {
        const [k, t] = parseSearchAttributeFlag(v);
        searchAttributes[k] = t;
      } catch (err) {
        this.error(err instanceof Error ? err.message : String(err), { exit: 2 });
      }
    }
    if (this.flags.data !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(this.flags['data-schema'])) {
      this.error(`--data-schema: expected a lower-case SQL identifier (letters, digits, _), got ${JSON.stringify(this.flags['data-schema'])}`, { exit: 2 });
    }
    let server;
    try {
      server = await startEmbeddedTemporal({
        host: this.flags.ip,
        port: this.flags.port,
        namespace: this.flags.namespace,
        timeSkipping: false,
        searchAttributes,
        retentionMs: this.flags['retention-hours'] * 3600_000,
        persistence: this.flags.data === undefined ? undefined : {
          url: this.flags.data,
          schema: this.flags['data-schema'],
          onStandby: (holder) => this.logToStderr(`Standing by: ${holder} serves this store; taking over when it stops.`),
          onFatal: (err) => {
            this.logToStderr(`Stopped: ${err.message}`);
            process.exit(1);
          },
        },
      });
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      if (this.flags.data !== undefined && !/listen|bind|EADDRINUSE|No address added/i.test(msg)) this.error(`--data: ${msg}`, { exit: EXIT_CODES.unavailable });
      this.error(`could not listen on ${this.flags.ip}:${this.flags.port}: ${msg}`, { exit: EXIT_CODES.unavailable });
    }
    const info = { address: server.address, namespace: server.namespace, durable: server.persistence !== null };
    // Handlers first: whoever sees "listening" may stop the server right away.
    const stopped = new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    if (!this.jsonEnabled()) {
      this.log(`Embedded Temporal server listening on ${server.address} (namespace ${server.namespace})`);
      if (server.persistence) this.log(`State is durable: PostgreSQL ${server.persistence.url}, schema ${server.persistence.schema}. Press Ctrl-C to stop.`);
      else this.log('State is in memory only: it is lost when this process stops. Press Ctrl-C to stop.');
    } else {
      this.logJson({ msg: 'listening', ...info });
    }
    await stopped;
    await server.stop();
    if (this.jsonEnabled()) this.logJson({ msg: 'stopped', ...info });
    return undefined;
  }
}
