"""Loading one organization's facts from PostgreSQL into an OrganizationView, in one query."""

import uuid

import asyncpg

from acl_service.domain import AccessControlRow, StoredObject, UserRef
from acl_service.store.facts import load_key, load_organization_view, load_project, load_user_by_uuid
from acl_service.store.writes import write_transaction

ORG = uuid.UUID("00000000-0000-4000-8000-000000000001")
OTHER_ORG = uuid.UUID("00000000-0000-4000-8000-000000000002")


async def seed(pool: asyncpg.Pool) -> dict[str, uuid.UUID]:
    ids = {name: uuid.uuid4() for name in ("alice_m", "bob_m", "role", "other_m")}
    async with write_transaction(pool) as tx:
        c = tx.conn
        await c.execute(
            "INSERT INTO users (id, uuid, email, is_active)"
            " VALUES (1, $1, 'a@x', true), (2, $2, 'b@x', false)",
            uuid.UUID(int=1),
            uuid.UUID(int=2),
        )
        await c.execute(
            """INSERT INTO organizations (id, name, available_product_features)
               VALUES ($1, 'O', '[{"key": "advanced_permissions", "name": "AP"}]'::jsonb),
                      ($2, 'P', '[]'::jsonb)""",
            ORG,
            OTHER_ORG,
        )
        await c.execute(
            """INSERT INTO organization_memberships (id, organization_id, user_id, level)
               VALUES ($1, $3, 1, 8), ($2, $3, 2, 1), ($4, $5, 1, 1)""",
            ids["alice_m"],
            ids["bob_m"],
            ORG,
            ids["other_m"],
            OTHER_ORG,
        )
        await c.execute(
            "INSERT INTO projects (id, organization_id, name, access_control)"
            " VALUES (1, $1, 'p', true), (2, $2, 'q', false)",
            ORG,
            OTHER_ORG,
        )
        await c.execute(
            "INSERT INTO explicit_memberships (project_id, parent_membership_id, level) VALUES (1, $1, 8)",
            ids["bob_m"],
        )
        await c.execute(
            """INSERT INTO resources (project_id, resource, resource_id, created_by_id, restriction_level)
               VALUES (1, 'dashboard', '7', 1, 37), (1, 'insight', 'i-1', NULL, NULL),
                      (2, 'notebook', 'n', 1, NULL)"""
        )
        await c.execute(
            "INSERT INTO insight_dashboards (project_id, insight_id, dashboard_id) VALUES (1, 'i-1', '7')"
        )
        await c.execute(
            "INSERT INTO dashboard_privileges (project_id, dashboard_id, user_id, level)"
            " VALUES (1, '7', 2, 37)"
        )
        await c.execute(
            "INSERT INTO roles (id, organization_id, name) VALUES ($1, $2, 'Eng')", ids["role"], ORG
        )
        await c.execute(
            "INSERT INTO role_memberships (role_id, user_id, organization_member_id) VALUES ($1, 2, $2)",
            ids["role"],
            ids["bob_m"],
        )
        await c.execute(
            """INSERT INTO access_controls
                   (project_id, resource, resource_id, organization_member_id, role_id, access_level)
               VALUES (1, 'dashboard', NULL, NULL, NULL, 'editor'), (1, 'dashboard', '7', $1, NULL, 'none'),
                      (1, 'notebook', NULL, NULL, $2, 'viewer')""",
            ids["bob_m"],
            ids["role"],
        )
        await c.execute(
            """INSERT INTO personal_api_keys (user_id, label, secure_value, mask_value, scopes, scoped_teams)
               VALUES (1, 'k', 'sha256$' || repeat('a', 64), 'phx_...abcd', '{dashboard:read}', '{1}')"""
        )
    return ids


async def test_an_organization_loads_whole_and_only_its_own_facts(db_pool: asyncpg.Pool) -> None:
    ids = await seed(db_pool)
    async with db_pool.acquire() as conn:
        view = await load_organization_view(conn, ORG)
        row_id = await conn.fetchval("SELECT id FROM access_controls WHERE resource_id = '7'")
    assert view is not None
    assert view.organization.features == frozenset({"advanced_permissions"})
    assert {m.user_id: m.level for m in view.memberships_by_user.values()} == {1: 8, 2: 1}
    assert view.users[2] == UserRef(2, uuid.UUID(int=2), False)
    assert set(view.projects) == {1}
    assert view.explicit_levels == {(1, ids["bob_m"]): 8}
    assert view.objects[(1, "dashboard", "7")] == StoredObject(1, "dashboard", "7", 1, 37)
    assert (2, "notebook", "n") not in view.objects
    assert view.insight_dashboards == {(1, "i-1"): ("7",)}
    assert view.privileges == {(1, "7", 2): 37}
    assert view.role_ids_by_user == {2: frozenset({ids["role"]})}
    assert view.access_rows[(1, "dashboard", "7")] == (
        AccessControlRow(1, "dashboard", "7", "none", member_id=ids["bob_m"], id=row_id),
    )
    assert view.access_rows[(1, "notebook", None)][0].role_id == ids["role"]


async def test_missing_organization_project_user_and_key_are_none(db_pool: asyncpg.Pool) -> None:
    await seed(db_pool)
    async with db_pool.acquire() as conn:
        assert await load_organization_view(conn, uuid.uuid4()) is None
        assert await load_project(conn, 99) is None
        assert await load_user_by_uuid(conn, uuid.uuid4()) is None
        assert await load_key(conn, "sha256$" + "b" * 64) is None
        key = await load_key(conn, "sha256$" + "a" * 64)
        project = await load_project(conn, 2)
    assert key is not None
    assert (key.user_id, key.scopes, key.scoped_teams) == (1, ("dashboard:read",), (1,))
    assert project is not None
    assert project.organization_id == OTHER_ORG
