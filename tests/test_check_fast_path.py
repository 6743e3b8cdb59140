"""`/v1/check`'s fast path (`api/check_fast_path.py`): it answers exactly as the handler does, and
hands over to the handler every request it cannot answer from memory.

A check with `min_revision` always takes the handler's path, so the two paths are compared on the
same facts: first through the handler (which waits for the seed and loads the organization), then
the same body without `min_revision`.
"""

from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from acl_service.api import check_fast_path
from acl_service.api.check_fast_path import answer_from_memory
from tests.fixtures.app import CHECK_TOKEN, check_headers
from tests.fixtures.seed import Seed, World
from tests.test_decisions_check import current_revision

Client = AsyncTestClient[Litestar]
ACTIONS = ("read", "write", "delete", "create", "manage_access", "restrict")
COMPARED_HEADERS = ("content-type", "content-length", "x-acl-revision")


async def dashboards_world(seed: Seed) -> tuple[World, list[dict[str, Any]]]:
    """SPEC §8's world with dashboards, a private one, a notebook and keys; the checks to compare."""
    world = await seed.spec_world(["advanced_permissions", "role_based_access"])
    await seed.dashboard(1, 1, created_by=world["alice"])
    await seed.dashboard(1, 2, created_by=world["bob"], restriction_level=37)
    await seed.resource(1, "notebook", "n1", created_by=world["dan"])
    await seed.access_control(1, "dashboard", "1", "none", member=world.memberships["bob"])
    subjects: list[dict[str, Any]] = [{"user": str(user.uuid)} for user in world.users.values()]
    subjects.append({"api_key": await seed.personal_api_key(world["alice"], ["dashboard:read"])})
    subjects.append({"api_key": await seed.personal_api_key(world["carol"], None, scoped_teams=[2])})
    resources: list[dict[str, Any] | None] = [
        None,
        {"type": "dashboard"},
        {"type": "dashboard", "id": 1},
        {"type": "dashboard", "id": 2},
        {"type": "dashboard", "id": 404},
        {"type": "notebook", "id": "n1"},
    ]
    checks = []
    for subject in subjects:
        for project_id in (1, 2):
            for resource in resources:
                for action in ACTIONS:
                    body = {**subject, "project_id": project_id, "action": action}
                    if resource is not None:
                        body["resource"] = resource
                    checks.append(body)
    return world, checks


async def test_fast_path_answers_every_check_as_the_handler_does(
    client: Client, seed: Seed, db_pool: asyncpg.Pool
) -> None:
    _, checks = await dashboards_world(seed)
    revision = await current_revision(db_pool)
    compared = 0
    for body in checks:
        handled = await client.post(
            "/v1/check", json={**body, "min_revision": revision}, headers=check_headers()
        )
        fast = await client.post("/v1/check", json=body, headers=check_headers())
        assert fast.status_code == handled.status_code, body
        assert fast.json() == handled.json(), body
        if handled.status_code == 200:
            compared += 1
            for header in COMPARED_HEADERS:
                assert fast.headers[header] == handled.headers[header], (header, body)
        assert fast.headers["x-request-id"]
    assert compared > len(checks) / 2  # most checks are available actions, not 400s


async def test_fast_path_answers_from_memory_and_hands_over_the_rest(
    client: Client, seed: Seed, db_pool: asyncpg.Pool
) -> None:
    world, _ = await dashboards_world(seed)
    other = await seed.organization(name="Other")
    await seed.project(other, 3)
    revision = await current_revision(db_pool)
    body = {"user": str(world["alice"].uuid), "project_id": 1, "action": "read"}
    handled = await client.post("/v1/check", json={**body, "min_revision": revision}, headers=check_headers())

    def answer(sent: dict[str, Any], token: str = CHECK_TOKEN) -> Any:
        scope: Any = {
            "type": "http",
            "litestar_app": client.app,
            "headers": [(b"authorization", f"Bearer {token}".encode())],
            "state": {},
        }
        found = answer_from_memory(scope, msgspec.json.encode(sent))
        return None if found is None else msgspec.json.decode(found)

    assert answer(body) == handled.json()
    assert answer({**body, "min_revision": revision}) is None  # waits are the handler's
    assert answer(body, token="wrong") is None  # so are errors: a 401
    assert answer({**body, "action": "fly"}) is None  # a 400
    assert answer({**body, "project_id": 3}) is None  # an organization not loaded yet
    loaded = await client.post(
        "/v1/check", json={**body, "project_id": 3, "min_revision": revision}, headers=check_headers()
    )
    assert answer({**body, "project_id": 3}) == loaded.json()
    # A project that does not exist needs no organization: answered (a 404 answer) from memory.
    assert answer({**body, "project_id": 99})["status"] == 404


async def test_a_body_in_several_messages_is_read_whole(
    client: Client, seed: Seed, db_pool: asyncpg.Pool
) -> None:
    world = await seed.spec_world()
    body = {"user": str(world["carol"].uuid), "project_id": 1, "action": "write"}
    handled = await client.post(
        "/v1/check", json={**body, "min_revision": await current_revision(db_pool)}, headers=check_headers()
    )
    encoded = msgspec.json.encode(body)
    messages = [
        {"type": "http.request", "body": encoded[start : start + 7], "more_body": start + 7 < len(encoded)}
        for start in range(0, len(encoded), 7)
    ]
    sent: list[Any] = []

    async def receive() -> Any:
        return messages.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/v1/check", "raw_path": b"/v1/check", "query_string": b"",
        "root_path": "", "headers": [(b"authorization", f"Bearer {CHECK_TOKEN}".encode())],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {},
    }  # fmt: skip
    await client.app(scope, receive, send)
    assert not messages
    assert sent[0]["status"] == 200
    assert msgspec.json.decode(sent[1]["body"]) == handled.json()


async def test_fast_answers_are_counted_as_the_checks_route(
    client: Client, seed: Seed, db_pool: asyncpg.Pool
) -> None:
    world = await seed.spec_world()
    body = {"user": str(world["alice"].uuid), "project_id": 1, "action": "read"}
    await client.post(
        "/v1/check", json={**body, "min_revision": await current_revision(db_pool)}, headers=check_headers()
    )
    for _ in range(3):
        assert (await client.post("/v1/check", json=body, headers=check_headers())).status_code == 200
    lines = (await client.get("/metrics", headers=check_headers())).text.splitlines()
    assert 'acl_requests_total{endpoint="/v1/check",status="200"} 4' in lines
    assert 'acl_decisions_total{endpoint="check",allowed="true"} 4' in lines


async def test_an_unexpected_error_on_the_fast_path_is_handed_to_the_handler(
    client: Client, seed: Seed, db_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await seed.spec_world()
    body = {"user": str(world["alice"].uuid), "project_id": 1, "action": "read"}
    handled = await client.post(
        "/v1/check", json={**body, "min_revision": await current_revision(db_pool)}, headers=check_headers()
    )

    def broken(*args: object) -> None:
        raise RuntimeError("a defect on the fast path")

    monkeypatch.setattr(check_fast_path, "answer_check", broken)
    fast = await client.post("/v1/check", json=body, headers=check_headers())
    assert fast.status_code == 200
    assert fast.json() == handled.json()
