"""`acl-service import`: validation before any write, one revision, merge and replace, re-import."""

import asyncio
import hashlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from acl_service.app import create_app
from acl_service.settings import Settings
from acl_service.store.pool import create_pool
from acl_service.sync.format import TABLES, TABLES_BY_NAME
from acl_service.sync.importer import ImportRejectedError
from acl_service.sync.validate import LevelsOf
from tests.fixtures.sync import decisions, import_folder, revision_of, write_files

ORG = UUID("00000000-0000-4000-8000-0000000000a1")
OTHER_ORG = UUID("00000000-0000-4000-8000-0000000000b2")
ALICE, BOB, CAROL = (UUID(f"0b5a0000-0000-4000-8000-00000000000{n}") for n in (1, 2, 3))
MEMBERSHIPS = {
    name: UUID(f"00000000-0000-4000-8000-00000000010{n}") for n, name in enumerate(("alice", "bob", "carol"))
}
ENGINEERS = UUID("00000000-0000-4000-8000-000000000201")


def row_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def digest(value: str) -> str:
    return "sha256$" + hashlib.sha256(value.encode()).hexdigest()


def directory() -> dict[str, list[Any]]:
    """Organization ORG: Alice and Bob members, Carol owner; notebooks hidden but from Bob; a
    restricted dashboard with Bob as collaborator; a role with Bob in it; one key of Bob's."""
    return {
        "users": [
            {"id": 1, "uuid": str(ALICE), "email": "alice@example.com", "first_name": "Alice"},
            {"id": 2, "uuid": str(BOB), "email": "bob@example.com"},
            {"id": 3, "uuid": str(CAROL), "email": "carol@example.com", "hedgehog_config": {"hat": "cap"}},
        ],
        "organizations": [
            {
                "id": str(ORG),
                "name": "Hogs",
                "available_product_features": [
                    {"key": "advanced_permissions", "name": "A"},
                    {"key": "role_based_access", "name": "R"},
                ],
            }
        ],
        "organization_memberships": [
            {"id": str(MEMBERSHIPS["alice"]), "organization_id": str(ORG), "user_id": 1},
            {"id": str(MEMBERSHIPS["bob"]), "organization_id": str(ORG), "user_id": 2},
            {"id": str(MEMBERSHIPS["carol"]), "organization_id": str(ORG), "user_id": 3, "level": 15},
        ],
        "projects": [{"id": 1, "organization_id": str(ORG), "name": "Web"}],
        "roles": [{"id": str(ENGINEERS), "organization_id": str(ORG), "name": "Engineering"}],
        "role_memberships": [
            {
                "id": row_id(301),
                "role_id": str(ENGINEERS),
                "user_id": 2,
                "organization_member_id": str(MEMBERSHIPS["bob"]),
            }
        ],
        "resources": [
            {"project_id": 1, "resource": "notebook", "resource_id": "n-1", "created_by_id": 1},
            {"project_id": 1, "resource": "dashboard", "resource_id": "7", "restriction_level": 37},
            {"project_id": 1, "resource": "insight", "resource_id": "i-1"},
        ],
        "insight_dashboards": [{"project_id": 1, "insight_id": "i-1", "dashboard_id": "7"}],
        "dashboard_privileges": [
            {"id": row_id(401), "project_id": 1, "dashboard_id": "7", "user_id": 2, "level": 37}
        ],
        "access_controls": [
            {"id": row_id(501), "project_id": 1, "resource": "notebook", "access_level": "none"},
            {
                "id": row_id(502),
                "project_id": 1,
                "resource": "notebook",
                "access_level": "viewer",
                "role_id": str(ENGINEERS),
            },
        ],
        "personal_api_keys": [
            {
                "id": row_id(601),
                "user_id": 2,
                "label": "ci",
                "secure_value": digest("phx_bob"),
                "mask_value": "phx_...bob1",
                "scopes": ["notebook:read"],
            }
        ],
    }


NOTEBOOK_CHECKS = [
    {"user": str(user), "project_id": 1, "resource": {"type": "notebook"}, "action": action}
    for user in (ALICE, BOB, CAROL)
    for action in ("read", "create")
]


async def count(pool: asyncpg.Pool, table: str) -> int:
    async with pool.acquire() as conn:
        rows: int = await conn.fetchval(f"SELECT count(*) FROM {table}")  # test tables only
    return rows


async def test_an_import_writes_every_table_in_one_revision_with_one_changelog_row_per_organization(
    db_pool: asyncpg.Pool, tmp_path: Path, levels_of: LevelsOf
) -> None:
    before = await revision_of(db_pool)
    summary = await import_folder(db_pool, write_files(tmp_path, directory()), levels_of)

    assert summary.revision == before + 1 == await revision_of(db_pool)
    assert {t.table: t.inserted for t in summary.tables} == {
        table: len(rows) for table, rows in directory().items()
    }
    assert all(t.updated == t.unchanged == t.deleted == 0 for t in summary.tables)
    async with db_pool.acquire() as conn:
        changes = await conn.fetch(
            "SELECT organization_id, table_name, op FROM changelog WHERE revision = $1", summary.revision
        )
        restriction = await conn.fetchval("SELECT restriction_level FROM resources WHERE resource_id = 'n-1'")
    # Organization-scoped rows are announced once for the organization; users, keys and
    # projects row by row, for the global maps.
    assert sorted((r["table_name"], r["op"], r["organization_id"]) for r in changes) == sorted(
        [("organizations", "import", ORG), ("projects", "insert", ORG), ("personal_api_keys", "insert", None)]
        + [("users", "insert", None)] * 3
    )
    assert restriction is None


async def test_importing_the_same_files_again_changes_nothing_and_takes_no_revision(
    db_pool: asyncpg.Pool, tmp_path: Path, levels_of: LevelsOf
) -> None:
    folder = write_files(tmp_path, directory())
    await import_folder(db_pool, folder, levels_of)
    before = await revision_of(db_pool)

    for mode in ("merge", "replace"):
        again = await import_folder(db_pool, folder, levels_of, mode)
        assert again.revision is None
        assert {t.table: t.unchanged for t in again.tables} == {
            table: len(rows) for table, rows in directory().items()
        }
        assert again.changed == 0
    assert await revision_of(db_pool) == before


async def test_a_changed_row_is_updated_and_only_its_organization_is_announced(
    db_pool: asyncpg.Pool, tmp_path: Path, levels_of: LevelsOf
) -> None:
    files = directory()
    await import_folder(db_pool, write_files(tmp_path / "first", files), levels_of)
    files["access_controls"][0]["access_level"] = "editor"

    summary = await import_folder(db_pool, write_files(tmp_path / "second", files), levels_of)

    rows = {t.table: (t.inserted, t.updated, t.unchanged) for t in summary.tables}
    assert rows["access_controls"] == (0, 1, 1)
    assert rows["users"] == (0, 0, 3)
    async with db_pool.acquire() as conn:
        changes = await conn.fetch(
            "SELECT organization_id, table_name, op FROM changelog WHERE revision = $1", summary.revision
        )
    assert [tuple(r) for r in changes] == [(ORG, "organizations", "import")]


async def test_bad_rows_are_reported_one_line_each_and_nothing_is_written(
    db_pool: asyncpg.Pool, tmp_path: Path, levels_of: LevelsOf
) -> None:
    files = directory()
    files["users"] += [
        {"id": 0, "uuid": row_id(9), "email": "zero@example.com"},
        {"id": 9, "uuid": "not-a-uuid", "email": "nine@example.com"},
        {"id": 10, "uuid": row_id(10)},
        {"id": 11, "uuid": row_id(11), "email": "x@example.com", "nickname": "x"},
        '{"id": 12, "uuid": ',
        {"id": 13, "uuid": row_id(13), "email": "a\u0000b"},
    ]
    files["resources"] += [
        {"project_id": 1, "resource": "dashboard", "resource_id": "07"},
        {"project_id": 1, "resource": "project", "resource_id": "1"},
        {"project_id": 1, "resource": "notebook", "resource_id": "n-9", "restriction_level": 21},
    ]
    files["access_controls"].append(
        {"id": row_id(509), "project_id": 1, "resource": "project", "access_level": "editor"}
    )
    files["personal_api_keys"].append(
        {
            "id": row_id(609),
            "user_id": 1,
            "label": "k",
            "secure_value": "phx_raw",
            "mask_value": "phx_...abcd",
        }
    )
    before = await revision_of(db_pool)

    with pytest.raises(ImportRejectedError) as rejected:
        await import_folder(db_pool, write_files(tmp_path, files), levels_of)

    assert [str(problem) for problem in rejected.value.problems] == [
        "users.ndjson:4: id: Ensure this value is greater than or equal to 1.",
        "users.ndjson:5: uuid: Must be a valid UUID.",
        "users.ndjson:6: email: This field is required.",
        "users.ndjson:7: nickname: Unknown field.",
        "users.ndjson:8: -: JSON parse error - Input data was truncated",
        "users.ndjson:9: email: Null characters are not allowed.",
        "resources.ndjson:4: resource_id: Enter a valid resource id.",
        'resources.ndjson:5: resource: "project" is not a valid choice.',
        "resources.ndjson:6: restriction_level: Only dashboards have a restriction level.",
        'access_controls.ndjson:3: access_level: "editor" is not a valid choice.',
        'personal_api_keys.ndjson:2: secure_value: Enter "sha256$" and 64 hex digits.',
    ]
    assert await revision_of(db_pool) == before
    assert await count(db_pool, "users") == 0


async def test_references_must_name_rows_of_the_files_or_the_service_in_the_same_organization(
    db_pool: asyncpg.Pool, tmp_path: Path, levels_of: LevelsOf
) -> None:
    files = directory()
    files["organizations"].append({"id": str(OTHER_ORG), "name": "Others"})
    files["organization_memberships"] += [
        {"id": row_id(109), "organization_id": str(ORG), "user_id": 99},
        {"id": row_id(110), "organization_id": str(OTHER_ORG), "user_id": 1},
    ]
    files["access_controls"] += [
        {
            "id": row_id(510),
            "project_id": 1,
            "resource": "notebook",
            "access_level": "viewer",
            "organization_member_id": row_id(110),
        },
        {"id": row_id(511), "project_id": 5, "resource": "notebook", "access_level": "viewer"},
    ]
    files["insight_dashboards"].append({"project_id": 1, "insight_id": "n-1", "dashboard_id": "7"})
    files["dashboard_privileges"].append(
        {"id": row_id(401), "project_id": 1, "dashboard_id": "7", "user_id": 1, "level": 21}
    )

    with pytest.raises(ImportRejectedError) as rejected:
        await import_folder(db_pool, write_files(tmp_path, files), levels_of)

    assert [str(problem) for problem in rejected.value.problems] == [
        "access_controls.ndjson:3: organization_member_id: "
        "The membership is not in the organization of the project.",
        'access_controls.ndjson:4: project_id: Invalid pk "5" - object does not exist.',
        "dashboard_privileges.ndjson:2: id: Duplicate (id): the same as line 1",
        'insight_dashboards.ndjson:2: insight_id: Invalid pk "n-1" - object does not exist.',
        'organization_memberships.ndjson:4: user_id: Invalid pk "99" - object does not exist.',
    ]
    assert await count(db_pool, "organizations") == 0


async def test_partial_files_are_merged_with_what_the_service_holds(
    db_pool: asyncpg.Pool, tmp_path: Path, levels_of: LevelsOf
) -> None:
    files = directory()
    first = {table: files[table] for table in ("users", "organizations")}
    await import_folder(db_pool, write_files(tmp_path / "first", first), levels_of)
    second = {table: files[table] for table in ("organization_memberships", "projects")}

    summary = await import_folder(db_pool, write_files(tmp_path / "second", second), levels_of)

    assert [(t.table, t.inserted) for t in summary.tables] == [
        ("organization_memberships", 3),
        ("projects", 1),
    ]
    assert await count(db_pool, "users") == 3


async def test_replace_deletes_what_the_files_omit_for_their_organizations_only(
    db_pool: asyncpg.Pool, tmp_path: Path, levels_of: LevelsOf
) -> None:
    files = directory()
    files["organizations"].append({"id": str(OTHER_ORG), "name": "Others"})
    files["projects"].append({"id": 2, "organization_id": str(OTHER_ORG), "name": "Other"})
    files["resources"].append({"project_id": 2, "resource": "notebook", "resource_id": "n-2"})
    await import_folder(db_pool, write_files(tmp_path / "first", files), levels_of)
    replacing = directory()
    del replacing["access_controls"][1]
    del replacing["resources"][0]  # the notebook: its rows go with it
    replacing["personal_api_keys"] = []

    summary = await import_folder(db_pool, write_files(tmp_path / "second", replacing), levels_of, "replace")

    deleted = {t.table: t.deleted for t in summary.tables if t.deleted}
    assert deleted == {"access_controls": 1, "resources": 1, "personal_api_keys": 1}
    async with db_pool.acquire() as conn:
        kept = await conn.fetch(
            "SELECT project_id, resource_id FROM resources ORDER BY project_id, resource_id"
        )
        projects = await conn.fetchval("SELECT count(*) FROM projects")
    assert [tuple(r) for r in kept] == [(1, "7"), (1, "i-1"), (2, "n-2")]
    assert projects == 2


async def test_replace_needs_the_organizations_it_replaces(
    db_pool: asyncpg.Pool, tmp_path: Path, levels_of: LevelsOf
) -> None:
    with pytest.raises(ImportRejectedError) as rejected:
        await import_folder(
            db_pool, write_files(tmp_path, {"users": directory()["users"]}), levels_of, "replace"
        )
    assert [str(p) for p in rejected.value.problems] == [
        "organizations.ndjson: -: --mode replace needs the organizations it replaces."
    ]


async def instance(settings: Settings) -> AsyncTestClient[Litestar]:
    return AsyncTestClient(app=create_app(settings))


async def test_another_instance_decides_on_the_whole_import_at_its_revision(
    db_pool: asyncpg.Pool, tmp_path: Path, levels_of: LevelsOf, settings: Settings
) -> None:
    files = directory()
    await import_folder(db_pool, write_files(tmp_path / "first", files), levels_of)
    async with AsyncTestClient(app=create_app(settings)) as other:
        # The other instance holds the organization: notebooks are hidden, but Bob reads them
        # through his role; Carol owns the organization.
        assert await decisions(other, NOTEBOOK_CHECKS, await revision_of(db_pool)) == [
            (False, 403, "You do not have viewer access to this resource."),
            (False, 403, "You do not have editor access to this resource."),
            (True, 200, None),
            (False, 403, "You do not have editor access to this resource."),
            (True, 200, None),
            (True, 200, None),
        ]
        files["role_memberships"] = []
        files["access_controls"][0]["access_level"] = "editor"
        summary = await import_folder(db_pool, write_files(tmp_path / "second", files), levels_of, "replace")
        assert summary.revision is not None

        # Both changes at once: Bob left the role, and everyone may now edit.
        assert await decisions(other, NOTEBOOK_CHECKS, summary.revision) == [(True, 200, None)] * 6


async def test_decisions_keep_answering_while_an_import_runs(
    db_pool: asyncpg.Pool, tmp_path: Path, levels_of: LevelsOf, settings: Settings
) -> None:
    files = directory()
    await import_folder(db_pool, write_files(tmp_path / "first", files), levels_of)
    files["resources"] += [
        {"project_id": 1, "resource": "notebook", "resource_id": f"bulk-{n}"} for n in range(20_000)
    ]
    folder = write_files(tmp_path / "second", files)
    async with AsyncTestClient(app=create_app(settings)) as client:
        await decisions(client, NOTEBOOK_CHECKS, await revision_of(db_pool))
        importing = asyncio.create_task(import_folder(db_pool, folder, levels_of))
        answered = 0
        while not importing.done():
            assert await decisions(client, NOTEBOOK_CHECKS[2:3]) == [(True, 200, None)]
            answered += 1
            # A memoized answer never waits on I/O: hand the loop to the import in between.
            await asyncio.sleep(0.005)
        summary = await importing
    assert answered > 0
    assert {t.table: t.inserted for t in summary.tables}["resources"] == 20_000


async def test_a_row_that_collides_with_another_row_of_the_service_is_refused_by_its_key(
    db_pool: asyncpg.Pool, tmp_path: Path, levels_of: LevelsOf
) -> None:
    await import_folder(db_pool, write_files(tmp_path / "first", directory()), levels_of)
    before = await revision_of(db_pool)
    # Bob's membership again, under another id: the service already has one for him.
    membership = {"id": row_id(199), "organization_id": str(ORG), "user_id": 2}

    with pytest.raises(ImportRejectedError) as rejected:
        await import_folder(
            db_pool, write_files(tmp_path / "second", {"organization_memberships": [membership]}), levels_of
        )

    assert [str(problem) for problem in rejected.value.problems] == [
        "organization_memberships.ndjson: organization_memberships_organization_id_user_id_key: "
        f"Key (organization_id, user_id)=({ORG}, 2) already exists."
    ]
    assert await revision_of(db_pool) == before


async def test_duplicates_in_empty_tables_are_named_by_line_with_every_other_problem(
    db_pool: asyncpg.Pool, tmp_path: Path, levels_of: LevelsOf
) -> None:
    # Into empty tables, duplicates are left to the unique indexes: users take the upsert (a
    # changelog row each), resources the plain first-load INSERT.
    files = directory()
    files["users"].append({"id": 4, "uuid": row_id(4), "email": "d@example.com", "distinct_id": "d"})
    files["users"].append({"id": 5, "uuid": row_id(5), "email": "e@example.com", "distinct_id": "d"})
    files["resources"].append({"project_id": 1, "resource": "notebook", "resource_id": "n-1"})

    with pytest.raises(ImportRejectedError) as rejected:
        await import_folder(db_pool, write_files(tmp_path / "duplicates", files), levels_of)

    assert [str(problem) for problem in rejected.value.problems] == [
        "resources.ndjson:4: resource_id: Duplicate (project_id, resource, resource_id): the same as line 1",
        "users.ndjson:5: distinct_id: Duplicate (distinct_id): the same as line 4",
    ]
    assert await count(db_pool, "users") == 0

    # With another problem found first, the duplicates are named beside it.
    files["access_controls"].append(
        {"id": row_id(511), "project_id": 5, "resource": "notebook", "access_level": "viewer"}
    )
    with pytest.raises(ImportRejectedError) as rejected:
        await import_folder(db_pool, write_files(tmp_path / "more", files), levels_of)

    assert [str(problem) for problem in rejected.value.problems] == [
        'access_controls.ndjson:3: project_id: Invalid pk "5" - object does not exist.',
        "resources.ndjson:4: resource_id: Duplicate (project_id, resource, resource_id): the same as line 1",
        "users.ndjson:5: distinct_id: Duplicate (distinct_id): the same as line 4",
    ]


async def test_every_duplicate_check_has_the_unique_index_that_stands_in_for_it(
    db_pool: asyncpg.Pool,
) -> None:
    async with db_pool.acquire() as conn:
        indexes = await conn.fetch(
            "SELECT c.relname AS table_name, array_agg(a.attname ORDER BY k.n) AS columns, "
            "i.indnullsnotdistinct OR bool_and(a.attnotnull) AS nulls_equal "
            "FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
            "CROSS JOIN unnest(i.indkey) WITH ORDINALITY AS k (attnum, n) "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
            "WHERE i.indisunique AND i.indexprs IS NULL AND c.relnamespace = 'public'::regnamespace "
            "GROUP BY c.relname, i.indexrelid, i.indnullsnotdistinct"
        )
    unique = {(r["table_name"], tuple(r["columns"])): r["nulls_equal"] for r in indexes}
    for table in TABLES:
        for columns in (table.key, *table.uniques):
            assert (table.name, columns) in unique, columns
            # The checks group a composite key's NULLs as equal: its index must refuse them too.
            assert len(columns) == 1 or unique[table.name, columns], columns


async def test_the_format_knows_which_tables_have_updated_at(db_pool: asyncpg.Pool) -> None:
    # The upsert sets updated_at itself: it runs without touch_updated_at (without_row_triggers).
    async with db_pool.acquire() as conn:
        with_column = set(
            await conn.fetchval(
                "SELECT array_agg(table_name::text) FROM information_schema.columns "
                "WHERE table_schema = 'public' AND column_name = 'updated_at'"
            )
        )
    assert {table.name for table in TABLES if table.updated_at} == with_column & set(TABLES_BY_NAME)


async def test_an_updated_row_gets_a_new_updated_at(
    db_pool: asyncpg.Pool, tmp_path: Path, levels_of: LevelsOf
) -> None:
    files = directory()
    await import_folder(db_pool, write_files(tmp_path / "first", files), levels_of)
    query = "SELECT updated_at FROM access_controls WHERE id = $1"
    async with db_pool.acquire() as conn:
        before = await conn.fetchval(query, UUID(row_id(501)))
    files["access_controls"][0]["access_level"] = "editor"

    await import_folder(db_pool, write_files(tmp_path / "second", files), levels_of)

    async with db_pool.acquire() as conn:
        assert await conn.fetchval(query, UUID(row_id(501))) > before


async def test_a_cascade_of_the_import_cannot_leave_a_row_pointing_at_nothing(
    db_pool: asyncpg.Pool, tmp_path: Path, levels_of: LevelsOf
) -> None:
    # Replacing without project 2 deletes it, and its dashboard by cascade; the privileges file
    # still names that dashboard, which the checks saw alive. The foreign key must refuse it.
    files = directory()
    files["projects"].append({"id": 2, "organization_id": str(ORG), "name": "Other"})
    files["resources"].append({"project_id": 2, "resource": "dashboard", "resource_id": "8"})
    await import_folder(db_pool, write_files(tmp_path / "first", files), levels_of)
    before = await revision_of(db_pool)
    privilege = {"id": row_id(402), "project_id": 2, "dashboard_id": "8", "user_id": 2, "level": 37}
    replacing = {
        "organizations": directory()["organizations"],
        "projects": directory()["projects"],
        "dashboard_privileges": [*directory()["dashboard_privileges"], privilege],
    }

    with pytest.raises(ImportRejectedError) as rejected:
        await import_folder(db_pool, write_files(tmp_path / "second", replacing), levels_of, "replace")

    assert [problem.file for problem in rejected.value.problems] == ["dashboard_privileges.ndjson"]
    assert await revision_of(db_pool) == before
    assert await count(db_pool, "projects") == 2


@pytest.fixture
async def limited_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool of a role that may write the tables but not SET session_replication_role."""
    role, password = f"acl_limited_{secrets.token_hex(4)}", secrets.token_hex(8)
    admin = await asyncpg.connect(database_url)
    try:
        if not await admin.fetchval("SELECT rolcreaterole FROM pg_roles WHERE rolname = current_user"):
            pytest.skip("the test server's role may not create roles")
        await admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        await admin.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")
        await admin.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}")
        parts = urlsplit(database_url)
        netloc = f"{role}:{password}@{parts.hostname}:{parts.port or 5432}"
        pool = await create_pool(urlunsplit(parts._replace(netloc=netloc)), min_size=1, max_size=2)
        try:
            yield pool
        finally:
            await pool.close()
            await admin.execute(f"DROP OWNED BY {role}")
            await admin.execute(f"DROP ROLE {role}")
    finally:
        await admin.close()


async def test_a_role_that_may_not_turn_triggers_off_imports_the_same_rows(
    limited_pool: asyncpg.Pool, db_pool: asyncpg.Pool, tmp_path: Path, levels_of: LevelsOf
) -> None:
    async with limited_pool.acquire() as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("SET session_replication_role = replica")
    files = directory()
    await import_folder(limited_pool, write_files(tmp_path / "first", files), levels_of)
    files["access_controls"][0]["access_level"] = "editor"

    summary = await import_folder(limited_pool, write_files(tmp_path / "second", files), levels_of)

    assert {t.table: (t.inserted, t.updated) for t in summary.tables}["access_controls"] == (0, 1)
    assert await count(db_pool, "access_controls") == 2


async def test_a_bulk_load_leaves_statistics_that_count_its_rows(
    db_pool: asyncpg.Pool, tmp_path: Path, levels_of: LevelsOf
) -> None:
    files = directory()
    files["resources"] += [
        {"project_id": 1, "resource": "notebook", "resource_id": f"bulk-{n}"} for n in range(1_200)
    ]

    await import_folder(db_pool, write_files(tmp_path, files), levels_of)

    async with db_pool.acquire() as conn:
        estimated = await conn.fetchval("SELECT reltuples FROM pg_class WHERE relname = 'resources'")
    # Never analyzed, a table's estimate is -1 (PostgreSQL 14+) and the planner guesses.
    assert estimated == 1_203


async def test_rows_loaded_into_an_empty_table_announce_their_organization(
    db_pool: asyncpg.Pool, tmp_path: Path, levels_of: LevelsOf
) -> None:
    files = directory()
    first = {
        table: files[table] for table in ("users", "organizations", "organization_memberships", "projects")
    }
    await import_folder(db_pool, write_files(tmp_path / "first", first), levels_of)

    # resources is empty: its rows take the plain INSERT, without RETURNING.
    summary = await import_folder(
        db_pool, write_files(tmp_path / "second", {"resources": files["resources"]}), levels_of
    )

    assert [(t.table, t.inserted) for t in summary.tables] == [("resources", 3)]
    async with db_pool.acquire() as conn:
        changes = await conn.fetch(
            "SELECT organization_id, table_name, op FROM changelog WHERE revision = $1", summary.revision
        )
    assert [tuple(r) for r in changes] == [(ORG, "organizations", "import")]
