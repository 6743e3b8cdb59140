"""SPEC §8 example 11: two instances on one database; `min_revision` and fail-closed 503s."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import msgspec
from litestar import Litestar
from litestar.testing import AsyncTestClient

from acl_service.app import create_app
from acl_service.settings import Settings
from acl_service.store.index import LISTENER_APPLICATION_NAME
from tests.fixtures.app import admin_headers, check_headers
from tests.fixtures.database import quote_identifier
from tests.fixtures.seed import Seed

Client = AsyncTestClient[Litestar]


@asynccontextmanager
async def instance(settings: Settings) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=create_app(settings)) as client:
        yield client


async def check(client: Client, body: dict[str, Any]) -> Any:
    return await client.post("/v1/check", json=body, headers=check_headers())


async def poll(client: Client, body: dict[str, Any], status: int, seconds: float) -> Any:
    """Asks until the answer has `status`, at most `seconds`: the listener changes in the background."""
    deadline = asyncio.get_running_loop().time() + seconds
    response = await check(client, body)
    while response.status_code != status and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)
        response = await check(client, body)
    assert response.status_code == status, response.text
    return response


async def test_a_write_through_one_instance_is_decided_by_the_other_at_its_revision(
    seed: Seed, settings: Settings
) -> None:
    world = await seed.spec_world(["access_control"])
    bob = {"user": str(world["bob"].uuid), "project_id": 1, "action": "read"}
    async with instance(settings) as first, instance(settings) as second:
        async with seed.pool.acquire() as conn:
            seeded = await conn.fetchval("SELECT value FROM acl_revision")
        before = await check(second, {**bob, "min_revision": seeded})
        assert before.json()["allowed"] is True  # the second instance now holds the organization

        written = await first.put(
            "/api/projects/1/access_controls/",
            json={"organization_member": str(world.memberships["bob"]), "access_level": "none"},
            headers=admin_headers(),
        )
        assert written.status_code == 200, written.text
        revision = int(written.headers["X-Acl-Revision"])

        after = await check(second, {**bob, "min_revision": revision})
        assert after.status_code == 200
        answer = after.json()
        assert (answer["allowed"], answer["status"], answer["detail"]) == (
            False,
            403,
            "You don't have sufficient permissions in the project.",
        )
        assert answer["revision"] >= revision
        assert int(after.headers["X-Acl-Revision"]) == answer["revision"]

        state = second.app.state.acl
        state.settings = msgspec.structs.replace(state.settings, min_revision_wait_ms=100)
        future = await check(second, {**bob, "min_revision": revision + 1000})
        assert future.status_code == 503
        assert future.headers["Retry-After"] == "1"
        assert future.json() == {
            "type": "server_error",
            "code": "revision_not_reached",
            "detail": f"Revision {revision + 1000} has not been applied by this instance yet.",
            "attr": "min_revision",
        }


async def test_listener_down_fails_closed_until_replayed(
    seed: Seed, settings: Settings, database_url: str, pg_server_dsn: str
) -> None:
    world = await seed.spec_world()
    alice = {"user": str(world["alice"].uuid), "project_id": 1, "action": "read"}
    database = quote_identifier(urlsplit(database_url).path.lstrip("/"))
    async with instance(settings) as client:
        admin = await asyncpg.connect(pg_server_dsn)
        try:
            # Refuse new connections so the listener cannot come back before we have looked.
            await admin.execute(f"ALTER DATABASE {database} ALLOW_CONNECTIONS false")
            try:
                await seed.pool.fetchval(
                    """SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
                       WHERE datname = current_database() AND application_name = $1""",
                    LISTENER_APPLICATION_NAME,
                )
                response = await poll(client, alice, 503, 5)
                assert response.json() == {
                    "type": "server_error",
                    "code": "facts_unavailable",
                    "detail": "Access-control facts are not current on this instance.",
                    "attr": None,
                }
                assert response.headers["Retry-After"] == "1"
            finally:
                await admin.execute(f"ALTER DATABASE {database} ALLOW_CONNECTIONS true")
        finally:
            await admin.close()
        response = await poll(client, alice, 200, 15)
        assert response.json()["allowed"] is True
