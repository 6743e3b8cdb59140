"""AccessGuard in front of a tiny ASGI app, asking a served acl-service (real HTTP, real database)."""

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from acl_client import AsyncClient, Client
from acl_client.asgi import AccessGuard, Message, Receive, Scope, Send
from acl_client.models import AuthorizeResult

from tests.fixtures.app import ADMIN_TOKEN, CHECK_TOKEN
from tests.test_cli import free_port
from tests.test_client import World, service_url

__all__ = ["service_url"]  # the fixture, used by name


class App:
    """The protected app: answers "served" and records the decision the guard left in the scope."""

    def __init__(self) -> None:
        self.seen: list[AuthorizeResult | None] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.seen.append(scope.get("state", {}).get("acl"))
        headers = [(b"content-type", b"text/plain")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"served"})


@pytest.fixture
def world(service_url: str) -> Iterator[World]:
    with Client(service_url, ADMIN_TOKEN) as client:
        yield World(client)


@pytest.fixture
async def sidecar(service_url: str) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(service_url, CHECK_TOKEN) as client:
        yield client


def guarded(guard: AccessGuard) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=guard), base_url="http://api")


async def test_allowed_requests_reach_the_app_with_the_decision(world: World, sidecar: AsyncClient) -> None:
    app = App()
    guard = AccessGuard(app, sidecar, user_of=lambda scope: world.alice.uuid)
    async with guarded(guard) as api:
        response = await api.get("/api/environments/7/dashboards/70/")
    assert (response.status_code, response.text) == (200, "served")
    decision = app.seen[0]
    assert decision is not None
    assert (decision.project_id, decision.scope_object, decision.action) == (7, "dashboard", "retrieve")


async def test_denied_requests_get_the_services_status_and_envelope_byte_for_byte(
    world: World, sidecar: AsyncClient
) -> None:
    app = App()
    async with guarded(AccessGuard(app, sidecar)) as api:
        anonymous = await api.get("/api/environments/7/dashboards/70/")
        bad_key = await api.get(
            "/api/environments/7/dashboards/70/", headers={"Authorization": "Bearer phx_nope"}
        )
    expected = await sidecar.authorize(method="GET", path="/api/environments/7/dashboards/70/")
    assert anonymous.status_code == expected.status == 401
    assert anonymous.content == (
        b'{"type":"authentication_error","code":"not_authenticated",'
        b'"detail":"Authentication credentials were not provided.","attr":null}'
    )
    assert bad_key.status_code == 401
    assert list(json.loads(bad_key.content)) == ["type", "code", "detail", "attr"]
    assert app.seen == []


async def test_an_unreachable_sidecar_fails_closed_with_503_or_open_when_asked() -> None:
    app = App()
    down = AsyncClient(f"http://127.0.0.1:{free_port()}", CHECK_TOKEN, retries=1, backoff=0)
    async with down, guarded(AccessGuard(app, down)) as api:
        closed = await api.get("/api/environments/7/dashboards/")
    assert closed.status_code == 503
    assert closed.headers["retry-after"] == "1"
    assert json.loads(closed.content)["type"] == "server_error"
    assert app.seen == []
    down = AsyncClient(f"http://127.0.0.1:{free_port()}", CHECK_TOKEN, retries=0)
    async with down, guarded(AccessGuard(app, down, fail_open=True)) as api:
        opened = await api.get("/api/environments/7/dashboards/")
    assert (opened.status_code, app.seen) == (200, [None])


async def test_lifespan_and_skipped_paths_pass_through_without_a_call() -> None:
    app = App()
    down = AsyncClient(f"http://127.0.0.1:{free_port()}", CHECK_TOKEN, retries=0)
    guard = AccessGuard(app, down, skip=lambda scope: scope["path"] == "/healthz")
    sent: list[Message] = []

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        sent.append(message)

    await guard({"type": "lifespan"}, receive, send)
    async with down, guarded(guard) as api:
        health = await api.get("/healthz")
    assert health.status_code == 200
    assert len(app.seen) == 2
