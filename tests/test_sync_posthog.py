"""`import --from-posthog`: a PostHog-shaped scratch database (the columns the mapping reads, typed
as PostHog's Django models make them), imported, then decided on as SPEC §8 describes."""

import hashlib
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from acl_service.sync.posthog import read_posthog
from acl_service.sync.validate import LevelsOf
from tests.fixtures.sync import decisions, import_folder

POSTHOG_SCHEMA = """
CREATE TABLE posthog_user (id serial PRIMARY KEY, uuid uuid NOT NULL, email varchar(254) NOT NULL,
    distinct_id varchar(200), first_name varchar(150) NOT NULL, last_name varchar(150) NOT NULL,
    is_email_verified boolean, hedgehog_config jsonb, is_active boolean NOT NULL, password varchar(128));
CREATE TABLE posthog_organization (id uuid PRIMARY KEY, name varchar(64) NOT NULL,
    available_product_features jsonb, members_can_use_personal_api_keys boolean NOT NULL);
CREATE TABLE posthog_organizationmembership (id uuid PRIMARY KEY, organization_id uuid NOT NULL,
    user_id integer NOT NULL, level smallint NOT NULL);
CREATE TABLE posthog_team (id serial PRIMARY KEY, organization_id uuid NOT NULL, name varchar(200) NOT NULL,
    access_control boolean NOT NULL, api_token varchar(200));
CREATE TABLE ee_explicitteammembership (id uuid PRIMARY KEY, team_id integer NOT NULL,
    parent_membership_id uuid NOT NULL, level smallint NOT NULL);
CREATE TABLE ee_role (id uuid PRIMARY KEY, name varchar(200) NOT NULL, organization_id uuid NOT NULL,
    created_by_id integer);
CREATE TABLE ee_rolemembership (id uuid PRIMARY KEY, role_id uuid NOT NULL, user_id integer NOT NULL,
    organization_membership_id uuid);
CREATE TABLE posthog_dashboard (id serial PRIMARY KEY, team_id integer NOT NULL, name varchar(400),
    created_by_id integer, restriction_level smallint NOT NULL, deleted boolean NOT NULL);
CREATE TABLE posthog_dashboarditem (id serial PRIMARY KEY, team_id integer NOT NULL, name varchar(400),
    created_by_id integer, deleted boolean NOT NULL);
CREATE TABLE posthog_featureflag (id serial PRIMARY KEY, team_id integer NOT NULL, key varchar(400) NOT NULL,
    created_by_id integer, deleted boolean NOT NULL);
CREATE TABLE posthog_dashboardtile (id serial PRIMARY KEY, dashboard_id integer NOT NULL,
    insight_id integer, deleted boolean);
CREATE TABLE ee_dashboardprivilege (id uuid PRIMARY KEY, dashboard_id integer NOT NULL,
    user_id integer NOT NULL, level smallint NOT NULL);
CREATE TABLE ee_accesscontrol (id uuid PRIMARY KEY, team_id integer NOT NULL,
    access_level varchar(32) NOT NULL, resource varchar(32) NOT NULL, resource_id varchar(36),
    organization_member_id uuid, role_id uuid,
    created_by_id integer);
CREATE TABLE posthog_personalapikey (id varchar(50) PRIMARY KEY, user_id integer NOT NULL,
    label varchar(40) NOT NULL, value varchar(50), mask_value varchar(11), secure_value varchar(300),
    scopes varchar(100)[], scoped_teams integer[], scoped_organizations varchar(100)[]);
"""

ORG = UUID("00000000-0000-4000-8000-00000000000f")
PEOPLE = {
    name: UUID(f"0b5a0000-0000-4000-8000-00000000000{n}")
    for n, name in enumerate(("alice", "bob", "carol", "dan"), 1)
}
MEMBERSHIPS = {name: UUID(f"00000000-0000-4000-8000-00000000010{n}") for n, name in enumerate(PEOPLE, 1)}
ROLE = UUID("00000000-0000-4000-8000-000000000201")
KEY_VALUE = "phx_" + "b" * 43

FILL: list[tuple[Any, ...]] = [
    (
        "INSERT INTO posthog_user (id, uuid, email, first_name, last_name, is_active, hedgehog_config) "
        "SELECT n, u, name || '@example.com', initcap(name), '', true, '\"not an object\"'::jsonb "
        "FROM unnest($1::int[], $2::uuid[], $3::text[]) AS t (n, u, name)",
        [1, 2, 3, 4],
        list(PEOPLE.values()),
        list(PEOPLE),
    ),
    (
        "INSERT INTO posthog_organization VALUES ($1, 'Hogs', $2::jsonb, true)",
        ORG,
        '[{"key": "dashboard_permissioning", "name": "Dashboards", "description": "…", "limit": 1},'
        ' {"key": "advanced_permissions", "name": "Advanced"},'
        ' {"key": "role_based_access", "name": "Roles"}]',
    ),
    (
        "INSERT INTO posthog_organizationmembership SELECT m, $1, n, l "
        "FROM unnest($2::uuid[], $3::int[], $4::int[]) AS t (m, n, l)",
        ORG,
        list(MEMBERSHIPS.values()),
        [1, 2, 3, 4],
        [1, 1, 15, 1],
    ),
    ("INSERT INTO posthog_team (id, organization_id, name, access_control) VALUES (1, $1, '', false)", ORG),
    ("INSERT INTO ee_role VALUES ($1, 'Eng', $2, 3)", ROLE, ORG),
    # PostHog's older role memberships have no organization_membership: the mapping finds it.
    ("INSERT INTO ee_rolemembership VALUES (gen_random_uuid(), $1, 2, NULL)", ROLE),
    (
        "INSERT INTO posthog_dashboard (id, team_id, name, created_by_id, restriction_level, deleted) VALUES "
        "(7, 1, 'KPIs', 1, 37, false), (8, 1, 'Old', 1, 21, true)",
    ),
    ("INSERT INTO posthog_dashboarditem (id, team_id, name, deleted) VALUES (42, 1, 'Signups', false)",),
    (
        "INSERT INTO posthog_dashboardtile (dashboard_id, insight_id, deleted) "
        "VALUES (7, 42, NULL), (7, NULL, NULL)",
    ),
    ("INSERT INTO posthog_featureflag (id, team_id, key, deleted) VALUES (3, 1, 'beta', false)",),
    ("INSERT INTO ee_dashboardprivilege VALUES (gen_random_uuid(), 7, 2, 37)",),
    (
        "INSERT INTO ee_accesscontrol (id, team_id, access_level, resource, role_id) VALUES "
        "(gen_random_uuid(), 1, 'none', 'feature_flag', NULL), "
        "(gen_random_uuid(), 1, 'viewer', 'feature_flag', $1)",
        ROLE,
    ),
    (
        "INSERT INTO posthog_personalapikey (id, user_id, label, mask_value, secure_value, scopes) VALUES "
        "('tok1', 2, 'ci', 'phx_...bbbb', $1, ARRAY['dashboard:read']), "
        "('tok2', 4, 'old', 'phx_...cccc', 'pbkdf2_sha256$260000$posthog_personal_api_key$xyz', NULL)",
        "sha256$" + hashlib.sha256(KEY_VALUE.encode()).hexdigest(),
    ),
]


async def build_posthog(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(POSTHOG_SCHEMA)
        for statement, *args in FILL:
            await conn.execute(statement, *args)
    finally:
        await conn.close()


def dashboard(name: str, dashboard_id: str, action: str) -> dict[str, object]:
    return {
        "user": str(PEOPLE[name]),
        "project_id": 1,
        "resource": {"type": "dashboard", "id": dashboard_id},
        "action": action,
    }


async def test_posthog_tables_import_and_decide_as_posthog_would(
    empty_database_url: str,
    db_pool: asyncpg.Pool,
    client: AsyncTestClient[Litestar],
    tmp_path: Path,
    levels_of: LevelsOf,
) -> None:
    await build_posthog(empty_database_url)
    await read_posthog(empty_database_url, tmp_path)

    summary = await import_folder(db_pool, tmp_path, levels_of, "replace")

    assert summary.revision is not None
    assert {t.table: t.inserted for t in summary.tables} == {
        "users": 4,
        "organizations": 1,
        "organization_memberships": 4,
        "projects": 1,
        "explicit_memberships": 0,
        "roles": 1,
        "role_memberships": 1,
        "resources": 3,  # the deleted dashboard is left out
        "insight_dashboards": 1,
        "dashboard_privileges": 1,
        "access_controls": 2,
        "personal_api_keys": 1,  # the PBKDF2 key cannot be looked up by digest
    }
    flags = {"project_id": 1, "resource": {"type": "feature_flag"}, "action": "read"}
    assert await decisions(
        client,
        [
            dashboard("dan", "7", "read"),
            dashboard("dan", "7", "write"),
            dashboard("bob", "7", "write"),
            dashboard("dan", "8", "read"),
            {"user": str(PEOPLE["bob"]), **flags},
            {"user": str(PEOPLE["dan"]), **flags},
            {
                "api_key": KEY_VALUE,
                "project_id": 1,
                "resource": {"type": "dashboard", "id": "7"},
                "action": "write",
            },
        ],
        summary.revision,
    ) == [
        (True, 200, None),
        (False, 403, "You don't have edit permissions for this dashboard."),
        (True, 200, None),
        (False, 404, "Not found."),
        (True, 200, None),
        (False, 403, "You do not have viewer access to this resource."),
        (False, 403, "API key missing required scope 'dashboard:write'"),
    ]
    async with db_pool.acquire() as conn:
        project_name = await conn.fetchval("SELECT name FROM projects WHERE id = 1")
        features = await conn.fetchval("SELECT available_product_features FROM organizations")
    assert project_name == "Project 1"
    assert [feature["key"] for feature in features] == [
        "dashboard_permissioning",
        "advanced_permissions",
        "role_based_access",
    ]

    # Read again, the same PostHog state is a no-op.
    await read_posthog(empty_database_url, tmp_path / "again")
    assert (await import_folder(db_pool, tmp_path / "again", levels_of, "replace")).revision is None
