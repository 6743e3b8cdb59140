"""SPEC §5.3.7 (dashboard collaborators) over HTTP: every rule in its order."""

import asyncio
import uuid
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.fixtures.app import admin_headers
from tests.fixtures.seed import Seed, SeedUser, World

Client = AsyncTestClient[Litestar]
BASE = "/api/environments/1"
COLLABORATORS = f"{BASE}/dashboards/7/collaborators/"
UNKNOWN_USER = uuid.UUID("00000000-0000-4000-8000-0000000000ff")


def as_user(user: SeedUser) -> dict[str, str]:
    return admin_headers(user.uuid)


def rule(detail: str) -> dict[str, Any]:
    return {"type": "validation_error", "code": "invalid_input", "detail": detail, "attr": None}


def denied(detail: str) -> dict[str, Any]:
    return {"type": "authentication_error", "code": "permission_denied", "detail": detail, "attr": None}


async def restricted_world(seed: Seed, features: tuple[str, ...] = ("dashboard_permissioning",)) -> World:
    """Dashboard 7 by Alice at restriction 37."""
    world = await seed.spec_world(features)
    await seed.dashboard(1, 7, created_by=world["alice"], restriction_level=37)
    return world


async def add(client: Client, by: dict[str, str], target: uuid.UUID, **extra: Any) -> Any:
    return await client.post(COLLABORATORS, json={"user_uuid": str(target), **extra}, headers=by)


async def test_creator_adds_a_collaborator_who_then_can_edit(client: Client, seed: Seed) -> None:
    world = await restricted_world(seed)
    response = await add(client, as_user(world["alice"]), world["bob"].uuid)
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "dashboard_id", "user", "level", "added_at", "updated_at"}
    assert (body["dashboard_id"], body["level"], body["user"]["uuid"]) == (7, 37, str(world["bob"].uuid))
    assert uuid.UUID(body["id"])
    edit = await client.patch(f"{BASE}/dashboards/7/", json={"name": "n"}, headers=as_user(world["bob"]))
    assert edit.status_code == 200
    assert edit.json()["effective_privilege_level"] == 37


async def test_list_is_a_plain_array_ordered_by_added_at(client: Client, seed: Seed) -> None:
    world = await restricted_world(seed)
    for name in ("dan", "bob"):
        await seed.collaborator(1, 7, world[name])
    response = await client.get(COLLABORATORS, headers=as_user(world["dan"]))
    assert response.status_code == 200
    assert [c["user"]["uuid"] for c in response.json()] == [str(world["dan"].uuid), str(world["bob"].uuid)]


async def test_rule_1_lowest_restriction_level(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["dashboard_permissioning"])
    await seed.dashboard(1, 7, created_by=world["alice"], restriction_level=21)
    response = await add(client, as_user(world["alice"]), world["bob"].uuid, level=21)
    assert (response.status_code, response.json()) == (
        400,
        rule("Cannot add collaborators to a dashboard on the lowest restriction level."),
    )


async def test_rule_1_uses_the_effective_restriction(client: Client, seed: Seed) -> None:
    world = await restricted_world(seed, features=())
    response = await add(client, as_user(world["alice"]), world["bob"].uuid)
    assert (
        response.json()["detail"]
        == "Cannot add collaborators to a dashboard on the lowest restriction level."
    )


async def test_rule_2_only_edit_access(client: Client, seed: Seed) -> None:
    world = await restricted_world(seed)
    response = await add(client, as_user(world["alice"]), UNKNOWN_USER, level=21)
    assert (response.status_code, response.json()) == (
        400,
        rule("Only edit access can be explicitly specified currently."),
    )


async def test_rule_3_unknown_or_inactive_user(client: Client, seed: Seed) -> None:
    world = await restricted_world(seed)
    inactive = await seed.user("ivy", active=False)
    await seed.member(world.organization, inactive)
    for target in (UNKNOWN_USER, inactive.uuid):
        response = await add(client, as_user(world["alice"]), target)
        assert (response.status_code, response.json()) == (400, rule("User does not exist."))
        system = await add(client, admin_headers(), target)
        assert (system.status_code, system.json()) == (400, rule("User does not exist."))


async def test_rule_4_target_without_project_access(client: Client, seed: Seed) -> None:
    world = await restricted_world(seed, features=("dashboard_permissioning", "advanced_permissions"))
    outsider = await seed.user("eve")
    await seed.access_control(1, "project", 1, "none", member=world.memberships["dan"])
    for target in (outsider, world["dan"]):
        response = await add(client, as_user(world["alice"]), target.uuid)
        assert (response.status_code, response.json()) == (
            400,
            rule("Cannot add collaborators that have no access to the project."),
        )


async def test_rule_5_target_with_inherent_access(client: Client, seed: Seed) -> None:
    world = await restricted_world(seed)
    for target in ("alice", "carol"):
        response = await add(client, as_user(world["alice"]), world[target].uuid)
        assert (response.status_code, response.json()) == (
            400,
            rule(
                "Cannot add collaborators that already have inherent access "
                "(the dashboard owner or a project admins)."
            ),
        )


async def test_rule_6_duplicate(client: Client, seed: Seed) -> None:
    world = await restricted_world(seed)
    await seed.collaborator(1, 7, world["bob"])
    response = await add(client, as_user(world["alice"]), world["bob"].uuid)
    assert (response.status_code, response.json()) == (400, rule("User already is a collaborator."))


async def test_rules_apply_in_order(client: Client, seed: Seed) -> None:
    """An unknown user at level 21 on a 21 dashboard fails rule (1), not (2) or (3)."""
    world = await seed.spec_world(["dashboard_permissioning"])
    await seed.dashboard(1, 7, created_by=world["alice"], restriction_level=21)
    response = await add(client, as_user(world["alice"]), UNKNOWN_USER, level=21)
    assert (
        response.json()["detail"]
        == "Cannot add collaborators to a dashboard on the lowest restriction level."
    )


async def test_system_calls_skip_actor_rules(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["dashboard_permissioning"])
    await seed.dashboard(1, 7, created_by=world["alice"], restriction_level=21)
    response = await add(client, admin_headers(), world["alice"].uuid, level=21)
    assert (response.status_code, response.json()["level"]) == (201, 21)
    duplicate = await add(client, admin_headers(), world["alice"].uuid)
    assert duplicate.json() == rule("User already is a collaborator.")


async def test_non_editors_cannot_add(client: Client, seed: Seed) -> None:
    world = await restricted_world(seed)
    response = await add(client, as_user(world["dan"]), world["bob"].uuid)
    assert (response.status_code, response.json()) == (
        403,
        denied("You don't have edit permissions for this dashboard."),
    )


async def test_unknown_dashboard_is_dashboard_not_found_for_every_method(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    path = f"{BASE}/dashboards/99/collaborators/"
    user = str(world["bob"].uuid)
    for headers in (admin_headers(), as_user(world["bob"])):
        responses = [
            await client.get(path, headers=headers),
            await client.post(path, json={"user_uuid": user}, headers=headers),
            await client.delete(f"{path}{user}/", headers=headers),
        ]
        for response in responses:
            assert (response.status_code, response.json()["detail"]) == (404, "Dashboard not found.")


async def test_delete_removes_a_collaborator(client: Client, seed: Seed) -> None:
    world = await restricted_world(seed)
    await seed.collaborator(1, 7, world["bob"])
    response = await client.delete(f"{COLLABORATORS}{world['bob'].uuid}/", headers=as_user(world["alice"]))
    assert response.status_code == 204
    assert (await client.get(COLLABORATORS, headers=admin_headers())).json() == []


async def test_delete_unknown_is_404_before_the_restriction_rule(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["dashboard_permissioning"])
    await seed.dashboard(1, 7, created_by=world["alice"], restriction_level=21)
    for target in (world["bob"].uuid, UNKNOWN_USER):
        response = await client.delete(f"{COLLABORATORS}{target}/", headers=as_user(world["alice"]))
        assert (response.status_code, response.json()["detail"]) == (404, "Not found.")


async def test_delete_on_lowest_restriction_level(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["dashboard_permissioning"])
    await seed.dashboard(1, 7, created_by=world["alice"], restriction_level=21)
    await seed.collaborator(1, 7, world["bob"])
    response = await client.delete(f"{COLLABORATORS}{world['bob'].uuid}/", headers=as_user(world["alice"]))
    assert (response.status_code, response.json()) == (
        400,
        rule("Cannot remove collaborators from a dashboard on the lowest restriction level."),
    )
    system = await client.delete(f"{COLLABORATORS}{world['bob'].uuid}/", headers=admin_headers())
    assert system.status_code == 204


async def test_patch_and_put_are_405_after_authentication(client: Client, seed: Seed) -> None:
    world = await restricted_world(seed)
    await seed.collaborator(1, 7, world["bob"])
    path = f"{COLLABORATORS}{world['bob'].uuid}/"
    for method in ("PATCH", "PUT"):
        response = await client.request(method, path, json={"level": 21}, headers=admin_headers())
        assert (response.status_code, response.json()) == (
            405,
            {
                "type": "invalid_request",
                "code": "method_not_allowed",
                "detail": f'Method "{method}" not allowed.',
                "attr": None,
            },
        )
        anonymous = await client.request(method, path, json={})
        assert anonymous.status_code == 401


async def test_bad_input(client: Client, seed: Seed) -> None:
    world = await restricted_world(seed)
    alice = as_user(world["alice"])
    cases: list[tuple[Any, dict[str, Any]]] = [
        ({}, {"code": "required", "detail": "This field is required.", "attr": "user_uuid"}),
        ({"user_uuid": "nope"}, {"code": "invalid", "detail": "Must be a valid UUID.", "attr": "user_uuid"}),
        (
            {"user_uuid": str(world["bob"].uuid), "level": 30},
            {"code": "invalid_choice", "detail": '"30" is not a valid choice.', "attr": "level"},
        ),
        (
            {"user_uuid": str(world["bob"].uuid), "x": 1},
            {"code": "unknown_field", "detail": "Unknown field.", "attr": "x"},
        ),
    ]
    for payload, expected in cases:
        response = await client.post(COLLABORATORS, json=payload, headers=alice)
        assert (response.status_code, response.json()) == (400, {"type": "validation_error", **expected})
    bad_path = await client.delete(f"{COLLABORATORS}nope/", headers=alice)
    assert (bad_path.status_code, bad_path.json()["attr"]) == (400, "uuid")


async def test_representation_fields_are_accepted_and_ignored(client: Client, seed: Seed) -> None:
    world = await restricted_world(seed)
    response = await add(client, as_user(world["alice"]), world["bob"].uuid, id="x", dashboard_id=3, user={})
    assert (response.status_code, response.json()["dashboard_id"]) == (201, 7)


async def test_projects_prefix_is_an_alias(client: Client, seed: Seed) -> None:
    world = await restricted_world(seed)
    path = "/api/projects/1/dashboards/7/collaborators/"
    added = await client.post(
        path, json={"user_uuid": str(world["bob"].uuid)}, headers=as_user(world["alice"])
    )
    assert added.status_code == 201
    listed = await client.get(path, headers=as_user(world["alice"]))
    assert [c["id"] for c in listed.json()] == [added.json()["id"]]


async def test_concurrent_duplicate_add_yields_one_201_and_one_400(client: Client, seed: Seed) -> None:
    world = await restricted_world(seed)
    responses = await asyncio.gather(
        *(add(client, as_user(world["alice"]), world["bob"].uuid) for _ in range(2))
    )
    assert sorted(r.status_code for r in responses) == [201, 400]
