-- Bulk import (acl-service import, POST /api/sync): one revision for a whole directory, without a
-- changelog row and a notification per fact row.
--
-- An importing transaction takes its revision like any writer, then sets `acl.bulk_write = 'on'`
-- (SET LOCAL, so it ends with the transaction) and writes the changelog itself: one 'import' row
-- per organization touched (the fact index reloads that organization whole) and ordinary rows for
-- the users, keys and projects it changed (the index refreshes those global maps by row).

ALTER TABLE changelog DROP CONSTRAINT changelog_op_check;
ALTER TABLE changelog ADD CONSTRAINT changelog_op_check CHECK (op IN ('insert', 'update', 'delete', 'import'));

CREATE OR REPLACE FUNCTION record_fact_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    current_revision bigint;
    revision_taken boolean;
    fact jsonb;
    organization uuid;
    key_columns text[] := TG_ARGV[1:TG_NARGS - 1];
    previous jsonb;
    previous_organization uuid;
BEGIN
    -- The row version of acl_revision was written by this transaction iff it took a revision.
    SELECT value, xmin = pg_current_xact_id()::xid INTO current_revision, revision_taken FROM acl_revision;
    IF NOT revision_taken THEN
        RAISE EXCEPTION '% on % outside a revision', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Increment acl_revision first in the same transaction (store.writes.write_transaction).';
    END IF;
    -- A bulk import records its changes itself, set-based, in the same transaction.
    IF current_setting('acl.bulk_write', true) = 'on' THEN
        RETURN NULL;
    END IF;

    IF TG_OP = 'DELETE' THEN
        fact := to_jsonb(OLD);
    ELSE
        fact := to_jsonb(NEW);
    END IF;
    organization := fact_organization(TG_ARGV[0], fact);
    INSERT INTO changelog (revision, organization_id, table_name, op, row_key)
    SELECT current_revision, organization, TG_TABLE_NAME, lower(TG_OP), jsonb_object_agg(k, fact -> k)
    FROM unnest(key_columns) AS k;
    -- NULL organizations are not announced here: the transaction's closing '<revision>:' has the
    -- same payload, and Postgres keeps the first of duplicate payloads, which would move that
    -- closing announcement ahead of the organization notices.
    IF organization IS NOT NULL THEN
        PERFORM pg_notify('acl_changes', current_revision || ':' || organization);
    END IF;

    -- A row moved to another organization must also refresh the one it left.
    IF TG_OP = 'UPDATE' THEN
        previous := to_jsonb(OLD);
        previous_organization := fact_organization(TG_ARGV[0], previous);
        IF previous_organization IS DISTINCT FROM organization THEN
            INSERT INTO changelog (revision, organization_id, table_name, op, row_key)
            SELECT current_revision, previous_organization, TG_TABLE_NAME, 'update',
                   jsonb_object_agg(k, previous -> k)
            FROM unnest(key_columns) AS k;
            IF previous_organization IS NOT NULL THEN
                PERFORM pg_notify('acl_changes', current_revision || ':' || previous_organization);
            END IF;
        END IF;
    END IF;
    RETURN NULL;
END
$$;
