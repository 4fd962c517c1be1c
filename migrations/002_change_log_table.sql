-- The change-log table with every column of the FraiseQL contract, created only when absent:
-- an existing table (FraiseQL's own, or the minimal one of the guides) is used as it is.
DO $migration$
BEGIN
  IF to_regclass({{table_literal}}) IS NOT NULL THEN
    RAISE NOTICE 'change-log table % already exists; left unchanged', {{table_literal}};
    RETURN;
  END IF;

  CREATE SEQUENCE IF NOT EXISTS {{sequence}};

  CREATE TABLE {{table}} (
    -- identity (CACHE 1) keeps allocation order equal to pk order, which gap tracking relies on
    pk_entity_change_log bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                   uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    object_type          text NOT NULL,
    modification_type    text NOT NULL,
    object_id            uuid,
    object_data          jsonb,
    object_data_before   jsonb,
    updated_fields       text[],
    created_at           timestamptz NOT NULL DEFAULT now(),
    commit_time          timestamptz,
    tenant_id            uuid,
    fk_contact           bigint,
    fk_customer_org      bigint,
    seq                  bigint DEFAULT nextval({{sequence_literal}}),
    actor_type           text,
    acting_for           uuid,
    trace_id             text,
    trace_context        jsonb,
    schema_version       text,
    change_status        text,
    extra_metadata       jsonb,
    "cascade"            jsonb,
    duration_ms          integer,
    started_at           timestamptz
  );
END
$migration$;
