"""`acl-service explain`: a check's trace as a tree, from the facts in the database, run as users run it."""

import asyncio
import re
import subprocess
import sys

import pytest

from tests.fixtures.seed import Seed, World
from tests.test_cli import command_env
from tests.test_explain import rule_line

TIMEOUT_SECONDS = 60.0
TREE_LINE = ("├─ ", "└─ ", "│  ", "   ")


def explain(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "acl_service", "explain", *args],
        env=command_env(ACL_DATABASE_URL=database_url),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )


async def example_7(seed: Seed) -> tuple[World, str]:
    """SPEC §8 example 7: resource-wide `dashboard: editor`, a member row `none` for Bob on dashboard 8."""
    world = await seed.spec_world(["advanced_permissions"])
    await seed.dashboard(1, 8, created_by=world["alice"])
    await seed.access_control(1, "dashboard", None, "editor")
    row = await seed.access_control(1, "dashboard", 8, "none", member=world.memberships["bob"])
    return world, str(row)


async def test_explain_prints_the_ladder_step_the_row_and_the_deciding_rule(
    seed: Seed, database_url: str
) -> None:
    world, row = await example_7(seed)
    args = ("--user", str(world["bob"].uuid), "--project", "1", "--resource", "dashboard:8")
    result = await asyncio.to_thread(explain, database_url, *args)
    assert result.returncode == 3, result.stderr  # denied
    lines = result.stdout.splitlines()
    assert all(line.startswith(TREE_LINE) for line in lines), result.stdout
    file, line = rule_line("3.7.5.specific")
    assert any(f'object.access_level = "none"  (3.7.5.specific at {file}:{line})' in text for text in lines)
    assert any(f"rows on dashboard 8: row {row} member none: applies" in text for text in lines)
    file, line = rule_line("3.14.ACO.denied")
    assert lines[-1] == (
        "└─ decision: 403 You do not have viewer access to this resource., "
        f"decided by 3.14.ACO.denied at {file}:{line}"
    )
    # Dashboard 9 has no rows: the resource-wide row decides, and the check is allowed.
    await seed.dashboard(1, 9)
    allowed = await asyncio.to_thread(
        explain, database_url, "--user", str(world["bob"].uuid), "--project", "1", "--resource", "dashboard:9"
    )
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.splitlines()[-1] == "└─ decision: allowed"
    assert "3.7.6.resource_rows" in allowed.stdout


async def test_explain_with_facts_shows_what_each_query_read(seed: Seed, database_url: str) -> None:
    world, _ = await example_7(seed)
    args = ("--user", str(world["carol"].uuid), "--project", "1", "--action", "manage_access", "--facts")
    result = await asyncio.to_thread(explain, database_url, *args)
    assert result.returncode == 0, result.stderr
    assert re.search(r"^[│ ]+ given .*\borg_level=15\b", result.stdout, re.MULTILINE), result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--resource", "spaceship:1"), "--resource: unknown type 'spaceship'"),
        (("--resource", "notebook:bad id"), "--resource: 'bad id' is not a valid resource id"),
        (("--action", "restrict"), "--action restrict: This action is not available for this target."),
    ],
)
def test_explain_refuses_bad_targets_in_one_line(
    args: tuple[str, ...], message: str, database_url: str
) -> None:
    user = "00000000-0000-4000-8000-000000000001"
    result = explain(database_url, "--user", user, "--project", "1", *args)
    assert result.returncode == 1
    assert result.stderr == f"acl-service: {message}\n"


def test_an_unknown_user_is_explained_as_unauthenticated(database_url: str) -> None:
    result = explain(database_url, "--user", "00000000-0000-4000-8000-000000000001", "--project", "1")
    assert result.returncode == 3
    assert result.stdout.splitlines()[-1].startswith(
        "└─ decision: 401 Authentication credentials were not provided."
    )
