"""The fact index of one instance: loading, lazy organization views, freshness through acl_changes."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import asyncpg
import pytest

from acl_service.errors import ServiceUnavailable
from acl_service.store.index import FactIndex
from acl_service.store.writes import current_revision, write_transaction
from tests.fixtures.seed import Seed, World

# Bounds every wait for a notification: generous for a loaded CI host, never slept through.
WAIT_MS = 5000

OpenIndex = Callable[..., AbstractAsyncContextManager[FactIndex]]


@pytest.fixture
def open_index(db_pool: asyncpg.Pool, database_url: str) -> OpenIndex:
    @asynccontextmanager
    async def open_(**options: Any) -> AsyncIterator[FactIndex]:
        index = FactIndex(db_pool, database_url, **options)
        await index.start()
        try:
            yield index
        finally:
            await index.stop()

    return open_


async def write(pool: asyncpg.Pool, sql: str, *args: Any) -> int:
    """One write transaction; returns the revision it produced."""
    async with write_transaction(pool) as tx:
        await tx.conn.execute(sql, *args)
        return tx.revision


async def latest_revision(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        return await current_revision(conn)


async def test_start_loads_projects_users_and_keys_and_is_current(seed: Seed, open_index: OpenIndex) -> None:
    world = await seed.spec_world()
    key = await seed.personal_api_key(world["alice"], ["dashboard:read"])
    revision = await latest_revision(seed.pool)

    async with open_index() as index:
        assert index.current
        assert index.applied_revision == revision
        assert await index.readiness_reasons() == []
        project = index.project(1)
        assert project is not None
        assert project.organization_id == world.organization
        assert index.project(99) is None
        alice = index.user_by_uuid(world["alice"].uuid)
        assert alice is not None
        assert alice.id == world["alice"].id
        assert index.user_by_id(world["alice"].id) == alice
        assert index.user_by_uuid(uuid.uuid4()) is None
        secure_value = await seed.pool.fetchval(
            "SELECT secure_value FROM personal_api_keys WHERE user_id = $1", world["alice"].id
        )
        found = index.key_by_secure_value(secure_value)
        assert found is not None
        assert found.user_id == world["alice"].id
        assert found.scopes == ("dashboard:read",)
        assert key.startswith("phx_")
        stats = index.stats()
        assert stats.listener_connected
        assert stats.applied_revision == revision
        assert stats.organizations_loaded == 0


async def test_stop_closes_the_listener_and_reports_not_current(
    db_pool: asyncpg.Pool, open_index: OpenIndex
) -> None:
    async with open_index() as index:
        pass
    assert not index.current
    assert not index.stats().listener_connected
    listeners = await db_pool.fetchval(
        """SELECT count(*) FROM pg_stat_activity
           WHERE datname = current_database() AND application_name = 'acl-service-listener'"""
    )
    assert listeners == 0
    with pytest.raises(ServiceUnavailable) as raised:
        index.ensure_current()
    assert raised.value.code == "facts_unavailable"


async def test_organization_loads_on_first_use_and_is_kept(seed: Seed, open_index: OpenIndex) -> None:
    world = await seed.spec_world()
    await seed.dashboard(1, 7, created_by=world["bob"])
    async with open_index() as index:
        assert index.stats().organizations_loaded == 0
        view = await index.organization(world.organization)
        assert view is not None
        assert (1, "dashboard", "7") in view.objects
        assert set(view.memberships_by_user) == {user.id for user in world.users.values()}
        assert await index.organization(world.organization) is view
        stats = index.stats()
        assert stats.organizations_loaded == 1
        assert stats.rows == view.row_count
        assert await index.organization(uuid.uuid4()) is None
        assert index.stats().organizations_loaded == 1


async def test_write_to_a_loaded_organization_is_reflected_and_advances_the_revision(
    seed: Seed, open_index: OpenIndex
) -> None:
    world = await seed.spec_world()
    async with open_index() as index:
        before = await index.organization(world.organization)
        assert before is not None
        revision = await write(
            seed.pool,
            "INSERT INTO resources (project_id, resource, resource_id, restriction_level)"
            " VALUES (1, 'dashboard', '8', 37)",
        )
        await index.wait_for_revision(revision, WAIT_MS)
        assert index.applied_revision >= revision
        after = await index.organization(world.organization)
        assert after is not None
        assert after is not before  # replaced whole, never mutated
        assert after.objects[(1, "dashboard", "8")].restriction_level == 37
        assert (1, "dashboard", "8") not in before.objects


async def test_wait_for_revision_past_its_timeout_raises_revision_not_reached(
    seed: Seed, open_index: OpenIndex
) -> None:
    async with open_index() as index:
        target = index.applied_revision + 5
        with pytest.raises(ServiceUnavailable) as raised:
            await index.wait_for_revision(target, 50)
        assert raised.value.code == "revision_not_reached"
        assert raised.value.attr == "min_revision"
        assert raised.value.detail == f"Revision {target} has not been applied by this instance yet."
        await index.wait_for_revision(index.applied_revision, 0)  # reached: returns at once


async def test_user_changes_refresh_the_user_maps_and_the_views_holding_them(
    seed: Seed, open_index: OpenIndex
) -> None:
    world = await seed.spec_world()
    async with open_index() as index:
        view = await index.organization(world.organization)
        assert view is not None
        assert view.users[world["bob"].id].is_active

        erin = await seed.user("erin")
        revision = await latest_revision(seed.pool)
        await index.wait_for_revision(revision, WAIT_MS)
        found = index.user_by_uuid(erin.uuid)
        assert found is not None
        assert found.id == erin.id

        revision = await write(seed.pool, "UPDATE users SET is_active = false WHERE id = $1", world["bob"].id)
        await index.wait_for_revision(revision, WAIT_MS)
        bob = index.user_by_id(world["bob"].id)
        assert bob is not None
        assert not bob.is_active
        view = await index.organization(world.organization)
        assert view is not None
        assert not view.users[world["bob"].id].is_active

        new_uuid = uuid.uuid4()
        revision = await write(seed.pool, "UPDATE users SET uuid = $1 WHERE id = $2", new_uuid, erin.id)
        await index.wait_for_revision(revision, WAIT_MS)
        assert index.user_by_uuid(erin.uuid) is None
        assert index.user_by_uuid(new_uuid) == index.user_by_id(erin.id)

        revision = await write(seed.pool, "DELETE FROM users WHERE id = $1", erin.id)
        await index.wait_for_revision(revision, WAIT_MS)
        assert index.user_by_id(erin.id) is None
        assert index.user_by_uuid(new_uuid) is None


async def test_key_changes_refresh_the_key_map(seed: Seed, open_index: OpenIndex) -> None:
    world = await seed.spec_world()
    async with open_index() as index:
        await seed.personal_api_key(world["alice"], ["dashboard:read"])
        record = await seed.pool.fetchrow(
            "SELECT id, secure_value FROM personal_api_keys WHERE user_id = $1", world["alice"].id
        )
        assert record is not None
        key_id, secure_value = record["id"], record["secure_value"]
        await index.wait_for_revision(await latest_revision(seed.pool), WAIT_MS)
        key = index.key_by_secure_value(secure_value)
        assert key is not None
        assert key.id == key_id

        revision = await write(
            seed.pool,
            "UPDATE personal_api_keys SET scopes = $1, scoped_teams = $2 WHERE id = $3",
            ["*"],
            [1],
            key_id,
        )
        await index.wait_for_revision(revision, WAIT_MS)
        key = index.key_by_secure_value(secure_value)
        assert key is not None
        assert key.scopes == ("*",)
        assert key.scoped_teams == (1,)

        revision = await write(seed.pool, "DELETE FROM personal_api_keys WHERE id = $1", key_id)
        await index.wait_for_revision(revision, WAIT_MS)
        assert index.key_by_secure_value(secure_value) is None


async def test_project_creates_moves_and_deletes_update_the_project_map_and_both_views(
    seed: Seed, open_index: OpenIndex
) -> None:
    world = await seed.spec_world()
    other = await seed.organization(name="Other")
    async with open_index() as index:
        await seed.project(world.organization, 3)
        await index.wait_for_revision(await latest_revision(seed.pool), WAIT_MS)
        created = index.project(3)
        assert created is not None
        assert created.organization_id == world.organization

        source = await index.organization(world.organization)
        target = await index.organization(other)
        assert source is not None
        assert target is not None
        assert 3 in source.projects
        assert 3 not in target.projects

        revision = await write(seed.pool, "UPDATE projects SET organization_id = $1 WHERE id = 3", other)
        await index.wait_for_revision(revision, WAIT_MS)
        moved = index.project(3)
        assert moved is not None
        assert moved.organization_id == other
        source = await index.organization(world.organization)
        target = await index.organization(other)
        assert source is not None
        assert target is not None
        assert 3 not in source.projects
        assert 3 in target.projects

        revision = await write(seed.pool, "DELETE FROM projects WHERE id = 3")
        await index.wait_for_revision(revision, WAIT_MS)
        assert index.project(3) is None
        target = await index.organization(other)
        assert target is not None
        assert 3 not in target.projects


async def test_deleted_organization_drops_its_view_and_projects(seed: Seed, open_index: OpenIndex) -> None:
    world = await seed.spec_world()
    async with open_index() as index:
        assert await index.organization(world.organization) is not None
        revision = await write(seed.pool, "DELETE FROM organizations WHERE id = $1", world.organization)
        await index.wait_for_revision(revision, WAIT_MS)
        assert index.project(1) is None
        assert index.project(2) is None
        assert index.stats().organizations_loaded == 0
        assert await index.organization(world.organization) is None


async def test_views_beyond_max_rows_are_evicted_least_recently_used_first(
    seed: Seed, open_index: OpenIndex
) -> None:
    first = await seed.organization(name="First")
    second = await seed.organization(name="Second")
    third = await seed.organization(name="Third")
    for organization, project_id in ((first, 11), (second, 12), (third, 13)):
        await seed.project(organization, project_id)
        for number in range(1, 4):
            await seed.resource(project_id, "notebook", f"n{number}")
    # Each view is 1 organization + 1 project + 3 objects = 5 rows: room for two of them.
    async with open_index(max_rows=10) as index:
        assert await index.organization(first) is not None
        assert await index.organization(second) is not None
        assert index.stats().rows == 10
        assert await index.organization(first) is not None  # now second is the least recently used
        assert await index.organization(third) is not None
        stats = index.stats()
        assert stats.organizations_loaded == 2
        assert stats.rows == 10
        loaded_again = await index.organization(second)  # reloaded: it had been evicted
        assert loaded_again is not None
        assert index.stats().organizations_loaded == 2


async def test_view_larger_than_max_rows_is_still_served(seed: Seed, open_index: OpenIndex) -> None:
    world: World = await seed.spec_world()
    async with open_index(max_rows=1) as index:
        view = await index.organization(world.organization)
        assert view is not None
        assert await index.organization(world.organization) is view
        assert index.stats().organizations_loaded == 1


async def test_revision_committed_without_announcement_is_still_applied(
    seed: Seed, open_index: OpenIndex
) -> None:
    world = await seed.spec_world()
    async with open_index() as index:
        # A writer that never announces '<revision>:' (users carry no organization, so their rows
        # are not announced either): only the changelog knows.
        async with seed.pool.acquire() as conn, conn.transaction():
            revision = await conn.fetchval("UPDATE acl_revision SET value = value + 1 RETURNING value")
            await conn.execute("UPDATE users SET is_active = false WHERE id = $1", world["dan"].id)
        await index.wait_for_revision(revision, WAIT_MS)
        dan = index.user_by_id(world["dan"].id)
        assert dan is not None
        assert not dan.is_active


async def test_heartbeat_applies_an_unannounced_revision_without_being_asked(
    seed: Seed, open_index: OpenIndex
) -> None:
    world = await seed.spec_world()
    async with open_index(heartbeat_seconds=0.05) as index:
        async with seed.pool.acquire() as conn, conn.transaction():
            revision = await conn.fetchval("UPDATE acl_revision SET value = value + 1 RETURNING value")
            await conn.execute("UPDATE users SET is_active = false WHERE id = $1", world["dan"].id)
        for _ in range(WAIT_MS // 10):
            if index.applied_revision >= revision:
                break
            await asyncio.sleep(0.01)
        assert index.applied_revision >= revision


async def test_lazy_loads_racing_writes_never_keep_a_stale_view(seed: Seed, open_index: OpenIndex) -> None:
    organizations = [await seed.organization(name=f"O{number}") for number in range(8)]
    for number, organization in enumerate(organizations, start=1):
        await seed.project(organization, number)
    async with open_index() as index:
        # Each organization's first load overlaps a write to it.
        writes = [
            write(
                seed.pool,
                "INSERT INTO resources (project_id, resource, resource_id) VALUES ($1, 'notebook', 'late')",
                number,
            )
            for number in range(1, len(organizations) + 1)
        ]
        loads = [index.organization(organization) for organization in organizations]
        revisions = await asyncio.gather(*writes, *loads)
        await index.wait_for_revision(max(r for r in revisions if isinstance(r, int)), WAIT_MS)
        for number, organization in enumerate(organizations, start=1):
            view = await index.organization(organization)
            assert view is not None
            assert (number, "notebook", "late") in view.objects
