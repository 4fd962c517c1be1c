-- Listener checkpoints (FraiseQL migration 02's shape) and their history, kept by a trigger so
-- every move of a checkpoint, whoever made it (listener, CLI, hand-written SQL), is on record.
CREATE TABLE IF NOT EXISTS observer_checkpoints (
  listener_id        varchar(255) PRIMARY KEY,
  last_processed_id  bigint NOT NULL DEFAULT 0,
  last_processed_at  timestamptz NOT NULL DEFAULT now(),
  batch_size         integer NOT NULL DEFAULT 100,
  event_count        integer NOT NULL DEFAULT 0,
  consecutive_errors integer NOT NULL DEFAULT 0,
  last_error         text,
  updated_by         varchar(255),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT observer_checkpoints_valid_ids CHECK (last_processed_id >= 0),
  CONSTRAINT observer_checkpoints_valid_batch CHECK (batch_size > 0 AND batch_size <= 10000),
  CONSTRAINT observer_checkpoints_valid_errors CHECK (consecutive_errors >= 0)
);

CREATE TABLE IF NOT EXISTS observer_checkpoint_history (
  history_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  listener_id         varchar(255) NOT NULL,
  operation           text NOT NULL,
  previous_id         bigint,
  last_processed_id   bigint,
  event_count         integer,
  updated_by          varchar(255),
  changed_at          timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS observer_checkpoint_history_listener_idx
  ON observer_checkpoint_history (listener_id, changed_at DESC);

CREATE OR REPLACE FUNCTION fn_observer_checkpoint_history() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO observer_checkpoint_history (listener_id, operation, previous_id, last_processed_id, event_count, updated_by)
    VALUES (OLD.listener_id, TG_OP, OLD.last_processed_id, NULL, NULL, OLD.updated_by);
    RETURN OLD;
  END IF;
  INSERT INTO observer_checkpoint_history (listener_id, operation, previous_id, last_processed_id, event_count, updated_by)
  VALUES (NEW.listener_id, TG_OP, CASE WHEN TG_OP = 'UPDATE' THEN OLD.last_processed_id END,
          NEW.last_processed_id, NEW.event_count, NEW.updated_by);
  RETURN NEW;
END
$fn$;

DO $migration$
BEGIN
  -- Error bookkeeping updates the row without moving the position: only real moves are history.
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'observer_checkpoints'::regclass
                 AND tgname = 'observer_checkpoints_history_move') THEN
    CREATE TRIGGER observer_checkpoints_history_move
      AFTER UPDATE OF last_processed_id ON observer_checkpoints
      FOR EACH ROW WHEN (OLD.last_processed_id IS DISTINCT FROM NEW.last_processed_id)
      EXECUTE FUNCTION fn_observer_checkpoint_history();
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'observer_checkpoints'::regclass
                 AND tgname = 'observer_checkpoints_history_create_drop') THEN
    CREATE TRIGGER observer_checkpoints_history_create_drop
      AFTER INSERT OR DELETE ON observer_checkpoints
      FOR EACH ROW EXECUTE FUNCTION fn_observer_checkpoint_history();
  END IF;
END
$migration$;
