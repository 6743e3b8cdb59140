"""Several instances on one database, and an instance that loses its listener connection.

While the listener is down the database refuses new connections to the test database (ALLOW_CONNECTIONS
false), so the instance cannot reconnect before the test has written what it must replay; the
pools keep the connections they already hold.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from acl_service.api.state import AppState
from acl_service.errors import ServiceUnavailable
from acl_service.store.index import LISTENER_APPLICATION_NAME, FactIndex
from acl_service.store.pool import create_pool
from acl_service.store.writes import write_transaction
from tests.fixtures.database import quote_identifier
from tests.fixtures.seed import Seed

WAIT_MS = 5000
WAIT_SECONDS = WAIT_MS / 1000


async def eventually(condition: Callable[[], bool | Awaitable[bool]], what: str) -> None:
    """Polls `condition` until it holds, at most WAIT_SECONDS."""

    async def holds() -> bool:
        result = condition()
        return result if isinstance(result, bool) else await result

    try:
        async with asyncio.timeout(WAIT_SECONDS):
            while True:
                if await holds():
                    return
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"timed out waiting until {what}") from None


@asynccontextmanager
async def running_index(pool: asyncpg.Pool, dsn: str) -> AsyncIterator[FactIndex]:
    # Quick retries: a test waits for the reconnect, and backoff is not what it measures.
    index = FactIndex(pool, dsn, reconnect_min_seconds=0.02, reconnect_max_seconds=0.1)
    await index.start()
    try:
        yield index
    finally:
        await index.stop()


@asynccontextmanager
async def connections_refused(server_dsn: str, database_url: str) -> AsyncIterator[None]:
    name = quote_identifier(urlsplit(database_url).path.lstrip("/"))
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
        try:
            yield
        finally:
            await admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
    finally:
        await admin.close()


async def terminate_listeners(pool: asyncpg.Pool) -> int:
    terminated: int = await pool.fetchval(
        """SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
           WHERE datname = current_database() AND application_name = $1""",
        LISTENER_APPLICATION_NAME,
    )
    return terminated


async def add_notebook(pool: asyncpg.Pool, project_id: int, notebook_id: str) -> int:
    async with write_transaction(pool) as tx:
        await tx.conn.execute(
            "INSERT INTO resources (project_id, resource, resource_id) VALUES ($1, 'notebook', $2)",
            project_id,
            notebook_id,
        )
        return tx.revision


async def test_a_write_through_either_instance_is_seen_by_both(seed: Seed, database_url: str) -> None:
    world = await seed.spec_world()
    # Two app instances: each its own pool and its own index.
    first_pool = await create_pool(database_url, min_size=1, max_size=4)
    second_pool = await create_pool(database_url, min_size=1, max_size=4)
    try:
        async with (
            running_index(first_pool, database_url) as first,
            running_index(second_pool, database_url) as second,
        ):
            for index in (first, second):
                assert await index.organization(world.organization) is not None
            for number, writer in enumerate((first_pool, second_pool)):
                revision = await add_notebook(writer, 1, f"n{number}")
                for index in (first, second):
                    await index.wait_for_revision(revision, WAIT_MS)
                    view = await index.organization(world.organization)
                    assert view is not None
                    assert (1, "notebook", f"n{number}") in view.objects
                    assert index.applied_revision >= revision
    finally:
        await first_pool.close()
        await second_pool.close()


async def test_lost_listener_fails_closed_then_replays_what_it_missed(
    seed: Seed, database_url: str, pg_server_dsn: str
) -> None:
    world = await seed.spec_world()
    async with running_index(seed.pool, database_url) as index:
        assert await index.organization(world.organization) is not None
        async with connections_refused(pg_server_dsn, database_url):
            assert await terminate_listeners(seed.pool) == 1
            await eventually(lambda: not index.current, "the index noticed the lost listener")
            with pytest.raises(ServiceUnavailable) as raised:
                index.ensure_current()
            assert raised.value.code == "facts_unavailable"
            assert raised.value.detail == "Access-control facts are not current on this instance."
            assert await index.readiness_reasons() == ["listener_down"]
            assert not index.stats().listener_connected

            # Nobody listens for this one: only the replay can bring it in.
            revision = await add_notebook(seed.pool, 1, "missed")
            await seed.execute("UPDATE users SET is_active = false WHERE id = $1", world["dan"].id)
            assert not index.current
            assert index.applied_revision < revision

        await eventually(lambda: index.current, "the index reconnected and replayed")
        index.ensure_current()
        assert await index.readiness_reasons() == []
        assert index.applied_revision >= revision + 1
        view = await index.organization(world.organization)
        assert view is not None
        assert (1, "notebook", "missed") in view.objects
        dan = index.user_by_id(world["dan"].id)
        assert dan is not None
        assert not dan.is_active

        # And it listens again.
        revision = await add_notebook(seed.pool, 1, "after")
        await index.wait_for_revision(revision, WAIT_MS)


async def test_readyz_reports_listener_down_until_the_listener_is_back(
    client: AsyncTestClient[Litestar], db_pool: asyncpg.Pool, database_url: str, pg_server_dsn: str
) -> None:
    assert (await client.get("/readyz")).status_code == 200
    app_state = AppState.of(client.app.state)

    async def not_ready() -> bool:
        response = await client.get("/readyz")
        return response.status_code == 503 and "listener_down" in response.json()["reasons"]

    async def ready() -> bool:
        return (await client.get("/readyz")).status_code == 200

    async with connections_refused(pg_server_dsn, database_url):
        # The app's pool lives on the client's event loop; the test's own pool does the killing.
        assert await terminate_listeners(db_pool) == 1
        await eventually(not_ready, "/readyz reported listener_down")
        response = await client.get("/readyz")
        assert response.headers["Retry-After"] == "1"
    await eventually(ready, "/readyz ready again after the reconnect")
    assert app_state.index.current
