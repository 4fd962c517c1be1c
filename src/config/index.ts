/**
 * The service's configuration: the environment plus the observers file, validated once at the
 * entry point and handed down as one deeply frozen object. Nothing here reads `process.env` or
 * the file system at import time.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { ConfigError, type ConfigIssue } from './errors';
import { parseEnv, type EnvConfig } from './env';
import { checkObserversYaml, type ObserversFile } from './observers';

export { ConfigError, formatIssue, type ConfigIssue } from './errors';
export { parseEnv, type EnvConfig, type TableName } from './env';
export {
  checkObserversYaml,
  DEFAULT_RETRY,
  EVENT_KINDS,
  FAILURE_POLICIES,
  type FailurePolicy,
  type ObserverConfig,
  type ObserversFile,
  type Ordering,
  type RetryPolicy,
  type BreakerSettings,
  type DedupSettings,
} from './observers';
export { validateObserversFile, type ObserverSummary, type ValidationReport } from './validate';
export { envReferences, missingEnvReferences, type EnvReference } from './env-refs';
export { ACTION_TYPES, type ActionConfig, type ActionType } from './actions';
export type {
  CacheAction,
  DatabaseAction,
  EmailAction,
  LogAction,
  SlackAction,
  WebhookAction,
} from './actions';

/** Everything the service needs to run, frozen. */
export interface Config extends ObserversFile {
  env: EnvConfig;
  /** The observers file it was loaded from. */
  source: string;
}

/** Recursively freezes plain data so nothing downstream can change the config it was given. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as object)) deepFreeze(child);
  }
  return value;
}

/**
 * Parses the text of an observers file (validation, normalisation, frozen result).
 *
 * @throws ConfigError listing every problem with its path.
 */
export function parseObserversYaml(text: string, sourceName: string): ObserversFile {
  const result = checkObserversYaml(text, sourceName);
  if ('issues' in result) throw new ConfigError(result.issues, sourceName);
  return deepFreeze(result.value);
}

/**
 * Builds the configuration from an environment and the observers file's text, reporting the
 * problems of both together.
 *
 * @throws ConfigError listing every problem with its path.
 */
export function parseConfig(input: { env: Readonly<Record<string, string | undefined>>; text: string; source: string }): Config {
  const env = parseEnv(input.env);
  const file = checkObserversYaml(input.text, basename(input.source));
  const issues: ConfigIssue[] = [...('issues' in env ? env.issues : []), ...('issues' in file ? file.issues : [])];
  if ('issues' in env || 'issues' in file) throw new ConfigError(issues, input.source);
  return deepFreeze({ env: env.value, ...file.value, source: input.source });
}

/**
 * Reads the observers file and validates it with the environment. Call once, at the entry point.
 *
 * @param input.env usually `process.env`.
 * @param input.file path of the observers YAML file.
 * @throws ConfigError listing every problem with its path (an unreadable file is one of them).
 */
export async function loadConfig(input: { env: Readonly<Record<string, string | undefined>>; file: string }): Promise<Config> {
  let text: string;
  try {
    text = await readFile(input.file, 'utf8');
  } catch (err) {
    const env = parseEnv(input.env);
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : `cannot read the file (${(err as Error).message})`;
    const issues = [...('issues' in env ? env.issues : []), { path: input.file, message: reason }];
    throw new ConfigError(issues, input.file, { cause: err });
  }
  return parseConfig({ env: input.env, text, source: input.file });
}
