"""POST /v1/levels, POST /v1/filter, GET /v1/subjects (SPEC §5.4) and GET /metrics (§5.5), over HTTP."""

from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.fixtures.app import check_headers
from tests.fixtures.seed import Seed, World
from tests.test_decisions_check import current_revision, decide

Client = AsyncTestClient[Litestar]
UNKNOWN_USER = "0b5a0000-0000-4000-8000-00000000dead"


def not_found(detail: str, attr: str | None = None) -> dict[str, Any]:
    return {"type": "invalid_request", "code": "not_found", "detail": detail, "attr": attr}


async def post_error(client: Client, pool: asyncpg.Pool, path: str, body: dict[str, Any], status: int) -> Any:
    body = {**body, "min_revision": await current_revision(pool)}
    response = await client.post(path, json=body, headers=check_headers())
    assert response.status_code == status, response.text
    assert "X-Acl-Revision" in response.headers
    return response.json()


@pytest.fixture
async def granted(seed: Seed) -> World:
    """Project 1 private by rows: Alice granted admin, Bob member; dashboard 7 by Dan restricted,
    insight 42 on it; notebooks: resource-wide default none, Alice editor on n-1."""
    world = await seed.spec_world(["advanced_permissions"])
    await seed.access_control(1, "project", 1, "none")
    await seed.access_control(1, "project", 1, "admin", member=world.memberships["alice"])
    await seed.access_control(1, "project", 1, "member", member=world.memberships["bob"])
    await seed.dashboard(1, 7, created_by=world["dan"], restriction_level=37)
    await seed.resource(1, "insight", "42", created_by=world["dan"])
    await seed.insight_on(1, "42", [7])
    await seed.resource(1, "notebook", "n-1", created_by=world["dan"])
    await seed.access_control(1, "notebook", None, "none")
    await seed.access_control(1, "notebook", "n-1", "editor", member=world.memberships["alice"])
    return world


# -- /v1/levels ---------------------------------------------------------------------------------------


async def test_levels_of_a_project_its_dashboards_resources_and_types(
    client: Client, db_pool: asyncpg.Pool, granted: World
) -> None:
    answer = await decide(
        client,
        db_pool,
        "/v1/levels",
        {
            "user": str(granted["alice"].uuid),
            "project_id": 1,
            "dashboards": [7, 404],
            "resources": [
                {"type": "insight", "id": "42"},
                {"type": "notebook", "id": "n-1"},
                {"type": "dashboard", "id": 7},
                {"type": "notebook", "id": "n-404"},
            ],
            "resource_types": ["notebook", "dashboard"],
        },
    )
    assert answer["project"] == {
        "org_level": 1,
        "effective_level": 8,
        "user_access_level": "admin",
        "access_source": "explicit_member",
    }
    dashboard = {
        "restriction_level": 37,
        "effective_restriction_level": 37,
        "effective_privilege_level": 37,
        "can_edit": True,
        "can_restrict": True,
        "user_access_level": "editor",
        "access_source": "project_admin",
    }
    assert answer["dashboards"] == [
        {"id": 7, "exists": True, **dashboard},
        {"id": 404, "exists": False, **dict.fromkeys(dashboard)},
    ]
    assert answer["resources"] == [
        {
            "type": "insight",
            "id": "42",
            "exists": True,
            "user_access_level": "editor",
            "access_source": "project_admin",
            "effective_restriction_level": 37,
            "effective_privilege_level": 37,
        },
        {
            "type": "notebook",
            "id": "n-1",
            "exists": True,
            "user_access_level": "editor",
            "access_source": "explicit_member",
        },
        {
            "type": "dashboard",
            "id": "7",
            "exists": True,
            "user_access_level": "editor",
            "access_source": "project_admin",
            "restriction_level": 37,
            "effective_restriction_level": 37,
            "effective_privilege_level": 37,
            "can_edit": True,
            "can_restrict": True,
        },
        {
            "type": "notebook",
            "id": "n-404",
            "exists": False,
            "user_access_level": None,
            "access_source": None,
        },
    ]
    assert answer["resource_types"] == [
        {
            "type": "notebook",
            "access_level": "none",
            "effective_access_level": "viewer",
            "specific_access_level": "editor",
        },
        {
            "type": "dashboard",
            "access_level": "editor",
            "effective_access_level": "editor",
            "specific_access_level": None,
        },
    ]
    assert list(answer) == ["project", "dashboards", "resources", "resource_types", "revision"]


async def test_levels_lists_are_optional_and_bob_cannot_edit(
    client: Client, db_pool: asyncpg.Pool, granted: World
) -> None:
    answer = await decide(client, db_pool, "/v1/levels", {"user": str(granted["bob"].uuid), "project_id": 1})
    assert (answer["dashboards"], answer["resources"], answer["resource_types"]) == ([], [], [])
    assert answer["project"] == {
        "org_level": 1,
        "effective_level": 1,
        "user_access_level": "member",
        "access_source": "explicit_member",
    }
    dan = await decide(client, db_pool, "/v1/levels", {"user": str(granted["dan"].uuid), "project_id": 1})
    assert dan["project"] == {
        "org_level": 1,
        "effective_level": None,
        "user_access_level": "none",
        "access_source": "default",
    }
    bob = await decide(
        client, db_pool, "/v1/levels", {"user": str(granted["bob"].uuid), "project_id": 1, "dashboards": [7]}
    )
    assert (bob["dashboards"][0]["can_edit"], bob["dashboards"][0]["effective_privilege_level"]) == (
        False,
        21,
    )


async def test_levels_of_unknown_users_and_projects_are_404s(
    client: Client, db_pool: asyncpg.Pool, seed: Seed, granted: World
) -> None:
    gone = await seed.user("gone", active=False)
    await seed.member(granted.organization, gone)
    for user in (UNKNOWN_USER, str(gone.uuid)):
        body = {"user": user, "project_id": 1}
        assert await post_error(client, db_pool, "/v1/levels", body, 404) == not_found(
            "User not found.", "user"
        )
    body = {"user": str(granted["alice"].uuid), "project_id": 99}
    assert await post_error(client, db_pool, "/v1/levels", body, 404) == not_found("Project not found.")


@pytest.mark.parametrize(
    ("extra", "code", "detail", "attr"),
    [
        (
            {"dashboards": [0]},
            "min_value",
            "Ensure this value is greater than or equal to 1.",
            "dashboards__0",
        ),
        (
            {"dashboards": list(range(1, 10_002))},
            "max_length",
            "Ensure this field has no more than 10000 elements.",
            "dashboards",
        ),
        (
            {"resources": [{"type": "widget", "id": "1"}]},
            "invalid_choice",
            '"widget" is not a valid choice.',
            "resources__0__type",
        ),
        ({"resources": [{"type": "notebook"}]}, "required", "This field is required.", "resources__0__id"),
        (
            {"resources": [{"type": "notebook", "id": "bad id"}]},
            "invalid",
            "Enter a valid resource id.",
            "resources__0__id",
        ),
        (
            {"resource_types": ["notebook", "widget"]},
            "invalid_choice",
            '"widget" is not a valid choice.',
            "resource_types__1",
        ),
        ({"api_key": "phx_x"}, "unknown_field", "Unknown field.", "api_key"),
    ],
)
async def test_malformed_levels_bodies(
    client: Client, extra: dict[str, Any], code: str, detail: str, attr: str
) -> None:
    body = {"user": UNKNOWN_USER, "project_id": 1, **extra}
    response = await client.post("/v1/levels", json=body, headers=check_headers())
    assert response.status_code == 400
    assert response.json() == {"type": "validation_error", "code": code, "detail": detail, "attr": attr}


# -- /v1/filter ---------------------------------------------------------------------------------------


async def test_filter_specific_none_blocks_one_dashboard(
    client: Client, db_pool: asyncpg.Pool, seed: Seed
) -> None:
    """SPEC §8 example 7."""
    world = await seed.spec_world(["advanced_permissions"])
    await seed.dashboard(1, 8, created_by=world["dan"])
    await seed.dashboard(1, 9, created_by=world["dan"])
    await seed.access_control(1, "dashboard", None, "editor")
    await seed.access_control(1, "dashboard", 8, "none", member=world.memberships["bob"])
    body = {"user": str(world["bob"].uuid), "project_id": 1, "resource": "dashboard"}
    answer = await decide(client, db_pool, "/v1/filter", body)
    assert answer == {
        "mode": "except",
        "ids": ["8"],
        "include_created_by": True,
        "created_by": world["bob"].id,
        "revision": answer["revision"],
    }
    carol = {**body, "user": str(world["carol"].uuid), "admin_include_all": True}
    assert (await decide(client, db_pool, "/v1/filter", carol))["mode"] == "all"


async def test_filter_notebooks_and_projects(client: Client, db_pool: asyncpg.Pool, seed: Seed) -> None:
    """SPEC §5.4's filter example; projects are filtered by visibility in the organization."""
    world = await seed.spec_world(["advanced_permissions"])
    await seed.resource(1, "notebook", "n-17", created_by=world["dan"])
    await seed.access_control(1, "notebook", "n-17", "none")
    await seed.access_control(1, "notebook", "n-17", "viewer", member=world.memberships["bob"])
    await seed.access_control(2, "project", 2, "none")
    alice = {"user": str(world["alice"].uuid), "project_id": 1, "resource": "notebook"}
    assert await decide(client, db_pool, "/v1/filter", alice) == {
        "mode": "except",
        "ids": ["n-17"],
        "include_created_by": True,
        "created_by": world["alice"].id,
        "revision": await current_revision(db_pool),
    }
    bob = await decide(client, db_pool, "/v1/filter", {**alice, "user": str(world["bob"].uuid)})
    assert (bob["mode"], bob["ids"], bob["created_by"]) == ("all", [], None)
    by_organization = {"user": str(world["alice"].uuid), "organization_id": str(world.organization)}
    projects = await decide(client, db_pool, "/v1/filter", {**by_organization, "resource": "project"})
    assert (projects["mode"], projects["ids"], projects["include_created_by"]) == ("only", ["1"], False)
    carol = await decide(
        client,
        db_pool,
        "/v1/filter",
        {"user": str(world["carol"].uuid), "project_id": 2, "resource": "project"},
    )
    assert carol["ids"] == ["1", "2"]


async def test_filter_fails_closed_for_outsiders(client: Client, db_pool: asyncpg.Pool, seed: Seed) -> None:
    world = await seed.spec_world(["advanced_permissions"])
    outsider = await seed.user("outsider")
    body = {"user": str(outsider.uuid), "project_id": 1, "resource": "notebook"}
    answer = await decide(client, db_pool, "/v1/filter", body)
    assert (answer["mode"], answer["ids"], answer["include_created_by"]) == ("only", [], False)
    by_organization = {
        "user": str(outsider.uuid),
        "organization_id": str(world.organization),
        "resource": "project",
    }
    assert (await decide(client, db_pool, "/v1/filter", by_organization))["ids"] == []


@pytest.mark.parametrize(
    ("body", "status", "envelope"),
    [
        (
            {"user": UNKNOWN_USER, "project_id": 1, "resource": "notebook"},
            404,
            not_found("User not found.", "user"),
        ),
        ({"user": "ALICE", "project_id": 99, "resource": "notebook"}, 404, not_found("Project not found.")),
        (
            {
                "user": "ALICE",
                "organization_id": "0b5a0000-0000-4000-8000-00000000beef",
                "resource": "project",
            },
            404,
            not_found("Organization not found."),
        ),
        (
            {
                "user": "ALICE",
                "project_id": 1,
                "organization_id": "0b5a0000-0000-4000-8000-00000000beef",
                "resource": "notebook",
            },
            404,
            not_found("Project not found."),
        ),
        (
            {"user": "ALICE", "resource": "notebook"},
            400,
            {
                "type": "validation_error",
                "code": "required",
                "detail": "This field is required.",
                "attr": "project_id",
            },
        ),
        (
            {"user": "ALICE", "resource": "project"},
            400,
            {
                "type": "validation_error",
                "code": "required",
                "detail": "This field is required.",
                "attr": "organization_id",
            },
        ),
        (
            {"user": "ALICE", "project_id": 1, "resource": "widget"},
            400,
            {
                "type": "validation_error",
                "code": "invalid_choice",
                "detail": '"widget" is not a valid choice.',
                "attr": "resource",
            },
        ),
        (
            {"user": "ALICE", "project_id": 1, "resource": "notebook", "admin_include_all": "yes"},
            400,
            {
                "type": "validation_error",
                "code": "invalid",
                "detail": "Must be a valid boolean.",
                "attr": "admin_include_all",
            },
        ),
        (
            {"api_key": "phx_x", "project_id": 1, "resource": "notebook"},
            400,
            {
                "type": "validation_error",
                "code": "unknown_field",
                "detail": "Unknown field.",
                "attr": "api_key",
            },
        ),
    ],
)
async def test_filter_errors(
    client: Client,
    db_pool: asyncpg.Pool,
    seed: Seed,
    body: dict[str, Any],
    status: int,
    envelope: dict[str, Any],
) -> None:
    world = await seed.spec_world()
    if body.get("user") == "ALICE":
        body = {**body, "user": str(world["alice"].uuid)}
    assert await post_error(client, db_pool, "/v1/filter", body, status) == envelope


# -- /v1/subjects -------------------------------------------------------------------------------------


async def subjects(client: Client, pool: asyncpg.Pool, query: str, status: int = 200) -> Any:
    revision = await current_revision(pool)
    response = await client.get(f"/v1/subjects?{query}&min_revision={revision}", headers=check_headers())
    assert response.status_code == status, response.text
    assert "X-Acl-Revision" in response.headers
    return response.json()


async def test_who_can_see_a_notebook(client: Client, db_pool: asyncpg.Pool, seed: Seed) -> None:
    """SPEC §8 example 14."""
    world = await seed.spec_world(["advanced_permissions"])
    await seed.resource(1, "notebook", "n-17", created_by=world["dan"])
    await seed.access_control(1, "notebook", "n-17", "none")
    await seed.access_control(1, "notebook", "n-17", "viewer", member=world.memberships["bob"])
    answer = await subjects(client, db_pool, "project_id=1&resource=notebook&resource_id=n-17")

    def row(name: str, level: str, source: str, membership_level: str) -> dict[str, str]:
        return {
            "user_id": str(world[name].uuid),
            "access_level": level,
            "access_source": source,
            "organization_membership_id": str(world.memberships[name]),
            "organization_membership_level": membership_level,
        }

    managers = sorted(
        [row("carol", "manager", "organization_admin", "owner"), row("dan", "manager", "creator", "member")],
        key=lambda entry: entry["user_id"],
        reverse=True,
    )
    assert answer == {
        "users": [*managers, row("bob", "viewer", "explicit_member", "member")],
        "total_count": 3,
        "revision": answer["revision"],
    }


async def test_subjects_of_a_project(client: Client, db_pool: asyncpg.Pool, seed: Seed) -> None:
    world = await seed.spec_world(["project_based_permissioning"], access_control=True)
    await seed.explicit_member(1, world.memberships["bob"], 1)
    answer = await subjects(client, db_pool, "project_id=1&resource=project")
    assert {entry["user_id"] for entry in answer["users"]} == {
        str(world["carol"].uuid),
        str(world["bob"].uuid),
    }
    same = await subjects(client, db_pool, "project_id=1&resource=project&resource_id=1")
    assert same["users"] == answer["users"]


@pytest.mark.parametrize(
    ("query", "status", "envelope"),
    [
        ("project_id=1&resource=notebook&resource_id=n-404", 404, not_found("Not found.")),
        ("project_id=1&resource=project&resource_id=2", 404, not_found("Not found.")),
        ("project_id=99&resource=notebook&resource_id=n-1", 404, not_found("Project not found.")),
        (
            "resource=notebook&resource_id=n-1",
            400,
            {
                "type": "validation_error",
                "code": "required",
                "detail": "This field is required.",
                "attr": "project_id",
            },
        ),
        (
            "project_id=x&resource=notebook&resource_id=n-1",
            400,
            {
                "type": "validation_error",
                "code": "invalid",
                "detail": "A valid integer is required.",
                "attr": "project_id",
            },
        ),
        (
            "project_id=0&resource=notebook&resource_id=n-1",
            400,
            {
                "type": "validation_error",
                "code": "min_value",
                "detail": "Ensure this value is greater than or equal to 1.",
                "attr": "project_id",
            },
        ),
        (
            "project_id=1&resource_id=n-1",
            400,
            {
                "type": "validation_error",
                "code": "required",
                "detail": "This field is required.",
                "attr": "resource",
            },
        ),
        (
            "project_id=1&resource=widget&resource_id=n-1",
            400,
            {
                "type": "validation_error",
                "code": "invalid_choice",
                "detail": '"widget" is not a valid choice.',
                "attr": "resource",
            },
        ),
        (
            "project_id=1&resource=notebook",
            400,
            {
                "type": "validation_error",
                "code": "required",
                "detail": "This field is required.",
                "attr": "resource_id",
            },
        ),
        (
            "project_id=1&resource=notebook&resource_id=bad%20id",
            400,
            {
                "type": "validation_error",
                "code": "invalid",
                "detail": "Enter a valid resource id.",
                "attr": "resource_id",
            },
        ),
    ],
)
async def test_subjects_errors(
    client: Client, db_pool: asyncpg.Pool, seed: Seed, query: str, status: int, envelope: dict[str, Any]
) -> None:
    await seed.spec_world()
    assert await subjects(client, db_pool, query, status) == envelope


async def test_subjects_needs_a_service_token(client: Client) -> None:
    response = await client.get("/v1/subjects?project_id=1&resource=project")
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")


# -- /metrics -----------------------------------------------------------------------------------------


async def test_metrics_count_requests_and_decisions(
    client: Client, db_pool: asyncpg.Pool, seed: Seed
) -> None:
    world = await seed.spec_world()
    body = {"user": str(world["alice"].uuid), "project_id": 1, "action": "read"}
    for _ in range(3):
        await decide(client, db_pool, "/v1/check", body)
    await decide(client, db_pool, "/v1/check", {**body, "project_id": 99})
    await client.post("/v1/check", json=[], headers=check_headers())
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    lines = set(text.splitlines())
    assert 'acl_requests_total{endpoint="/v1/check",status="200"} 4' in lines
    assert 'acl_requests_total{endpoint="/v1/check",status="400"} 1' in lines
    assert 'acl_decisions_total{endpoint="check",allowed="true"} 3' in lines
    assert 'acl_decisions_total{endpoint="check",allowed="false"} 1' in lines
    assert "acl_decision_seconds_count 4" in lines
    assert 'acl_decision_seconds_bucket{le="+Inf"} 4' in lines
    assert "acl_organizations_loaded 1" in lines
    assert "acl_listener_connected 1" in lines
    assert f"acl_applied_revision {await current_revision(db_pool)}" in lines
    for name in ("acl_decision_cache_hits_total", "acl_fact_index_rows"):
        assert any(line.startswith(name + " ") for line in lines)


async def test_levels_of_the_project_and_organization_types(
    client: Client, db_pool: asyncpg.Pool, granted: World
) -> None:
    """§3.6 step 2: `project`, `organization` (and `plugin`) are answered with their default level,
    for members and owners alike; §3.9 gives owners the highest level as their specific level."""
    types = ["project", "organization", "plugin"]
    answers = {}
    for name in ("bob", "carol"):
        body = {"user": str(granted[name].uuid), "project_id": 1, "resource_types": types}
        answers[name] = (await decide(client, db_pool, "/v1/levels", body))["resource_types"]
    assert [(t["type"], t["access_level"], t["effective_access_level"]) for t in answers["bob"]] == [
        ("project", "admin", "admin"),
        ("organization", "member", "member"),
        ("plugin", "editor", "editor"),
    ]
    assert [(t["access_level"], t["specific_access_level"]) for t in answers["carol"]] == [
        ("admin", "admin"),
        ("member", "admin"),
        ("editor", "manager"),
    ]
