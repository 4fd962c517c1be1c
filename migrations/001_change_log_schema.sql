-- The schema of the change-log table (core by default). A FraiseQL database already has it;
-- checking the catalog first avoids needing CREATE on the database when nothing is to be created.
DO $migration$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = {{schema_literal}}) THEN
    CREATE SCHEMA {{schema}};
  END IF;
END
$migration$;
