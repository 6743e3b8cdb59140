"""The PostHog-style example server end to end, against a real acl-service on a real PostgreSQL.

One `acl-service serve` subprocess per module serves every test: the world it holds is created
once through its admin API and the tests only read it (the one write, a new dashboard from a
template, lands in the example's own store). The example runs in process behind httpx's
ASGITransport; its calls to acl-service are real HTTP.
"""

import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from acl_client import AsyncClient, FilterResult

from examples.posthog_api.app import SESSION_HEADER, create_app
from examples.posthog_api.store import Store
from tests.fixtures.database import _fresh_database, _TestDatabases
from tests.test_cli import START_TIMEOUT_SECONDS, STOP_TIMEOUT_SECONDS, command_env, free_port

ORG = uuid.UUID("0b6e9e1c-0000-4000-8000-000000000001")
OPEN_PROJECT = 1
PRIVATE_PROJECT = 2
RESTRICTED_DASHBOARD = 7
HIDDEN_DASHBOARD = 10


@dataclass(frozen=True)
class World:
    acl_url: str
    admin_token: str
    check_token: str
    users: dict[str, uuid.UUID]
    keys: dict[str, str]


@pytest.fixture(scope="module")
async def module_database_url(_databases: _TestDatabases, _template_database: str) -> AsyncIterator[str]:
    async with _fresh_database(_databases, _template_database) as dsn:
        yield dsn


@pytest.fixture(scope="module")
def acl_service_url(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str, str]]:
    admin_token, check_token = secrets.token_hex(16), secrets.token_hex(16)
    port = free_port()
    log = tmp_path_factory.mktemp("acl") / "serve.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "acl_service", "serve"],
            env=command_env(
                ACL_DATABASE_URL=module_database_url,
                ACL_PORT=str(port),
                ACL_SERVICE_TOKENS=f"admin:{admin_token},check:{check_token}",
            ),
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(url, process, log)
        yield url, admin_token, check_token
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            raise


def _wait_until_ready(url: str, process: "subprocess.Popen[bytes]", log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"serve was not ready within {START_TIMEOUT_SECONDS} s:\n{log.read_text()}")


class Admin:
    """System calls on acl-service's admin API; every one must succeed."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def call(
        self, method: str, path: str, body: dict[str, Any], acting: uuid.UUID | None = None
    ) -> Any:
        headers = {"X-Acting-User": str(acting)} if acting else {}
        response = await self.http.request(method, path, json=body, headers=headers)
        assert response.status_code in (200, 201), (path, response.text)
        return response.json()


@pytest.fixture(scope="module")
async def world(acl_service_url: tuple[str, str, str]) -> World:
    """Alice (org admin), Bob and Carol (members) in an organization with advanced permissions.

    Project 1 is open; project 2 is private with Bob as its only explicit member. Dashboards of
    project 1: 7 restricted (edit for collaborators only), 8 and 10 by Alice, 9 by Bob; 10 has
    a `none` row for Bob.
    """
    url, admin_token, check_token = acl_service_url
    users = {name: uuid.uuid4() for name in ("alice", "bob", "carol")}
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {admin_token}"}) as http:
        admin = Admin(http)
        for number, (name, user_uuid) in enumerate(users.items(), start=1):
            await admin.call(
                "PUT", f"/api/users/{user_uuid}/", {"id": number, "email": f"{name}@example.com"}
            )
        features = [{"key": "advanced_permissions", "name": "Advanced permissions"}]
        await admin.call(
            "POST",
            "/api/organizations/",
            {"id": str(ORG), "name": "Hogs", "available_product_features": features},
        )
        memberships = {
            name: (
                await admin.call(
                    "POST",
                    f"/api/organizations/{ORG}/members/",
                    {"user_uuid": str(users[name]), "level": level},
                )
            )["id"]
            for name, level in (("alice", 8), ("bob", 1), ("carol", 1))
        }
        await admin.call(
            "POST", "/api/projects/", {"id": OPEN_PROJECT, "organization": str(ORG), "name": "Open"}
        )
        await admin.call(
            "POST",
            "/api/projects/",
            {"id": PRIVATE_PROJECT, "organization": str(ORG), "name": "Private", "access_control": True},
        )
        await admin.call(
            "POST",
            f"/api/environments/{PRIVATE_PROJECT}/explicit_members/",
            {"user_uuid": str(users["bob"]), "level": 1},
        )
        for dashboard_id, creator, restriction in (
            (7, "alice", 37),
            (8, "alice", 21),
            (9, "bob", 21),
            (10, "alice", 21),
        ):
            await admin.call(
                "POST",
                f"/api/environments/{OPEN_PROJECT}/dashboards/",
                {
                    "id": dashboard_id,
                    "name": f"Dashboard {dashboard_id}",
                    "restriction_level": restriction,
                    "created_by": str(users[creator]),
                },
            )
        await admin.call(
            "PUT",
            f"/api/environments/{OPEN_PROJECT}/dashboards/{HIDDEN_DASHBOARD}/access_controls/",
            {"access_level": "none", "organization_member": memberships["bob"]},
        )
        keys = {
            label: (
                await admin.call(
                    "POST", "/api/personal_api_keys/", {"label": label, "scopes": scopes}, acting=users["bob"]
                )
            )["value"]
            for label, scopes in (
                ("legacy", []),
                ("dashboards", ["dashboard:read"]),
                ("events", ["query:read"]),
            )
        }
    return World(url, admin_token, check_token, users, keys)


class CountingTransport(httpx.AsyncHTTPTransport):
    """Real HTTP to acl-service that remembers which paths the example called."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return await super().handle_async_request(request)


@pytest.fixture
def acl_calls() -> CountingTransport:
    return CountingTransport()


@pytest.fixture
async def example(world: World, acl_calls: CountingTransport) -> AsyncIterator[httpx.AsyncClient]:
    store = Store()
    users = {name: number for number, name in enumerate(world.users, start=1)}
    for dashboard_id, creator in ((7, "alice"), (8, "alice"), (9, "bob"), (10, "alice")):
        store.add_dashboard(OPEN_PROJECT, f"Dashboard {dashboard_id}", users[creator], dashboard_id)
    store.add_event(OPEN_PROJECT, "$pageview", "visitor-1", "2026-12-01T10:00:00Z")
    store.add_event(OPEN_PROJECT, "signed_up", "visitor-2", "2026-12-01T11:00:00Z")
    acl = AsyncClient(world.acl_url, token=world.check_token, transport=acl_calls)
    try:
        transport = httpx.ASGITransport(app=create_app(store, acl))
        async with httpx.AsyncClient(transport=transport, base_url="http://example") as http:
            yield http
    finally:
        await acl.aclose()
        store.close()


def as_user(world: World, name: str) -> dict[str, str]:
    """The example's stand-in for a signed-in session."""
    return {SESSION_HEADER: str(world.users[name])}


def key(world: World, label: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.keys[label]}"}


async def authorize(world: World, method: str, path: str, headers: dict[str, str]) -> dict[str, Any]:
    """What acl-service answers for the request, asked directly."""
    body: dict[str, Any] = {"method": method, "path": path}
    if "Authorization" in headers:
        body["authorization"] = headers["Authorization"]
    if SESSION_HEADER in headers:
        body["user"] = headers[SESSION_HEADER]
    async with httpx.AsyncClient(base_url=world.acl_url) as http:
        response = await http.post(
            "/v1/authorize", json=body, headers={"Authorization": f"Bearer {world.check_token}"}
        )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def assert_denied_as_acl_service_says(
    example: httpx.AsyncClient,
    world: World,
    method: str,
    path: str,
    headers: dict[str, str],
    status: int,
    detail: str,
) -> None:
    response = await example.request(method, path, headers=headers, json={} if method != "GET" else None)
    answer = await authorize(world, method, path, headers)
    assert answer["allowed"] is False
    assert response.status_code == answer["status"] == status
    assert response.content == msgspec.json.encode(answer["body"])
    assert answer["body"]["detail"] == detail


DASHBOARDS = f"/api/environments/{OPEN_PROJECT}/dashboards/"


async def test_a_member_lists_only_the_dashboards_they_may_see_with_levels_from_one_call(
    example: httpx.AsyncClient, world: World, acl_calls: CountingTransport
) -> None:
    response = await example.get(DASHBOARDS, headers=as_user(world, "bob"))

    assert response.status_code == 200, response.text
    assert acl_calls.paths == ["/v1/authorize", "/v1/filter", "/v1/levels"]
    listed = response.json()
    assert [row["id"] for row in listed["results"]] == [7, 8, 9]
    by_id = {row["id"]: row for row in listed["results"]}
    assert by_id[7]["effective_restriction_level"] == 37
    assert by_id[7]["can_edit"] is False
    assert by_id[8]["can_edit"] is True
    assert by_id[9]["access_source"] == "creator"
    assert listed["project"]["effective_level"] == 1


async def test_an_org_admin_sees_every_dashboard(example: httpx.AsyncClient, world: World) -> None:
    response = await example.get(DASHBOARDS, headers=as_user(world, "alice"))

    assert response.status_code == 200, response.text
    assert [row["id"] for row in response.json()["results"]] == [7, 8, 9, 10]
    assert all(row["can_edit"] for row in response.json()["results"])


async def test_a_non_collaborator_cannot_move_tiles_on_a_restricted_dashboard(
    example: httpx.AsyncClient, world: World
) -> None:
    path = f"{DASHBOARDS}{RESTRICTED_DASHBOARD}/move_tile/"
    await assert_denied_as_acl_service_says(
        example,
        world,
        "PATCH",
        path,
        as_user(world, "bob"),
        403,
        "You don't have edit permissions for this dashboard.",
    )

    allowed = await example.patch(f"{DASHBOARDS}8/move_tile/", headers=as_user(world, "bob"), json={})
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["id"] == 8


async def test_a_none_row_hides_a_dashboard_from_retrieve(example: httpx.AsyncClient, world: World) -> None:
    await assert_denied_as_acl_service_says(
        example,
        world,
        "GET",
        f"{DASHBOARDS}{HIDDEN_DASHBOARD}/",
        as_user(world, "bob"),
        403,
        "You do not have viewer access to this resource.",
    )
    assert (
        await example.get(f"{DASHBOARDS}{HIDDEN_DASHBOARD}/", headers=as_user(world, "alice"))
    ).status_code == 200


async def test_a_private_project_refuses_a_member_outside_it(
    example: httpx.AsyncClient, world: World
) -> None:
    path = f"/api/environments/{PRIVATE_PROJECT}/events/"
    await assert_denied_as_acl_service_says(
        example, world, "GET", path, as_user(world, "carol"), 403, "You don't have access to the project."
    )
    inside = await example.get(path, headers=as_user(world, "bob"))
    assert inside.status_code == 200, inside.text


async def test_an_anonymous_request_is_refused(example: httpx.AsyncClient, world: World) -> None:
    await assert_denied_as_acl_service_says(
        example, world, "GET", DASHBOARDS, {}, 401, "Authentication credentials were not provided."
    )


async def test_a_legacy_key_lists_as_its_owner(example: httpx.AsyncClient, world: World) -> None:
    response = await example.get(DASHBOARDS, headers=key(world, "legacy"))

    assert response.status_code == 200, response.text
    assert [row["id"] for row in response.json()["results"]] == [7, 8, 9]


async def test_a_dashboard_read_key_reads_but_cannot_move_tiles_or_read_events(
    example: httpx.AsyncClient, world: World
) -> None:
    listed = await example.get(DASHBOARDS, headers=key(world, "dashboards"))
    assert listed.status_code == 200, listed.text
    assert [row["id"] for row in listed.json()["results"]] == [7, 8, 9]

    await assert_denied_as_acl_service_says(
        example,
        world,
        "PATCH",
        f"{DASHBOARDS}8/move_tile/",
        key(world, "dashboards"),
        403,
        "This action does not support Personal API Key access",
    )
    await assert_denied_as_acl_service_says(
        example,
        world,
        "GET",
        f"/api/environments/{OPEN_PROJECT}/events/",
        key(world, "dashboards"),
        403,
        "API key missing required scope 'query:read'",
    )


async def test_a_query_read_key_reads_events_and_their_values(
    example: httpx.AsyncClient, world: World
) -> None:
    events = f"/api/environments/{OPEN_PROJECT}/events/"
    listed = await example.get(events, headers=key(world, "events"))
    assert listed.status_code == 200, listed.text
    assert [event["event"] for event in listed.json()["results"]] == ["signed_up", "$pageview"]

    event_id = listed.json()["results"][0]["id"]
    retrieved = await example.get(f"{events}{event_id}/", headers=key(world, "events"))
    assert retrieved.status_code == 200, retrieved.text
    assert retrieved.json()["distinct_id"] == "visitor-2"

    values = await example.get(f"{events}values/", params={"key": "event"}, headers=key(world, "events"))
    assert values.status_code == 200, values.text
    assert values.json() == [{"name": "$pageview"}, {"name": "signed_up"}]

    await assert_denied_as_acl_service_says(
        example,
        world,
        "GET",
        DASHBOARDS,
        key(world, "events"),
        403,
        "API key missing required scope 'dashboard:read'",
    )


async def test_a_dashboard_from_a_template_belongs_to_its_creator(
    example: httpx.AsyncClient, world: World
) -> None:
    created = await example.post(
        f"{DASHBOARDS}create_from_template_json/",
        headers=as_user(world, "bob"),
        json={"template": {"template_name": "Web analytics"}},
    )

    assert created.status_code == 201, created.text
    assert created.json()["name"] == "Web analytics"
    assert created.json()["created_by"] == 2


async def test_global_access_controls_show_the_resource_wide_dashboard_level(
    example: httpx.AsyncClient, world: World
) -> None:
    response = await example.get(f"{DASHBOARDS}8/global_access_controls/", headers=as_user(world, "alice"))

    assert response.status_code == 200, response.text
    assert response.json()["type"] == "dashboard"


async def test_explicit_members_of_a_private_project_are_listed_and_added(
    example: httpx.AsyncClient, world: World
) -> None:
    path = f"/api/environments/{PRIVATE_PROJECT}/explicit_members/"
    await assert_denied_as_acl_service_says(
        example,
        world,
        "GET",
        path,
        as_user(world, "carol"),
        403,
        "You don't have sufficient permissions in the project.",
    )

    created = await example.post(
        path, headers=as_user(world, "alice"), json={"user_uuid": str(world.users["carol"])}
    )
    assert created.status_code == 201, created.text

    listed = await example.get(path, headers=as_user(world, "alice"))
    assert listed.status_code == 200, listed.text
    assert listed.json() == [{"user_uuid": str(world.users["carol"]), "level": 1}]


@pytest.mark.parametrize(
    ("mode", "ids", "include_created_by", "visible"),
    [
        ("all", [], False, [7, 8, 9, 10]),
        ("only", ["8"], False, [8]),
        ("only", ["8"], True, [8, 9]),
        ("only", [], False, []),
        ("except", ["9", "10"], False, [7, 8]),
        ("except", ["9", "10"], True, [7, 8, 9]),
        ("except", [], False, [7, 8, 9, 10]),
    ],
)
def test_every_filter_mode_becomes_the_where_clause_it_describes(
    mode: str, ids: list[str], include_created_by: bool, visible: list[int]
) -> None:
    store = Store()
    for dashboard_id, creator in ((7, 1), (8, 1), (9, 2), (10, 1)):
        store.add_dashboard(OPEN_PROJECT, f"Dashboard {dashboard_id}", creator, dashboard_id)
    store.add_dashboard(PRIVATE_PROJECT, "Elsewhere", 2, 11)
    answer = FilterResult(mode, ids, include_created_by, 2 if include_created_by else None, revision=1)

    assert [row["id"] for row in store.dashboards(OPEN_PROJECT, answer)] == visible
    store.close()
