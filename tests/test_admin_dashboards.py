"""SPEC §5.3.6 (dashboards) over HTTP, with §8 examples 5 and 6."""

import asyncio
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.fixtures.app import admin_headers
from tests.fixtures.seed import Seed, SeedUser, World

Client = AsyncTestClient[Litestar]
BASE = "/api/environments/1"
INHERENT = (
    "Cannot add collaborators that already have inherent access (the dashboard owner or a project admins)."
)


def as_user(user: SeedUser) -> dict[str, str]:
    return admin_headers(user.uuid)


def envelope(kind: str, code: str, detail: str, attr: str | None = None) -> dict[str, Any]:
    return {"type": kind, "code": code, "detail": detail, "attr": attr}


def denied(detail: str) -> dict[str, Any]:
    return envelope("authentication_error", "permission_denied", detail)


def invalid(detail: str, attr: str | None = None, code: str = "invalid_input") -> dict[str, Any]:
    return envelope("validation_error", code, detail, attr)


def user_basic(user: SeedUser) -> dict[str, Any]:
    return {
        "id": user.id, "uuid": str(user.uuid), "distinct_id": None, "first_name": user.name.capitalize(),
        "last_name": "", "email": f"{user.name}@example.com", "is_email_verified": False,
        "hedgehog_config": None,
    }  # fmt: skip


async def example_5(seed: Seed) -> World:
    """SPEC §8.5: dashboard 7 by Alice at 37, Bob privilege 37, features [dashboard_permissioning]."""
    world = await seed.spec_world(["dashboard_permissioning"])
    await seed.dashboard(1, 7, created_by=world["alice"], restriction_level=37)
    await seed.collaborator(1, 7, world["bob"], 37)
    return world


async def test_system_call_creates_a_dashboard_with_defaults_and_null_caller_fields(
    client: Client, seed: Seed
) -> None:
    world = await seed.spec_world()
    response = await client.post(
        f"{BASE}/dashboards/",
        json={"name": "Sales", "created_by": str(world["alice"].uuid)},
        headers=admin_headers(),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    created_at = body.pop("created_at")
    assert created_at.endswith("Z") or created_at.endswith("+00:00")
    assert body == {
        "id": 1, "name": "Sales", "created_by": user_basic(world["alice"]), "restriction_level": 21,
        "effective_restriction_level": 21, "effective_privilege_level": None, "user_access_level": None,
    }  # fmt: skip


async def test_assigned_dashboard_ids_exceed_every_existing_id(client: Client, seed: Seed) -> None:
    await seed.spec_world()
    await seed.dashboard(2, 40)
    response = await client.post(f"{BASE}/dashboards/", json={}, headers=admin_headers())
    assert (response.status_code, response.json()["id"]) == (201, 41)


async def test_acting_user_becomes_creator_and_gets_caller_fields(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["dashboard_permissioning"])
    response = await client.post(
        f"{BASE}/dashboards/", json={"name": "Mine", "restriction_level": 37}, headers=as_user(world["bob"])
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["created_by"] == user_basic(world["bob"])
    assert (body["restriction_level"], body["effective_restriction_level"]) == (37, 37)
    assert (body["effective_privilege_level"], body["user_access_level"]) == (37, "manager")


async def test_system_fields_sent_by_an_acting_user_are_read_only(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    for field, value in (("id", 5), ("created_by", str(world["bob"].uuid))):
        response = await client.post(
            f"{BASE}/dashboards/", json={field: value}, headers=as_user(world["bob"])
        )
        assert response.status_code == 400
        assert response.json() == invalid("This field can only be set by a system call.", field, "read_only")


async def test_existing_dashboard_id_is_a_unique_error(client: Client, seed: Seed) -> None:
    await seed.spec_world()
    await seed.dashboard(1, 7)
    response = await client.post(f"{BASE}/dashboards/", json={"id": 7}, headers=admin_headers())
    assert response.status_code == 400
    assert response.json() == invalid("A dashboard with this id already exists.", "id", "unique")


async def test_unknown_creator_is_does_not_exist(client: Client, seed: Seed) -> None:
    await seed.spec_world()
    unknown = "00000000-0000-4000-8000-0000000000ff"
    response = await client.post(f"{BASE}/dashboards/", json={"created_by": unknown}, headers=admin_headers())
    assert response.status_code == 400
    assert response.json() == invalid(
        f'Invalid pk "{unknown}" - object does not exist.', "created_by", "does_not_exist"
    )


async def test_bad_restriction_level_is_an_invalid_choice(client: Client, seed: Seed) -> None:
    await seed.spec_world()
    await seed.dashboard(1, 7)
    for method, path in (("POST", f"{BASE}/dashboards/"), ("PATCH", f"{BASE}/dashboards/7/")):
        response = await client.request(method, path, json={"restriction_level": 30}, headers=admin_headers())
        assert response.status_code == 400
        assert response.json() == invalid(
            '"30" is not a valid choice.', "restriction_level", "invalid_choice"
        )


async def test_malformed_bodies_get_the_validation_envelope(client: Client, seed: Seed) -> None:
    await seed.spec_world()
    await seed.dashboard(1, 7)
    create, template, move = (
        "/dashboards/",
        "/dashboards/create_from_template_json/",
        "/dashboards/7/move_tile/",
    )
    not_a_dict = "Invalid data. Expected a dictionary, but got {}."
    cases: list[tuple[str, str, Any, dict[str, Any]]] = [
        ("POST", create, [1], invalid(not_a_dict.format("list"), None, "invalid")),
        ("POST", create, {"nope": 1}, invalid("Unknown field.", "nope", "unknown_field")),
        (
            "POST",
            create,
            {"name": "x" * 401},
            invalid("Ensure this field has no more than 400 characters.", "name", "max_length"),
        ),
        (
            "POST",
            create,
            {"id": 0},
            invalid("Ensure this value is greater than or equal to 1.", "id", "min_value"),
        ),
        ("PATCH", "/dashboards/7/", {"name": 3}, invalid("Not a valid string.", "name", "invalid")),
        (
            "PATCH",
            "/dashboards/7/",
            {"restriction_level": None},
            invalid("This field may not be null.", "restriction_level", "null"),
        ),
        ("PATCH", move, {"toDashboard": 7}, invalid("This field is required.", "tile", "required")),
        (
            "PATCH",
            move,
            {"toDashboard": "x", "tile": {"id": 1}},
            invalid("A valid integer is required.", "toDashboard", "invalid"),
        ),
        (
            "PATCH",
            move,
            {"toDashboard": 7, "tile": {}},
            invalid("This field is required.", "tile__id", "required"),
        ),
        ("POST", template, {"template": {}, "name": "x"}, invalid("Unknown field.", "name", "unknown_field")),
        ("POST", template, {}, invalid("This field is required.", "template", "required")),
        ("POST", template, {"template": 1}, invalid(not_a_dict.format("int"), "template", "invalid")),
    ]
    for method, path, payload, expected in cases:
        response = await client.request(method, BASE + path, json=payload, headers=admin_headers())
        assert (response.status_code, response.json()) == (400, expected), (method, path, payload)
    parse = await client.post(f"{BASE}/dashboards/", content=b"{", headers=admin_headers())
    assert (parse.status_code, parse.json()["code"]) == (400, "parse_error")


async def test_retrieve_update_and_delete(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    await seed.dashboard(1, 7, created_by=world["alice"])
    got = await client.get(f"{BASE}/dashboards/7/", headers=as_user(world["dan"]))
    assert got.status_code == 200
    assert (got.json()["user_access_level"], got.json()["effective_privilege_level"]) == ("editor", 37)
    patched = await client.patch(
        f"{BASE}/dashboards/7/",
        json={"name": "Renamed", "effective_restriction_level": 99, "user_access_level": "x", "id": 3},
        headers=as_user(world["dan"]),
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["id"], patched.json()["name"]) == (7, "Renamed")
    put = await client.put(f"{BASE}/dashboards/7/", json={"name": None}, headers=admin_headers())
    assert (put.status_code, put.json()["name"]) == (200, None)
    deleted = await client.delete(f"{BASE}/dashboards/7/", headers=as_user(world["alice"]))
    assert deleted.status_code == 204
    missing = await client.get(f"{BASE}/dashboards/7/", headers=admin_headers())
    assert (missing.status_code, missing.json()["detail"]) == (404, "Not found.")


async def test_deleting_a_dashboard_deletes_its_collaborators_and_object_rows(
    client: Client, seed: Seed
) -> None:
    world = await seed.spec_world(["advanced_permissions"])
    await seed.dashboard(1, 7, created_by=world["alice"], restriction_level=37)
    await seed.collaborator(1, 7, world["bob"])
    await seed.access_control(1, "dashboard", 7, "none", member=world.memberships["dan"])
    assert (await client.delete(f"{BASE}/dashboards/7/", headers=admin_headers())).status_code == 204
    left = await seed.execute(
        """SELECT (SELECT count(*) FROM dashboard_privileges) + (SELECT count(*) FROM access_controls)"""
    )
    assert left == 0


async def test_projects_prefix_is_an_alias(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    created = await client.post(
        "/api/projects/1/dashboards/", json={"name": "A"}, headers=as_user(world["bob"])
    )
    assert created.status_code == 201
    got = await client.get(
        f"/api/projects/1/dashboards/{created.json()['id']}", headers=as_user(world["bob"])
    )
    assert (
        got.json()
        == (
            await client.get(f"{BASE}/dashboards/{created.json()['id']}/", headers=as_user(world["bob"]))
        ).json()
    )


async def test_list_is_paginated(client: Client, seed: Seed) -> None:
    await seed.spec_world()
    for dashboard_id in (3, 1, 2):
        await seed.dashboard(1, dashboard_id)
    await seed.dashboard(2, 9)
    first = await client.get(f"{BASE}/dashboards/?limit=2", headers=admin_headers())
    assert first.status_code == 200
    body = first.json()
    assert (body["count"], [d["id"] for d in body["results"]]) == (3, [1, 2])
    assert body["previous"] is None
    assert body["next"].startswith(f"{BASE}/dashboards")
    assert body["next"].endswith("?limit=2&offset=2")
    second = await client.get(body["next"], headers=admin_headers())
    assert [d["id"] for d in second.json()["results"]] == [3]
    assert second.json()["previous"].endswith("?limit=2&offset=0")
    bad = await client.get(f"{BASE}/dashboards/?limit=0", headers=admin_headers())
    assert bad.json() == invalid("Ensure this value is greater than or equal to 1.", "limit", "min_value")


async def test_list_is_filtered_for_acting_users(client: Client, seed: Seed) -> None:
    """SPEC §8.7's list: a member row `none` on dashboard 8 hides it from Bob."""
    world = await seed.spec_world(["advanced_permissions"])
    await seed.access_control(1, "dashboard", None, "editor")
    for dashboard_id in (8, 9):
        await seed.dashboard(1, dashboard_id)
    await seed.access_control(1, "dashboard", 8, "none", member=world.memberships["bob"])
    bob = await client.get(f"{BASE}/dashboards/", headers=as_user(world["bob"]))
    assert [d["id"] for d in bob.json()["results"]] == [9]
    system = await client.get(f"{BASE}/dashboards/", headers=admin_headers())
    assert [d["id"] for d in system.json()["results"]] == [8, 9]


async def test_list_keeps_own_dashboards_and_honours_admin_include_all(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["advanced_permissions"])
    await seed.access_control(1, "dashboard", None, "none")
    await seed.dashboard(1, 1, created_by=world["bob"])
    await seed.dashboard(1, 2)
    await seed.dashboard(1, 3)
    await seed.access_control(1, "dashboard", 3, "viewer", member=world.memberships["bob"])
    bob = await client.get(f"{BASE}/dashboards/", headers=as_user(world["bob"]))
    assert [d["id"] for d in bob.json()["results"]] == [1, 3]
    await seed.access_control(1, "dashboard", 2, "none", member=world.memberships["carol"])
    carol = await client.get(f"{BASE}/dashboards/", headers=as_user(world["carol"]))
    assert [d["id"] for d in carol.json()["results"]] == [1, 3]
    every = await client.get(f"{BASE}/dashboards/?admin_include_all=true", headers=as_user(world["carol"]))
    assert [d["id"] for d in every.json()["results"]] == [1, 2, 3]
    bad = await client.get(f"{BASE}/dashboards/?admin_include_all=maybe", headers=as_user(world["carol"]))
    assert bad.json() == invalid("Must be a valid boolean.", "admin_include_all", "invalid")


async def test_example_5_collaborator_and_restricted_dashboard(client: Client, seed: Seed) -> None:
    world = await example_5(seed)
    bob = (await client.get(f"{BASE}/dashboards/7/", headers=as_user(world["bob"]))).json()
    assert (bob["effective_restriction_level"], bob["effective_privilege_level"]) == (37, 37)
    dan = await client.get(f"{BASE}/dashboards/7/", headers=as_user(world["dan"]))
    assert dan.status_code == 200
    assert (dan.json()["effective_restriction_level"], dan.json()["effective_privilege_level"]) == (37, 21)
    dan_patch = await client.patch(f"{BASE}/dashboards/7/", json={"name": "x"}, headers=as_user(world["dan"]))
    assert (dan_patch.status_code, dan_patch.json()) == (
        403,
        denied("You don't have edit permissions for this dashboard."),
    )
    bob_rename = await client.patch(
        f"{BASE}/dashboards/7/", json={"name": "x"}, headers=as_user(world["bob"])
    )
    assert bob_rename.status_code == 200
    bob_restrict = await client.patch(
        f"{BASE}/dashboards/7/", json={"restriction_level": 21}, headers=as_user(world["bob"])
    )
    assert (bob_restrict.status_code, bob_restrict.json()) == (403, denied(
        "Only the dashboard owner and project admins have the restriction rights required to change "
        "the dashboard's restriction level."
    ))  # fmt: skip


async def test_example_6_creator_lowers_the_restriction(client: Client, seed: Seed) -> None:
    world = await example_5(seed)
    alice = as_user(world["alice"])
    inherent = await client.post(
        f"{BASE}/dashboards/7/collaborators/", json={"user_uuid": str(world["alice"].uuid)}, headers=alice
    )
    assert (inherent.status_code, inherent.json()) == (400, invalid(INHERENT))
    lowered = await client.patch(f"{BASE}/dashboards/7/", json={"restriction_level": 21}, headers=alice)
    assert lowered.status_code == 200
    assert (lowered.json()["restriction_level"], lowered.json()["effective_restriction_level"]) == (21, 21)
    any_add = await client.post(
        f"{BASE}/dashboards/7/collaborators/", json={"user_uuid": str(world["dan"].uuid)}, headers=alice
    )
    assert (any_add.status_code, any_add.json()) == (
        400,
        invalid("Cannot add collaborators to a dashboard on the lowest restriction level."),
    )


async def test_restriction_is_ignored_without_the_feature(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    await seed.dashboard(1, 7, created_by=world["alice"], restriction_level=37)
    dan = await client.patch(f"{BASE}/dashboards/7/", json={"name": "y"}, headers=as_user(world["dan"]))
    assert dan.status_code == 200
    assert (dan.json()["restriction_level"], dan.json()["effective_restriction_level"]) == (37, 21)


async def test_non_members_and_hidden_projects_are_refused(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["advanced_permissions"])
    await seed.dashboard(1, 7)
    await seed.access_control(1, "project", 1, "none")
    outsider = await seed.user("eve")
    bob = await client.get(f"{BASE}/dashboards/", headers=as_user(world["bob"]))
    assert (bob.status_code, bob.json()) == (403, denied("You don't have access to the project."))
    eve = await client.get(f"{BASE}/dashboards/7/", headers=as_user(outsider))
    assert (eve.status_code, eve.json()) == (403, denied("You don't have access to the project."))
    missing = await client.get("/api/environments/99/dashboards/", headers=admin_headers())
    assert (missing.status_code, missing.json()["detail"]) == (404, "Project not found.")


async def test_resource_wide_viewer_cannot_create(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["advanced_permissions"])
    await seed.access_control(1, "dashboard", None, "viewer")
    for path in ("/dashboards/", "/dashboards/create_from_template_json/"):
        payload: dict[str, Any] = {"template": {}} if "template" in path else {}
        response = await client.post(BASE + path, json=payload, headers=as_user(world["bob"]))
        assert (response.status_code, response.json()) == (
            403,
            denied("You do not have editor access to this resource."),
        )


async def test_create_from_template_json(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    await seed.dashboard(1, 4)
    response = await client.post(
        f"{BASE}/dashboards/create_from_template_json/",
        json={"template": {"template_name": "Web", "tiles": []}},
        headers=as_user(world["dan"]),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["id"], body["name"], body["created_by"]["uuid"]) == (5, "Web", str(world["dan"].uuid))
    assert body["restriction_level"] == 21


async def test_move_tile_checks_both_dashboards(client: Client, seed: Seed) -> None:
    world = await example_5(seed)
    await seed.dashboard(1, 10, created_by=world["alice"], restriction_level=37)
    tile = {"id": 1}
    ok = await client.patch(
        f"{BASE}/dashboards/7/move_tile/",
        json={"toDashboard": 7, "tile": tile},
        headers=as_user(world["bob"]),
    )
    assert (ok.status_code, ok.json()["id"]) == (200, 7)
    destination = await client.patch(
        f"{BASE}/dashboards/7/move_tile/",
        json={"toDashboard": 10, "tile": tile},
        headers=as_user(world["bob"]),
    )
    assert (destination.status_code, destination.json()) == (
        403,
        denied("You don't have edit permissions for the destination dashboard."),
    )
    source = await client.patch(
        f"{BASE}/dashboards/7/move_tile/",
        json={"toDashboard": 10, "tile": tile},
        headers=as_user(world["dan"]),
    )
    assert (source.status_code, source.json()) == (
        403,
        denied("You don't have edit permissions for this dashboard."),
    )
    missing = await client.patch(
        f"{BASE}/dashboards/7/move_tile/",
        json={"toDashboard": 99, "tile": tile},
        headers=as_user(world["alice"]),
    )
    assert (missing.status_code, missing.json()["detail"]) == (404, "Not found.")
    system_missing = await client.patch(
        f"{BASE}/dashboards/7/move_tile/", json={"toDashboard": 99, "tile": tile}, headers=admin_headers()
    )
    assert system_missing.status_code == 404
    system = await client.patch(
        f"{BASE}/dashboards/7/move_tile/", json={"toDashboard": 10, "tile": tile}, headers=admin_headers()
    )
    assert (system.status_code, system.json()["effective_privilege_level"]) == (200, None)


async def test_move_tile_needs_editor_on_the_destination(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["advanced_permissions"])
    await seed.dashboard(1, 7)
    await seed.dashboard(1, 8)
    await seed.access_control(1, "dashboard", 8, "viewer", member=world.memberships["bob"])
    response = await client.patch(
        f"{BASE}/dashboards/7/move_tile/",
        json={"toDashboard": 8, "tile": {"id": 1}},
        headers=as_user(world["bob"]),
    )
    assert (response.status_code, response.json()) == (
        403,
        denied("You do not have editor access to this resource."),
    )


async def test_concurrent_duplicate_create_yields_one_201_and_one_400(client: Client, seed: Seed) -> None:
    await seed.spec_world()
    responses = await asyncio.gather(
        *(client.post(f"{BASE}/dashboards/", json={"id": 12}, headers=admin_headers()) for _ in range(2))
    )
    assert sorted(r.status_code for r in responses) == [201, 400]
    refused = next(r for r in responses if r.status_code == 400)
    assert refused.json() == invalid("A dashboard with this id already exists.", "id", "unique")


async def test_writes_take_one_revision_and_failures_none(client: Client, seed: Seed) -> None:
    await seed.spec_world()
    created = await client.post(f"{BASE}/dashboards/", json={"id": 3}, headers=admin_headers())
    refused = await client.post(f"{BASE}/dashboards/", json={"id": 3}, headers=admin_headers())
    assert refused.headers["X-Acl-Revision"] == created.headers["X-Acl-Revision"]
    patched = await client.patch(f"{BASE}/dashboards/3/", json={"name": "n"}, headers=admin_headers())
    assert int(patched.headers["X-Acl-Revision"]) == int(created.headers["X-Acl-Revision"]) + 1


async def test_path_parameters_are_validated_and_authentication_comes_first(
    client: Client, seed: Seed
) -> None:
    await seed.spec_world()
    not_integer = await client.get(f"{BASE}/dashboards/abc/", headers=admin_headers())
    assert (not_integer.status_code, not_integer.json()) == (
        400,
        invalid("A valid integer is required.", "id", "invalid"),
    )
    zero = await client.get(f"{BASE}/dashboards/0/", headers=admin_headers())
    assert (zero.status_code, zero.json()["code"], zero.json()["attr"]) == (400, "min_value", "id")
    anonymous = await client.get(f"{BASE}/dashboards/abc/")
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "not_authenticated")


async def test_keys_follow_the_route_scopes(client: Client, seed: Seed) -> None:
    """SPEC §8.9: a `dashboard:read` key reads, cannot write, and cannot move tiles at all."""
    world = await seed.spec_world()
    await seed.dashboard(1, 7, created_by=world["alice"])
    key = {"Authorization": f"Bearer {await seed.personal_api_key(world['alice'], ['dashboard:read'])}"}
    assert (await client.get(f"{BASE}/dashboards/7/", headers=key)).status_code == 200
    patch = await client.patch(f"{BASE}/dashboards/7/", json={"name": "x"}, headers=key)
    assert (patch.status_code, patch.json()) == (
        403,
        denied("API key missing required scope 'dashboard:write'"),
    )
    move = await client.patch(
        f"{BASE}/dashboards/7/move_tile/", json={"toDashboard": 7, "tile": {"id": 1}}, headers=key
    )
    assert (move.status_code, move.json()) == (
        403,
        denied("This action does not support Personal API Key access"),
    )
