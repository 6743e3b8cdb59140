"""POST /v1/check and /v1/check/batch (SPEC §5.4) over HTTP, on a real database and the fact index.

The seed writes straight to PostgreSQL, behind the index's back; every decision asks with
`min_revision` = the database's revision, so it answers on the seeded facts (SPEC §2 freshness).
"""

from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from acl_service.errors import ServiceUnavailable
from acl_service.store.index import FACTS_UNAVAILABLE
from tests.fixtures.app import ADMIN_TOKEN, admin_headers, check_headers
from tests.fixtures.seed import Seed, World

Client = AsyncTestClient[Litestar]
REASON_CODES = {
    "not_authenticated",
    "not_org_member",
    "org_admin",
    "project_open",
    "project_private",
    "project_granted",
    "project_hard_deny",
    "creator",
    "specific_rule",
    "resource_rule",
    "object_default_rule",
    "default_level",
    "access_controls_off",
    "roles_off",
    "dashboard_unrestricted",
    "dashboard_restricted",
    "dashboard_privilege",
    "key_legacy",
    "key_scope_ok",
    "key_scope_missing",
    "key_unsupported",
    "key_scope_mismatch",
    "level_ok",
    "level_insufficient",
}
LEVEL_KEYS = [
    "org_level",
    "effective_level",
    "project_access_level",
    "user_access_level",
    "access_source",
    "restriction_level",
    "effective_restriction_level",
    "effective_privilege_level",
    "can_edit",
    "can_restrict",
]
NO_LEVELS = dict.fromkeys(LEVEL_KEYS)


async def current_revision(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        value: int = await conn.fetchval("SELECT value FROM acl_revision")
        return value


async def post(client: Client, pool: asyncpg.Pool, path: str, body: dict[str, Any]) -> Any:
    """POST a decision at the database's current revision; returns the HTTP response."""
    return await client.post(
        path, json={**body, "min_revision": await current_revision(pool)}, headers=check_headers()
    )


async def decide(client: Client, pool: asyncpg.Pool, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await post(client, pool, path, body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert int(response.headers["X-Acl-Revision"]) == answer["revision"]
    return answer


async def check(client: Client, pool: asyncpg.Pool, **body: Any) -> dict[str, Any]:
    answer = await decide(client, pool, "/v1/check", body)
    assert list(answer) == ["allowed", "status", "detail", "levels", "reason", "revision"]
    assert list(answer["levels"]) == LEVEL_KEYS
    assert set(code.partition(":")[0] for code in answer["reason"]) <= REASON_CODES
    return answer


def outcome(answer: dict[str, Any]) -> tuple[bool, int, str | None]:
    return answer["allowed"], answer["status"], answer["detail"]


async def bad_request(client: Client, path: str, body: Any) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=check_headers())
    assert response.status_code == 400, response.text
    envelope: dict[str, Any] = response.json()
    assert envelope["type"] == "validation_error"
    return envelope


def user(world: World, name: str) -> str:
    return str(world[name].uuid)


# -- callers of the decision API (§5.1) --------------------------------------------------------------


async def test_check_and_admin_tokens_may_ask_and_personal_api_keys_may_not(
    client: Client, seed: Seed
) -> None:
    world = await seed.spec_world()
    body = {"user": user(world, "alice"), "project_id": 1, "action": "read"}
    missing = await client.post("/v1/check", json=body)
    assert (missing.status_code, missing.json()["code"]) == (401, "not_authenticated")
    key = await seed.personal_api_key(world["alice"], ["*"])
    with_key = await client.post("/v1/check", json=body, headers={"Authorization": f"Bearer {key}"})
    assert with_key.status_code == 401
    assert with_key.json() == {
        "type": "authentication_error",
        "code": "authentication_failed",
        "detail": "Invalid token.",
        "attr": None,
    }
    unknown = await client.post("/v1/check", json=body, headers={"Authorization": "Bearer nope"})
    assert (unknown.status_code, unknown.json()["detail"]) == (401, "Invalid token.")
    assert "X-Acl-Revision" in unknown.headers
    for headers in (check_headers(), admin_headers(), {"Authorization": f"Bearer {ADMIN_TOKEN}"}):
        assert (await client.post("/v1/check", json=body, headers=headers)).status_code == 200


# -- subjects ------------------------------------------------------------------------------------------


async def test_unknown_or_inactive_user_is_a_401_answer(
    client: Client, seed: Seed, db_pool: asyncpg.Pool
) -> None:
    world = await seed.spec_world()
    ghost = await seed.user("ghost", active=False)
    await seed.member(world.organization, ghost)
    for subject in ("0b5a0000-0000-4000-8000-00000000dead", str(ghost.uuid)):
        answer = await check(client, db_pool, user=subject, project_id=1, action="read")
        assert outcome(answer) == (False, 401, "Authentication credentials were not provided.")
        assert answer["levels"] == NO_LEVELS
        assert answer["reason"] == ["not_authenticated"]


async def test_invalid_key_in_the_body_is_a_401_answer(
    client: Client, seed: Seed, db_pool: asyncpg.Pool
) -> None:
    world = await seed.spec_world()
    inactive = await seed.user("gone", active=False)
    await seed.member(world.organization, inactive)
    inactive_key = await seed.personal_api_key(inactive, None)
    for key in ("phx_" + "x" * 43, "not-even-a-key", inactive_key):
        answer = await check(client, db_pool, api_key=key, project_id=1, action="read")
        assert outcome(answer) == (False, 401, "Personal API key found in request body is invalid.")


@pytest.mark.parametrize(
    ("body", "attr"),
    [
        ({"project_id": 1, "action": "read"}, "user"),
        (
            {
                "user": "0b5a0000-0000-4000-8000-000000000001",
                "api_key": "phx_x",
                "project_id": 1,
                "action": "read",
            },
            "user",
        ),
    ],
)
async def test_exactly_one_subject(client: Client, body: dict[str, Any], attr: str) -> None:
    assert await bad_request(client, "/v1/check", body) == {
        "type": "validation_error",
        "code": "invalid",
        "detail": "Provide exactly one of user, api_key.",
        "attr": attr,
    }


# -- malformed checks (§6) -------------------------------------------------------------------------------

USER = "0b5a0000-0000-4000-8000-000000000001"


@pytest.mark.parametrize(
    ("body", "code", "detail", "attr"),
    [
        ([], "invalid", "Invalid data. Expected a dictionary, but got list.", None),
        ({"user": USER, "action": "read"}, "required", "This field is required.", "project_id"),
        ({"user": USER, "project_id": 1}, "required", "This field is required.", "action"),
        ({"user": "nope", "project_id": 1, "action": "read"}, "invalid", "Must be a valid UUID.", "user"),
        (
            {"user": USER, "project_id": 0, "action": "read"},
            "min_value",
            "Ensure this value is greater than or equal to 1.",
            "project_id",
        ),
        (
            {"user": USER, "project_id": "1", "action": "read"},
            "invalid",
            "A valid integer is required.",
            "project_id",
        ),
        (
            {"user": USER, "project_id": 1, "action": "fly"},
            "invalid_choice",
            '"fly" is not a valid choice.',
            "action",
        ),
        (
            {"user": USER, "project_id": 1, "action": "read", "extra": 1},
            "unknown_field",
            "Unknown field.",
            "extra",
        ),
        (
            {"user": USER, "project_id": 1, "action": "read", "resource": {"type": "project"}},
            "invalid_choice",
            '"project" is not a valid choice.',
            "resource__type",
        ),
        (
            {"user": USER, "project_id": 1, "action": "read", "resource": {"type": "organization"}},
            "invalid_choice",
            '"organization" is not a valid choice.',
            "resource__type",
        ),
        (
            {"user": USER, "project_id": 1, "action": "read", "resource": {"type": "widget"}},
            "invalid_choice",
            '"widget" is not a valid choice.',
            "resource__type",
        ),
        (
            {"user": USER, "project_id": 1, "action": "read", "resource": {"id": "7"}},
            "required",
            "This field is required.",
            "resource__type",
        ),
        (
            {"user": USER, "project_id": 1, "action": "read", "resource": {"type": "notebook", "id": "-x"}},
            "invalid",
            "Enter a valid resource id.",
            "resource__id",
        ),
        (
            {"user": USER, "project_id": 1, "action": "read", "resource": {"type": "notebook", "id": "x\n"}},
            "invalid",
            "Enter a valid resource id.",
            "resource__id",
        ),
        (
            {"user": USER, "project_id": 1, "action": "read", "resource": "notebook"},
            "invalid",
            "Invalid data. Expected a dictionary, but got str.",
            "resource",
        ),
        (
            {"user": USER, "project_id": 1, "action": "read", "min_revision": -1},
            "min_value",
            "Ensure this value is greater than or equal to 0.",
            "min_revision",
        ),
        (
            {"user": USER, "project_id": 1, "action": "create"},
            "invalid",
            "This action is not available for this target.",
            "action",
        ),
        (
            {"user": USER, "project_id": 1, "action": "restrict"},
            "invalid",
            "This action is not available for this target.",
            "action",
        ),
        (
            {"user": USER, "project_id": 1, "action": "delete", "resource": {"type": "notebook"}},
            "invalid",
            "This action is not available for this target.",
            "action",
        ),
        (
            {"user": USER, "project_id": 1, "action": "restrict", "resource": {"type": "dashboard"}},
            "invalid",
            "This action is not available for this target.",
            "action",
        ),
        (
            {
                "user": USER,
                "project_id": 1,
                "action": "restrict",
                "resource": {"type": "notebook", "id": "n"},
            },
            "invalid",
            "This action is not available for this target.",
            "action",
        ),
        (
            {"user": USER, "project_id": 1, "action": "create", "resource": {"type": "dashboard", "id": 7}},
            "invalid",
            "This action is not available for this target.",
            "action",
        ),
    ],
)
async def test_malformed_checks_are_400s(
    client: Client, body: Any, code: str, detail: str, attr: str | None
) -> None:
    assert await bad_request(client, "/v1/check", body) == {
        "type": "validation_error",
        "code": code,
        "detail": detail,
        "attr": attr,
    }


async def test_invalid_json_is_a_parse_error(client: Client) -> None:
    response = await client.post("/v1/check", content=b"{", headers=check_headers())
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert response.json()["detail"].startswith("JSON parse error - ")


# -- projects and objects --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "action"),
    [
        (None, "read"),
        (None, "manage_access"),
        ({"type": "notebook"}, "create"),
        ({"type": "dashboard", "id": 7}, "restrict"),
        ({"type": "notebook", "id": "n-1"}, "write"),
    ],
)
async def test_unknown_project_is_a_404_answer_for_every_target(
    client: Client, seed: Seed, db_pool: asyncpg.Pool, resource: dict[str, Any] | None, action: str
) -> None:
    world = await seed.spec_world()
    body: dict[str, Any] = {"user": user(world, "carol"), "project_id": 99, "action": action}
    if resource is not None:
        body["resource"] = resource
    answer = await check(client, db_pool, **body)
    assert outcome(answer) == (False, 404, "Project not found.")
    assert answer["levels"] == NO_LEVELS


@pytest.mark.parametrize(
    "resource",
    [
        {"type": "notebook", "id": "n-404"},
        {"type": "dashboard", "id": 404},
        {"type": "dashboard", "id": "07"},
        {"type": "dashboard", "id": "abc"},
    ],
)
async def test_unknown_object_is_a_404_answer(
    client: Client, seed: Seed, db_pool: asyncpg.Pool, resource: dict[str, Any]
) -> None:
    world = await seed.spec_world()
    await seed.dashboard(1, 7, created_by=world["alice"])
    answer = await check(
        client, db_pool, user=user(world, "carol"), project_id=1, resource=resource, action="read"
    )
    assert outcome(answer) == (False, 404, "Not found.")
    assert answer["levels"]["org_level"] == 15
    assert answer["levels"]["user_access_level"] is None


async def test_hard_deny_on_an_open_project(client: Client, seed: Seed, db_pool: asyncpg.Pool) -> None:
    """SPEC §8 example 4."""
    world = await seed.spec_world(["access_control"])
    await seed.access_control(1, "project", 1, "none", member=world.memberships["bob"])
    bob = await check(client, db_pool, user=user(world, "bob"), project_id=1, action="read")
    assert outcome(bob) == (False, 403, "You don't have sufficient permissions in the project.")
    assert (bob["levels"]["effective_level"], bob["levels"]["project_access_level"]) == (None, "none")
    assert "project_hard_deny" in bob["reason"]
    carol = await check(client, db_pool, user=user(world, "carol"), project_id=1, action="read")
    assert outcome(carol) == (True, 200, None)


async def test_restricted_dashboard_levels_and_edits(
    client: Client, seed: Seed, db_pool: asyncpg.Pool
) -> None:
    """SPEC §5.4's example and §8 example 5: Dan may read dashboard 7 but not edit it."""
    world = await seed.spec_world(["dashboard_permissioning"])
    await seed.dashboard(1, 7, created_by=world["alice"], restriction_level=37)
    await seed.collaborator(1, 7, world["bob"], 37)
    dashboard = {"type": "dashboard", "id": 7}
    dan = await check(
        client, db_pool, user=user(world, "dan"), project_id=1, resource=dashboard, action="write"
    )
    assert outcome(dan) == (False, 403, "You don't have edit permissions for this dashboard.")
    assert dan["levels"] == {
        "org_level": 1,
        "effective_level": 1,
        "project_access_level": "admin",
        "user_access_level": "editor",
        "access_source": "default",
        "restriction_level": 37,
        "effective_restriction_level": 37,
        "effective_privilege_level": 21,
        "can_edit": False,
        "can_restrict": False,
    }
    assert "dashboard_restricted" in dan["reason"]
    read = await check(
        client, db_pool, user=user(world, "dan"), project_id=1, resource=dashboard, action="read"
    )
    assert outcome(read) == (True, 200, None)
    bob = {"user": user(world, "bob"), "project_id": 1, "resource": dashboard}
    assert outcome(await check(client, db_pool, **bob, action="write")) == (True, 200, None)
    assert outcome(await check(client, db_pool, **bob, action="restrict")) == (
        False,
        403,
        "Only the dashboard owner and project admins have the restriction rights required to change the "
        "dashboard's restriction level.",
    )
    alice = {"user": user(world, "alice"), "project_id": 1, "resource": {"type": "dashboard", "id": "7"}}
    restricting = await check(client, db_pool, **alice, action="restrict")
    assert outcome(restricting) == (True, 200, None)
    assert restricting["levels"]["can_restrict"] is True
    assert outcome(await check(client, db_pool, **alice, action="delete")) == (True, 200, None)


async def test_specific_none_beats_resource_wide_editor(
    client: Client, seed: Seed, db_pool: asyncpg.Pool
) -> None:
    """SPEC §8 example 7, as checks."""
    world = await seed.spec_world(["advanced_permissions"])
    await seed.dashboard(1, 8, created_by=world["dan"])
    await seed.dashboard(1, 9, created_by=world["dan"])
    await seed.access_control(1, "dashboard", None, "editor")
    await seed.access_control(1, "dashboard", 8, "none", member=world.memberships["bob"])
    bob = {"user": user(world, "bob"), "project_id": 1}
    eight = await check(client, db_pool, **bob, resource={"type": "dashboard", "id": 8}, action="read")
    assert outcome(eight) == (False, 403, "You do not have viewer access to this resource.")
    assert eight["levels"]["user_access_level"] == "none"
    nine = await check(client, db_pool, **bob, resource={"type": "dashboard", "id": 9}, action="write")
    assert outcome(nine) == (True, 200, None)
    assert nine["levels"]["user_access_level"] == "editor"


async def test_type_write_is_acp_without_the_create_flag(
    client: Client, seed: Seed, db_pool: asyncpg.Pool
) -> None:
    """A specific grant on one object lets "write" on the type pass ACP; "create" (flag C) does not."""
    world = await seed.spec_world(["advanced_permissions"])
    await seed.resource(1, "feature_flag", "ff-1", created_by=world["dan"])
    await seed.access_control(1, "feature_flag", None, "none")
    await seed.access_control(1, "feature_flag", "ff-1", "editor", member=world.memberships["bob"])
    bob = {"user": user(world, "bob"), "project_id": 1, "resource": {"type": "feature_flag"}}
    create = await check(client, db_pool, **bob, action="create")
    assert outcome(create) == (False, 403, "You do not have editor access to this resource.")
    assert create["levels"]["user_access_level"] == "none"
    assert outcome(await check(client, db_pool, **bob, action="write")) == (True, 200, None)
    assert outcome(await check(client, db_pool, **bob, action="read")) == (True, 200, None)
    alice = {"user": user(world, "alice"), "project_id": 1, "resource": {"type": "feature_flag"}}
    assert outcome(await check(client, db_pool, **alice, action="write")) == (
        False,
        403,
        "You do not have editor access to this resource.",
    )


async def test_manage_access_on_objects_types_and_the_project(
    client: Client, seed: Seed, db_pool: asyncpg.Pool
) -> None:
    """SPEC §8 example 15, as checks."""
    world = await seed.spec_world(["advanced_permissions"])
    await seed.resource(1, "notebook", "n-17", created_by=world["dan"])
    await seed.resource(1, "notebook", "n-18", created_by=world["dan"])
    await seed.access_control(1, "notebook", "n-17", "none")
    await seed.access_control(1, "notebook", "n-17", "viewer", member=world.memberships["bob"])
    bob = {"user": user(world, "bob"), "project_id": 1, "action": "manage_access"}
    assert outcome(await check(client, db_pool, **bob, resource={"type": "notebook", "id": "n-17"})) == (
        False,
        403,
        "You do not have editor access to this resource.",
    )
    assert outcome(await check(client, db_pool, **bob, resource={"type": "notebook", "id": "n-18"})) == (
        False,
        403,
        "Must be manager to modify notebook permissions.",
    )
    assert outcome(await check(client, db_pool, **bob, resource={"type": "notebook"})) == (
        False,
        403,
        "Must be an Organization admin to modify project-wide permissions.",
    )
    assert outcome(await check(client, db_pool, **bob)) == (
        False,
        403,
        "Must be admin to modify project permissions.",
    )
    dan = {**bob, "user": user(world, "dan"), "resource": {"type": "notebook", "id": "n-17"}}
    assert outcome(await check(client, db_pool, **dan)) == (True, 200, None)
    carol = {**bob, "user": user(world, "carol")}
    assert outcome(await check(client, db_pool, **carol)) == (True, 200, None)


async def test_project_actions(client: Client, seed: Seed, db_pool: asyncpg.Pool) -> None:
    world = await seed.spec_world(["project_based_permissioning"], access_control=True)
    await seed.explicit_member(1, world.memberships["alice"], 8)
    alice = {"user": user(world, "alice"), "project_id": 1}
    for action in ("read", "write", "delete"):
        assert outcome(await check(client, db_pool, **alice, action=action)) == (True, 200, None)
    levels = (await check(client, db_pool, **alice, action="read"))["levels"]
    assert (levels["effective_level"], levels["user_access_level"], levels["access_source"]) == (
        8,
        "admin",
        "default",  # §3.8 step 1: without AC_ON the source is "default"
    )
    bob = await check(client, db_pool, user=user(world, "bob"), project_id=1, action="read")
    assert outcome(bob) == (False, 403, "You don't have sufficient permissions in the project.")
    outsider = await seed.user("outsider")
    other = await check(client, db_pool, user=str(outsider.uuid), project_id=1, action="read")
    assert outcome(other) == (False, 404, "Not found.")
    assert other["levels"]["org_level"] is None


async def test_insight_object_checks_and_levels(client: Client, seed: Seed, db_pool: asyncpg.Pool) -> None:
    """SPEC §8 example 12, as checks: the generic-resources PATCH runs CEI."""
    world = await seed.spec_world(["dashboard_permissioning"])
    await seed.dashboard(1, 7, created_by=world["alice"], restriction_level=37)
    await seed.dashboard(1, 10, created_by=world["alice"], restriction_level=37)
    await seed.resource(1, "insight", "42", created_by=world["alice"])
    await seed.insight_on(1, "42", [7, 10])
    insight = {"type": "insight", "id": 42}
    dan = await check(
        client, db_pool, user=user(world, "dan"), project_id=1, resource=insight, action="write"
    )
    assert outcome(dan) == (
        False,
        403,
        "This insight is on a dashboard that can only be edited by its owner, team members invited to "
        "editing the dashboard, and project admins.",
    )
    assert (dan["levels"]["effective_restriction_level"], dan["levels"]["effective_privilege_level"]) == (
        37,
        21,
    )
    alice = await check(
        client, db_pool, user=user(world, "alice"), project_id=1, resource=insight, action="write"
    )
    assert outcome(alice) == (True, 200, None)


# -- personal API keys as subjects ------------------------------------------------------------------------


async def test_key_subjects_run_the_key_checks(client: Client, seed: Seed, db_pool: asyncpg.Pool) -> None:
    world = await seed.spec_world()
    await seed.dashboard(1, 7, created_by=world["alice"])
    read_only = await seed.personal_api_key(world["alice"], ["dashboard:read", "notebook:read"])
    legacy = await seed.personal_api_key(world["alice"], None)
    star = await seed.personal_api_key(world["alice"], ["*"])
    elsewhere = await seed.personal_api_key(world["alice"], ["*"], scoped_teams=[2])
    dashboard = {"project_id": 1, "resource": {"type": "dashboard", "id": 7}}
    assert outcome(await check(client, db_pool, api_key=read_only, **dashboard, action="read")) == (
        True,
        200,
        None,
    )
    denied = await check(client, db_pool, api_key=read_only, **dashboard, action="write")
    assert outcome(denied) == (False, 403, "API key missing required scope 'dashboard:write'")
    assert "key_scope_missing" in denied["reason"]
    assert denied["levels"]["user_access_level"] == "manager"  # the key's owner created it
    create = await check(
        client, db_pool, api_key=read_only, project_id=1, resource={"type": "notebook"}, action="create"
    )
    assert outcome(create) == (False, 403, "API key missing required scope 'notebook:write'")
    for key in (legacy, star):
        assert outcome(await check(client, db_pool, api_key=key, **dashboard, action="write")) == (
            True,
            200,
            None,
        )
    assert outcome(await check(client, db_pool, api_key=elsewhere, **dashboard, action="read")) == (
        False,
        403,
        "API key does not have access to the requested project: ID 1.",
    )
    manage = await check(client, db_pool, api_key=read_only, **dashboard, action="manage_access")
    assert outcome(manage) == (False, 403, "API key missing required scope 'access_control:write'")


# -- freshness ---------------------------------------------------------------------------------------------


async def test_min_revision_not_reached_is_a_503(client: Client, seed: Seed, db_pool: asyncpg.Pool) -> None:
    world = await seed.spec_world()
    state = client.app.state.acl
    state.settings = msgspec.structs.replace(state.settings, min_revision_wait_ms=50)
    body = {"user": user(world, "alice"), "project_id": 1, "action": "read", "min_revision": 10**6}
    response = await client.post("/v1/check", json=body, headers=check_headers())
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.json() == {
        "type": "server_error",
        "code": "revision_not_reached",
        "detail": "Revision 1000000 has not been applied by this instance yet.",
        "attr": "min_revision",
    }


async def test_an_unsure_instance_answers_503(
    client: Client, seed: Seed, db_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await seed.spec_world()
    await decide(
        client, db_pool, "/v1/check", {"user": user(world, "alice"), "project_id": 1, "action": "read"}
    )

    def unsure() -> None:
        raise ServiceUnavailable(FACTS_UNAVAILABLE, code="facts_unavailable")

    monkeypatch.setattr(client.app.state.acl.index, "ensure_current", unsure)
    for path, body in [
        ("/v1/check", {"user": user(world, "alice"), "project_id": 1, "action": "read"}),
        ("/v1/check/batch", {"checks": []}),
    ]:
        response = await client.post(path, json=body, headers=check_headers())
        assert response.status_code == 503
        assert response.json() == {
            "type": "server_error",
            "code": "facts_unavailable",
            "detail": "Access-control facts are not current on this instance.",
            "attr": None,
        }


# -- batches -----------------------------------------------------------------------------------------------


async def test_batch_answers_in_request_order_at_one_revision(
    client: Client, seed: Seed, db_pool: asyncpg.Pool
) -> None:
    """SPEC §5.4's batch example."""
    world = await seed.spec_world()
    key = await seed.personal_api_key(world["alice"], ["notebook:read"])
    other = await seed.organization(name="Other")
    await seed.project(other, 3)
    checks = [
        {"user": user(world, "alice"), "project_id": 1, "action": "read"},
        {"api_key": key, "project_id": 1, "resource": {"type": "notebook"}, "action": "create"},
        {"user": user(world, "alice"), "project_id": 3, "action": "read"},
        {"user": user(world, "carol"), "project_id": 77, "action": "read"},
    ]
    answer = await decide(client, db_pool, "/v1/check/batch", {"checks": checks})
    assert list(answer) == ["results", "revision"]
    assert answer["revision"] == await current_revision(db_pool)
    assert [list(result) for result in answer["results"]] == [
        ["allowed", "status", "detail", "levels", "reason"]
    ] * 4
    assert [outcome(result) for result in answer["results"]] == [
        (True, 200, None),
        (False, 403, "API key missing required scope 'notebook:write'"),
        (False, 404, "Not found."),
        (False, 404, "Project not found."),
    ]
    assert "key_scope_missing" in answer["results"][1]["reason"]


@pytest.mark.parametrize(
    ("body", "code", "detail", "attr"),
    [
        (
            {
                "checks": [
                    {"user": USER, "project_id": 1, "action": "read"},
                    {"project_id": 1, "action": "read"},
                ]
            },
            "invalid",
            "Provide exactly one of user, api_key.",
            "checks__1__user",
        ),
        (
            {"checks": [{"user": USER, "project_id": 1, "action": "read", "min_revision": 3}]},
            "unknown_field",
            "Unknown field.",
            "checks__0__min_revision",
        ),
        (
            {"checks": [{"user": USER, "project_id": 1, "action": "read", "resource": {"type": "x"}}]},
            "invalid_choice",
            '"x" is not a valid choice.',
            "checks__0__resource__type",
        ),
        (
            {"checks": [{"user": USER, "project_id": 1, "action": "restrict"}]},
            "invalid",
            "This action is not available for this target.",
            "checks__0__action",
        ),
        (
            {"checks": [{"user": USER, "project_id": -1, "action": "read"}]},
            "min_value",
            "Ensure this value is greater than or equal to 1.",
            "checks__0__project_id",
        ),
        ({"checks": {}}, "not_a_list", 'Expected a list of items but got type "dict".', "checks"),
        ({}, "required", "This field is required.", "checks"),
        (
            {"checks": [{"user": USER, "project_id": 1, "action": "read"}] * 10001},
            "max_length",
            "Ensure this field has no more than 10000 elements.",
            "checks",
        ),
    ],
)
async def test_malformed_batches_are_400s(
    client: Client, body: Any, code: str, detail: str, attr: str | None
) -> None:
    assert await bad_request(client, "/v1/check/batch", body) == {
        "type": "validation_error",
        "code": code,
        "detail": detail,
        "attr": attr,
    }


async def test_a_batch_of_ten_thousand_checks(client: Client, seed: Seed, db_pool: asyncpg.Pool) -> None:
    world = await seed.spec_world(["advanced_permissions"])
    for dashboard in range(1, 51):
        await seed.dashboard(1, dashboard, created_by=world["dan"])
    await seed.access_control(1, "dashboard", 3, "none", member=world.memberships["bob"])
    names = ["alice", "bob", "carol", "dan"]
    actions = ["read", "write", "delete", "manage_access"]
    checks = [
        {
            "user": user(world, names[i % 4]),
            "project_id": 1,
            "resource": {"type": "dashboard", "id": i % 49 + 1},
            "action": actions[(i // 4) % 4],
        }
        for i in range(10_000)
    ]
    answer = await decide(client, db_pool, "/v1/check/batch", {"checks": checks})
    results = answer["results"]
    assert len(results) == 10_000
    # Bob on dashboard 3: the specific none row denies every action.
    bob_on_3 = [r for i, r in enumerate(results) if names[i % 4] == "bob" and i % 49 + 1 == 3]
    assert bob_on_3
    assert not any(r["allowed"] for r in bob_on_3)
    assert all(r["allowed"] for i, r in enumerate(results) if names[i % 4] in ("carol", "dan"))
    single = await check(client, db_pool, **checks[2])
    assert results[2] == {k: v for k, v in single.items() if k != "revision"}
