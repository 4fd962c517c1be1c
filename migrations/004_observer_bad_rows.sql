-- Change-log rows the listener skipped because they could not become events (unknown kind,
-- NULL or malformed id, non-object JSON). The listener records a row here before its checkpoint
-- may pass it, so `debug-event` and operators can always see why a change produced no workflow.
CREATE TABLE IF NOT EXISTS observer_bad_rows (
  listener_id    varchar(255) NOT NULL,
  change_log_pk  bigint NOT NULL,
  event_id       text,
  reason         text NOT NULL,
  message        text NOT NULL,
  recorded_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (listener_id, change_log_pk)
);

CREATE INDEX IF NOT EXISTS observer_bad_rows_recorded_idx ON observer_bad_rows (recorded_at DESC);
