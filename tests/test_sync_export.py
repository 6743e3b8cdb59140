"""`acl-service export`: the import format back out; export -> import reproduces every decision."""

import itertools
from pathlib import Path
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from acl_service.app import create_app
from acl_service.migrate import apply_migrations
from acl_service.settings import Settings
from acl_service.store.pool import create_pool
from acl_service.sync.exporter import export_files
from acl_service.sync.validate import LevelsOf
from tests.fixtures.app import settings_for
from tests.fixtures.seed import Seed
from tests.fixtures.sync import decisions, import_folder, revision_of

PROJECT_ACTIONS = ("read", "write", "delete", "manage_access")


def actions(target: dict[str, Any]) -> tuple[str, ...]:
    """The check actions of policies/check_actions.csv for a target."""
    resource = target.get("resource")
    if resource is None:
        return PROJECT_ACTIONS
    if "id" not in resource:
        return ("read", "write", "create", "manage_access")
    return PROJECT_ACTIONS + (("restrict",) if resource["type"] == "dashboard" else ())


async def rich_world(seed: Seed) -> tuple[list[str], list[dict[str, Any]]]:
    """SPEC §8's organization with every kind of fact; returns the users and targets to check."""
    world = await seed.spec_world(
        [
            "advanced_permissions",
            "role_based_access",
            "dashboard_permissioning",
            "project_based_permissioning",
        ],
        access_control=True,
    )
    alice, bob, dan = world["alice"], world["bob"], world["dan"]
    await seed.explicit_member(1, world.memberships["alice"], 8)
    await seed.explicit_member(1, world.memberships["bob"])
    await seed.dashboard(1, 7, created_by=alice, restriction_level=37)
    await seed.dashboard(1, 10)
    await seed.collaborator(1, 7, bob)
    await seed.resource(1, "insight", "i-42")
    await seed.insight_on(1, "i-42", [7, 10])
    await seed.resource(1, "notebook", "n-17", created_by=dan)
    await seed.access_control(1, "notebook", "n-17", "none")
    await seed.access_control(1, "notebook", "n-17", "viewer", member=world.memberships["bob"])
    role = await seed.role(world.organization, "Eng", [(bob, world.memberships["bob"])])
    await seed.access_control(1, "feature_flag", None, "none")
    await seed.access_control(1, "feature_flag", None, "viewer", role=role)
    await seed.access_control(2, "project", "2", "none")
    await seed.access_control(2, "project", "2", "admin", member=world.memberships["dan"])
    await seed.personal_api_key(bob, ["dashboard:read"], scoped_teams=[1])
    users = [str(world[name].uuid) for name in ("alice", "bob", "carol", "dan")]
    targets: list[dict[str, Any]] = [
        {"project_id": 1},
        {"project_id": 2},
        {"project_id": 1, "resource": {"type": "dashboard", "id": "7"}},
        {"project_id": 1, "resource": {"type": "dashboard", "id": "10"}},
        {"project_id": 1, "resource": {"type": "insight", "id": "i-42"}},
        {"project_id": 1, "resource": {"type": "notebook", "id": "n-17"}},
        {"project_id": 1, "resource": {"type": "notebook"}},
        {"project_id": 1, "resource": {"type": "feature_flag"}},
    ]
    return users, targets


def every_check(users: list[str], targets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"user": user, **target, "action": action}
        for user, target in itertools.product(users, targets)
        for action in actions(target)
    ]


async def test_export_then_replace_import_on_an_empty_database_reproduces_every_decision(
    seed: Seed,
    settings: Settings,
    empty_database_url: str,
    tmp_path: Path,
    levels_of: LevelsOf,
) -> None:
    checks = every_check(*await rich_world(seed))
    async with AsyncTestClient(app=create_app(settings)) as source:
        expected = await decisions(source, checks, await revision_of(seed.pool))
    assert {allowed for allowed, _, _ in expected} == {True, False}
    await export_files(seed.pool, tmp_path / "export")

    conn = await asyncpg.connect(empty_database_url)
    try:
        await apply_migrations(conn)
    finally:
        await conn.close()
    target_pool = await create_pool(empty_database_url, min_size=1, max_size=2)
    try:
        summary = await import_folder(target_pool, tmp_path / "export", levels_of, "replace")
        assert summary.revision == 1
        # The same files, exported again from the copy, are the same bytes.
        await export_files(target_pool, tmp_path / "again")
        for exported in sorted((tmp_path / "export").iterdir()):
            assert (tmp_path / "again" / exported.name).read_bytes() == exported.read_bytes(), exported.name
        target = settings_for(empty_database_url, tmp_path / "data")
        async with AsyncTestClient(app=create_app(target)) as copy:
            assert await decisions(copy, checks, summary.revision) == expected
    finally:
        await target_pool.close()


async def test_a_tar_gz_export_imports_as_a_no_op_into_its_own_database(
    seed: Seed, tmp_path: Path, levels_of: LevelsOf
) -> None:
    await rich_world(seed)
    before = await revision_of(seed.pool)

    assert await export_files(seed.pool, tmp_path / "directory.tar.gz") == before
    summary = await import_folder(seed.pool, tmp_path / "directory.tar.gz", levels_of, "replace")

    assert summary.revision is None
    assert summary.changed == 0
    assert sum(t.unchanged for t in summary.tables) > 20
