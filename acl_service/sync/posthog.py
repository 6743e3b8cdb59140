"""From PostHog itself: its own tables, read-only, into the import format.

One query per import file, each run on PostHog's PostgreSQL in one read-only REPEATABLE READ
snapshot and COPYed into `<table>.ndjson` exactly as `export` writes; `acl-service import
--from-posthog DSN` then imports that folder. The tables and columns are those of PostHog's Django
models:

| acl-service              | PostHog table (model)                                                  |
|--------------------------|------------------------------------------------------------------------|
| users                    | posthog_user (User)                                                    |
| organizations            | posthog_organization (Organization)                                    |
| organization_memberships | posthog_organizationmembership (OrganizationMembership)               |
| projects                 | posthog_team (Team: an environment, the id of /api/projects/{id})     |
| explicit_memberships     | ee_explicitteammembership (ExplicitTeamMembership)                     |
| roles, role_memberships  | ee_role (Role), ee_rolemembership (RoleMembership)                     |
| resources                | posthog_dashboard, posthog_dashboarditem (Insight), posthog_featureflag |
| insight_dashboards       | posthog_dashboardtile (DashboardTile with an insight)                  |
| dashboard_privileges     | ee_dashboardprivilege (DashboardPrivilege)                             |
| access_controls          | ee_accesscontrol (AccessControl)                                       |
| personal_api_keys        | posthog_personalapikey (PersonalAPIKey)                                |

What the mapping decides, where the models and acl-service differ:
- Soft-deleted dashboards, insights and flags (`deleted`) are left out, with their tiles and
  privileges. Objects are keyed by their integer id as text (the id of their API routes).
- A key's id is a token string in PostHog and a UUID here: the UUID is the md5 of the token, so a
  re-import finds the same row. Keys hashed with PBKDF2 (before 2024) cannot be looked up by a
  SHA-256 digest and are left out; their owners need new keys.
- A role membership without `organization_membership` gets the user's membership in the role's
  organization; one whose user is not a member is left out.
- Names are cut to acl-service's bounds; a blank project name becomes "Project <id>". Product
  features keep their `key` and `name` only.
"""

from pathlib import Path
from typing import Final

import asyncpg

from acl_service.sync.exporter import write_lines

POSTHOG_QUERIES: Final = {
    "users": """
SELECT json_build_object(
    'id', id, 'uuid', uuid, 'email', left(email, 254), 'distinct_id', left(distinct_id, 200),
    'first_name', left(coalesce(first_name, ''), 150), 'last_name', left(coalesce(last_name, ''), 150),
    'is_email_verified', coalesce(is_email_verified, false),
    'hedgehog_config',
        CASE WHEN jsonb_typeof(hedgehog_config::jsonb) = 'object' THEN hedgehog_config::jsonb END,
    'is_active', is_active)
FROM posthog_user ORDER BY id""",
    "organizations": """
SELECT json_build_object(
    'id', o.id, 'name', left(o.name, 64),
    'available_product_features', (
        SELECT coalesce(jsonb_agg(jsonb_build_object(
            'key', left(feature ->> 'key', 64), 'name', left(coalesce(feature ->> 'name', ''), 200))), '[]')
        FROM jsonb_array_elements(coalesce(o.available_product_features::jsonb, '[]')) AS feature
        WHERE jsonb_typeof(feature -> 'key') = 'string' AND feature ->> 'key' <> ''),
    'members_can_use_personal_api_keys', o.members_can_use_personal_api_keys)
FROM posthog_organization o ORDER BY o.id""",
    "organization_memberships": """
SELECT json_build_object('id', id, 'organization_id', organization_id, 'user_id', user_id, 'level', level)
FROM posthog_organizationmembership ORDER BY id""",
    "projects": """
SELECT json_build_object(
    'id', id, 'organization_id', organization_id,
    'name', coalesce(nullif(btrim(left(name, 200)), ''), 'Project ' || id),
    'access_control', access_control)
FROM posthog_team ORDER BY id""",
    "explicit_memberships": """
SELECT json_build_object(
    'id', id, 'project_id', team_id, 'parent_membership_id', parent_membership_id, 'level', level)
FROM ee_explicitteammembership ORDER BY id""",
    "roles": """
SELECT json_build_object(
    'id', id, 'organization_id', organization_id, 'name', left(name, 200), 'created_by_id', created_by_id)
FROM ee_role ORDER BY id""",
    "role_memberships": """
SELECT json_build_object(
    'id', rm.id, 'role_id', rm.role_id, 'user_id', rm.user_id,
    'organization_member_id', coalesce(rm.organization_membership_id, m.id))
FROM ee_rolemembership rm
JOIN ee_role r ON r.id = rm.role_id
LEFT JOIN posthog_organizationmembership m ON m.organization_id = r.organization_id AND m.user_id = rm.user_id
WHERE coalesce(rm.organization_membership_id, m.id) IS NOT NULL
ORDER BY rm.id""",
    "resources": """
SELECT json_build_object(
    'project_id', project_id, 'resource', resource, 'resource_id', resource_id, 'name', name,
    'created_by_id', created_by_id, 'restriction_level', restriction_level)
FROM (
    SELECT team_id AS project_id, 'dashboard' AS resource, id::text AS resource_id, left(name, 400) AS name,
           created_by_id, restriction_level
    FROM posthog_dashboard WHERE NOT deleted
    UNION ALL
    SELECT team_id, 'insight', id::text, left(name, 400), created_by_id, NULL
    FROM posthog_dashboarditem WHERE NOT deleted
    UNION ALL
    SELECT team_id, 'feature_flag', id::text, left(key, 400), created_by_id, NULL
    FROM posthog_featureflag WHERE NOT deleted
) AS objects
ORDER BY project_id, resource, resource_id""",
    "insight_dashboards": """
SELECT json_build_object('project_id', d.team_id, 'insight_id', i.id::text, 'dashboard_id', d.id::text)
FROM (SELECT DISTINCT dashboard_id, insight_id FROM posthog_dashboardtile
      WHERE insight_id IS NOT NULL AND NOT coalesce(deleted, false)) AS tile
JOIN posthog_dashboard d ON d.id = tile.dashboard_id AND NOT d.deleted
JOIN posthog_dashboarditem i ON i.id = tile.insight_id AND NOT i.deleted AND i.team_id = d.team_id
ORDER BY d.team_id, i.id, d.id""",
    "dashboard_privileges": """
SELECT json_build_object(
    'id', p.id, 'project_id', d.team_id, 'dashboard_id', d.id::text, 'user_id', p.user_id, 'level', p.level)
FROM ee_dashboardprivilege p JOIN posthog_dashboard d ON d.id = p.dashboard_id AND NOT d.deleted
ORDER BY p.id""",
    "access_controls": """
SELECT json_build_object(
    'id', id, 'project_id', team_id, 'resource', resource, 'access_level', access_level,
    'resource_id', resource_id, 'organization_member_id', organization_member_id, 'role_id', role_id,
    'created_by_id', created_by_id)
FROM ee_accesscontrol ORDER BY id""",
    "personal_api_keys": """
SELECT json_build_object(
    'id', md5(id)::uuid, 'user_id', user_id, 'label', left(label, 40), 'secure_value', secure_value,
    'mask_value', mask_value, 'scopes', scopes, 'scoped_teams', coalesce(scoped_teams, '{}'),
    'scoped_organizations', coalesce(scoped_organizations::uuid[], '{}'))
FROM posthog_personalapikey
WHERE secure_value LIKE 'sha256$%' AND mask_value IS NOT NULL
ORDER BY md5(id)::uuid""",
}


async def read_posthog(dsn: str, path: Path) -> None:
    """Write PostHog's tables at `dsn` as import files into the directory `path`."""
    path.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240  (once, before any await)
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            for table, query in POSTHOG_QUERIES.items():
                await write_lines(conn, query, path / f"{table}.ndjson")
    finally:
        await conn.close()
