/**
 * Settings of the operator commands (`migrate`, `status`, `debug-event`, `checkpoint ...`), read
 * from the same environment variables and through the same validation as the service's config
 * (src/config/env.ts), with command-line flags taking precedence. Only the variables a command
 * uses are looked at, so an unrelated bad variable (say REDIS_URL) does not stop `status`.
 */
import { formatIssue, parseEnv, type ConfigIssue, type TableName } from '../config';
import { UsageError } from '../errors';
import { DEFAULT_TEMPORAL_ADDRESS, type AddressSource } from '../temporal/connect';

/** What an operator command may need from the environment. */
export interface CommandSettings {
  databaseUrl: string;
  changeLogTable: TableName;
  /**
   * `host:port`: --address, else TEMPORAL_ADDRESS, else where `start` serves its embedded server
   * (127.0.0.1 and EMBEDDED_TEMPORAL_PORT, default 7233).
   */
  temporalAddress: string;
  /** Where the address came from, for messages that say what to change. */
  temporalAddressSource: AddressSource;
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

export { DEFAULT_TEMPORAL_ADDRESS };

/** What a command needs; a setting it does not need is not read, so a bad value there cannot stop it. */
export interface SettingsNeeds {
  /** The command talks to PostgreSQL (DATABASE_URL is required); default true. */
  database?: boolean;
}

// Stands in for DATABASE_URL when a command does not use the database (parseEnv requires one).
const UNUSED_DATABASE_URL = 'postgres://unused@127.0.0.1/unused';

/** One or more settings are invalid; the message names each flag or variable. */
export class SettingsError extends UsageError {
  constructor(readonly issues: ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'));
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
 *   URL included, when the command needs the database).
 */
export function resolveCommandSettings(env: Readonly<Record<string, string | undefined>>, flags: SettingsFlags, needs: SettingsNeeds = {}): CommandSettings {
  const database = needs.database !== false;
  const picked: Record<string, string | undefined> = {
    DATABASE_URL: database ? (flags.databaseUrl ?? env.DATABASE_URL) : UNUSED_DATABASE_URL,
    EMBEDDED_TEMPORAL_PORT: env.EMBEDDED_TEMPORAL_PORT,
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
    EMBEDDED_TEMPORAL_PORT: false,
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
  // Port 0 means "any free port" to `start`: nothing to aim at here, so the usual default applies.
  const embeddedPort = picked.EMBEDDED_TEMPORAL_PORT !== undefined && picked.EMBEDDED_TEMPORAL_PORT.trim() !== '' && v.embeddedTemporalPort !== 0;
  const temporalAddressSource: AddressSource =
    v.temporalAddress !== null ? (flags.address !== undefined ? 'flag' : 'env') : embeddedPort ? 'embedded-port' : 'default';
  return {
    databaseUrl: database ? v.databaseUrl : '',
    changeLogTable: v.changeLogTable,
    temporalAddress: v.temporalAddress ?? (embeddedPort ? `127.0.0.1:${v.embeddedTemporalPort}` : DEFAULT_TEMPORAL_ADDRESS),
    temporalAddressSource,
    temporalNamespace: v.temporalNamespace,
    workflowIdPrefix: v.workflowIdPrefix,
  };
}
