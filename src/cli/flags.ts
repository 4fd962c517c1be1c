/**
 * Flags shared by the operator commands. None of them carries an oclif `env` or `default`: each is
 * resolved by {@link resolveCommandSettings} (flag, else environment variable, else default) through
 * the same validators as the service's own settings, so `status`, `dlq ...`, `checkpoint ...` and
 * `debug-event` accept and refuse exactly the same values, and name the flag or variable at fault.
 */
import { Flags } from '@oclif/core';

/** `--database-url`, for commands that read PostgreSQL. */
export const databaseFlags = {
  'database-url': Flags.string({ summary: 'PostgreSQL connection string (default: $DATABASE_URL)' }),
};

/** `--table`, for commands that read the change log. */
export const tableFlags = {
  table: Flags.string({ summary: 'Change-log table, [schema.]table (default: $CHANGE_LOG_TABLE, else core.tb_entity_change_log)' }),
};

/** `--address` / `--namespace`, for commands that talk to Temporal. */
export const temporalFlags = {
  address: Flags.string({
    summary: 'Temporal frontend host:port (default: $TEMPORAL_ADDRESS, else 127.0.0.1:$EMBEDDED_TEMPORAL_PORT, where `start` serves its embedded server; 7233 when unset)',
  }),
  namespace: Flags.string({ summary: 'Temporal namespace (default: $TEMPORAL_NAMESPACE, else default)' }),
};

/** `--workflow-id-prefix`, for commands that turn event ids into workflow ids. */
export const prefixFlag = {
  'workflow-id-prefix': Flags.string({ summary: 'Prefix of the listener’s workflow ids, added to a bare event id (default: $WORKFLOW_ID_PREFIX, else fraiseql-event)' }),
};

/** The values of the shared flags a command declares (undefined when not declared or not given). */
export interface SharedFlagValues {
  'database-url'?: string;
  table?: string;
  address?: string;
  namespace?: string;
  'workflow-id-prefix'?: string;
}
