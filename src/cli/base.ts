import { Command, Errors, Flags, type Interfaces } from '@oclif/core';
import Table from 'cli-table3';
import { EXIT_CODES, ObserversError } from '../errors';
import { explainConnectionError } from '../db/errors';
import { resolveCommandSettings, type CommandSettings, type SettingsNeeds } from '../listener/settings';
import { temporalSecurity, type TemporalSecurity } from '../temporal/connection';
import { isUnavailable, openTemporal, TemporalUnreachableError, type TemporalSession } from '../temporal/connect';
import type { SharedFlagValues } from './flags';

/**
 * Base of every command: a `--json` flag (oclif's enableJsonFlag), one place that turns the
 * project's errors into messages and exit codes (src/errors.ts: the class of the error decides the
 * code, for every command), the shared settings and Temporal connection, and readable tables.
 */
export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override enableJsonFlag = true;
  static override baseFlags = {};
  /**
   * Long-running commands (`start`, `dev-server`) set this: under --json their stdout is JSON lines
   * (one object per line: log records, then the final result or error), never a pretty document.
   */
  static jsonLines = false;

  protected flags!: Interfaces.InferredFlags<T['flags'] & typeof BaseCommand.baseFlags>;
  protected args!: Interfaces.InferredArgs<T['args']>;

  public override async init(): Promise<void> {
    await super.init();
    const { args, flags } = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (super.ctor as typeof BaseCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      args: this.ctor.args,
      strict: this.ctor.strict,
    });
    this.flags = flags as typeof this.flags;
    this.args = args as typeof this.args;
  }

  /**
   * Every failure leaves through here. A project error (src/errors.ts) becomes its message and its
   * class's exit code; a driver error that means "unreachable" or "not migrated" is explained
   * first, so no raw PostgreSQL text (or, with --json, its C file and line) reaches the user.
   * oclif's own parse errors keep their code 2. Under --json oclif takes the exit code from
   * `err.exitCode` and ignores `oclif.exit`, so both are set.
   */
  public override async catch(err: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<unknown> {
    let e: Error & { exitCode?: number; oclif?: { exit?: number } } = err;
    const explained = explainConnectionError(err, this.databaseUrlForMessages());
    if (explained instanceof ObserversError) {
      e = Object.assign(new Errors.CLIError(explained.message, { exit: explained.exitCode }), { exitCode: explained.exitCode });
    } else if (e.exitCode === undefined && typeof e.oclif?.exit === 'number') {
      e.exitCode = e.oclif.exit;
    }
    return super.catch(e);
  }

  /** Under --json: one compact line for JSON-lines commands, oclif's pretty document for the others. */
  public override logJson(json: unknown): void {
    if ((this.ctor as unknown as typeof BaseCommand).jsonLines) process.stdout.write(`${JSON.stringify(json)}\n`);
    else super.logJson(json);
  }

  /** The DATABASE_URL in use, only to name the server (never its password) in messages. */
  private databaseUrlForMessages(): string | undefined {
    const flags = (this.flags ?? {}) as SharedFlagValues;
    return flags['database-url'] ?? process.env.DATABASE_URL;
  }

  /**
   * The database / table / Temporal settings of an operator command, from its shared flags
   * (src/cli/flags.ts) over the environment. A bad value ends the command with exit code 2 and a
   * message naming the flag or variable.
   */
  protected settings(needs: SettingsNeeds = {}): CommandSettings {
    const f = this.flags as SharedFlagValues;
    return resolveCommandSettings(
      process.env,
      { databaseUrl: f['database-url'], table: f.table, address: f.address, namespace: f.namespace, workflowIdPrefix: f['workflow-id-prefix'] },
      needs,
    );
  }

  /** TEMPORAL_TLS* / TEMPORAL_API_KEY for the command's Temporal connection; a bad one ends it with exit code 2. */
  protected temporalSecurityFromEnv(): TemporalSecurity {
    return temporalSecurity(process.env);
  }

  /**
   * Connects to Temporal as the settings say, runs `fn`, and always closes the connection.
   * An unreachable server ends the command with exit code 3, a bad address or namespace with 2.
   */
  protected async withTemporal<R>(s: CommandSettings, fn: (session: TemporalSession) => Promise<R>, options: { timeoutMs?: number } = {}): Promise<R> {
    const session = await openTemporal({
      address: s.temporalAddress,
      namespace: s.temporalNamespace,
      source: s.temporalAddressSource,
      connectTimeoutMs: options.timeoutMs,
    });
    try {
      return await fn(session);
    } catch (err) {
      // The server went away mid-command: say so as for a failed connect, not with a gRPC dump.
      if (!(err instanceof ObserversError) && isUnavailable(err)) {
        throw new TemporalUnreachableError(s.temporalAddress, err instanceof Error ? err.message : String(err), s.temporalAddressSource, { cause: err });
      }
      throw err;
    } finally {
      await session.close().catch(() => undefined);
    }
  }

  /** Print rows as a table (human output only; with --json return the data instead). */
  protected table(head: string[], rows: Array<Array<string | number | null | undefined>>): void {
    const t = new Table({ head, style: { head: [], border: [] } });
    for (const r of rows) t.push(r.map((c) => (c === null || c === undefined ? '' : String(c))));
    this.log(t.toString());
  }
}

export { EXIT_CODES, Flags };
