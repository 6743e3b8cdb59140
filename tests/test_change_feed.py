"""`GET /v1/changes`: the change feed, over real HTTP (uvicorn), with two instances on one database.

The in-process test client buffers a response until it ends, so streams are read from servers
listening on loopback; answers that end (400, 401, 410) use the test client.
"""

import asyncio
import json
import signal
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from litestar import Litestar
from litestar.testing import AsyncTestClient

from acl_service.api import changes
from acl_service.app import create_app
from acl_service.settings import Settings
from acl_service.store.activity import ChangeFeedReader
from tests.fixtures.app import admin_headers, check_headers
from tests.fixtures.seed import Seed, World
from tests.test_cli import serving

# Bounds on waiting for an event that should come; never a measure of speed.
EVENT_WAIT_SECONDS = 10.0
DASHBOARDS = "/api/environments/1/dashboards/"


@dataclass
class Event:
    id: str | None = None
    event: str | None = None
    data: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads("\n".join(self.data))


class EventStream:
    """Reads one server-sent-event stream event by event (comments count as events here)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next(self) -> Event:
        event = Event()
        async with asyncio.timeout(EVENT_WAIT_SECONDS):
            async for line in self._lines:
                if not line:
                    return event
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "":
                    event.comments.append(value)
                elif name == "data":
                    event.data.append(value)
                elif name in ("id", "event"):
                    setattr(event, name, value)
        raise AssertionError("the stream ended")

    async def next_change(self) -> Event:
        event = await self.next()
        while event.comments and not event.data:
            event = await self.next()
        return event


@asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An instance of the service on a free loopback port, and an HTTP client for it."""
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    async with asyncio.timeout(EVENT_WAIT_SECONDS):
        while not server.started:  # noqa: ASYNC110  (uvicorn exposes a flag, not an event)
            await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=EVENT_WAIT_SECONDS
        ) as client:
            yield client
    finally:
        server.should_exit = True
        await serving


@asynccontextmanager
async def feed(client: httpx.AsyncClient, query: str = "", **headers: str) -> AsyncIterator[EventStream]:
    async with client.stream(
        "GET", f"/v1/changes{query}", headers={**check_headers(), **headers}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        yield EventStream(response)


async def revision_now(seed: Seed) -> int:
    async with seed.pool.acquire() as conn:
        revision: int = await conn.fetchval("SELECT value FROM acl_revision")
    return revision


async def create_dashboard(client: httpx.AsyncClient, name: str) -> int:
    response = await client.post(DASHBOARDS, json={"name": name}, headers=admin_headers())
    assert response.status_code == 201, response.text
    return int(response.headers["X-Acl-Revision"])


async def rename_user(client: httpx.AsyncClient, world: World, name: str) -> int:
    alice = world["alice"]
    body = {"id": alice.id, "email": "alice@example.com", "first_name": name}
    response = await client.put(f"/api/users/{alice.uuid}/", json=body, headers=admin_headers())
    assert response.status_code == 200, response.text
    return int(response.headers["X-Acl-Revision"])


async def test_a_write_through_one_instance_is_streamed_by_the_other_in_order_and_resumes(
    seed: Seed, settings: Settings
) -> None:
    world = await seed.spec_world()
    other = await seed.organization(name="Other")
    seeded = await revision_now(seed)
    async with served(settings) as first, served(settings) as second:
        async with feed(second, f"?after_revision={seeded}") as stream:
            written = [await create_dashboard(first, "one"), await rename_user(first, world, "Al")]
            project = await first.post(
                "/api/projects/", json={"organization": str(other), "name": "P"}, headers=admin_headers()
            )
            assert project.status_code == 201, project.text
            written.append(int(project.headers["X-Acl-Revision"]))

            events = [await stream.next_change() for _ in written]
        assert [int(event.id or 0) for event in events] == written
        dashboard, user, elsewhere = (event.json() for event in events)
        assert set(dashboard) == {"revision", "changed_at", "organizations", "users", "tables"}
        assert (dashboard["revision"], dashboard["organizations"], dashboard["users"]) == (
            written[0],
            [str(world.organization)],
            [],
        )
        assert "resources" in dashboard["tables"]
        assert (user["organizations"], user["users"], user["tables"]) == ([], [world["alice"].id], ["users"])
        assert (elsewhere["organizations"], elsewhere["tables"]) == ([str(other)], ["projects"])

        # An EventSource reconnects with its first URL and the last id it saw: the header wins.
        later = await create_dashboard(first, "four")
        async with feed(second, f"?after_revision={seeded}", **{"Last-Event-ID": str(written[0])}) as resumed:
            replayed = [await resumed.next_change() for _ in range(3)]
        assert [int(event.id or 0) for event in replayed] == [*written[1:], later]


async def test_the_backlog_has_one_event_per_revision_with_changes(
    seed: Seed, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(changes, "REVISIONS_PER_READ", 2)  # the backlog takes several reads
    world = await seed.spec_world()
    async with seed.pool.acquire() as conn:
        expected = [
            row["revision"] for row in await conn.fetch("SELECT DISTINCT revision FROM changelog ORDER BY 1")
        ]
    async with served(settings) as instance, feed(instance, "?after_revision=0") as stream:
        events = [await stream.next_change() for _ in expected]
    assert [event.json()["revision"] for event in events] == expected
    # The first revision inserted the organization.
    assert events[0].json()["organizations"] == [str(world.organization)]


async def test_streams_asking_for_one_range_at_once_share_one_read(seed: Seed, db_pool: asyncpg.Pool) -> None:
    await seed.spec_world()
    reader = ChangeFeedReader(db_pool)
    first, second = await asyncio.gather(reader.read(0, 3), reader.read(0, 3))
    assert first is second
    assert [changes.revision for changes in first.revisions] == [1, 2, 3]
    assert await reader.read(0, 3) is not first  # a finished read is not kept


async def test_without_a_revision_the_stream_starts_at_the_applied_one(
    seed: Seed, settings: Settings
) -> None:
    await seed.spec_world()
    async with served(settings) as instance, feed(instance) as stream:
        written = await create_dashboard(instance, "live")
        event = await stream.next_change()
    assert event.json()["revision"] == written


async def test_an_idle_stream_sends_heartbeat_comments(
    seed: Seed, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(changes, "HEARTBEAT_SECONDS", 0.05)
    await seed.spec_world()
    async with served(settings) as instance, feed(instance) as stream:
        event = await stream.next()
    assert (event.comments, event.data, event.id) == (["heartbeat"], [], None)


async def test_a_stream_overtaken_by_pruning_is_told_to_resync(seed: Seed, settings: Settings) -> None:
    await seed.spec_world()
    seeded = await revision_now(seed)
    async with served(settings) as instance, feed(instance, f"?after_revision={seeded}") as stream:
        # As if the pruner had run while this subscriber lagged behind.
        async with seed.pool.acquire() as conn:
            await conn.execute("UPDATE changelog_horizon SET pruned_through = $1", seeded + 1)
        await create_dashboard(instance, "after the prune")
        event = await stream.next_change()
        with pytest.raises(AssertionError, match="the stream ended"):
            await stream.next()
    assert event.event == "resync"
    assert event.json()["after_revision"] == seeded
    assert event.json()["pruned_through"] == seeded + 1


async def test_a_revision_older_than_the_changelog_keeps_is_410(
    seed: Seed, client: AsyncTestClient[Litestar]
) -> None:
    await seed.spec_world()
    async with seed.pool.acquire() as conn:
        await conn.execute("UPDATE changelog_horizon SET pruned_through = 3")
    for headers in ({}, {"Last-Event-ID": "2"}):
        response = await client.get("/v1/changes?after_revision=1", headers={**check_headers(), **headers})
        assert response.status_code == 410
        body = response.json()
        assert (body["type"], body["code"]) == ("invalid_request", "revision_pruned")
        assert body["attr"] == ("Last-Event-ID" if headers else "after_revision")
        assert "pruned through revision 3" in body["detail"]


async def test_bad_revisions_and_callers_are_refused_before_streaming(
    seed: Seed, client: AsyncTestClient[Litestar]
) -> None:
    world = await seed.spec_world()
    cases = [
        ("?after_revision=x", {}, "invalid", "after_revision"),
        ("?after_revision=-1", {}, "min_value", "after_revision"),
        ("", {"Last-Event-ID": "abc"}, "invalid", "Last-Event-ID"),
        ("", {"Last-Event-ID": "9223372036854775808"}, "max_value", "Last-Event-ID"),
    ]
    for query, headers, code, attr in cases:
        response = await client.get(f"/v1/changes{query}", headers={**check_headers(), **headers})
        assert response.status_code == 400, (query, headers)
        assert (response.json()["code"], response.json()["attr"]) == (code, attr)
    assert (await client.get("/v1/changes")).status_code == 401
    for token in ("nope", await seed.personal_api_key(world["alice"], ["*"])):
        refused = await client.get("/v1/changes", headers={"Authorization": f"Bearer {token}"})
        assert (refused.status_code, refused.json()["code"]) == (401, "authentication_failed")


def test_serve_stops_on_sigterm_while_a_stream_is_open(tmp_path: Path) -> None:
    # Not under tmp_path, as in tests/test_cli.py: the embedded server's account must reach it.
    with tempfile.TemporaryDirectory(prefix="acl-service-test-") as folder:
        data_dir = Path(folder) / "data"
        stop = serving(data_dir, tmp_path / "serve.log", signal.SIGTERM)
        url = stop.__enter__()
        token = (data_dir / "admin-token").read_text().strip()
        with httpx.Client(base_url=url) as client:
            request = client.build_request("GET", "/v1/changes", headers={"Authorization": f"Bearer {token}"})
            stream = client.send(request, stream=True)
            assert stream.status_code == 200
            try:
                stop.__exit__(None, None, None)  # SIGTERM; asserts a clean exit within its bound
            finally:
                stream.close()
