-- Bulk import (acl-service import, POST /api/sync): one revision for a whole directory, without a
-- changelog row and a notification per fact row.
--
-- An importing transaction takes its revision like any writer, then sets `acl.bulk_write = 'on'`
-- (SET LOCAL: it ends with the transaction) and writes the changelog itself, set-based: one
-- 'import' row per organization touched (the fact index reloads that organization whole) and
-- ordinary rows for the users, keys and projects it changed (the index refreshes those by row).
--
-- The row triggers get a WHEN condition rather than an early return in record_fact_change: a
-- false WHEN is evaluated in the executor and queues nothing, while calling the PL/pgSQL function
-- only to return costs ~30 us a row (measured: 100k resources inserted in 5.1 s against 2.2 s).
-- The refusal to write facts outside a revision stays, once per statement, for bulk writes too.

ALTER TABLE changelog DROP CONSTRAINT changelog_op_check;
ALTER TABLE changelog ADD CONSTRAINT changelog_op_check CHECK (op IN ('insert', 'update', 'delete', 'import'));

CREATE FUNCTION refuse_bulk_write_outside_revision() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT (SELECT xmin = pg_current_xact_id()::xid FROM acl_revision) THEN
        RAISE EXCEPTION '% on % outside a revision', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Increment acl_revision first in the same transaction (store.writes.write_transaction).';
    END IF;
    RETURN NULL;
END
$$;

DO $$
DECLARE
    fact_table record;
BEGIN
    FOR fact_table IN
        SELECT * FROM (VALUES
            ('users', $a$'none', 'id', 'uuid'$a$),
            ('organizations', $a$'self', 'id'$a$),
            ('organization_memberships', $a$'row', 'id', 'user_id'$a$),
            ('projects', $a$'row', 'id'$a$),
            ('explicit_memberships', $a$'project', 'id', 'project_id'$a$),
            ('resources', $a$'project', 'project_id', 'resource', 'resource_id'$a$),
            ('insight_dashboards', $a$'project', 'project_id', 'insight_id', 'dashboard_id'$a$),
            ('dashboard_privileges', $a$'project', 'id', 'project_id', 'dashboard_id'$a$),
            ('roles', $a$'row', 'id'$a$),
            ('role_memberships', $a$'role', 'id', 'role_id', 'user_id'$a$),
            ('access_controls', $a$'project', 'id', 'project_id', 'resource', 'resource_id'$a$),
            ('personal_api_keys', $a$'none', 'id', 'user_id'$a$)
        ) AS t (name, arguments)
    LOOP
        EXECUTE format('DROP TRIGGER record_change ON %I', fact_table.name);
        EXECUTE format(
            'CREATE TRIGGER record_change AFTER INSERT OR DELETE OR UPDATE %s ON %I FOR EACH ROW '
            'WHEN (current_setting(''acl.bulk_write'', true) IS DISTINCT FROM ''on'') '
            'EXECUTE FUNCTION record_fact_change(%s)',
            -- last_used_at is bookkeeping, not a fact (SPEC §2): updating only it takes no revision.
            CASE WHEN fact_table.name = 'personal_api_keys' THEN
                'OF id, user_id, label, secure_value, mask_value, scopes, scoped_teams, scoped_organizations, created_at'
            ELSE '' END,
            fact_table.name,
            fact_table.arguments
        );
        EXECUTE format(
            'CREATE TRIGGER require_revision BEFORE INSERT OR UPDATE OR DELETE ON %I FOR EACH STATEMENT '
            'WHEN (current_setting(''acl.bulk_write'', true) = ''on'') '
            'EXECUTE FUNCTION refuse_bulk_write_outside_revision()',
            fact_table.name
        );
    END LOOP;
END
$$;
