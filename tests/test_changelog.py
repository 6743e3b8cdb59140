"""A bounded changelog (issue 12): pruning by revisions or age, and an instance that lagged behind
the pruned window reloading whole instead of replaying."""

import asyncpg

from acl_service.settings import ChangelogRetention
from acl_service.store.changelog import prune_changelog, pruned_through
from acl_service.store.index import FactIndex
from acl_service.store.writes import current_revision, write_transaction
from tests.fixtures.seed import Seed
from tests.test_cli import acl_service

WAIT_MS = 5000


async def write(pool: asyncpg.Pool, sql: str, *args: object) -> int:
    async with write_transaction(pool) as tx:
        await tx.conn.execute(sql, *args)
        return tx.revision


async def changelog_revisions(pool: asyncpg.Pool) -> set[int]:
    return {row["revision"] for row in await pool.fetch("SELECT DISTINCT revision FROM changelog")}


async def test_prune_by_revisions_keeps_the_last_ones_and_records_the_horizon(seed: Seed) -> None:
    await seed.spec_world()
    for number in range(5):
        await seed.user(f"extra{number}")
    async with seed.pool.acquire() as conn:
        latest = await current_revision(conn)
        result = await prune_changelog(conn, ChangelogRetention(revisions=3))
        assert (result.pruned_through, result.skipped) == (latest - 3, False)
        assert result.deleted_rows > 0
        assert await pruned_through(conn) == latest - 3
        # Pruning again with a wider window never moves the horizon back.
        again = await prune_changelog(conn, ChangelogRetention(revisions=1000))
        assert (again.deleted_rows, again.pruned_through) == (0, latest - 3)
    assert await changelog_revisions(seed.pool) == {latest - 2, latest - 1, latest}


async def test_prune_by_age_removes_whole_revisions_older_than_the_window(seed: Seed) -> None:
    await seed.spec_world()
    old = await seed.user("old")
    young = await seed.user("young")
    async with seed.pool.acquire() as conn:
        old_revision = await conn.fetchval(
            "SELECT revision FROM changelog WHERE table_name = 'users' AND row_key ->> 'id' = $1", str(old.id)
        )
        await conn.execute(
            "UPDATE changelog SET changed_at = now() - interval '2 days' WHERE revision <= $1", old_revision
        )
        result = await prune_changelog(conn, ChangelogRetention(seconds=24 * 3600))
    assert result.pruned_through == old_revision
    remaining = await changelog_revisions(seed.pool)
    assert remaining
    assert min(remaining) > old_revision
    assert young.id in {
        int(row["id"])
        for row in await seed.pool.fetch(
            "SELECT row_key ->> 'id' AS id FROM changelog WHERE table_name = 'users'"
        )
    }


async def test_an_instance_behind_the_pruned_window_reloads_and_answers_exactly(
    seed: Seed, db_pool: asyncpg.Pool, database_url: str
) -> None:
    world = await seed.spec_world()
    index = FactIndex(db_pool, database_url)
    await index.start()
    view = await index.organization(world.organization)
    assert view is not None
    assert 50 not in view.projects
    await index.stop()  # the instance lags: nothing it misses from here on is replayed live

    await write(
        db_pool,
        "INSERT INTO projects (id, organization_id, name) VALUES (50, $1, 'missed')",
        world.organization,
    )
    removed = (await seed.user("removed")).id
    await write(db_pool, "DELETE FROM users WHERE id = $1", removed)
    async with db_pool.acquire() as conn:
        result = await prune_changelog(conn, ChangelogRetention(revisions=1))
    assert result.pruned_through > index.applied_revision

    await index.start()
    try:
        async with db_pool.acquire() as conn:
            latest = await current_revision(conn)
        await index.wait_for_revision(latest, WAIT_MS)
        assert index.current
        project = index.project(50)
        assert project is not None
        assert project.organization_id == world.organization
        assert index.user_by_id(removed) is None
        reloaded = await index.organization(world.organization)
        assert reloaded is not None
        assert 50 in reloaded.projects
    finally:
        await index.stop()


def test_changelog_prune_command_reports_what_it_removed(database_url: str) -> None:
    result = acl_service("changelog", "prune", ACL_DATABASE_URL=database_url, ACL_CHANGELOG_RETENTION="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("pruned 0 changelog rows; history kept after revision 0")
    assert "ACL_CHANGELOG_RETENTION: 1 revisions" in result.stdout

    bad = acl_service("changelog", "prune", ACL_DATABASE_URL=database_url, ACL_CHANGELOG_RETENTION="0d")
    assert bad.returncode == 2
    assert bad.stderr.startswith("acl-service: ACL_CHANGELOG_RETENTION:")
