/**
 * Settings of the operator commands (`migrate`, `status`, `debug-event`, `checkpoint ...`), read
 * from the same environment variables and through the same validation as the service's config
 * (src/config/env.ts), with command-line flags taking precedence. Only the variables a command
 * uses are looked at, so an unrelated bad variable (say REDIS_URL) does not stop `status`.
 */
import { formatIssue, parseEnv, type ConfigIssue, type TableName } from '../config';

/** What an operator command may need from the environment. */
export interface CommandSettings {
  databaseUrl: string;
  changeLogTable: TableName;
  /** `host:port`; the default local address when TEMPORAL_ADDRESS is unset. */
  temporalAddress: string;
  /** True when the address came from --address or TEMPORAL_ADDRESS (not the default). */
  temporalAddressGiven: boolean;
  temporalNamespace: string;
  workflowIdPrefix: string;
}

/** Flags that override the environment; undefined means "not given". */
export interface SettingsFlags {
  databaseUrl?: string;
  table?: string;
  address?: string;
  namespace?: string;
  workflowIdPrefix?: string;
}

/** The address `status` and `debug-event` try when neither --address nor TEMPORAL_ADDRESS is set. */
export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';

/** One or more settings are invalid; the message names each flag or variable. */
export class SettingsError extends Error {
  constructor(readonly issues: ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'SettingsError';
  }
}

// Which flag overrides which variable, for messages that name what the user actually typed.
const FLAG_OF: Record<string, string> = {
  DATABASE_URL: '--database-url',
  CHANGE_LOG_TABLE: '--table',
  TEMPORAL_ADDRESS: '--address',
  TEMPORAL_NAMESPACE: '--namespace',
  WORKFLOW_ID_PREFIX: '--workflow-id-prefix',
};

/**
 * Resolve the settings: each flag, else its environment variable, else the config default.
 *
 * @throws SettingsError naming `--flag` or `env.NAME` for every invalid value (a missing database
 *   URL included).
 */
export function resolveCommandSettings(env: Readonly<Record<string, string | undefined>>, flags: SettingsFlags): CommandSettings {
  const picked: Record<string, string | undefined> = {
    DATABASE_URL: flags.databaseUrl ?? env.DATABASE_URL,
    CHANGE_LOG_TABLE: flags.table ?? env.CHANGE_LOG_TABLE,
    TEMPORAL_ADDRESS: flags.address ?? env.TEMPORAL_ADDRESS,
    TEMPORAL_NAMESPACE: flags.namespace ?? env.TEMPORAL_NAMESPACE,
    WORKFLOW_ID_PREFIX: flags.workflowIdPrefix ?? env.WORKFLOW_ID_PREFIX,
  };
  const given: Record<string, boolean> = {
    DATABASE_URL: flags.databaseUrl !== undefined,
    CHANGE_LOG_TABLE: flags.table !== undefined,
    TEMPORAL_ADDRESS: flags.address !== undefined,
    TEMPORAL_NAMESPACE: flags.namespace !== undefined,
    WORKFLOW_ID_PREFIX: flags.workflowIdPrefix !== undefined,
  };
  const parsed = parseEnv(picked);
  if ('issues' in parsed) {
    throw new SettingsError(
      parsed.issues.map((i) => {
        const name = i.path.replace(/^env\./, '');
        if (name === 'DATABASE_URL' && picked.DATABASE_URL === undefined) {
          return { path: 'DATABASE_URL', message: 'no database given: pass --database-url or set DATABASE_URL' };
        }
        return { path: given[name] ? (FLAG_OF[name] ?? i.path) : i.path, message: i.message };
      }),
    );
  }
  const v = parsed.value;
  return {
    databaseUrl: v.databaseUrl,
    changeLogTable: v.changeLogTable,
    temporalAddress: v.temporalAddress ?? DEFAULT_TEMPORAL_ADDRESS,
    temporalAddressGiven: v.temporalAddress !== null,
    temporalNamespace: v.temporalNamespace,
    workflowIdPrefix: v.workflowIdPrefix,
  };
}
