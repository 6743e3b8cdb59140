"""SPEC §5.3.9 (access-control actions) and §8 examples 3, 4, 7, 8, 11, 14, 15, over HTTP."""

from typing import Any
from uuid import UUID, uuid4

from litestar import Litestar
from litestar.testing import AsyncTestClient

from acl_service.domain import SCOPE_OBJECTS
from tests.fixtures.app import admin_headers
from tests.fixtures.seed import Seed, SeedUser, World

Client = AsyncTestClient[Litestar]
P = "/api/environments/1"
RESOURCE_LEVELS = ["none", "viewer", "editor", "manager"]
MEMBER_LEVELS = ["none", "member", "admin"]


def acting(user: SeedUser) -> dict[str, str]:
    return admin_headers(user.uuid)


def error(status: int, detail: str) -> tuple[int, str]:
    return status, detail


async def refused(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["detail"]


def envelope(code: str, detail: str, attr: str | None) -> dict[str, Any]:
    return {"type": "validation_error", "code": code, "detail": detail, "attr": attr}


# -- GET shapes ------------------------------------------------------------------------------------


async def test_project_access_controls_get_shape_for_system_and_acting_users(
    client: Client, seed: Seed
) -> None:
    world = await seed.spec_world(["advanced_permissions"])
    await seed.access_control(1, "project", 1, "admin", member=world.memberships["alice"])
    await seed.access_control(1, "notebook", None, "viewer")  # resource-wide: not a project row

    system = await client.get(f"{P}/access_controls/", headers=admin_headers())
    assert system.status_code == 200
    body = system.json()
    row = body["access_controls"][0]
    assert set(row) == {
        "access_level", "resource", "resource_id", "organization_member", "role", "created_by",
        "created_at", "updated_at",
    }  # fmt: skip
    assert (row["access_level"], row["resource"], row["resource_id"]) == ("admin", "project", "1")
    assert (row["organization_member"], row["role"], row["created_by"]) == (
        str(world.memberships["alice"]),
        None,
        None,
    )
    assert row["created_at"].endswith("Z")
    assert len(body["access_controls"]) == 1
    assert body["available_access_levels"] == MEMBER_LEVELS
    assert body["default_access_level"] == "admin"
    assert (body["user_access_level"], body["user_can_edit_access_levels"]) == (None, None)

    alice = (await client.get(f"{P}/access_controls/", headers=acting(world["alice"]))).json()
    assert (alice["user_access_level"], alice["user_can_edit_access_levels"]) == ("admin", True)
    bob = (await client.get("/api/projects/1/access_controls/", headers=acting(world["bob"]))).json()
    assert (bob["user_access_level"], bob["user_can_edit_access_levels"]) == ("admin", False)


async def test_resource_access_controls_and_alias_list_every_resource_wide_row(
    client: Client, seed: Seed
) -> None:
    world = await seed.spec_world(["advanced_permissions"])
    await seed.access_control(1, "notebook", None, "viewer")
    await seed.access_control(1, "dashboard", None, "editor", member=world.memberships["bob"])
    await seed.access_control(1, "notebook", "n-1", "none")  # an object row: not listed
    await seed.access_control(2, "notebook", None, "none")  # another project: not listed
    for path in ("resource_access_controls", "global_access_controls"):
        response = await client.get(f"/api/projects/1/{path}/", headers=acting(world["carol"]))
        assert response.status_code == 200
        body = response.json()
        listed = {
            (row["resource"], row["resource_id"], row["access_level"]) for row in body["access_controls"]
        }
        assert listed == {("notebook", None, "viewer"), ("dashboard", None, "editor")}
        assert body["available_access_levels"] == RESOURCE_LEVELS
        assert body["default_access_level"] == "editor"
        assert (body["user_access_level"], body["user_can_edit_access_levels"]) == ("admin", True)
    bob = (await client.get(f"{P}/resource_access_controls/", headers=acting(world["bob"]))).json()
    assert (bob["user_access_level"], bob["user_can_edit_access_levels"]) == ("admin", False)


async def test_dashboard_access_controls_show_the_object_rows_and_the_callers_levels(
    client: Client, seed: Seed
) -> None:
    world = await seed.spec_world(["advanced_permissions"])
    await seed.dashboard(1, 7, created_by=world["dan"])
    await seed.access_control(1, "dashboard", 7, "viewer", member=world.memberships["bob"])
    await seed.access_control(1, "dashboard", None, "manager")  # resource-wide: not an object row
    dan = (await client.get(f"{P}/dashboards/7/access_controls/", headers=acting(world["dan"]))).json()
    assert [(r["resource"], r["resource_id"], r["access_level"]) for r in dan["access_controls"]] == [
        ("dashboard", "7", "viewer")
    ]
    assert (dan["available_access_levels"], dan["default_access_level"]) == (RESOURCE_LEVELS, "editor")
    assert (dan["user_access_level"], dan["user_can_edit_access_levels"]) == ("manager", True)
    bob = (await client.get(f"{P}/dashboards/7/access_controls/", headers=acting(world["bob"]))).json()
    assert (bob["user_access_level"], bob["user_can_edit_access_levels"]) == ("viewer", False)
    alice = (await client.get(f"{P}/dashboards/7/access_controls/", headers=acting(world["alice"]))).json()
    # The resource-wide default row applies to Alice, who has no row on the dashboard itself.
    assert (alice["user_access_level"], alice["user_can_edit_access_levels"]) == ("manager", True)


async def test_levels_lists_and_defaults_come_from_the_resource_type(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["advanced_permissions"])
    await seed.resource(1, "activity_log", "a-1")
    await seed.resource(1, "session_recording_playlist", "p-1")
    activity = await client.get(f"{P}/resources/activity_log/a-1/access_controls/", headers=admin_headers())
    assert activity.json()["default_access_level"] == "viewer"
    playlist = await client.get(
        f"{P}/resources/session_recording_playlist/p-1/access_controls/", headers=acting(world["bob"])
    )
    assert (playlist.json()["available_access_levels"], playlist.json()["default_access_level"]) == (
        RESOURCE_LEVELS,
        "editor",
    )


async def test_dashboard_global_access_controls_serve_the_resource_wide_dashboard_rows(
    client: Client, seed: Seed
) -> None:
    world = await seed.spec_world(["advanced_permissions"])
    await seed.dashboard(1, 7)
    await seed.access_control(1, "dashboard", None, "viewer")
    await seed.access_control(1, "dashboard", 7, "manager", member=world.memberships["bob"])
    await seed.access_control(1, "notebook", None, "none")
    bob = await client.get(f"{P}/dashboards/7/global_access_controls/", headers=acting(world["bob"]))
    assert bob.status_code == 200
    body = bob.json()
    assert [(r["resource"], r["resource_id"], r["access_level"]) for r in body["access_controls"]] == [
        ("dashboard", None, "viewer")
    ]
    assert (body["available_access_levels"], body["default_access_level"]) == (RESOURCE_LEVELS, "editor")
    # resource_access_level(dashboard), not the object level (manager) of dashboard 7.
    assert (body["user_access_level"], body["user_can_edit_access_levels"]) == ("viewer", False)

    put = await client.put(
        f"{P}/dashboards/7/global_access_controls/",
        json={"access_level": "editor", "resource": "notebook", "resource_id": "x"},
        headers=acting(world["carol"]),
    )
    assert put.status_code == 200
    assert (put.json()["resource"], put.json()["resource_id"], put.json()["access_level"]) == (
        "dashboard",
        None,
        "editor",
    )
    refused_put = await client.put(
        f"{P}/dashboards/7/global_access_controls/",
        json={"access_level": "none"},
        headers=acting(world["bob"]),
    )
    assert await refused(refused_put) == error(
        403, "Must be an Organization admin to modify project-wide permissions."
    )
    missing = await client.get(f"{P}/dashboards/99/global_access_controls/", headers=acting(world["carol"]))
    assert await refused(missing) == error(404, "Not found.")


# -- PUT: upsert and delete ----------------------------------------------------------------------------


async def test_put_upserts_one_row_per_subject_and_null_deletes(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["advanced_permissions"])
    bob = str(world.memberships["bob"])
    url = f"{P}/access_controls/"
    created = await client.put(
        url, json={"organization_member": bob, "access_level": "member"}, headers=acting(world["carol"])
    )
    assert created.status_code == 200
    assert created.json()["created_by"] == world["carol"].id
    assert set(created.json()) == {
        "access_level", "resource", "resource_id", "organization_member", "role", "created_by",
        "created_at", "updated_at",
    }  # fmt: skip
    updated = await client.put(
        url, json={"organization_member": bob, "access_level": "admin"}, headers=admin_headers()
    )
    assert (updated.status_code, updated.json()["access_level"]) == (200, "admin")
    assert updated.json()["created_by"] == world["carol"].id  # the row's creator stays
    default = await client.put(url, json={"access_level": "none"}, headers=admin_headers())
    assert (default.json()["organization_member"], default.json()["role"]) == (None, None)
    rows = (await client.get(url, headers=admin_headers())).json()["access_controls"]
    assert sorted(
        (r["organization_member"], r["access_level"]) for r in rows if r["organization_member"]
    ) == [(bob, "admin")]
    assert len(rows) == 2

    deleted = await client.put(
        url, json={"organization_member": bob, "access_level": None}, headers=admin_headers()
    )
    assert (deleted.status_code, deleted.content) == (204, b"")
    again = await client.put(
        url, json={"organization_member": bob, "access_level": None}, headers=admin_headers()
    )
    assert again.status_code == 204
    rows = (await client.get(url, headers=admin_headers())).json()["access_controls"]
    assert [(r["organization_member"], r["access_level"]) for r in rows] == [(None, "none")]


async def test_put_reports_the_revision_it_wrote(client: Client, seed: Seed) -> None:
    """SPEC §8 example 11, instance A's side."""
    world = await seed.spec_world(["access_control"])
    before = await client.get(f"{P}/access_controls/", headers=admin_headers())
    response = await client.put(
        f"{P}/access_controls/",
        json={"organization_member": str(world.memberships["bob"]), "access_level": "none"},
        headers=admin_headers(),
    )
    assert response.status_code == 200
    assert int(response.headers["X-Acl-Revision"]) == int(before.headers["X-Acl-Revision"]) + 1
    users = (await client.get(f"{P}/users_with_access/", headers=admin_headers())).json()["users"]
    assert str(world["bob"].uuid) not in {u["user_id"] for u in users}


async def test_object_put_takes_the_target_from_the_url(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["advanced_permissions"])
    await seed.resource(1, "notebook", "n-1", created_by=world["dan"])
    response = await client.put(
        "/api/projects/1/resources/notebook/n-1/access_controls/",
        json={"access_level": "viewer", "resource": "dashboard", "resource_id": "other",
              "created_by": 5, "created_at": "x", "updated_at": "y"},
        headers=acting(world["dan"]),
    )  # fmt: skip
    assert response.status_code == 200
    assert (response.json()["resource"], response.json()["resource_id"]) == ("notebook", "n-1")
    assert response.json()["created_by"] == world["dan"].id


async def test_resource_access_controls_put_writes_resource_wide_rows(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["advanced_permissions"])
    response = await client.put(
        f"{P}/global_access_controls/",
        json={"resource": "feature_flag", "access_level": "viewer", "resource_id": None},
        headers=acting(world["carol"]),
    )
    assert response.status_code == 200
    assert (response.json()["resource"], response.json()["resource_id"]) == ("feature_flag", None)
    level = await client.get(
        f"{P}/dashboards/1/access_controls/", headers=acting(world["bob"])
    )  # unknown dashboard
    assert level.status_code == 404


async def test_role_rows_are_accepted_without_role_based_access(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["advanced_permissions"])
    role = await seed.role(world.organization, "Eng", [(world["bob"], world.memberships["bob"])])
    response = await client.put(
        f"{P}/resource_access_controls/",
        json={"resource": "notebook", "role": str(role), "access_level": "none"},
        headers=acting(world["carol"]),
    )
    assert response.status_code == 200
    assert (response.json()["role"], response.json()["organization_member"]) == (str(role), None)


# -- PUT validation, in order ----------------------------------------------------------------------------


async def test_put_validation_messages(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["advanced_permissions"])
    await seed.resource(1, "notebook", "n-1")
    await seed.resource(1, "action", "a-1")
    await seed.resource(1, "activity_log", "l-1")
    other_org = await seed.organization(name="Other")
    stranger = await seed.user("stranger")
    stranger_membership = await seed.member(other_org, stranger)
    other_role = await seed.role(other_org, "Elsewhere")
    role = await seed.role(world.organization, "Eng")
    unknown = uuid4()
    system = admin_headers()

    async def put(path: str, body: dict[str, Any]) -> Any:
        response = await client.put(f"{P}/{path}/", json=body, headers=system)
        assert response.status_code == 400, response.text
        return response.json()

    resources = ", ".join(repr(name) for name in SCOPE_OBJECTS)
    assert await put("resource_access_controls", {"resource": "nope", "access_level": "viewer"}) == envelope(
        "invalid_input", f"Invalid resource. Must be one of: ({resources})", "resource"
    )
    assert f"{SCOPE_OBJECTS}" == f"({resources})"
    assert await put("access_controls", {"access_level": "viewer"}) == envelope(
        "invalid_input", "Invalid access level. Must be one of: none, member, admin", "access_level"
    )
    assert await put("resources/notebook/n-1/access_controls", {"access_level": "admin"}) == envelope(
        "invalid_input", "Invalid access level. Must be one of: none, viewer, editor, manager", "access_level"
    )
    assert await put("resources/action/a-1/access_controls", {"access_level": "none"}) == envelope(
        "invalid_input", "Access level cannot be set below the minimum 'viewer' for action.", "access_level"
    )
    assert await put("resources/activity_log/l-1/access_controls", {"access_level": "editor"}) == envelope(
        "invalid_input",
        "Access level cannot be set above the maximum 'viewer' for activity_log.",
        "access_level",
    )
    assert await put(
        "resource_access_controls", {"resource": "activity_log", "access_level": "manager"}
    ) == envelope(
        "invalid_input",
        "Access level cannot be set above the maximum 'viewer' for activity_log.",
        "access_level",
    )
    assert await put(
        "access_controls", {"access_level": "member", "organization_member": str(unknown)}
    ) == envelope("does_not_exist", f'Invalid pk "{unknown}" - object does not exist.', "organization_member")
    assert await put("access_controls", {"access_level": "member", "role": str(unknown)}) == envelope(
        "does_not_exist", f'Invalid pk "{unknown}" - object does not exist.', "role"
    )
    assert await put(
        "access_controls", {"access_level": "member", "organization_member": str(stranger_membership)}
    ) == envelope(
        "invalid_input",
        "The member must belong to the same organization as this project.",
        "organization_member",
    )
    assert await put("access_controls", {"access_level": "member", "role": str(other_role)}) == envelope(
        "invalid_input", "The role must belong to the same organization as this project.", "role"
    )
    both = {"access_level": "member", "organization_member": str(world.memberships["bob"]), "role": str(role)}
    assert await put("access_controls", both) == envelope(
        "invalid_input", "You can not scope an access control to both a member and a role.", None
    )
    scoped = await client.put(
        f"{P}/resource_access_controls/",
        json={"resource": "notebook", "resource_id": "n-1", "access_level": "viewer"},
        headers=system,
    )
    assert scoped.status_code == 403
    assert scoped.json() == {
        "type": "authentication_error", "code": "permission_denied",
        "detail": "Cannot modify access controls for a resource different from the URL target.", "attr": None,
    }  # fmt: skip


async def test_put_body_problems_use_the_bad_input_envelopes(client: Client, seed: Seed) -> None:
    await seed.spec_world(["advanced_permissions"])
    system = admin_headers()
    missing = await client.put(f"{P}/access_controls/", json={}, headers=system)
    assert missing.json() == envelope("required", "This field is required.", "access_level")
    no_resource = await client.put(
        f"{P}/resource_access_controls/", json={"access_level": "viewer"}, headers=system
    )
    assert no_resource.json() == envelope("required", "This field is required.", "resource")
    bad_uuid = await client.put(
        f"{P}/access_controls/", json={"access_level": "member", "role": "nope"}, headers=system
    )
    assert bad_uuid.json() == envelope("invalid", "Must be a valid UUID.", "role")
    unknown = await client.put(
        f"{P}/access_controls/", json={"access_level": "member", "x": 1}, headers=system
    )
    assert unknown.json() == envelope("unknown_field", "Unknown field.", "x")
    not_string = await client.put(f"{P}/access_controls/", json={"access_level": 3}, headers=system)
    assert not_string.json() == envelope("invalid", "Not a valid string.", "access_level")


async def test_validation_precedes_the_modify_rule_and_follows_each_other_in_order(
    client: Client, seed: Seed
) -> None:
    world = await seed.spec_world(["advanced_permissions"])
    await seed.resource(1, "notebook", "n-1", created_by=world["dan"])
    bob = acting(world["bob"])
    unknown = str(uuid4())
    # Bob may not modify any of these targets, yet each body problem is reported first.
    invalid_level = await client.put(f"{P}/access_controls/", json={"access_level": "owner"}, headers=bob)
    assert (invalid_level.status_code, invalid_level.json()["attr"]) == (400, "access_level")
    first = await client.put(
        f"{P}/resource_access_controls/",
        json={"resource": "nope", "access_level": "owner", "resource_id": "x"},
        headers=bob,
    )
    assert (first.status_code, first.json()["attr"]) == (400, "resource")
    level_before_member = await client.put(
        f"{P}/access_controls/", json={"access_level": "owner", "organization_member": unknown}, headers=bob
    )
    assert level_before_member.json()["attr"] == "access_level"
    member_before_both = await client.put(
        f"{P}/access_controls/",
        json={"access_level": "member", "organization_member": unknown, "role": unknown},
        headers=bob,
    )
    assert member_before_both.json()["code"] == "does_not_exist"
    both_before_resource_id = await client.put(
        f"{P}/resource_access_controls/",
        json={
            "resource": "notebook",
            "access_level": "none",
            "resource_id": "n-1",
            "organization_member": str(world.memberships["alice"]),
            "role": str(await seed.role(world.organization, "Eng")),
        },
        headers=bob,
    )
    assert both_before_resource_id.json()["detail"] == (
        "You can not scope an access control to both a member and a role."
    )
    resource_id_before_modify = await client.put(
        f"{P}/resource_access_controls/",
        json={"resource": "notebook", "access_level": "none", "resource_id": "n-1"},
        headers=bob,
    )
    assert await refused(resource_id_before_modify) == error(
        403, "Cannot modify access controls for a resource different from the URL target."
    )
    modify = await client.put(f"{P}/access_controls/", json={"access_level": "none"}, headers=bob)
    assert await refused(modify) == error(403, "Must be admin to modify project permissions.")
    deleting = await client.put(f"{P}/access_controls/", json={"access_level": None}, headers=bob)
    assert await refused(deleting) == error(403, "Must be admin to modify project permissions.")


async def test_refused_put_writes_nothing(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["advanced_permissions"])
    before = await client.get(f"{P}/access_controls/", headers=admin_headers())
    refused_put = await client.put(
        f"{P}/access_controls/", json={"access_level": "none"}, headers=acting(world["bob"])
    )
    assert refused_put.status_code == 403
    assert refused_put.headers["X-Acl-Revision"] == before.headers["X-Acl-Revision"]
    assert (await client.get(f"{P}/access_controls/", headers=admin_headers())).json()[
        "access_controls"
    ] == []


async def test_route_checks_and_not_found(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["advanced_permissions"])
    outsider = await seed.user("outsider")
    await seed.dashboard(1, 7)
    missing_project = await client.get(
        "/api/environments/9/dashboards/7/access_controls/", headers=admin_headers()
    )
    assert await refused(missing_project) == error(404, "Project not found.")
    missing_detail = await client.get("/api/projects/9/access_controls/", headers=admin_headers())
    assert await refused(missing_detail) == error(404, "Not found.")
    not_member = await client.get("/api/projects/1/access_controls/", headers=acting(outsider))
    assert await refused(not_member) == error(404, "Not found.")
    missing_object = await client.get(f"{P}/resources/notebook/n-9/access_controls/", headers=admin_headers())
    assert await refused(missing_object) == error(404, "Not found.")
    missing_users = await client.get(f"{P}/dashboards/8/users_with_access/", headers=acting(world["carol"]))
    assert await refused(missing_users) == error(404, "Not found.")
    bad_id = await client.get(f"{P}/dashboards/0/access_controls/", headers=admin_headers())
    assert (bad_id.status_code, bad_id.json()["attr"]) == (400, "id")
    bad_resource = await client.get(f"{P}/resources/nope/n-1/access_controls/", headers=admin_headers())
    assert bad_resource.json() == envelope("invalid_choice", '"nope" is not a valid choice.', "resource")
    wrong_method = await client.post(f"{P}/access_controls/", json={}, headers=admin_headers())
    assert wrong_method.status_code == 405
    unauthenticated = await client.get(f"{P}/access_controls/")
    assert unauthenticated.status_code == 401


async def test_dashboard_access_controls_run_the_edit_check(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["dashboard_permissioning"])
    await seed.dashboard(1, 7, created_by=world["alice"], restriction_level=37)
    put = await client.put(
        f"{P}/dashboards/7/access_controls/", json={"access_level": "viewer"}, headers=acting(world["dan"])
    )
    assert await refused(put) == error(403, "You don't have edit permissions for this dashboard.")
    via_resources = await client.put(
        f"{P}/resources/dashboard/7/access_controls/",
        json={"access_level": "viewer"},
        headers=acting(world["dan"]),
    )
    assert await refused(via_resources) == error(403, "You don't have edit permissions for this dashboard.")
    get = await client.get(f"{P}/dashboards/7/access_controls/", headers=acting(world["dan"]))
    assert get.status_code == 200


# -- users_with_access ------------------------------------------------------------------------------------


async def test_users_with_access_of_a_notebook_example_14(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["advanced_permissions"])
    await seed.resource(1, "notebook", "n-17", created_by=world["dan"])
    await seed.access_control(1, "notebook", "n-17", "none")
    await seed.access_control(1, "notebook", "n-17", "viewer", member=world.memberships["bob"])
    response = await client.get(
        f"{P}/resources/notebook/n-17/users_with_access/", headers=acting(world["carol"])
    )
    assert response.status_code == 200
    body = response.json()

    def entry(name: str, level: str, source: str, membership_level: str) -> dict[str, str]:
        return {
            "user_id": str(world[name].uuid),
            "access_level": level,
            "access_source": source,
            "organization_membership_id": str(world.memberships[name]),
            "organization_membership_level": membership_level,
        }

    top = sorted(
        [
            entry("carol", "manager", "organization_admin", "owner"),
            entry("dan", "manager", "creator", "member"),
        ],
        key=lambda found: found["user_id"],
        reverse=True,
    )
    bob = entry("bob", "viewer", "explicit_member", "member")
    assert body == {"users": [*top, bob], "total_count": 3}


async def test_users_with_access_of_a_project_and_a_dashboard(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["advanced_permissions"])
    inactive = await seed.user("gone", active=False)
    await seed.member(world.organization, inactive)
    await seed.dashboard(1, 7)
    await seed.access_control(1, "project", 1, "none", member=world.memberships["bob"])
    await seed.access_control(1, "dashboard", 7, "none", member=world.memberships["alice"])
    project = (await client.get(f"{P}/users_with_access/", headers=admin_headers())).json()
    assert project["total_count"] == 3
    by_user = {entry["user_id"]: entry for entry in project["users"]}
    assert set(by_user) == {str(world[name].uuid) for name in ("alice", "carol", "dan")}
    assert {entry["access_level"] for entry in project["users"]} == {"admin"}  # an open project
    listed = [entry["user_id"] for entry in project["users"]]
    assert listed == sorted(listed, reverse=True)
    dashboard = (
        await client.get(f"{P}/dashboards/7/users_with_access/", headers=acting(world["dan"]))
    ).json()
    assert {entry["user_id"] for entry in dashboard["users"]} == {
        str(world[n].uuid) for n in ("carol", "dan")
    }


async def test_users_with_access_needs_object_view_access(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["advanced_permissions"])
    await seed.dashboard(1, 8)
    await seed.access_control(1, "dashboard", 8, "none", member=world.memberships["bob"])
    response = await client.get(f"{P}/dashboards/8/users_with_access/", headers=acting(world["bob"]))
    assert await refused(response) == error(403, "You do not have viewer access to this resource.")


# -- SPEC §8 worked examples ------------------------------------------------------------------------------


async def test_example_3_private_by_rows_with_an_admin_grant(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["advanced_permissions"])
    await seed.dashboard(1, 7)
    await seed.access_control(1, "project", 1, "none")
    await seed.access_control(1, "project", 1, "admin", member=world.memberships["alice"])
    alice = (await client.get(f"{P}/access_controls/", headers=acting(world["alice"]))).json()
    assert (alice["user_access_level"], alice["user_can_edit_access_levels"]) == ("admin", True)
    users = (await client.get(f"{P}/users_with_access/", headers=admin_headers())).json()["users"]
    assert {u["user_id"]: u["access_source"] for u in users} == {
        str(world["alice"].uuid): "explicit_member",
        str(world["carol"].uuid): "organization_admin",
    }
    bob = await client.get(f"{P}/dashboards/7/access_controls/", headers=acting(world["bob"]))
    assert await refused(bob) == error(403, "You don't have access to the project.")
    bob_list = await client.get(f"{P}/dashboards/", headers=acting(world["bob"]))
    assert await refused(bob_list) == error(403, "You don't have access to the project.")


async def test_example_4_hard_deny_on_an_open_project(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["access_control"])
    await seed.access_control(1, "project", 1, "none", member=world.memberships["bob"])
    bob = await client.get(f"{P}/access_controls/", headers=acting(world["bob"]))
    assert await refused(bob) == error(403, "You don't have sufficient permissions in the project.")
    dan = (await client.get(f"{P}/access_controls/", headers=acting(world["dan"]))).json()
    assert dan["user_access_level"] == "admin"
    carol = (await client.get(f"{P}/access_controls/", headers=acting(world["carol"]))).json()
    assert (carol["user_access_level"], carol["user_can_edit_access_levels"]) == ("admin", True)
    users = (await client.get(f"{P}/users_with_access/", headers=admin_headers())).json()["users"]
    assert str(world["bob"].uuid) not in {u["user_id"] for u in users}


async def test_example_7_specific_none_beats_resource_wide_editor(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["advanced_permissions"])
    await seed.dashboard(1, 8)
    await seed.dashboard(1, 9)
    await seed.access_control(1, "dashboard", None, "editor")
    await seed.access_control(1, "dashboard", 8, "none", member=world.memberships["bob"])
    eight = await client.get(f"{P}/dashboards/8/access_controls/", headers=acting(world["bob"]))
    assert await refused(eight) == error(403, "You do not have viewer access to this resource.")
    nine = (await client.get(f"{P}/dashboards/9/access_controls/", headers=acting(world["bob"]))).json()
    assert nine["user_access_level"] == "editor"
    users = (await client.get(f"{P}/dashboards/8/users_with_access/", headers=admin_headers())).json()[
        "users"
    ]
    assert str(world["bob"].uuid) not in {u["user_id"] for u in users}


async def test_example_8_role_rows_need_role_based_access(client: Client, seed: Seed) -> None:
    async def setup(features: list[str]) -> tuple[World, str]:
        world = await seed.spec_world(features)
        role = await seed.role(world.organization, "Eng", [(world["bob"], world.memberships["bob"])])
        await seed.access_control(1, "feature_flag", None, "none")
        await seed.access_control(1, "feature_flag", None, "viewer", role=role)
        await seed.resource(1, "feature_flag", "ff-1")
        return world, f"{P}/resources/feature_flag/ff-1/access_controls/"

    world, url = await setup(["advanced_permissions"])
    flags = f"{P}/resources/?resource=feature_flag"
    inert = await client.get(url, headers=acting(world["bob"]))
    assert await refused(inert) == error(403, "You do not have viewer access to this resource.")
    inert_list = await client.get(flags, headers=acting(world["bob"]))
    assert await refused(inert_list) == error(403, "You do not have viewer access to this resource.")
    await seed.execute(
        """UPDATE organizations SET available_product_features = available_product_features || $1
           WHERE id = $2""",
        [{"key": "role_based_access", "name": "role_based_access"}],
        world.organization,
    )
    allowed = await client.get(url, headers=acting(world["bob"]))
    assert (allowed.status_code, allowed.json()["user_access_level"]) == (200, "viewer")
    write = await client.put(url, json={"access_level": "viewer"}, headers=acting(world["bob"]))
    assert await refused(write) == error(403, "You do not have editor access to this resource.")
    assert (await client.get(flags, headers=acting(world["bob"]))).status_code == 200
    create = await client.post(
        f"{P}/resources/",
        json={"resource": "feature_flag", "resource_id": "ff-2"},
        headers=acting(world["bob"]),
    )
    assert await refused(create) == error(403, "You do not have editor access to this resource.")


async def test_example_15_managing_access(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["advanced_permissions"])
    await seed.resource(1, "notebook", "n-17", created_by=world["dan"])
    await seed.access_control(1, "notebook", "n-17", "none")
    await seed.access_control(1, "notebook", "n-17", "viewer", member=world.memberships["bob"])
    await seed.resource(1, "notebook", "n-18", created_by=world["dan"])
    n17, n18 = (
        f"{P}/resources/notebook/n-17/access_controls/",
        f"{P}/resources/notebook/n-18/access_controls/",
    )
    editor = {"access_level": "editor"}

    bob = await client.put(n17, json=editor, headers=acting(world["bob"]))
    assert await refused(bob) == error(403, "You do not have editor access to this resource.")
    dan = await client.put(n17, json=editor, headers=acting(world["dan"]))
    assert dan.status_code == 200
    bob_18 = await client.put(n18, json=editor, headers=acting(world["bob"]))
    assert await refused(bob_18) == error(403, "Must be manager to modify notebook permissions.")
    alice_before = await client.put(n18, json=editor, headers=acting(world["alice"]))
    assert alice_before.status_code == 403
    await seed.access_control(1, "project", 1, "admin", member=world.memberships["alice"])
    alice = await client.put(n18, json=editor, headers=acting(world["alice"]))
    assert alice.status_code == 200
    wide = await client.put(
        f"{P}/resource_access_controls/", json={"resource": "notebook", "access_level": "viewer"},
        headers=acting(world["bob"]),
    )  # fmt: skip
    assert await refused(wide) == error(
        403, "Must be an Organization admin to modify project-wide permissions."
    )
    listing = (await client.get(n18, headers=acting(world["bob"]))).json()
    assert (listing["user_access_level"], listing["user_can_edit_access_levels"]) == ("editor", False)


async def test_acting_user_id_is_the_rows_creator_and_system_rows_have_none(
    client: Client, seed: Seed
) -> None:
    world = await seed.spec_world(["advanced_permissions"])
    system = await client.put(
        f"{P}/access_controls/", json={"access_level": "member"}, headers=admin_headers()
    )
    assert system.json()["created_by"] is None
    member = UUID(str(world.memberships["dan"]))
    carol = await client.put(
        f"{P}/access_controls/",
        json={"access_level": "admin", "organization_member": str(member)},
        headers=acting(world["carol"]),
    )
    assert carol.json()["created_by"] == world["carol"].id
