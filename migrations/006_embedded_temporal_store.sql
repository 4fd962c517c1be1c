-- The durable store of the embedded Temporal server (schema fraiseql_temporal). Generated from
-- src/embedded-temporal/store/schema.ts; keep the two identical (test/unit/embedded-store-schema.test.ts).
DO $store$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'fraiseql_temporal') THEN
    CREATE SCHEMA fraiseql_temporal;
  END IF;
END
$store$;

-- Namespaces with their stable ids, retention and registered custom search attributes.
CREATE TABLE IF NOT EXISTS fraiseql_temporal.namespaces (
  name              text PRIMARY KEY,
  id                uuid NOT NULL,
  retention_ms      bigint NOT NULL,
  search_attributes jsonb NOT NULL DEFAULT '{}'::jsonb,
  updated_at        timestamptz NOT NULL DEFAULT now()
);

-- One row per run. seq orders the runs of a workflow id (the newest is the current one).
-- state holds what the events do not: buffered events, activity attempts, request ids.
-- status and close_time are copies for people reading the table; the server derives both from the history.
CREATE TABLE IF NOT EXISTS fraiseql_temporal.runs (
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
CREATE INDEX IF NOT EXISTS runs_workflow_idx ON fraiseql_temporal.runs (namespace, workflow_id, seq);

-- The history: batches of events (a temporal.api.history.v1.History message each), appended in
-- the transaction that answers the call which produced them.
CREATE TABLE IF NOT EXISTS fraiseql_temporal.history (
  run_id         uuid NOT NULL,
  first_event_id integer NOT NULL,
  last_event_id  integer NOT NULL,
  events         bytea NOT NULL,
  PRIMARY KEY (run_id, first_event_id)
);

CREATE TABLE IF NOT EXISTS fraiseql_temporal.store_info (
  key   text PRIMARY KEY,
  value text NOT NULL
);
INSERT INTO fraiseql_temporal.store_info (key, value) VALUES ('layout_version', '1') ON CONFLICT (key) DO NOTHING;
