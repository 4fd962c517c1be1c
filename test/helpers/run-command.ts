/**
 * Runs an oclif command in this process, the way the integration tests drive the CLI: its result,
 * its error and everything it printed (oclif's own output through captureOutput, plus the lines the
 * command writes with console.log, which captureOutput does not see).
 */
import path from 'node:path';
import { format } from 'node:util';
import { captureOutput } from '@oclif/test';

const ROOT = path.join(__dirname, '..', '..');

/** `cmd.run(argv)` with the project's oclif root; never throws (a failure is in `error`). */
export async function runCommand<T>(cmd: { run(argv: string[], root: string): Promise<unknown> }, argv: string[]) {
  const lines: string[] = [];
  const spy = jest.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    lines.push(format(...args));
  });
  try {
    const r = await captureOutput<T>(() => cmd.run(argv, ROOT));
    return { ...r, stdout: r.stdout + lines.join('\n') };
  } finally {
    spy.mockRestore();
  }
}
