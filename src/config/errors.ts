import { EXIT_CODES, ObserversError, type ExitCode } from '../errors';

/**
 * One problem in the configuration. `path` names where it is (`observers.order_shipped.actions[1].url`,
 * `env.BATCH_SIZE`, or `observers.yaml:3:7` for YAML syntax); `line` is the 1-based line in the
 * observers file when known.
 */
export interface ConfigIssue {
  path: string;
  message: string;
  line?: number;
}

/** The configuration is invalid. Carries every problem found, not just the first. */
export class ConfigError extends ObserversError {
  override readonly exitCode: ExitCode = EXIT_CODES.usage;
  constructor(
    readonly issues: readonly ConfigIssue[],
    readonly source?: string,
    options?: { cause?: unknown },
  ) {
    const where = source === undefined ? 'configuration' : `configuration (${source})`;
    const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
    super(`invalid ${where}, ${count}:\n${issues.map((i) => `  ${formatIssue(i)}`).join('\n')}`, options);
  }
}

/** `path: message`, the form used in logs, errors and `validate-config`. */
export function formatIssue(issue: ConfigIssue): string {
  return `${issue.path}: ${issue.message}`;
}

/** Renders a zod-style path as `a.b[0].c` (keys that are not plain names as `a["b c"]`). */
export function formatPath(path: ReadonlyArray<PropertyKey>, prefix = ''): string {
  let out = prefix;
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (!/^[A-Za-z0-9_-]+$/.test(String(key))) out += `[${JSON.stringify(String(key))}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}
