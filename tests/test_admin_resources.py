"""SPEC §5.3.8 (generic resources) over HTTP, with §8 example 12 (an insight on dashboards)."""

import asyncio
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.fixtures.app import admin_headers
from tests.fixtures.seed import Seed, SeedUser

Client = AsyncTestClient[Litestar]
BASE = "/api/environments/1"
RESOURCES = f"{BASE}/resources/"
CEI_DENIED = (
    "This insight is on a dashboard that can only be edited by its owner, team members invited to "
    "editing the dashboard, and project admins."
)


def as_user(user: SeedUser) -> dict[str, str]:
    return admin_headers(user.uuid)


def invalid(detail: str, attr: str | None, code: str = "invalid_input") -> dict[str, Any]:
    return {"type": "validation_error", "code": code, "detail": detail, "attr": attr}


def denied(detail: str) -> dict[str, Any]:
    return {"type": "authentication_error", "code": "permission_denied", "detail": detail, "attr": None}


async def test_system_upsert_creates_then_updates_keeping_absent_fields(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    created = await client.post(
        RESOURCES,
        json={
            "resource": "notebook",
            "resource_id": "n-17",
            "name": "Notes",
            "created_by": str(world["dan"].uuid),
        },
        headers=admin_headers(),
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == {
        "resource", "resource_id", "name", "created_by", "created_at", "user_access_level", "access_source"
    }  # fmt: skip
    assert (body["resource"], body["resource_id"], body["name"]) == ("notebook", "n-17", "Notes")
    assert body["created_by"]["uuid"] == str(world["dan"].uuid)
    assert (body["user_access_level"], body["access_source"]) == (None, None)
    updated = await client.post(
        RESOURCES, json={"resource": "notebook", "resource_id": "n-17"}, headers=admin_headers()
    )
    assert updated.status_code == 200
    assert (updated.json()["name"], updated.json()["created_by"]["uuid"]) == ("Notes", str(world["dan"].uuid))
    cleared = await client.post(
        RESOURCES,
        json={"resource": "notebook", "resource_id": "n-17", "created_by": None, "name": None},
        headers=admin_headers(),
    )
    assert (cleared.status_code, cleared.json()["created_by"], cleared.json()["name"]) == (200, None, None)


async def test_system_upsert_of_a_dashboard_keeps_its_restriction(client: Client, seed: Seed) -> None:
    await seed.spec_world(["dashboard_permissioning"])
    first = await client.post(
        RESOURCES, json={"resource": "dashboard", "resource_id": "7"}, headers=admin_headers()
    )
    assert (first.status_code, first.json()["restriction_level"]) == (201, 21)
    restricted = await client.post(
        RESOURCES,
        json={"resource": "dashboard", "resource_id": "7", "restriction_level": 37},
        headers=admin_headers(),
    )
    assert (restricted.status_code, restricted.json()["restriction_level"]) == (200, 37)
    again = await client.post(
        RESOURCES, json={"resource": "dashboard", "resource_id": "7", "name": "D"}, headers=admin_headers()
    )
    assert (again.json()["restriction_level"], again.json()["name"]) == (37, "D")
    dashboard = await client.get(f"{BASE}/dashboards/7/", headers=admin_headers())
    assert dashboard.json()["effective_restriction_level"] == 37


async def test_acting_user_creates_and_becomes_creator(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    created = await client.post(
        RESOURCES, json={"resource": "feature_flag", "resource_id": "ff-1"}, headers=as_user(world["bob"])
    )
    assert created.status_code == 201
    assert created.json()["created_by"]["uuid"] == str(world["bob"].uuid)
    assert (created.json()["user_access_level"], created.json()["access_source"]) == ("manager", "creator")
    again = await client.post(
        RESOURCES, json={"resource": "feature_flag", "resource_id": "ff-1"}, headers=as_user(world["bob"])
    )
    assert (again.status_code, again.json()) == (
        400,
        invalid("A resource with this type and id already exists.", "resource_id", "unique"),
    )


async def test_acting_user_cannot_set_created_by(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    response = await client.post(
        RESOURCES,
        json={"resource": "notebook", "resource_id": "n-1", "created_by": str(world["dan"].uuid)},
        headers=as_user(world["bob"]),
    )
    assert response.json() == invalid(
        "This field can only be set by a system call.", "created_by", "read_only"
    )


async def test_resource_choice(client: Client, seed: Seed) -> None:
    await seed.spec_world()
    for resource in ("project", "organization", "widget"):
        response = await client.post(
            RESOURCES, json={"resource": resource, "resource_id": "1"}, headers=admin_headers()
        )
        assert (response.status_code, response.json()) == (
            400,
            invalid(f'"{resource}" is not a valid choice.', "resource", "invalid_choice"),
        )


async def test_body_is_validated_before_authorization(client: Client, seed: Seed) -> None:
    """Bob may not create feature flags, yet a malformed body is a 400, not a 403 (SPEC §5.1)."""
    world = await seed.spec_world(["advanced_permissions"])
    await seed.access_control(1, "feature_flag", None, "viewer")
    bob = as_user(world["bob"])
    bad = await client.post(RESOURCES, json={"resource": "widget", "resource_id": "1"}, headers=bob)
    assert bad.json() == invalid('"widget" is not a valid choice.', "resource", "invalid_choice")
    missing = await client.post(RESOURCES, json={"resource_id": "1"}, headers=bob)
    assert missing.json() == invalid("This field is required.", "resource", "required")
    in_missing_project = await client.post(
        "/api/environments/99/resources/", json={"resource": "widget", "resource_id": "1"}, headers=bob
    )
    assert in_missing_project.status_code == 400
    refused = await client.post(RESOURCES, json={"resource": "feature_flag", "resource_id": "1"}, headers=bob)
    assert (refused.status_code, refused.json()) == (
        403,
        denied("You do not have editor access to this resource."),
    )
    allowed = await client.post(RESOURCES, json={"resource": "notebook", "resource_id": "1"}, headers=bob)
    assert allowed.status_code == 201


async def test_create_authorizes_against_the_body_resource_for_keys(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    key = await seed.personal_api_key(world["bob"], ["notebook:write"])
    headers = {"Authorization": f"Bearer {key}"}
    allowed = await client.post(RESOURCES, json={"resource": "notebook", "resource_id": "n"}, headers=headers)
    assert allowed.status_code == 201
    refused = await client.post(RESOURCES, json={"resource": "survey", "resource_id": "s"}, headers=headers)
    assert (refused.status_code, refused.json()) == (
        403,
        denied("API key missing required scope 'survey:write'"),
    )


async def test_malformed_bodies(client: Client, seed: Seed) -> None:
    await seed.spec_world()
    notebook, dashboard, insight = (
        {"resource": "notebook", "resource_id": "n"},
        {"resource": "dashboard", "resource_id": "1"},
        {"resource": "insight", "resource_id": "i"},
    )
    bad_id = invalid("Enter a valid resource id.", "resource_id", "invalid")
    cases: list[tuple[Any, dict[str, Any]]] = [
        ({**notebook, "resource_id": "-x"}, bad_id),
        # A final newline passes Python's `$`, and the column's CHECK refused it with a 500.
        ({**notebook, "resource_id": "n\n"}, bad_id),
        ({**dashboard, "resource_id": "1\n"}, bad_id),
        (
            {**notebook, "resource_id": "x" * 37},
            invalid("Ensure this field has no more than 36 characters.", "resource_id", "max_length"),
        ),
        ({**dashboard, "resource_id": "07"}, bad_id),
        ({**dashboard, "resource_id": "9223372036854775808"}, bad_id),
        (
            {**notebook, "restriction_level": 37},
            invalid("Only dashboards have a restriction level.", "restriction_level"),
        ),
        (
            {**dashboard, "restriction_level": 5},
            invalid('"5" is not a valid choice.', "restriction_level", "invalid_choice"),
        ),
        (
            {**notebook, "dashboards": [1]},
            invalid("Only insights can be placed on dashboards.", "dashboards"),
        ),
        (
            {**insight, "dashboards": 1},
            invalid('Expected a list of items but got type "int".', "dashboards", "not_a_list"),
        ),
        (
            {**insight, "dashboards": [0]},
            invalid("Ensure this value is greater than or equal to 1.", "dashboards__0", "min_value"),
        ),
        ({**notebook, "created_by": "x"}, invalid("Must be a valid UUID.", "created_by", "invalid")),
        ({**notebook, "extra": 1}, invalid("Unknown field.", "extra", "unknown_field")),
        (
            {**notebook, "name": "\u0000"},
            invalid("Null characters are not allowed.", "name", "null_characters_not_allowed"),
        ),
        ([], invalid("Invalid data. Expected a dictionary, but got list.", None, "invalid")),
    ]
    for payload, expected in cases:
        response = await client.post(RESOURCES, json=payload, headers=admin_headers())
        assert (response.status_code, response.json()) == (400, expected), payload


async def test_unknown_dashboard_and_creator_are_does_not_exist(client: Client, seed: Seed) -> None:
    await seed.spec_world()
    await seed.dashboard(1, 7)
    await seed.dashboard(2, 8)
    response = await client.post(
        RESOURCES,
        json={"resource": "insight", "resource_id": "i", "dashboards": [7, 8]},
        headers=admin_headers(),
    )
    assert response.json() == invalid(
        'Invalid pk "8" - object does not exist.', "dashboards", "does_not_exist"
    )
    unknown = "00000000-0000-4000-8000-0000000000ff"
    creator = await client.post(
        RESOURCES,
        json={"resource": "insight", "resource_id": "i", "created_by": unknown},
        headers=admin_headers(),
    )
    assert creator.json() == invalid(
        f'Invalid pk "{unknown}" - object does not exist.', "created_by", "does_not_exist"
    )


async def test_dashboards_replace_an_insights_dashboard_set(client: Client, seed: Seed) -> None:
    await seed.spec_world()
    for dashboard_id in (7, 10, 11):
        await seed.dashboard(1, dashboard_id)
    first = await client.post(
        RESOURCES,
        json={"resource": "insight", "resource_id": "42", "dashboards": [10, 7]},
        headers=admin_headers(),
    )
    assert first.status_code == 201
    assert first.json()["dashboards"] == [7, 10]
    kept = await client.post(
        RESOURCES, json={"resource": "insight", "resource_id": "42"}, headers=admin_headers()
    )
    assert kept.json()["dashboards"] == [7, 10]
    replaced = await client.post(
        RESOURCES,
        json={"resource": "insight", "resource_id": "42", "dashboards": [11]},
        headers=admin_headers(),
    )
    assert replaced.json()["dashboards"] == [11]
    emptied = await client.post(
        RESOURCES,
        json={"resource": "insight", "resource_id": "42", "dashboards": []},
        headers=admin_headers(),
    )
    assert emptied.json()["dashboards"] == []


async def example_12(seed: Seed) -> dict[str, SeedUser]:
    """SPEC §8.12: insight 42 on dashboard 7 (37, by Alice) and 10 (21)."""
    world = await seed.spec_world(["dashboard_permissioning"])
    await seed.dashboard(1, 7, created_by=world["alice"], restriction_level=37)
    await seed.dashboard(1, 10, restriction_level=21)
    await seed.resource(1, "insight", "42")
    await seed.insight_on(1, "42", [7, 10])
    return world.users


async def test_example_12_insight_on_dashboards(client: Client, seed: Seed) -> None:
    users = await example_12(seed)
    path = f"{RESOURCES}insight/42/"
    dan = await client.get(path, headers=as_user(users["dan"]))
    assert dan.status_code == 200
    body = dan.json()
    assert (body["effective_restriction_level"], body["effective_privilege_level"]) == (37, 37)
    assert body["dashboards"] == [7, 10]
    system = await client.get(path, headers=admin_headers())
    assert (system.json()["effective_restriction_level"], system.json()["effective_privilege_level"]) == (
        37,
        None,
    )
    # With 10 at 37 too, Dan can edit neither dashboard; Alice, their creator, still can.
    await seed.execute(
        "UPDATE resources SET restriction_level = 37 WHERE resource = 'dashboard' AND resource_id = '10'"
    )
    dan = await client.get(path, headers=as_user(users["dan"]))
    assert (dan.json()["effective_restriction_level"], dan.json()["effective_privilege_level"]) == (37, 21)
    dan_delete = await client.delete(path, headers=as_user(users["dan"]))
    assert (dan_delete.status_code, dan_delete.json()) == (403, denied(CEI_DENIED))
    alice = await client.get(path, headers=as_user(users["alice"]))
    assert alice.json()["effective_privilege_level"] == 37


async def test_insight_without_dashboards_is_unrestricted(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["dashboard_permissioning"])
    await seed.resource(1, "insight", "1")
    body = (await client.get(f"{RESOURCES}insight/1/", headers=as_user(world["dan"]))).json()
    assert (body["dashboards"], body["effective_restriction_level"], body["effective_privilege_level"]) == (
        [],
        21,
        37,
    )


async def test_retrieve_and_delete(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["advanced_permissions"])
    await seed.resource(1, "notebook", "n-17", created_by=world["dan"], name="Plan")
    await seed.access_control(1, "notebook", "n-17", "none")
    await seed.access_control(1, "notebook", "n-17", "viewer", member=world.memberships["bob"])
    bob = await client.get(f"{RESOURCES}notebook/n-17/", headers=as_user(world["bob"]))
    assert bob.status_code == 200
    assert (bob.json()["name"], bob.json()["user_access_level"], bob.json()["access_source"]) == (
        "Plan",
        "viewer",
        "explicit_member",
    )
    alice = await client.get(f"{RESOURCES}notebook/n-17/", headers=as_user(world["alice"]))
    assert (alice.status_code, alice.json()) == (
        403,
        denied("You do not have viewer access to this resource."),
    )
    bob_delete = await client.delete(f"{RESOURCES}notebook/n-17/", headers=as_user(world["bob"]))
    assert (bob_delete.status_code, bob_delete.json()) == (
        403,
        denied("You do not have editor access to this resource."),
    )
    deleted = await client.delete(f"{RESOURCES}notebook/n-17/", headers=as_user(world["dan"]))
    assert deleted.status_code == 204
    rows = await seed.execute("SELECT count(*) FROM access_controls WHERE resource = 'notebook'")
    assert rows == 0
    gone = await client.get(f"{RESOURCES}notebook/n-17/", headers=admin_headers())
    assert (gone.status_code, gone.json()["detail"]) == (404, "Not found.")


async def test_dashboard_delete_through_resources_runs_ced(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["dashboard_permissioning"])
    await seed.dashboard(1, 7, created_by=world["alice"], restriction_level=37)
    dan = await client.delete(f"{RESOURCES}dashboard/7/", headers=as_user(world["dan"]))
    assert (dan.status_code, dan.json()) == (
        403,
        denied("You don't have edit permissions for this dashboard."),
    )
    got = await client.get(f"{RESOURCES}dashboard/7/", headers=as_user(world["dan"]))
    assert (got.status_code, got.json()["restriction_level"]) == (200, 37)
    assert "effective_restriction_level" not in got.json()


async def test_path_parameters_are_validated(client: Client, seed: Seed) -> None:
    await seed.spec_world()
    bad_type = await client.get(f"{RESOURCES}widget/1/", headers=admin_headers())
    assert (bad_type.status_code, bad_type.json()["attr"]) == (400, "resource")
    bad_id = await client.get(f"{RESOURCES}notebook/-x/", headers=admin_headers())
    assert (bad_id.status_code, bad_id.json()["detail"]) == (400, "Enter a valid resource id.")
    newline_id = await client.get(f"{RESOURCES}notebook/n%0A/", headers=admin_headers())
    assert (newline_id.status_code, newline_id.json()["detail"]) == (400, "Enter a valid resource id.")
    project_type = await client.get(f"{RESOURCES}project/1/", headers=admin_headers())
    assert project_type.status_code == 404


async def test_list_requires_a_valid_resource(client: Client, seed: Seed) -> None:
    await seed.spec_world()
    missing = await client.get(RESOURCES, headers=admin_headers())
    assert missing.json() == invalid("This field is required.", "resource", "required")
    for resource in ("project", "nope"):
        bad = await client.get(f"{RESOURCES}?resource={resource}", headers=admin_headers())
        assert bad.json() == invalid(f'"{resource}" is not a valid choice.', "resource", "invalid_choice")


async def test_list_is_filtered_and_paginated(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["advanced_permissions"])
    for notebook in ("a", "b", "c"):
        await seed.resource(1, "notebook", notebook)
    await seed.resource(1, "survey", "s")
    await seed.access_control(1, "notebook", "b", "none", member=world.memberships["bob"])
    bob = await client.get(f"{RESOURCES}?resource=notebook", headers=as_user(world["bob"]))
    assert bob.status_code == 200
    assert (bob.json()["count"], [r["resource_id"] for r in bob.json()["results"]]) == (2, ["a", "c"])
    system = await client.get(f"{RESOURCES}?resource=notebook&limit=2", headers=admin_headers())
    page = system.json()
    assert (page["count"], [r["resource_id"] for r in page["results"]]) == (3, ["a", "b"])
    assert page["next"].endswith("offset=2")
    rest = await client.get(page["next"], headers=admin_headers())
    assert [r["resource_id"] for r in rest.json()["results"]] == ["c"]


async def test_list_without_resource_access_shows_granted_and_own_objects(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["advanced_permissions"])
    await seed.access_control(1, "notebook", None, "none")
    await seed.resource(1, "notebook", "mine", created_by=world["bob"])
    await seed.resource(1, "notebook", "granted")
    await seed.resource(1, "notebook", "hidden")
    await seed.access_control(1, "notebook", "granted", "viewer", member=world.memberships["bob"])
    refused = await client.get(f"{RESOURCES}?resource=notebook", headers=as_user(world["bob"]))
    listed = refused.json()
    assert refused.status_code == 200, listed
    assert sorted(r["resource_id"] for r in listed["results"]) == ["granted", "mine"]


async def test_projects_prefix_is_an_alias(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    created = await client.post(
        "/api/projects/1/resources/",
        json={"resource": "survey", "resource_id": "s"},
        headers=as_user(world["bob"]),
    )
    assert created.status_code == 201
    got = await client.get("/api/projects/1/resources/survey/s/", headers=as_user(world["bob"]))
    assert got.json() == created.json()


async def test_concurrent_duplicate_create_yields_one_201_and_one_400(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    responses = await asyncio.gather(
        *(
            client.post(
                RESOURCES, json={"resource": "survey", "resource_id": "s"}, headers=as_user(world["bob"])
            )
            for _ in range(2)
        )
    )
    assert sorted(r.status_code for r in responses) == [201, 400]
    refused = next(r for r in responses if r.status_code == 400)
    assert refused.json()["code"] == "unique"
