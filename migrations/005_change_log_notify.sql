-- fraiseql-observers: optional=notify-trigger
-- A statement-level NOTIFY on the change-log table so the listener wakes at once instead of
-- waiting for its next poll. One notification per INSERT statement (payload: the statement's
-- highest pk) is enough because a notification is only a wake-up; the table is the truth.
-- Installed only when no trigger on the table already notifies the channel (FraiseQL may have one).
DO $migration$
DECLARE
  tbl regclass := to_regclass({{table_literal}});
  cursor_col name;
BEGIN
  IF tbl IS NULL THEN
    RAISE EXCEPTION 'change-log table % does not exist', {{table_literal}};
  END IF;
  IF EXISTS (SELECT 1 FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
             WHERE t.tgrelid = tbl AND NOT t.tgisinternal
               AND p.prosrc LIKE '%' || {{channel_literal}} || '%') THEN
    RAISE NOTICE 'a trigger on % already notifies %; left unchanged', tbl, {{channel_literal}};
    RETURN;
  END IF;

  SELECT a.attname INTO cursor_col
  FROM pg_attribute a
  WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped
    AND a.attname IN ('pk_entity_change_log', 'id')
    AND a.atttypid IN ('int8'::regtype, 'int4'::regtype, 'int2'::regtype)
  ORDER BY a.attname = 'pk_entity_change_log' DESC
  LIMIT 1;
  IF cursor_col IS NULL THEN
    RAISE EXCEPTION 'change-log table % has no integer pk_entity_change_log or id column', tbl;
  END IF;

  EXECUTE format(
    $sql$CREATE OR REPLACE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $body$
      BEGIN
        PERFORM pg_notify(%L, max(%I)::text) FROM fraiseql_new_rows HAVING count(*) > 0;
        RETURN NULL;
      END
    $body$$sql$,
    {{notify_function_literal}}, {{channel_literal}}, cursor_col);
  EXECUTE format(
    'CREATE TRIGGER fraiseql_observers_notify AFTER INSERT ON %s '
    'REFERENCING NEW TABLE AS fraiseql_new_rows FOR EACH STATEMENT EXECUTE FUNCTION %s()',
    tbl, {{notify_function_literal}});
END
$migration$;
