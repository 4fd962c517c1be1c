import { Command, Flags, type Interfaces } from '@oclif/core';
import Table from 'cli-table3';
import { resolveCommandSettings, SettingsError, type CommandSettings, type SettingsFlags } from '../listener/settings';
import { temporalSecurity, TemporalSecurityError, type TemporalSecurity } from '../temporal/connection';

/**
 * Base of every command: a `--json` flag (oclif's enableJsonFlag) and helpers for
 * readable tables and for messages when a service cannot be reached.
 */
export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override enableJsonFlag = true;
  static override baseFlags = {};

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
   * Under --json oclif takes the exit code from `err.exitCode` and ignores the `{ exit }` given to
   * `this.error`; copy it over so every command exits with the same code with or without --json.
   */
  public override async catch(err: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<unknown> {
    if (err.exitCode === undefined && typeof err.oclif?.exit === 'number') err.exitCode = err.oclif.exit;
    return super.catch(err);
  }

  /**
   * The database / table / Temporal settings of an operator command, from its flags over the
   * environment. A bad value ends the command with exit code 2 and a message naming it.
   */
  protected commandSettings(flags: SettingsFlags): CommandSettings {
    try {
      return resolveCommandSettings(process.env, flags);
    } catch (err) {
      if (err instanceof SettingsError) this.error(err.message, { exit: 2 });
      throw err;
    }
  }

  /** TEMPORAL_TLS* / TEMPORAL_API_KEY for the command's Temporal connection; a bad one ends it with exit code 2. */
  protected temporalSecurityFromEnv(): TemporalSecurity {
    try {
      return temporalSecurity(process.env);
    } catch (err) {
      if (err instanceof TemporalSecurityError) this.error(err.message, { exit: 2 });
      throw err;
    }
  }

  /** Print rows as a table (human output only; with --json return the data instead). */
  protected table(head: string[], rows: Array<Array<string | number | null | undefined>>): void {
    const t = new Table({ head, style: { head: [], border: [] } });
    for (const r of rows) t.push(r.map((c) => (c === null || c === undefined ? '' : String(c))));
    this.log(t.toString());
  }
}

export { Flags };
