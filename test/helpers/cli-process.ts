/**
 * The built CLI (`bin/run.js`) as a child process, the way a user runs it: its JSON log lines,
 * other stdout lines, stderr and exit, for tests of `start` and the other long-running commands.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');

export interface Cli {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  /** stdout lines that are not JSON (must stay empty: logs are JSON lines). */
  other: string[];
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Fails early with a clear message when the CLI was not built. */
export function assertBuilt(): void {
  if (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'commands', 'start.js'))) throw new Error('dist/ is missing: run `npm run build` first');
}

/** Run `fraiseql-observers <args>` with only PATH, HOME and `env` in its environment. */
export function startCli(args: string[], env: Record<string, string>): Cli {
  const child = spawn(process.execPath, ['bin/run.js', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  const other: string[] = [];
  let err = '';
  let buffered = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const line of parts.filter((l) => l.trim() !== '')) {
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        other.push(line);
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  return { child, lines, other, stderr: () => err, exited };
}

/** oclif wraps error messages with ` › ` prefixes; join them back into one line. */
export const unwrap = (text: string) => text.replace(/\s*›\s*/g, ' ').replace(/\s+/g, ' ');
