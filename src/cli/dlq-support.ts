/**
 * What the `dlq` commands share: filter flags and small formatting helpers. Connecting, exit codes
 * and messages are the base command's (src/cli/base.ts), as for every other command.
 */
import { Flags } from '@oclif/core';
import type { ActionChange } from '../dlq/rematch';
import { UsageError } from '../errors';
import type { CompiledObservers } from '../events/match';

/** `--observer --entity --since`: which entries a command looks at. */
export const filterFlags = {
  observer: Flags.string({ summary: 'Only entries this observer took part in' }),
  entity: Flags.string({ summary: 'Only entries of this entity type (e.g. Order)' }),
  since: Flags.string({ summary: 'Only runs that failed since this time: ISO-8601 (2025-01-31T12:00:00Z) or a duration back from now (30m, 2h, 7d)' }),
};

/** A time for tables: `2025-01-31 12:00:05Z`. */
export function shortTime(iso: string | null): string {
  return iso ? `${iso.slice(0, 19).replace('T', ' ')}Z` : '';
}

/** Cuts long text for a table cell. */
export function clip(text: string | null | undefined, max = 60): string {
  if (!text) return '';
  const one = text.replace(/\s+/g, ' ');
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/** `--with-current-config` / `--config`: re-match entries against the observers file as it is now. */
export const currentConfigFlags = {
  'with-current-config': Flags.boolean({
    default: false,
    summary: 'Match the event again against the current observers file (--config): a fixed URL, retry policy or timeout applies. Same idempotency keys',
  }),
  config: Flags.string({ char: 'c', summary: 'The observers file `start` runs with (for --with-current-config)' }),
};

/**
 * The observers of `file`, compiled with the listener's matcher, validated as `start` validates
 * them (a bad file ends the command with exit 2). DATABASE_URL is not needed for this.
 */
export async function loadCurrentObservers(flags: { 'with-current-config': boolean; config?: string }): Promise<CompiledObservers | undefined> {
  if (!flags['with-current-config']) return undefined;
  const file = flags.config;
  if (!file) throw new UsageError('--with-current-config needs --config FILE: the observers file `start` runs with');
  const [{ loadConfig }, { compileObservers }] = await Promise.all([import('../config'), import('../events/match')]);
  const config = await loadConfig({ env: { ...process.env, DATABASE_URL: process.env.DATABASE_URL || 'postgres://unused@127.0.0.1/unused' }, file });
  return compileObservers(config);
}

/** Lines describing what the current config changes, for humans. */
export function describeChanges(changes: readonly ActionChange[]): string[] {
  const lines: string[] = [];
  for (const c of changes) {
    const what = c.runs ? 'runs' : c.change === 'removed' ? 'not run (no longer in the config)' : 'carried over (already succeeded)';
    lines.push(`  ${c.key}: ${c.change}, ${what}`);
    for (const f of c.fields) lines.push(`      ${f.path}: ${JSON.stringify(f.before)} → ${JSON.stringify(f.after)}`);
  }
  return lines;
}
