/**
 * The tables of the embedded Temporal server's durable store, modelled on Temporal's SQL
 * persistence: a row per run (identity and the small part of its mutable state that no event
 * records) and its history as appended batches of events, which are the source of truth. Task
 * queues, timers, pending activities and visibility are rebuilt from the events at start.
 *
 * The same DDL is shipped as `migrations/006_embedded_temporal_store.sql` for the default schema
 * (a test keeps the two identical); the server also runs it itself on an empty store, so
 * `dev-server --data URL` works on a database nobody migrated.
 */

/** Schema used when none is configured. */
export const DEFAULT_STORE_SCHEMA = 'fraiseql_temporal';

/** Layout version written in `store_info`; a server refuses a store written by a newer layout. */
export const STORE_LAYOUT_VERSION = 1;

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Reject a schema name that would need quoting: it is interpolated into every statement. */
export function checkSchemaName(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) {
    throw new Error(`persistence.schema: expected a lower-case SQL identifier (letters, digits, _), got ${JSON.stringify(schema)}`);
  }
  return schema;
}

/** The DDL of the store in `schema` (idempotent). */
export function storeSchemaSql(schema: string): string {
  const s = checkSchemaName(schema);
  // The catalog is checked first so that a role without CREATE on the database can run this once
  // the schema exists.
  return `DO $store$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = '${s}') THEN
    CREATE SCHEMA ${s};
  END IF;
END
$store$;

-- Namespaces with their stable ids, retention and registered custom search attributes.
CREATE TABLE IF NOT EXISTS ${s}.namespaces (
  name              text PRIMARY KEY,
  id                uuid NOT NULL,
  retention_ms      bigint NOT NULL,
  search_attributes jsonb NOT NULL DEFAULT '{}'::jsonb,
  updated_at        timestamptz NOT NULL DEFAULT now()
);

-- One row per run. seq orders the runs of a workflow id (the newest is the current one).
-- state holds what the events do not: buffered events, activity attempts, request ids.
-- status and close_time are copies for people reading the table; the server derives both from the history.
CREATE TABLE IF NOT EXISTS ${s}.runs (
  run_id        uuid PRIMARY KEY,
  namespace     text NOT NULL,
  workflow_id   text NOT NULL,
  seq           bigint NOT NULL,
  request_id    text NOT NULL,
  user_metadata bytea,
  state         bytea,
  status        smallint NOT NULL DEFAULT 1,
  close_time    timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS runs_workflow_idx ON ${s}.runs (namespace, workflow_id, seq);

-- The history: batches of events (a temporal.api.history.v1.History message each), appended in
-- the transaction that answers the call which produced them.
CREATE TABLE IF NOT EXISTS ${s}.history (
  run_id         uuid NOT NULL,
  first_event_id integer NOT NULL,
  last_event_id  integer NOT NULL,
  events         bytea NOT NULL,
  PRIMARY KEY (run_id, first_event_id)
);

CREATE TABLE IF NOT EXISTS ${s}.store_info (
  key   text PRIMARY KEY,
  value text NOT NULL
);
INSERT INTO ${s}.store_info (key, value) VALUES ('layout_version', '${STORE_LAYOUT_VERSION}') ON CONFLICT (key) DO NOTHING;
`;
}

/** Header of the migration file; the rest of the file is {@link storeSchemaSql} for the default schema. */
export const MIGRATION_HEADER =
  '-- The durable store of the embedded Temporal server (schema fraiseql_temporal). Generated from\n' +
  '-- src/embedded-temporal/store/schema.ts; keep the two identical (test/unit/embedded-store-schema.test.ts).\n';
