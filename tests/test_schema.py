"""The constraints and triggers of SPEC §2 as the migrated schema enforces them."""

import asyncio
import itertools
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import pytest

from acl_service.store.writes import CHANGES_CHANNEL, write_transaction

Conn = asyncpg.pool.PoolConnectionProxy

_user_ids = itertools.count(1)


async def add_user(conn: Conn) -> int:
    user_id = next(_user_ids)
    await conn.execute(
        "INSERT INTO users (id, uuid, email) VALUES ($1, $2, $3)",
        user_id,
        uuid.uuid4(),
        f"u{user_id}@example.com",
    )
    return user_id


async def add_organization(conn: Conn, features: object = ()) -> uuid.UUID:
    organization_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO organizations (id, name, available_product_features) VALUES ($1, $2, $3)",
        organization_id,
        "Org",
        list(features) if isinstance(features, tuple) else features,
    )
    return organization_id


async def add_membership(conn: Conn, organization_id: uuid.UUID, user_id: int, level: int = 1) -> uuid.UUID:
    membership_id: uuid.UUID = await conn.fetchval(
        "INSERT INTO organization_memberships (organization_id, user_id, level)"
        " VALUES ($1, $2, $3) RETURNING id",
        organization_id,
        user_id,
        level,
    )
    return membership_id


async def add_project(conn: Conn, organization_id: uuid.UUID, project_id: int = 1) -> int:
    await conn.execute(
        "INSERT INTO projects (id, organization_id, name) VALUES ($1, $2, $3)",
        project_id,
        organization_id,
        "P",
    )
    return project_id


async def add_resource(
    conn: Conn,
    project_id: int,
    resource: str,
    resource_id: str,
    *,
    restriction_level: int | None = None,
    created_by_id: int | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO resources (project_id, resource, resource_id, restriction_level, created_by_id)"
        " VALUES ($1, $2, $3, $4, $5)",
        project_id,
        resource,
        resource_id,
        restriction_level,
        created_by_id,
    )


async def add_dashboard(
    conn: Conn, project_id: int, dashboard_id: str, *, created_by_id: int | None = None
) -> None:
    await add_resource(
        conn, project_id, "dashboard", dashboard_id, restriction_level=21, created_by_id=created_by_id
    )


async def add_access_control(
    conn: Conn,
    project_id: int,
    resource: str,
    resource_id: str | None,
    access_level: str,
    *,
    member_id: uuid.UUID | None = None,
    role_id: uuid.UUID | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO access_controls"
        " (project_id, resource, resource_id, organization_member_id, role_id, access_level)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        project_id,
        resource,
        resource_id,
        member_id,
        role_id,
        access_level,
    )


async def add_role(conn: Conn, organization_id: uuid.UUID, name: str) -> uuid.UUID:
    role_id: uuid.UUID = await conn.fetchval(
        "INSERT INTO roles (organization_id, name) VALUES ($1, $2) RETURNING id", organization_id, name
    )
    return role_id


async def add_api_key(conn: Conn, user_id: int, number: int) -> uuid.UUID:
    key_id: uuid.UUID = await conn.fetchval(
        "INSERT INTO personal_api_keys (user_id, label, secure_value, mask_value)"
        " VALUES ($1, $2, $3, $4) RETURNING id",
        user_id,
        f"key {number}",
        "sha256$" + f"{number:064x}",
        "phx_...abcd",
    )
    return key_id


async def project_fixture(pool: asyncpg.Pool) -> tuple[uuid.UUID, int]:
    async with write_transaction(pool) as tx:
        organization_id = await add_organization(tx.conn)
        return organization_id, await add_project(tx.conn, organization_id)


async def assert_write_rejected(
    pool: asyncpg.Pool, error: type[asyncpg.PostgresError], write: Callable[[Conn], Awaitable[object]]
) -> None:
    with pytest.raises(error):
        async with write_transaction(pool) as tx:
            await write(tx.conn)


@pytest.mark.parametrize("resource_id", [None, "n-1"])
async def test_one_default_row_per_project_resource_and_object(
    db_pool: asyncpg.Pool, resource_id: str | None
) -> None:
    _, project = await project_fixture(db_pool)
    async with write_transaction(db_pool) as tx:
        await add_access_control(tx.conn, project, "notebook", resource_id, "viewer")
        # Another object's default row is a different row.
        await add_access_control(tx.conn, project, "notebook", "n-2", "viewer")
    await assert_write_rejected(
        db_pool,
        asyncpg.UniqueViolationError,
        lambda conn: add_access_control(conn, project, "notebook", resource_id, "editor"),
    )


async def test_access_control_names_at_most_one_subject(db_pool: asyncpg.Pool) -> None:
    async with write_transaction(db_pool) as tx:
        organization = await add_organization(tx.conn)
        project = await add_project(tx.conn, organization)
        member = await add_membership(tx.conn, organization, await add_user(tx.conn))
        role = await add_role(tx.conn, organization, "Engineers")
    await assert_write_rejected(
        db_pool,
        asyncpg.CheckViolationError,
        lambda conn: add_access_control(
            conn, project, "notebook", None, "viewer", member_id=member, role_id=role
        ),
    )


@pytest.mark.parametrize(
    ("resource", "resource_id", "level", "accepted"),
    [
        ("project", "1", "admin", True),
        ("project", "1", "viewer", False),
        ("organization", None, "member", True),
        ("notebook", None, "manager", True),
        ("notebook", None, "member", False),
        ("not_a_type", None, "viewer", False),
    ],
)
async def test_access_level_belongs_to_the_levels_of_its_resource(
    db_pool: asyncpg.Pool, resource: str, resource_id: str | None, level: str, accepted: bool
) -> None:
    _, project = await project_fixture(db_pool)

    async def write(conn: Conn) -> None:
        await add_access_control(conn, project, resource, resource_id, level)

    if accepted:
        async with write_transaction(db_pool) as tx:
            await write(tx.conn)
    else:
        await assert_write_rejected(db_pool, asyncpg.CheckViolationError, write)


@pytest.mark.parametrize(
    ("resource", "resource_id", "restriction_level", "accepted"),
    [
        ("dashboard", "7", 21, True),
        ("dashboard", "7", 37, True),
        ("dashboard", "7", None, False),
        ("dashboard", "7", 30, False),
        ("dashboard", "07", 21, False),
        ("dashboard", "0", 21, False),
        ("dashboard", "abc", 21, False),
        ("dashboard", "9223372036854775807", 21, True),
        ("dashboard", "9223372036854775808", 21, False),
        ("notebook", "n-1", None, True),
        ("notebook", "n-1", 21, False),
        ("notebook", "A1_b.c:d-e", None, True),
        ("notebook", "-leading-dash", None, False),
        ("notebook", "has space", None, False),
        ("notebook", "x" * 36, None, True),
        ("notebook", "x" * 37, None, False),
        ("project", "1", None, False),
        ("organization", "o", None, False),
    ],
)
async def test_resource_ids_and_dashboard_restriction(
    db_pool: asyncpg.Pool, resource: str, resource_id: str, restriction_level: int | None, accepted: bool
) -> None:
    _, project = await project_fixture(db_pool)

    async def write(conn: Conn) -> None:
        await add_resource(conn, project, resource, resource_id, restriction_level=restriction_level)

    if accepted:
        async with write_transaction(db_pool) as tx:
            await write(tx.conn)
    else:
        await assert_write_rejected(db_pool, asyncpg.CheckViolationError, write)


async def test_role_names_are_unique_per_organization_ignoring_case(db_pool: asyncpg.Pool) -> None:
    async with write_transaction(db_pool) as tx:
        first = await add_organization(tx.conn)
        second = await add_organization(tx.conn)
        await add_role(tx.conn, first, "Équipe")
        await add_role(tx.conn, second, "équipe")
    await assert_write_rejected(
        db_pool, asyncpg.UniqueViolationError, lambda conn: add_role(conn, first, "éQUIPE")
    )


@pytest.mark.parametrize(
    "features",
    [
        {"key": "access_control", "name": "Access control"},
        [{"key": "", "name": "x"}],
        [{"key": "k" * 65, "name": "x"}],
        [{"key": "k", "name": "n" * 201}],
        [{"key": "k"}],
        [{"key": "k", "name": "x", "extra": 1}],
        [{"key": 1, "name": "x"}],
        ["access_control"],
    ],
)
async def test_product_features_must_be_a_list_of_key_name_objects(
    db_pool: asyncpg.Pool, features: object
) -> None:
    await assert_write_rejected(
        db_pool, asyncpg.CheckViolationError, lambda conn: add_organization(conn, features)
    )


async def test_deleting_an_object_deletes_its_object_rows_only(db_pool: asyncpg.Pool) -> None:
    _, project = await project_fixture(db_pool)
    async with write_transaction(db_pool) as tx:
        await add_resource(tx.conn, project, "notebook", "n-1")
        await add_resource(tx.conn, project, "notebook", "n-2")
        await add_access_control(tx.conn, project, "notebook", "n-1", "none")
        await add_access_control(tx.conn, project, "notebook", "n-2", "viewer")
        await add_access_control(tx.conn, project, "notebook", None, "editor")
    async with write_transaction(db_pool) as tx:
        await tx.conn.execute("DELETE FROM resources WHERE resource = 'notebook' AND resource_id = 'n-1'")
        remaining = await tx.conn.fetch(
            "SELECT resource_id FROM access_controls ORDER BY resource_id NULLS LAST"
        )
    assert [r["resource_id"] for r in remaining] == ["n-2", None]


async def test_deleting_a_dashboard_deletes_its_links_and_collaborators(db_pool: asyncpg.Pool) -> None:
    _, project = await project_fixture(db_pool)
    async with write_transaction(db_pool) as tx:
        user = await add_user(tx.conn)
        await add_dashboard(tx.conn, project, "7")
        await add_resource(tx.conn, project, "insight", "i-1")
        await tx.conn.execute(
            "INSERT INTO insight_dashboards (project_id, insight_id, dashboard_id) VALUES ($1, 'i-1', '7')",
            project,
        )
        await tx.conn.execute(
            "INSERT INTO dashboard_privileges (project_id, dashboard_id, user_id, level)"
            " VALUES ($1, '7', $2, 37)",
            project,
            user,
        )
    async with write_transaction(db_pool) as tx:
        await tx.conn.execute("DELETE FROM resources WHERE resource = 'dashboard'")
        links = await tx.conn.fetchval("SELECT count(*) FROM insight_dashboards")
        privileges = await tx.conn.fetchval("SELECT count(*) FROM dashboard_privileges")
        insights = await tx.conn.fetchval("SELECT count(*) FROM resources WHERE resource = 'insight'")
    assert (links, privileges, insights) == (0, 0, 1)


async def test_links_and_collaborators_need_an_existing_dashboard(db_pool: asyncpg.Pool) -> None:
    _, project = await project_fixture(db_pool)
    async with write_transaction(db_pool) as tx:
        user = await add_user(tx.conn)
        await add_resource(tx.conn, project, "insight", "i-1")
        # A notebook with a dashboard-like id is not a dashboard.
        await add_resource(tx.conn, project, "notebook", "7")
    await assert_write_rejected(
        db_pool,
        asyncpg.ForeignKeyViolationError,
        lambda conn: conn.execute(
            "INSERT INTO insight_dashboards (project_id, insight_id, dashboard_id) VALUES ($1, 'i-1', '7')",
            project,
        ),
    )
    await assert_write_rejected(
        db_pool,
        asyncpg.ForeignKeyViolationError,
        lambda conn: conn.execute(
            "INSERT INTO dashboard_privileges (project_id, dashboard_id, user_id, level)"
            " VALUES ($1, '7', $2, 37)",
            project,
            user,
        ),
    )


async def test_leaving_an_organization_leaves_its_roles_and_member_rows(db_pool: asyncpg.Pool) -> None:
    async with write_transaction(db_pool) as tx:
        organization = await add_organization(tx.conn)
        project = await add_project(tx.conn, organization)
        user = await add_user(tx.conn)
        member = await add_membership(tx.conn, organization, user)
        role = await add_role(tx.conn, organization, "Engineers")
        await tx.conn.execute(
            "INSERT INTO role_memberships (role_id, user_id, organization_member_id) VALUES ($1, $2, $3)",
            role,
            user,
            member,
        )
        await tx.conn.execute(
            "INSERT INTO explicit_memberships (project_id, parent_membership_id) VALUES ($1, $2)",
            project,
            member,
        )
        await add_access_control(tx.conn, project, "project", str(project), "admin", member_id=member)
    async with write_transaction(db_pool) as tx:
        await tx.conn.execute("DELETE FROM organization_memberships WHERE id = $1", member)
        counts = await tx.conn.fetchrow(
            "SELECT (SELECT count(*) FROM role_memberships) AS roles,"
            " (SELECT count(*) FROM explicit_memberships) AS explicit,"
            " (SELECT count(*) FROM access_controls) AS rows,"
            " (SELECT count(*) FROM roles) AS remaining_roles"
        )
    assert counts is not None
    assert dict(counts) == {"roles": 0, "explicit": 0, "rows": 0, "remaining_roles": 1}


async def test_deleting_a_user_keeps_what_they_created(db_pool: asyncpg.Pool) -> None:
    _, project = await project_fixture(db_pool)
    async with write_transaction(db_pool) as tx:
        user = await add_user(tx.conn)
        await add_dashboard(tx.conn, project, "7", created_by_id=user)
    async with write_transaction(db_pool) as tx:
        await tx.conn.execute("DELETE FROM users WHERE id = $1", user)
        creator = await tx.conn.fetchval("SELECT created_by_id FROM resources WHERE resource_id = '7'")
        dashboards = await tx.conn.fetchval("SELECT count(*) FROM resources")
    assert (creator, dashboards) == (None, 1)


async def test_a_user_holds_at_most_ten_api_keys(db_pool: asyncpg.Pool) -> None:
    async with write_transaction(db_pool) as tx:
        user = await add_user(tx.conn)
        for number in range(10):
            await add_api_key(tx.conn, user, number)
    await assert_write_rejected(
        db_pool, asyncpg.CheckViolationError, lambda conn: add_api_key(conn, user, 10)
    )


async def test_revision_row_is_single_and_permanent(db_pool: asyncpg.Pool) -> None:
    async with db_pool.acquire() as conn:
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute("INSERT INTO acl_revision (value) VALUES (5)")
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute("INSERT INTO acl_revision (id, value) VALUES (false, 5)")
        with pytest.raises(asyncpg.RestrictViolationError):
            await conn.execute("DELETE FROM acl_revision")
        with pytest.raises(asyncpg.RestrictViolationError):
            await conn.execute("TRUNCATE acl_revision")
        assert await conn.fetchval("SELECT count(*) FROM acl_revision") == 1


async def test_changelog_rows_carry_the_revision_and_organization(db_pool: asyncpg.Pool) -> None:
    async with write_transaction(db_pool) as tx:
        organization = await add_organization(tx.conn)
        project = await add_project(tx.conn, organization)
        user = await add_user(tx.conn)
        member = await add_membership(tx.conn, organization, user)
        role = await add_role(tx.conn, organization, "Engineers")
        await tx.conn.execute(
            "INSERT INTO role_memberships (role_id, user_id, organization_member_id) VALUES ($1, $2, $3)",
            role,
            user,
            member,
        )
        await add_resource(tx.conn, project, "notebook", "n-1")
        key = await add_api_key(tx.conn, user, 1)
    async with db_pool.acquire() as conn:
        logged = await conn.fetch(
            "SELECT revision, organization_id, table_name, op, row_key FROM changelog ORDER BY id"
        )
    assert [(r["table_name"], r["op"], r["revision"], r["organization_id"]) for r in logged] == [
        ("organizations", "insert", tx.revision, organization),
        ("projects", "insert", tx.revision, organization),
        ("users", "insert", tx.revision, None),
        ("organization_memberships", "insert", tx.revision, organization),
        ("roles", "insert", tx.revision, organization),
        ("role_memberships", "insert", tx.revision, organization),
        ("resources", "insert", tx.revision, organization),
        ("personal_api_keys", "insert", tx.revision, None),
    ]
    assert logged[6]["row_key"] == {"project_id": project, "resource": "notebook", "resource_id": "n-1"}
    assert logged[7]["row_key"] == {"id": str(key), "user_id": user}


async def test_changes_are_announced_by_organization_then_by_revision(
    db_pool: asyncpg.Pool, database_url: str
) -> None:
    received: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(database_url)
    await listener.add_listener(CHANGES_CHANNEL, lambda *args: received.put_nowait(args[3]))
    try:
        async with write_transaction(db_pool) as first:
            # The user comes first: its NULL organization must not announce the revision early.
            await add_user(first.conn)
            organization = await add_organization(first.conn)
            await add_project(first.conn, organization)
        async with write_transaction(db_pool) as second:
            await add_user(second.conn)
        expected = [f"{first.revision}:{organization}", f"{first.revision}:", f"{second.revision}:"]
        payloads = [await asyncio.wait_for(received.get(), timeout=5) for _ in expected]
        await asyncio.sleep(0.05)
        assert received.empty()
    finally:
        await listener.close()
    assert payloads == expected


async def test_fact_write_without_a_revision_is_refused(db_pool: asyncpg.Pool) -> None:
    async with write_transaction(db_pool):
        pass
    async with db_pool.acquire() as conn:
        with pytest.raises(asyncpg.ObjectNotInPrerequisiteStateError, match="outside a revision"):
            await add_organization(conn)

        async def write_after_locking_the_revision() -> None:
            # Locking is not taking: only this transaction's own increment counts.
            async with conn.transaction():
                await conn.fetchval("SELECT value FROM acl_revision FOR UPDATE")
                await add_user(conn)

        with pytest.raises(asyncpg.ObjectNotInPrerequisiteStateError):
            await write_after_locking_the_revision()
        assert await conn.fetchval("SELECT count(*) FROM changelog") == 0


async def test_recording_key_use_needs_no_revision_and_logs_nothing(db_pool: asyncpg.Pool) -> None:
    async with write_transaction(db_pool) as tx:
        key = await add_api_key(tx.conn, await add_user(tx.conn), 1)
    async with db_pool.acquire() as conn:
        logged_before = await conn.fetchval("SELECT count(*) FROM changelog")
        await conn.execute("UPDATE personal_api_keys SET last_used_at = now() WHERE id = $1", key)
        assert await conn.fetchval("SELECT count(*) FROM changelog") == logged_before
        assert await conn.fetchval("SELECT value FROM acl_revision") == tx.revision
        with pytest.raises(asyncpg.ObjectNotInPrerequisiteStateError):
            await conn.execute("UPDATE personal_api_keys SET label = 'renamed' WHERE id = $1", key)


async def test_project_delete_announces_its_organization(db_pool: asyncpg.Pool) -> None:
    organization, project = await project_fixture(db_pool)
    async with write_transaction(db_pool) as tx:
        await add_resource(tx.conn, project, "notebook", "n-1")
    async with write_transaction(db_pool) as tx:
        await tx.conn.execute("DELETE FROM projects WHERE id = $1", project)
        logged = await tx.conn.fetch(
            "SELECT table_name, organization_id FROM changelog WHERE revision = $1 ORDER BY id", tx.revision
        )
    by_table = {r["table_name"]: r["organization_id"] for r in logged}
    assert by_table["projects"] == organization
    # The cascaded child no longer finds its project; the project's own row announced the organization.
    assert by_table["resources"] is None


async def test_pool_sends_and_reads_jsonb_as_python_values(db_pool: asyncpg.Pool) -> None:
    features = [{"key": "access_control", "name": "Access control"}]
    async with write_transaction(db_pool) as tx:
        organization = await add_organization(tx.conn, features)
        stored = await tx.conn.fetchrow(
            "SELECT available_product_features AS value, jsonb_typeof(available_product_features) AS type"
            " FROM organizations WHERE id = $1",
            organization,
        )
    assert stored is not None
    assert (stored["value"], stored["type"]) == (features, "array")
