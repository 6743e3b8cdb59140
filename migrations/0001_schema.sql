-- acl-service schema: the facts of SPEC §2, the revision row and the changelog.
--
-- Forward-only: once applied anywhere, this file is never edited (the runner refuses a changed
-- checksum); later changes go into new numbered files.

DO $$
BEGIN
    -- UNIQUE NULLS NOT DISTINCT on access_controls needs 15.
    IF current_setting('server_version_num')::int < 150000 THEN
        RAISE EXCEPTION 'acl-service needs PostgreSQL 15 or later (this server is %)',
            current_setting('server_version');
    END IF;
END
$$;

-- One list of resource types (SPEC §3.1 SCOPE_OBJECTS) shared by every column that names one.
CREATE DOMAIN scope_object AS text CHECK (VALUE IN (
    'access_control', 'account', 'action', 'activity_log', 'annotation', 'batch_export',
    'batch_import', 'cohort', 'customer_analytics', 'customer_journey', 'dashboard',
    'dashboard_template', 'dataset', 'early_access_feature', 'endpoint', 'error_tracking',
    'evaluation', 'event_definition', 'experiment', 'experiment_holdout', 'experiment_saved_metric',
    'export', 'external_data_schema', 'external_data_source', 'feature_flag', 'file_system',
    'file_system_shortcut', 'group', 'hog_function', 'insight', 'link', 'llm_analytics',
    'llm_prompt', 'llm_provider_key', 'llm_skill', 'logs', 'marketing_analytics', 'notebook',
    'organization', 'organization_member', 'person', 'persisted_folder', 'plugin', 'project',
    'property_definition', 'query', 'revenue_analytics', 'session_recording',
    'session_recording_playlist', 'sharing_configuration', 'subscription', 'survey', 'tagger',
    'tracing', 'user', 'user_interview_DO_NOT_USE', 'warehouse_objects', 'warehouse_table',
    'warehouse_view', 'web_analytics', 'webhook'
));

-- A CHECK cannot hold a subquery, so the shape of available_product_features lives here.
CREATE FUNCTION is_product_feature_list(features jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(features) = 'array' THEN NOT EXISTS (
        SELECT FROM jsonb_array_elements(features) AS feature(entry)
        WHERE (CASE WHEN jsonb_typeof(entry) = 'object' THEN
                   jsonb_typeof(entry -> 'key') = 'string'
                   AND jsonb_typeof(entry -> 'name') = 'string'
                   AND char_length(entry ->> 'key') BETWEEN 1 AND 64
                   AND char_length(entry ->> 'name') <= 200
                   AND entry - 'key' - 'name' = '{}'::jsonb
               END) IS NOT TRUE
    ) ELSE false END
$$;

CREATE TABLE users (
    id bigint PRIMARY KEY CHECK (id > 0),
    uuid uuid NOT NULL UNIQUE,
    distinct_id text UNIQUE CHECK (char_length(distinct_id) <= 200),
    first_name text NOT NULL DEFAULT '' CHECK (char_length(first_name) <= 150),
    last_name text NOT NULL DEFAULT '' CHECK (char_length(last_name) <= 150),
    email text NOT NULL CHECK (char_length(email) <= 254),
    is_email_verified boolean NOT NULL DEFAULT false,
    hedgehog_config jsonb CHECK (jsonb_typeof(hedgehog_config) = 'object'),
    is_active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE organizations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 64),
    available_product_features jsonb NOT NULL DEFAULT '[]'
        CHECK (is_product_feature_list(available_product_features)),
    members_can_use_personal_api_keys boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE organization_memberships (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    level smallint NOT NULL DEFAULT 1 CHECK (level IN (1, 8, 15)),
    joined_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, user_id)
);
CREATE INDEX organization_memberships_user_id_idx ON organization_memberships (user_id);

CREATE TABLE projects (
    id bigint PRIMARY KEY CHECK (id > 0),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    access_control boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX projects_organization_id_idx ON projects (organization_id);

CREATE TABLE explicit_memberships (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    parent_membership_id uuid NOT NULL REFERENCES organization_memberships (id) ON DELETE CASCADE,
    level smallint NOT NULL DEFAULT 1 CHECK (level IN (1, 8)),
    joined_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, parent_membership_id)
);
CREATE INDEX explicit_memberships_parent_membership_id_idx ON explicit_memberships (parent_membership_id);

CREATE TABLE resources (
    project_id bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    resource scope_object NOT NULL CHECK (resource NOT IN ('project', 'organization')),
    resource_id text NOT NULL CHECK (
        char_length(resource_id) BETWEEN 1 AND 36 AND resource_id ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]*$'
    ),
    name text CHECK (char_length(name) <= 400),
    created_by_id bigint REFERENCES users (id) ON DELETE SET NULL,
    restriction_level smallint,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, resource, resource_id),
    -- Dashboard ids are the integer {id} of the routes, so they must fit a bigint. CASE keeps the
    -- numeric cast from ever seeing a non-numeric id.
    CONSTRAINT resources_dashboard_id_check CHECK (CASE
        WHEN resource <> 'dashboard' THEN true
        WHEN resource_id !~ '^[1-9][0-9]{0,18}$' THEN false
        ELSE resource_id::numeric <= 9223372036854775807
    END),
    CONSTRAINT resources_restriction_level_check CHECK (CASE
        WHEN resource = 'dashboard' THEN restriction_level IS NOT NULL AND restriction_level IN (21, 37)
        ELSE restriction_level IS NULL
    END)
);
CREATE INDEX resources_created_by_id_idx ON resources (created_by_id);
-- No trigger fills the dashboard default: a BEFORE INSERT trigger would also fill EXCLUDED in an
-- upsert, and an upsert that keeps an absent restriction_level would then reset it.
COMMENT ON COLUMN resources.restriction_level IS
    'Dashboards only: 21 or 37; writers insert 21 when none is given (SPEC §2 default).';

CREATE TABLE insight_dashboards (
    project_id bigint NOT NULL,
    insight_id text NOT NULL,
    insight_type text NOT NULL DEFAULT 'insight' CHECK (insight_type = 'insight'),
    dashboard_id text NOT NULL,
    dashboard_type text NOT NULL DEFAULT 'dashboard' CHECK (dashboard_type = 'dashboard'),
    PRIMARY KEY (project_id, insight_id, dashboard_id),
    FOREIGN KEY (project_id, insight_type, insight_id)
        REFERENCES resources (project_id, resource, resource_id) ON DELETE CASCADE,
    FOREIGN KEY (project_id, dashboard_type, dashboard_id)
        REFERENCES resources (project_id, resource, resource_id) ON DELETE CASCADE
);
CREATE INDEX insight_dashboards_dashboard_idx ON insight_dashboards (project_id, dashboard_id);

CREATE TABLE dashboard_privileges (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id bigint NOT NULL,
    dashboard_id text NOT NULL,
    dashboard_type text NOT NULL DEFAULT 'dashboard' CHECK (dashboard_type = 'dashboard'),
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    level smallint NOT NULL CHECK (level IN (21, 37)),
    added_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, dashboard_id, user_id),
    FOREIGN KEY (project_id, dashboard_type, dashboard_id)
        REFERENCES resources (project_id, resource, resource_id) ON DELETE CASCADE
);
CREATE INDEX dashboard_privileges_user_id_idx ON dashboard_privileges (user_id);

CREATE TABLE roles (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    created_by_id bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX roles_organization_id_name_key ON roles (organization_id, lower(name));
CREATE INDEX roles_created_by_id_idx ON roles (created_by_id);

CREATE TABLE role_memberships (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    role_id uuid NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    organization_member_id uuid NOT NULL REFERENCES organization_memberships (id) ON DELETE CASCADE,
    joined_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (role_id, user_id)
);
CREATE INDEX role_memberships_user_id_idx ON role_memberships (user_id);
CREATE INDEX role_memberships_organization_member_id_idx ON role_memberships (organization_member_id);

CREATE TABLE access_controls (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    resource scope_object NOT NULL,
    resource_id text CHECK (char_length(resource_id) <= 36),
    organization_member_id uuid REFERENCES organization_memberships (id) ON DELETE CASCADE,
    role_id uuid REFERENCES roles (id) ON DELETE CASCADE,
    access_level text NOT NULL,
    created_by_id bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT access_controls_access_level_check CHECK (CASE
        WHEN resource IN ('project', 'organization') THEN access_level IN ('none', 'member', 'admin')
        ELSE access_level IN ('none', 'viewer', 'editor', 'manager')
    END),
    CONSTRAINT access_controls_single_subject_check CHECK (organization_member_id IS NULL OR role_id IS NULL),
    -- Leads with (project_id, resource, resource_id): also the index of the decision path.
    CONSTRAINT access_controls_subject_key UNIQUE NULLS NOT DISTINCT
        (project_id, resource, resource_id, organization_member_id, role_id)
);
CREATE INDEX access_controls_organization_member_id_idx ON access_controls (organization_member_id);
CREATE INDEX access_controls_role_id_idx ON access_controls (role_id);
CREATE INDEX access_controls_created_by_id_idx ON access_controls (created_by_id);

CREATE TABLE personal_api_keys (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    label text NOT NULL CHECK (char_length(label) BETWEEN 1 AND 40),
    secure_value text NOT NULL UNIQUE CHECK (secure_value ~ '^sha256\$[0-9a-f]{64}$'),
    mask_value text NOT NULL CHECK (mask_value ~ '^.{4}\.\.\..{4}$'),
    scopes text[],
    scoped_teams bigint[] NOT NULL DEFAULT '{}',
    scoped_organizations uuid[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz
);
CREATE INDEX personal_api_keys_user_id_idx ON personal_api_keys (user_id);

-- Counting is race-free only because every key insert holds the acl_revision row lock, which
-- the changelog trigger below makes mandatory.
CREATE FUNCTION enforce_api_key_limit() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(*) FROM personal_api_keys WHERE user_id = NEW.user_id) >= 10 THEN
        RAISE EXCEPTION 'user % already has 10 personal API keys', NEW.user_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'personal_api_keys_per_user_limit';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER enforce_api_key_limit BEFORE INSERT OR UPDATE OF user_id ON personal_api_keys
    FOR EACH ROW EXECUTE FUNCTION enforce_api_key_limit();

-- A boolean key that can only be true makes a second row impossible.
CREATE TABLE acl_revision (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    value bigint NOT NULL CHECK (value >= 0)
);
INSERT INTO acl_revision (id, value) VALUES (true, 0);

CREATE FUNCTION refuse_revision_removal() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'acl_revision keeps exactly one row' USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER refuse_revision_delete BEFORE DELETE ON acl_revision
    FOR EACH ROW EXECUTE FUNCTION refuse_revision_removal();
CREATE TRIGGER refuse_revision_truncate BEFORE TRUNCATE ON acl_revision
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_revision_removal();

CREATE TABLE changelog (
    id bigserial PRIMARY KEY,
    revision bigint NOT NULL,
    organization_id uuid,
    table_name text NOT NULL,
    op text NOT NULL CHECK (op IN ('insert', 'update', 'delete')),
    row_key jsonb NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX changelog_revision_idx ON changelog (revision);

-- How a fact row names its organization: 'self' (organizations), 'row' (an organization_id
-- column), 'project' or 'role' (through the parent), anything else NULL (users, keys). A parent
-- deleted earlier in the same cascade yields NULL; its own row already announced the organization.
CREATE FUNCTION fact_organization(source text, fact jsonb) RETURNS uuid
LANGUAGE sql STABLE AS $$
    SELECT CASE source
        WHEN 'self' THEN (fact ->> 'id')::uuid
        WHEN 'row' THEN (fact ->> 'organization_id')::uuid
        WHEN 'project' THEN (SELECT organization_id FROM projects WHERE id = (fact ->> 'project_id')::bigint)
        WHEN 'role' THEN (SELECT organization_id FROM roles WHERE id = (fact ->> 'role_id')::uuid)
    END
$$;

-- Trigger arguments: the organization source (see fact_organization), then the key columns.
CREATE FUNCTION record_fact_change() RETURNS trigger
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

CREATE TRIGGER record_change AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION record_fact_change('none', 'id', 'uuid');
CREATE TRIGGER record_change AFTER INSERT OR UPDATE OR DELETE ON organizations
    FOR EACH ROW EXECUTE FUNCTION record_fact_change('self', 'id');
CREATE TRIGGER record_change AFTER INSERT OR UPDATE OR DELETE ON organization_memberships
    FOR EACH ROW EXECUTE FUNCTION record_fact_change('row', 'id', 'user_id');
CREATE TRIGGER record_change AFTER INSERT OR UPDATE OR DELETE ON projects
    FOR EACH ROW EXECUTE FUNCTION record_fact_change('row', 'id');
CREATE TRIGGER record_change AFTER INSERT OR UPDATE OR DELETE ON explicit_memberships
    FOR EACH ROW EXECUTE FUNCTION record_fact_change('project', 'id', 'project_id');
CREATE TRIGGER record_change AFTER INSERT OR UPDATE OR DELETE ON resources
    FOR EACH ROW EXECUTE FUNCTION record_fact_change('project', 'project_id', 'resource', 'resource_id');
CREATE TRIGGER record_change AFTER INSERT OR UPDATE OR DELETE ON insight_dashboards
    FOR EACH ROW EXECUTE FUNCTION record_fact_change('project', 'project_id', 'insight_id', 'dashboard_id');
CREATE TRIGGER record_change AFTER INSERT OR UPDATE OR DELETE ON dashboard_privileges
    FOR EACH ROW EXECUTE FUNCTION record_fact_change('project', 'id', 'project_id', 'dashboard_id');
CREATE TRIGGER record_change AFTER INSERT OR UPDATE OR DELETE ON roles
    FOR EACH ROW EXECUTE FUNCTION record_fact_change('row', 'id');
CREATE TRIGGER record_change AFTER INSERT OR UPDATE OR DELETE ON role_memberships
    FOR EACH ROW EXECUTE FUNCTION record_fact_change('role', 'id', 'role_id', 'user_id');
CREATE TRIGGER record_change AFTER INSERT OR UPDATE OR DELETE ON access_controls
    FOR EACH ROW EXECUTE FUNCTION record_fact_change('project', 'id', 'project_id', 'resource', 'resource_id');
-- last_used_at is bookkeeping, not a fact (SPEC §2): updating only it takes no revision.
CREATE TRIGGER record_change AFTER INSERT OR DELETE
    OR UPDATE OF id, user_id, label, secure_value, mask_value, scopes, scoped_teams, scoped_organizations, created_at
    ON personal_api_keys
    FOR EACH ROW EXECUTE FUNCTION record_fact_change('none', 'id', 'user_id');

-- Objects own their object-level rules; the rules reference the object by value, not by FK,
-- because resource-wide rows (resource_id NULL) and project rows have no object to point at.
CREATE FUNCTION delete_object_access_controls() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM access_controls
    WHERE project_id = OLD.project_id AND resource = OLD.resource AND resource_id = OLD.resource_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER delete_object_access_controls AFTER DELETE ON resources
    FOR EACH ROW EXECUTE FUNCTION delete_object_access_controls();

CREATE FUNCTION touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON organizations FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON organization_memberships
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON projects FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON explicit_memberships
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON resources FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON dashboard_privileges
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON role_memberships
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON access_controls
    FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
