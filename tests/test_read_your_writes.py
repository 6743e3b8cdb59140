"""Read-your-writes (SPEC §2, issue 11): a write is answered once the instance that served it has
applied its revision, so a decision sent to that instance right after never sees an older state."""

from typing import Any

import msgspec
from litestar import Litestar
from litestar.testing import AsyncTestClient

from acl_service.app import create_app
from acl_service.settings import Settings
from tests.fixtures.app import admin_headers, check_headers
from tests.fixtures.seed import Seed

Client = AsyncTestClient[Litestar]
ROUNDS = 25


async def check(client: Client, body: dict[str, Any]) -> Any:
    response = await client.post("/v1/check", json=body, headers=check_headers())
    assert response.status_code == 200, response.text
    return response.json()


async def seeded_revision(seed: Seed) -> int:
    """The seed writes straight into PostgreSQL, past the app: decisions wait for it explicitly."""
    async with seed.pool.acquire() as conn:
        revision: int = await conn.fetchval("SELECT value FROM acl_revision")
    return revision


async def test_a_created_project_is_decided_at_once_by_the_instance_that_created_it(
    client: Client, seed: Seed
) -> None:
    world = await seed.spec_world([])
    carol = str(world["carol"].uuid)
    # Load the organization into the index first: a loaded view is what a late replay leaves stale.
    first = {"user": carol, "project_id": 1, "action": "read", "min_revision": await seeded_revision(seed)}
    assert (await check(client, first))["allowed"] is True
    for project_id in range(100, 100 + ROUNDS):
        created = await client.post(
            "/api/projects/",
            json={"id": project_id, "organization": str(world.organization), "name": f"p{project_id}"},
            headers=admin_headers(),
        )
        assert created.status_code == 201, created.text
        revision = int(created.headers["X-Acl-Revision"])
        answer = await check(client, {"user": carol, "project_id": project_id, "action": "read"})
        assert (answer["allowed"], answer["status"]) == (True, 200), answer
        assert answer["revision"] >= revision


async def test_access_changes_are_decided_at_once_by_the_instance_that_wrote_them(
    client: Client, seed: Seed
) -> None:
    world = await seed.spec_world(["access_control"])
    bob = {"user": str(world["bob"].uuid), "project_id": 1, "action": "read"}
    assert (await check(client, {**bob, "min_revision": await seeded_revision(seed)}))["allowed"] is True
    for round_number in range(ROUNDS):
        level = "none" if round_number % 2 == 0 else None  # a hard deny, then its removal
        written = await client.put(
            "/api/projects/1/access_controls/",
            json={"organization_member": str(world.memberships["bob"]), "access_level": level},
            headers=admin_headers(),
        )
        assert written.status_code in (200, 204), written.text
        answer = await check(client, bob)
        assert answer["allowed"] is (level is None), (round_number, answer)
        assert answer["revision"] >= int(written.headers["X-Acl-Revision"])


async def test_a_write_is_still_answered_when_the_index_cannot_apply_it_in_time(
    seed: Seed, settings: Settings
) -> None:
    world = await seed.spec_world([])
    # With no time to wait, the index has not applied the revision when the bound passes: the write
    # is committed, so it is answered 201, not 503.
    impatient = msgspec.structs.replace(settings, min_revision_wait_ms=0)
    async with AsyncTestClient(app=create_app(impatient)) as client:
        for project_id in range(300, 300 + ROUNDS):
            created = await client.post(
                "/api/projects/",
                json={"id": project_id, "organization": str(world.organization), "name": "late"},
                headers=admin_headers(),
            )
            assert created.status_code == 201, created.text
    async with seed.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM projects WHERE name = 'late'") == ROUNDS
