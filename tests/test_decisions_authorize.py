"""POST /v1/authorize (SPEC §5.4): the §3.14 pipeline for a method, a path and a caller, over HTTP.

Every seed route is asked for acting users and for personal API keys of every kind (legacy, `*`,
read-only, scoped to another project), allowed and denied. Outcomes of the evaluated request are
HTTP 200 answers with `allowed: false`, a `status` and the error envelope as `body`.
"""

from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.fixtures.app import check_headers
from tests.fixtures.seed import Seed, World
from tests.test_decisions_check import current_revision

Client = AsyncTestClient[Litestar]
ENV = "/api/environments/1"
EDIT = "You don't have edit permissions for this dashboard."
NO_PROJECT = "You don't have access to the project."
INSUFFICIENT = "You don't have sufficient permissions in the project."
NO_KEYS = "This action does not support Personal API Key access"
RESPONSE_KEYS = [
    "allowed",
    "status",
    "body",
    "user",
    "project_id",
    "action",
    "scope_object",
    "required_scopes",
    "levels",
    "revision",
]


async def authorize(client: Client, pool: asyncpg.Pool, **body: Any) -> dict[str, Any]:
    body["min_revision"] = await current_revision(pool)
    response = await client.post("/v1/authorize", json=body, headers=check_headers())
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert list(answer) == RESPONSE_KEYS
    assert int(response.headers["X-Acl-Revision"]) == answer["revision"]
    if answer["allowed"]:
        assert (answer["status"], answer["body"]) == (200, None)
    else:
        assert answer["body"]["detail"] is not None
    return answer


@dataclass
class Case:
    caller: str  # a user's name, or key:<kind>
    method: str
    path: str
    detail: str | None  # None: allowed
    body: dict[str, Any] | None = None
    status: int = 403


@pytest.fixture
async def world(seed: Seed) -> World:
    """A flag-private project 1: Alice explicit admin, Bob explicit member, Dan no grant, Carol owner;
    dashboard 7 by Alice restricted (37), dashboard 8 by Bob open (21)."""
    world = await seed.spec_world(
        ["project_based_permissioning", "dashboard_permissioning"], access_control=True
    )
    await seed.explicit_member(1, world.memberships["alice"], 8)
    await seed.explicit_member(1, world.memberships["bob"], 1)
    await seed.dashboard(1, 7, created_by=world["alice"], restriction_level=37)
    await seed.dashboard(1, 8, created_by=world["bob"], restriction_level=21)
    await seed.dashboard(2, 9, created_by=world["alice"])
    return world


def user_cases(world: World) -> list[Case]:
    bob, dan = world["bob"].uuid, world["dan"].uuid
    move_to_7 = {"toDashboard": 7, "tile": {"id": 1}}
    return [
        # dashboards retrieve / update / destroy
        Case("alice", "GET", f"{ENV}/dashboards/7/", None),
        Case("dan", "GET", f"{ENV}/dashboards/7/", NO_PROJECT),
        Case("bob", "GET", f"{ENV}/dashboards/7/", None),
        Case("bob", "PATCH", f"{ENV}/dashboards/7/", EDIT, {"name": "x"}),
        Case("bob", "PATCH", f"{ENV}/dashboards/8/", None, {"name": "x"}),
        Case("bob", "PUT", "/api/projects/1/dashboards/8/", None, {"name": "x"}),
        Case("bob", "PATCH", f"{ENV}/dashboards/8/", None, {"restriction_level": 37}),
        Case("alice", "DELETE", f"{ENV}/dashboards/7/", None),
        Case("bob", "DELETE", f"{ENV}/dashboards/7/", EDIT),
        Case("alice", "GET", f"{ENV}/dashboards/404/", "Not found.", status=404),
        # move_tile and create_from_template_json
        Case("alice", "PATCH", f"{ENV}/dashboards/8/move_tile/", None, move_to_7),
        Case(
            "bob",
            "PATCH",
            f"{ENV}/dashboards/8/move_tile/",
            "You don't have edit permissions for the destination dashboard.",
            move_to_7,
        ),
        Case("bob", "PATCH", f"{ENV}/dashboards/8/move_tile/", "Not found.", {"toDashboard": 99}, 404),
        Case("bob", "PATCH", f"{ENV}/dashboards/7/move_tile/", EDIT, move_to_7),
        Case("bob", "POST", f"{ENV}/dashboards/create_from_template_json/", None, {"template": {}}),
        Case("dan", "POST", f"{ENV}/dashboards/create_from_template_json/", NO_PROJECT, {"template": {}}),
        # global_access_controls and access_controls
        Case("bob", "GET", f"{ENV}/dashboards/7/global_access_controls/", None),
        Case(
            "bob",
            "PUT",
            f"{ENV}/dashboards/7/global_access_controls/",
            "Must be an Organization admin to modify project-wide permissions.",
            {"access_level": "viewer"},
        ),
        Case("alice", "PUT", f"{ENV}/dashboards/7/global_access_controls/", None, {"access_level": "viewer"}),
        Case("bob", "GET", f"{ENV}/dashboards/7/access_controls/", None),
        Case("bob", "PUT", f"{ENV}/dashboards/7/access_controls/", EDIT, {"access_level": "viewer"}),
        Case("bob", "PUT", f"{ENV}/dashboards/8/access_controls/", None, {"access_level": "viewer"}),
        Case("alice", "PUT", f"{ENV}/dashboards/7/access_controls/", None, {"access_level": "viewer"}),
        # collaborators
        Case("bob", "GET", f"{ENV}/dashboards/7/collaborators/", None),
        Case("bob", "POST", f"{ENV}/dashboards/7/collaborators/", EDIT, {"user_uuid": str(dan)}),
        Case("alice", "POST", f"{ENV}/dashboards/7/collaborators/", None, {"user_uuid": str(bob)}),
        Case("alice", "GET", f"{ENV}/dashboards/99/collaborators/", "Dashboard not found.", status=404),
        Case("alice", "DELETE", f"{ENV}/dashboards/7/collaborators/{bob}/", None),
        Case("bob", "DELETE", f"{ENV}/dashboards/7/collaborators/{bob}/", EDIT),
        # events
        Case("bob", "GET", f"{ENV}/events/", None),
        Case("dan", "GET", f"{ENV}/events/", NO_PROJECT),
        Case("bob", "GET", f"{ENV}/events/0190a1b2-c3d4/", None),
        Case("bob", "GET", f"{ENV}/events/values/?key=$browser", None),
        Case("dan", "GET", f"{ENV}/events/values/", NO_PROJECT),
        # explicit_members
        Case("bob", "GET", f"{ENV}/explicit_members/", None),
        Case("dan", "GET", f"{ENV}/explicit_members/", INSUFFICIENT),
        Case("bob", "POST", f"{ENV}/explicit_members/", INSUFFICIENT, {"user_uuid": str(dan)}),
        Case("alice", "POST", f"{ENV}/explicit_members/", None, {"user_uuid": str(dan)}),
        Case("bob", "GET", f"{ENV}/explicit_members/{bob}/", None),
        Case("bob", "PATCH", f"{ENV}/explicit_members/{bob}/", INSUFFICIENT, {"level": 8}),
        Case("alice", "PATCH", f"{ENV}/explicit_members/{bob}/", None, {"level": 8}),
        Case("alice", "PUT", f"{ENV}/explicit_members/{bob}/", None, {"level": 1}),
        Case("bob", "DELETE", f"{ENV}/explicit_members/{bob}/", None),
        Case("bob", "DELETE", f"{ENV}/explicit_members/{world['alice'].uuid}/", INSUFFICIENT),
        Case("carol", "DELETE", f"{ENV}/explicit_members/{bob}/", None),
    ]


def key_cases(world: World) -> list[Case]:
    bob = world["bob"].uuid
    move = {"toDashboard": 8, "tile": {"id": 1}}
    return [
        # legacy key: every key check passes; the owner's permissions decide
        Case("key:legacy", "PATCH", f"{ENV}/dashboards/7/move_tile/", None, move),
        Case("key:legacy", "POST", f"{ENV}/dashboards/create_from_template_json/", None, {"template": {}}),
        Case("key:legacy", "POST", f"{ENV}/explicit_members/", None, {"user_uuid": str(world["dan"].uuid)}),
        Case("key:legacy", "DELETE", f"{ENV}/dashboards/7/", None),
        Case("key:legacy", "GET", f"{ENV}/events/values/", None),
        # `*`: routes without scopes refuse scoped keys (K1), the rest pass K3
        Case("key:star", "PATCH", f"{ENV}/dashboards/7/move_tile/", NO_KEYS, move),
        Case("key:star", "POST", f"{ENV}/dashboards/create_from_template_json/", NO_KEYS, {"template": {}}),
        Case("key:star", "GET", f"{ENV}/explicit_members/", NO_KEYS),
        Case("key:star", "DELETE", f"{ENV}/explicit_members/{bob}/", NO_KEYS),
        Case("key:star", "PATCH", f"{ENV}/dashboards/7/", None, {"name": "x"}),
        Case(
            "key:star", "PUT", f"{ENV}/dashboards/7/global_access_controls/", None, {"access_level": "viewer"}
        ),
        Case("key:star", "GET", f"{ENV}/events/", None),
        # read-only: reads pass K4, writes miss their scope
        Case("key:read", "GET", f"{ENV}/dashboards/7/", None),
        Case(
            "key:read",
            "PATCH",
            f"{ENV}/dashboards/7/",
            "API key missing required scope 'dashboard:write'",
            {"name": "x"},
        ),
        Case(
            "key:read", "DELETE", f"{ENV}/dashboards/7/", "API key missing required scope 'dashboard:write'"
        ),
        Case("key:read", "GET", f"{ENV}/dashboards/7/access_controls/", None),
        Case(
            "key:read",
            "PUT",
            f"{ENV}/dashboards/7/access_controls/",
            "API key missing required scope 'access_control:write'",
            {"access_level": "viewer"},
        ),
        Case("key:read", "GET", f"{ENV}/dashboards/7/global_access_controls/", None),
        Case("key:read", "GET", f"{ENV}/dashboards/7/collaborators/", None),
        Case(
            "key:read",
            "POST",
            f"{ENV}/dashboards/7/collaborators/",
            "API key missing required scope 'dashboard:write'",
            {"user_uuid": str(bob)},
        ),
        Case("key:read", "GET", f"{ENV}/events/", None),
        Case("key:read", "GET", f"{ENV}/events/values/", None),
        Case("key:read", "PATCH", f"{ENV}/dashboards/7/move_tile/", NO_KEYS, move),
        Case("key:read", "GET", f"{ENV}/explicit_members/", NO_KEYS),
        # scoped to project 2 only
        Case(
            "key:elsewhere",
            "GET",
            f"{ENV}/dashboards/7/",
            "API key does not have access to the requested project: ID 1.",
        ),
        Case(
            "key:elsewhere",
            "GET",
            f"{ENV}/events/",
            "API key does not have access to the requested project: ID 1.",
        ),
        Case("key:elsewhere", "GET", "/api/environments/2/dashboards/9/", None),
        Case(
            "key:elsewhere",
            "GET",
            "/api/projects/",
            "API keys with scoped projects are only supported on project-based endpoints.",
        ),
    ]


async def run_cases(
    client: Client, pool: asyncpg.Pool, cases: list[Case], credentials: dict[str, dict[str, str]]
) -> None:
    wrong = []
    for case in cases:
        answer = await authorize(
            client, pool, method=case.method, path=case.path, **credentials[case.caller], body=case.body or {}
        )
        got = (answer["allowed"], answer["status"], (answer["body"] or {}).get("detail"))
        expected = (case.detail is None, 200 if case.detail is None else case.status, case.detail)
        if got != expected:
            wrong.append(f"{case.caller} {case.method} {case.path}: {got} != {expected}")
    assert not wrong, "\n".join(wrong)


async def test_seed_routes_for_acting_users(client: Client, db_pool: asyncpg.Pool, world: World) -> None:
    credentials = {name: {"user": str(world[name].uuid)} for name in ("alice", "bob", "carol", "dan")}
    await run_cases(client, db_pool, user_cases(world), credentials)


async def test_seed_routes_for_personal_api_keys(
    client: Client, db_pool: asyncpg.Pool, seed: Seed, world: World
) -> None:
    alice = world["alice"]
    keys = {
        "legacy": await seed.personal_api_key(alice, None),
        "star": await seed.personal_api_key(alice, ["*"]),
        "read": await seed.personal_api_key(alice, ["dashboard:read", "query:read", "access_control:read"]),
        "elsewhere": await seed.personal_api_key(alice, ["*"], scoped_teams=[2]),
    }
    credentials = {f"key:{kind}": {"authorization": f"Bearer {value}"} for kind, value in keys.items()}
    await run_cases(client, db_pool, key_cases(world), credentials)


async def test_the_spec_example_answer(
    client: Client, db_pool: asyncpg.Pool, seed: Seed, world: World
) -> None:
    """SPEC §5.4's /v1/authorize example (and §8 example 9)."""
    key = await seed.personal_api_key(world["alice"], ["dashboard:read"])
    answer = await authorize(
        client, db_pool, method="PATCH", path=f"{ENV}/dashboards/7/move_tile/", authorization=f"Bearer {key}"
    )
    assert answer == {
        "allowed": False,
        "status": 403,
        "body": {
            "type": "authentication_error",
            "code": "permission_denied",
            "detail": NO_KEYS,
            "attr": None,
        },
        "user": {"id": world["alice"].id, "uuid": str(world["alice"].uuid)},
        "project_id": 1,
        "action": "move_tile",
        "scope_object": "dashboard",
        "required_scopes": None,
        "levels": None,
        "revision": answer["revision"],
    }
    allowed = await authorize(
        client, db_pool, method="GET", path=f"{ENV}/dashboards/7/", authorization=f"Bearer {key}"
    )
    assert allowed["allowed"] is True
    assert (allowed["action"], allowed["scope_object"], allowed["required_scopes"]) == (
        "retrieve",
        "dashboard",
        ["dashboard:read"],
    )
    assert allowed["levels"]["restriction_level"] == 37
    assert allowed["levels"]["user_access_level"] == "manager"


@pytest.mark.parametrize(
    ("credentials", "status", "code", "detail"),
    [
        ({}, 401, "not_authenticated", "Authentication credentials were not provided."),
        (
            {"authorization": "Basic dXNlcjpwYXNz"},
            401,
            "not_authenticated",
            "Authentication credentials were not provided.",
        ),
        (
            {"authorization": "Bearer phx_unknown"},
            401,
            "authentication_failed",
            "Personal API key found in request Authorization header is invalid.",
        ),
        (
            {"authorization": "Bearer not-a-key"},
            401,
            "authentication_failed",
            "Personal API key found in request Authorization header is invalid.",
        ),
        (
            {"user": "0b5a0000-0000-4000-8000-00000000dead"},
            401,
            "not_authenticated",
            "Authentication credentials were not provided.",
        ),
    ],
)
async def test_unauthenticated_requests(
    client: Client,
    db_pool: asyncpg.Pool,
    world: World,
    credentials: dict[str, str],
    status: int,
    code: str,
    detail: str,
) -> None:
    answer = await authorize(client, db_pool, method="GET", path=f"{ENV}/dashboards/7/", **credentials)
    assert (answer["allowed"], answer["status"], answer["user"], answer["levels"]) == (
        False,
        status,
        None,
        None,
    )
    assert answer["body"] == {"type": "authentication_error", "code": code, "detail": detail, "attr": None}


async def test_inactive_key_owner_is_an_invalid_key(
    client: Client, db_pool: asyncpg.Pool, seed: Seed
) -> None:
    world = await seed.spec_world()
    gone = await seed.user("gone", active=False)
    await seed.member(world.organization, gone)
    key = await seed.personal_api_key(gone, None)
    answer = await authorize(
        client, db_pool, method="GET", path=f"{ENV}/events/", authorization=f"Bearer {key}"
    )
    assert answer["body"]["code"] == "authentication_failed"


@pytest.mark.parametrize(
    ("method", "path", "status", "body"),
    [
        (
            "GET",
            "/api/nowhere/",
            404,
            {"type": "invalid_request", "code": "not_found", "detail": "Not found.", "attr": None},
        ),
        (
            "PATCH",
            f"{ENV}/events/",
            405,
            {
                "type": "invalid_request",
                "code": "method_not_allowed",
                "detail": 'Method "PATCH" not allowed.',
                "attr": None,
            },
        ),
        (
            "GET",
            "/api/environments/abc/dashboards/",
            400,
            {
                "type": "validation_error",
                "code": "invalid",
                "detail": "A valid integer is required.",
                "attr": "project_id",
            },
        ),
        (
            "GET",
            f"{ENV}/dashboards/0/",
            400,
            {
                "type": "validation_error",
                "code": "min_value",
                "detail": "Ensure this value is greater than or equal to 1.",
                "attr": "id",
            },
        ),
        (
            "GET",
            f"{ENV}/explicit_members/nope/",
            400,
            {
                "type": "validation_error",
                "code": "invalid",
                "detail": "Must be a valid UUID.",
                "attr": "uuid",
            },
        ),
        (
            "GET",
            f"{ENV}/resources/",
            400,
            {
                "type": "validation_error",
                "code": "required",
                "detail": "This field is required.",
                "attr": "resource",
            },
        ),
        (
            "GET",
            f"{ENV}/resources/?resource=widget",
            400,
            {
                "type": "validation_error",
                "code": "invalid_choice",
                "detail": '"widget" is not a valid choice.',
                "attr": "resource",
            },
        ),
        (
            "POST",
            f"{ENV}/resources/",
            400,
            {
                "type": "validation_error",
                "code": "required",
                "detail": "This field is required.",
                "attr": "resource",
            },
        ),
        (
            "GET",
            "/api/environments/99/dashboards/",
            404,
            {"type": "invalid_request", "code": "not_found", "detail": "Project not found.", "attr": None},
        ),
    ],
)
async def test_route_table_outcomes_are_answers(
    client: Client,
    db_pool: asyncpg.Pool,
    world: World,
    method: str,
    path: str,
    status: int,
    body: dict[str, Any],
) -> None:
    answer = await authorize(client, db_pool, method=method, path=path, user=str(world["carol"].uuid))
    assert (answer["allowed"], answer["status"], answer["body"]) == (False, status, body)


async def test_query_string_selects_the_resource_type(
    client: Client, db_pool: asyncpg.Pool, world: World
) -> None:
    carol = str(world["carol"].uuid)
    listed = await authorize(
        client,
        db_pool,
        method="GET",
        path=f"{ENV}/resources/?resource=notebook&admin_include_all=true",
        user=carol,
    )
    assert (listed["allowed"], listed["scope_object"], listed["required_scopes"]) == (
        True,
        "notebook",
        ["notebook:read"],
    )
    created = await authorize(
        client, db_pool, method="POST", path=f"{ENV}/resources/", user=carol, body={"resource": "insight"}
    )
    assert (created["allowed"], created["scope_object"], created["action"]) == (True, "insight", "create")


@pytest.mark.parametrize(
    ("body", "code", "detail", "attr"),
    [
        (
            {
                "method": "GET",
                "path": "/api/projects/",
                "user": "0b5a0000-0000-4000-8000-000000000001",
                "authorization": "Bearer x",
            },
            "invalid",
            "Provide at most one of authorization, user.",
            "authorization",
        ),
        (
            {"method": "FETCH", "path": "/api/projects/"},
            "invalid_choice",
            '"FETCH" is not a valid choice.',
            "method",
        ),
        ({"method": "GET"}, "required", "This field is required.", "path"),
        ({"method": "GET", "path": ""}, "blank", "This field may not be blank.", "path"),
        (
            {"method": "GET", "path": "/api/projects/", "body": []},
            "invalid",
            "Invalid data. Expected a dictionary, but got list.",
            "body",
        ),
        (
            {"method": "GET", "path": "/api/projects/", "user": "x"},
            "invalid",
            "Must be a valid UUID.",
            "user",
        ),
    ],
)
async def test_malformed_authorize_bodies_are_400s(
    client: Client, body: dict[str, Any], code: str, detail: str, attr: str
) -> None:
    response = await client.post("/v1/authorize", json=body, headers=check_headers())
    assert response.status_code == 400
    assert response.json() == {"type": "validation_error", "code": code, "detail": detail, "attr": attr}
