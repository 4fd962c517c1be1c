import { BaseCommand, EXIT_CODES, Flags } from '../base';
import { ObserversError } from '../../errors';
import type { Role, RunningService } from '../../worker/service';

/** What `start --json` prints when the service has stopped. */
export interface StartResult {
  role: Role;
  temporal: { address: string; namespace: string; embedded: boolean; storage: 'memory' | 'postgresql' | 'cluster'; storageLocation: string | null };
  taskQueue: string;
  metricsUrl: string;
  stoppedBy: string;
  exitCode: number;
}

/** `fraiseql-observers start`: the listener, the worker and the metrics endpoint in one process. */
export default class Start extends BaseCommand<typeof Start> {
  static override summary = 'Run the service: change-log listener, Temporal worker and metrics endpoint';
  static override description =
    'Loads the observers file and the environment once, then runs the roles asked for. Without TEMPORAL_ADDRESS it ' +
    'runs the embedded Temporal server inside this process, its state kept in PostgreSQL (the DATABASE_URL database, ' +
    'or --temporal-data), so a crash or a restart loses nothing; --memory keeps it in memory instead (NOT durable: for ' +
    'development and tests). With TEMPORAL_ADDRESS it connects to that cluster. Logs are JSON lines (pino) on stdout, ' +
    'the human banner goes to stderr; with --json stdout is JSON lines only (one object per line: the log records, then ' +
    'the result record when it stops) and no banner is printed. SIGTERM or SIGINT stops it gracefully, also during start-up: the listener finishes its in-flight starts and saves its checkpoint, the ' +
    'worker finishes what the server holds (in memory: every open workflow, at most SHUTDOWN_DRAIN_TIMEOUT_MS), then ' +
    'the endpoint and the embedded server stop, and the process exits 0. A second signal ends the wait (exit 130) and ' +
    'logs what was left. Exit codes: 2 invalid configuration or settings, 3 PostgreSQL, Temporal or a port unavailable, ' +
    '1 a role failed while running (see the README).';

  static override examples = [
    'DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres <%= config.bin %> start --config examples/quickstart.yaml',
    '<%= config.bin %> start --config observers.yaml --memory',
    '<%= config.bin %> start --config observers.yaml --temporal-data postgres://temporal@db:5432/temporal',
    '<%= config.bin %> start --config observers.yaml --role worker',
    'TEMPORAL_ADDRESS=temporal:7233 <%= config.bin %> start --config observers.yaml --role listener',
  ];

  static override jsonLines = true;

  static override flags = {
    config: Flags.string({ char: 'c', required: true, summary: 'Observers YAML file' }),
    role: Flags.string({
      options: ['all', 'listener', 'worker'],
      default: 'all',
      summary: 'What this process runs: the listener, the worker, or both',
    }),
    'temporal-port': Flags.integer({
      min: 0,
      max: 65_535,
      summary: 'Port of the embedded Temporal server (default $EMBEDDED_TEMPORAL_PORT or 7233; 0 = any free port)',
    }),
    'metrics-port': Flags.integer({ min: 0, max: 65_535, summary: 'Port of /metrics, /healthz, /readyz (default $METRICS_PORT or 9464)' }),
    memory: Flags.boolean({
      default: false,
      exclusive: ['temporal-data', 'temporal-data-schema'],
      summary: 'Keep the embedded Temporal server in memory (NOT durable: a crash loses accepted changes)',
    }),
    'temporal-data': Flags.string({
      summary: 'PostgreSQL URL where the embedded Temporal server keeps its state (default $DATABASE_URL)',
    }),
    'temporal-data-schema': Flags.string({
      summary: 'Schema of the embedded Temporal server\'s tables (default fraiseql_temporal)',
    }),
  };

  public async run(): Promise<StartResult | undefined> {
    // A signal during start-up is remembered and honoured as soon as there is something to stop.
    let earlySignal: NodeJS.Signals | null = null;
    const onEarlySignal = (signal: NodeJS.Signals) => {
      earlySignal = signal;
    };
    process.once('SIGTERM', onEarlySignal);
    process.once('SIGINT', onEarlySignal);
    try {
      return await this.serve(() => earlySignal);
    } finally {
      process.off('SIGTERM', onEarlySignal);
      process.off('SIGINT', onEarlySignal);
    }
  }

  private async serve(earlySignal: () => NodeJS.Signals | null): Promise<StartResult | undefined> {
    // Loaded here, not at the top: oclif loads every command module to list them.
    const [{ default: pino }, { ConfigError, formatIssue, loadConfig, missingEnvReferences }, service, runtime] = await Promise.all([
      import('pino'),
      import('../../config'),
      import('../../worker/service'),
      import('../../worker/temporal-runtime'),
    ]);
    const role = this.flags.role as Role;
    const temporalData = this.flags['temporal-data'];
    if (temporalData !== undefined && !/^postgres(ql)?:\/\//.test(temporalData)) {
      this.error('--temporal-data: expected a postgres:// or postgresql:// URL', { exit: 2 });
    }
    const temporalSchema = this.flags['temporal-data-schema'];
    // Interpolated into the store's SQL, so only plain lower-case identifiers.
    if (temporalSchema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(temporalSchema)) {
      this.error(`--temporal-data-schema: expected a lower-case SQL identifier (letters, digits, _), got ${JSON.stringify(temporalSchema)}`, { exit: 2 });
    }

    let config;
    try {
      config = await loadConfig({ env: process.env, file: this.flags.config });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      for (const issue of err.issues) this.logToStderr(`  ${formatIssue(issue)}`);
      const hint = err.issues.some((i) => i.path === 'env.DATABASE_URL')
        ? '\nSet DATABASE_URL, e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm start'
        : '';
      // Under --json stderr is silent: the problems go into the one error record.
      const detail = this.jsonEnabled() ? `: ${err.issues.map(formatIssue).join('; ')}` : '';
      this.error(`cannot start: invalid configuration (${this.flags.config}), ${err.issues.length} problem(s)${detail}${hint}`, { exit: EXIT_CODES.usage });
    }
    if (config.env.temporalAddress !== null && (this.flags.memory || temporalData !== undefined || temporalSchema !== undefined)) {
      const flag = this.flags.memory ? '--memory' : temporalData !== undefined ? '--temporal-data' : '--temporal-data-schema';
      this.error(`${flag} applies to the embedded Temporal server only, and TEMPORAL_ADDRESS (${config.env.temporalAddress}) is set: unset it to run the embedded server, or drop the flag`, { exit: 2 });
    }
    if (role !== 'listener') {
      const missing = missingEnvReferences(config, process.env);
      if (missing.length > 0) {
        for (const issue of missing) this.logToStderr(`  ${formatIssue(issue)}`);
        const detail = this.jsonEnabled() ? `: ${missing.map(formatIssue).join('; ')}` : '';
        this.error(`cannot start the worker: ${missing.length} secret(s) named by ${this.flags.config} are not set in the environment${detail}`, { exit: EXIT_CODES.usage });
      }
    }

    const log = pino({
      level: config.env.logLevel,
      base: { service: 'fraiseql-observers', role, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    });
    log.info({ config: config.source, temporal_embedded: config.env.temporalAddress === null }, 'starting');
    // Only a worker uses the SDK's native runtime; created without one, it would keep a listener-only process alive after stop.
    if (role !== 'listener') runtime.installTemporalRuntime(log);

    let running: RunningService;
    try {
      running = await service.startService({
        config,
        role,
        env: process.env,
        log,
        embeddedTemporalPort: this.flags['temporal-port'],
        metricsPort: this.flags['metrics-port'],
        embeddedTemporalStorage: this.flags.memory
          ? { kind: 'memory' }
          : { kind: 'postgresql', url: temporalData ?? config.env.databaseUrl, ...(temporalSchema ? { schema: temporalSchema } : {}) },
      });
    } catch (err) {
      const e = err as Error;
      log.fatal({ error_type: e.name }, `cannot start: ${e.message}`);
      log.flush();
      const exit = err instanceof ObserversError ? err.exitCode : EXIT_CODES.failed;
      this.error(e.message, { exit });
    }

    this.announce(running, config.env.listenerId, config.env.changeLogTable.qualified, config.source);
    log.info(
      {
        temporal_address: running.temporal.address,
        temporal_embedded: running.temporal.embedded,
        temporal_storage: running.temporal.storage,
        temporal_store: running.temporal.storageLocation,
        namespace: running.temporal.namespace,
        task_queue: running.taskQueue,
        metrics_url: running.metricsUrl,
        observers: config.observers.filter((o) => o.enabled).map((o) => o.name),
      },
      'service started',
    );

    const stoppedBy = await new Promise<string>((resolve) => {
      const early = earlySignal();
      if (early) {
        log.info({ signal: early }, `${early} received during start-up: stopping now that everything has started`);
        resolve(early);
        return;
      }
      const onSignal = (signal: NodeJS.Signals) => resolve(signal);
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
      void running.failure.then((err) => resolve(`failure: ${err.message}`));
    });
    log.info({ reason: stoppedBy }, 'stopping: listener (in-flight starts, checkpoint), then worker (drain), endpoint, Temporal');
    // A second signal ends the drain (what is left is logged; a durable server keeps it); a third exits at once.
    let signals = 0;
    const force = (signal: NodeJS.Signals) => {
      signals += 1;
      if (signals === 1) {
        log.warn({ signal }, 'second signal: ending the drain now');
        running.forceStop();
        return;
      }
      log.warn({ signal }, 'third signal: exiting now');
      log.flush();
      process.exit(130);
    };
    process.on('SIGTERM', force);
    process.on('SIGINT', force);
    await running.stop();
    const exitCode = signals > 0 ? 130 : stoppedBy.startsWith('failure') ? 1 : 0;
    const result: StartResult = {
      role,
      temporal: running.temporal,
      taskQueue: running.taskQueue,
      metricsUrl: running.metricsUrl,
      stoppedBy,
      exitCode,
    };
    log.info({ exit_code: exitCode }, 'stopped');
    // With --json the result is the last JSON line, through the same (buffered) stream as the logs so
    // it stays last; oclif would print it as a pretty multi-line document.
    if (this.jsonEnabled()) log.info({ result }, 'result');
    log.flush();
    process.off('SIGTERM', force);
    process.off('SIGINT', force);
    process.exitCode = exitCode;
    // Everything is closed; should a library still hold the event loop, do not hang the orchestrator.
    setTimeout(() => {
      log.warn('a handle kept the process alive after shutdown; exiting');
      log.flush();
      process.exit(exitCode);
    }, 10_000).unref();
    return this.jsonEnabled() ? undefined : result;
  }

  /** The human banner, on stderr so stdout stays one JSON log line per line. */
  private announce(r: RunningService, listenerId: string, table: string, source: string): void {
    if (this.jsonEnabled()) return;
    const lines = [`fraiseql-observers started (role ${r.role}, config ${source})`];
    if (r.temporal.embedded) {
      lines.push(
        `  Temporal    embedded server at ${r.temporal.address}, namespace ${r.temporal.namespace}`,
        r.temporal.storage === 'postgresql'
          ? `              durable: state in PostgreSQL ${r.temporal.storageLocation ?? ''} (workflows and the dead-letter queue survive restarts and crashes)`
          : '              ** IN MEMORY, NOT DURABLE: a crash loses accepted changes, and workflows and the dead-letter queue go when this process stops. **',
        `              Other processes can use it: TEMPORAL_ADDRESS=${r.temporal.address} fraiseql-observers dlq list`,
        `              or: temporal workflow list --address ${r.temporal.address}`,
        r.temporal.storage === 'postgresql'
          ? '              A single node: to scale out, set TEMPORAL_ADDRESS to a Temporal cluster.'
          : '              For durability start without --memory; to scale out, set TEMPORAL_ADDRESS to a Temporal cluster.',
      );
    } else {
      lines.push(`  Temporal    ${r.temporal.address}, namespace ${r.temporal.namespace}`);
    }
    lines.push(`  Task queue  ${r.taskQueue}`);
    if (r.listener) lines.push(`  Listener    id ${listenerId}, table ${table}`);
    if (r.worker) lines.push('  Worker      running');
    lines.push(`  Metrics     ${r.metricsUrl}  (health: /healthz, readiness: /readyz)`, '  Stop with Ctrl-C or SIGTERM.');
    this.logToStderr(lines.join('\n'));
  }
}
