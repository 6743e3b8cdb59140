"""SPEC §5.3.4: projects under /api/projects/ and /api/environments/, over HTTP."""

import asyncio
import uuid

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.fixtures.app import admin_headers
from tests.fixtures.seed import Seed, World

Client = AsyncTestClient[Litestar]
PREFIXES = ["/api/projects", "/api/environments"]
INSUFFICIENT = "Your organization access level is insufficient."
NO_PERMISSIONS = "You don't have sufficient permissions in the project."


def envelope(code: str, detail: str, attr: str | None) -> dict[str, object]:
    return {"type": "validation_error", "code": code, "detail": detail, "attr": attr}


def denied(detail: str) -> dict[str, object]:
    return {"type": "authentication_error", "code": "permission_denied", "detail": detail, "attr": None}


def acting(world: World, name: str) -> dict[str, str]:
    return admin_headers(acting_user=world[name].uuid)


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_system_call_creates_a_project_with_an_assigned_id(
    client: Client, seed: Seed, prefix: str
) -> None:
    world = await seed.spec_world()
    created = await client.post(
        f"{prefix}/", json={"organization": str(world.organization), "name": "New"}, headers=admin_headers()
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == {
        "id", "organization", "name", "access_control", "effective_membership_level", "user_access_level",
        "created_at", "updated_at",
    }  # fmt: skip
    assert (body["id"], body["organization"], body["name"], body["access_control"]) == (
        3,
        str(world.organization),
        "New",
        False,
    )
    assert (body["effective_membership_level"], body["user_access_level"]) == (None, None)
    chosen = await client.post(
        f"{prefix}/",
        json={"organization": str(world.organization), "name": "Chosen", "id": 40, "access_control": True},
        headers=admin_headers(),
    )
    assert (chosen.json()["id"], chosen.json()["access_control"]) == (40, True)


async def test_create_validates_the_body_before_the_organization_check(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    missing = uuid.uuid4()
    for headers in (admin_headers(), acting(world, "bob")):
        unknown = await client.post(
            "/api/projects/", json={"organization": str(missing), "name": "X"}, headers=headers
        )
        assert unknown.status_code == 400
        assert unknown.json() == {
            "type": "validation_error", "code": "does_not_exist",
            "detail": f'Invalid pk "{missing}" - object does not exist.', "attr": "organization",
        }  # fmt: skip
    taken = await client.post(
        "/api/environments/",
        json={"organization": str(world.organization), "name": "X", "id": 1},
        headers=admin_headers(),
    )
    assert taken.json() == {
        "type": "validation_error", "code": "unique",
        "detail": "A project with this id already exists.", "attr": "id",
    }  # fmt: skip
    with_id = await client.post(
        "/api/projects/",
        json={"organization": str(world.organization), "name": "X", "id": 9},
        headers=acting(world, "carol"),
    )
    assert with_id.json() == {
        "type": "validation_error", "code": "read_only",
        "detail": "This field can only be set by a system call.", "attr": "id",
    }  # fmt: skip


async def test_create_needs_an_organization_admin(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    body = {"organization": str(world.organization), "name": "X"}
    member = await client.post("/api/projects/", json=body, headers=acting(world, "bob"))
    assert (member.status_code, member.json()) == (403, denied(INSUFFICIENT))
    eve = await seed.user("eve")
    outsider = await client.post("/api/projects/", json=body, headers=admin_headers(acting_user=eve.uuid))
    assert (outsider.status_code, outsider.json()["detail"]) == (404, "Organization not found.")
    owner = await client.post("/api/environments/", json=body, headers=acting(world, "carol"))
    assert owner.status_code == 201
    assert (owner.json()["effective_membership_level"], owner.json()["user_access_level"]) == (15, "admin")


async def test_concurrent_creates_of_one_id_give_one_201_and_one_400(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    body = {"organization": str(world.organization), "name": "Race", "id": 77}
    responses = await asyncio.gather(
        *(client.post("/api/projects/", json=body, headers=admin_headers()) for _ in range(2))
    )
    assert sorted(r.status_code for r in responses) == [201, 400]
    assert next(r for r in responses if r.status_code == 400).json()["code"] == "unique"


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_list_shows_visible_projects_with_caller_levels(
    client: Client, seed: Seed, prefix: str
) -> None:
    world = await seed.spec_world(["project_based_permissioning"], access_control=True)
    other = await seed.organization(name="Other")
    await seed.project(other, 5)
    bob = await client.get(f"{prefix}/", headers=acting(world, "bob"))
    assert bob.status_code == 200
    assert bob.json()["count"] == 1
    assert [
        (p["id"], p["effective_membership_level"], p["user_access_level"]) for p in bob.json()["results"]
    ] == [(2, 1, "admin")]
    carol = await client.get(f"{prefix}/", headers=acting(world, "carol"))
    assert [(p["id"], p["effective_membership_level"]) for p in carol.json()["results"]] == [(1, 15), (2, 15)]
    system = await client.get(f"{prefix}/", headers=admin_headers())
    assert [p["id"] for p in system.json()["results"]] == [1, 2, 5]
    assert {p["user_access_level"] for p in system.json()["results"]} == {None}
    filtered = await client.get(f"{prefix}/?organization={other}", headers=admin_headers())
    assert [p["id"] for p in filtered.json()["results"]] == [5]
    none_for_carol = await client.get(f"{prefix}/?organization={other}", headers=acting(world, "carol"))
    assert none_for_carol.json()["count"] == 0
    paged = await client.get(f"{prefix}/?limit=1&offset=1", headers=admin_headers())
    assert ([p["id"] for p in paged.json()["results"]], paged.json()["count"]) == ([2], 3)
    bad = await client.get(f"{prefix}/?organization=nope", headers=admin_headers())
    assert bad.json() == envelope("invalid", "Must be a valid UUID.", "organization")


async def test_organization_project_list_needs_membership(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["project_based_permissioning"], access_control=True)
    path = f"/api/organizations/{world.organization}/projects/"
    bob = await client.get(path, headers=acting(world, "bob"))
    assert [p["id"] for p in bob.json()["results"]] == [2]
    eve = await seed.user("eve")
    outsider = await client.get(path, headers=admin_headers(acting_user=eve.uuid))
    assert (outsider.status_code, outsider.json()) == (
        403,
        denied("You do not have permission to perform this action."),
    )
    missing = await client.get(f"/api/organizations/{uuid.uuid4()}/projects/", headers=admin_headers())
    assert missing.status_code == 404


async def test_keys_and_project_lists(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    other = await seed.organization(name="Other")
    await seed.member(other, world["alice"])
    await seed.project(other, 5)
    scoped = await seed.personal_api_key(world["alice"], ["*"], scoped_teams=[1])
    refused = await client.get("/api/projects/", headers={"Authorization": f"Bearer {scoped}"})
    assert refused.json() == denied(
        "API keys with scoped projects are only supported on project-based endpoints."
    )
    by_org = await seed.personal_api_key(world["alice"], ["project:read"], scoped_organizations=[other])
    listed = await client.get("/api/environments/", headers={"Authorization": f"Bearer {by_org}"})
    assert [p["id"] for p in listed.json()["results"]] == [5]
    plain = await seed.personal_api_key(world["alice"], ["project:read"])
    everything = await client.get("/api/projects/", headers={"Authorization": f"Bearer {plain}"})
    assert [p["id"] for p in everything.json()["results"]] == [1, 2, 5]
    detail = await client.get("/api/projects/2/", headers={"Authorization": f"Bearer {scoped}"})
    assert detail.status_code == 404


@pytest.mark.parametrize(
    "path", ["/api/projects/1/", "/api/environments/1/", "/api/organizations/{org}/projects/1/"]
)
async def test_retrieve_under_every_alias(client: Client, seed: Seed, path: str) -> None:
    world = await seed.spec_world(["advanced_permissions"])
    await seed.access_control(1, "project", 1, "member", member=world.memberships["dan"])
    path = path.format(org=world.organization)
    dan = await client.get(path, headers=acting(world, "dan"))
    assert dan.status_code == 200
    assert (dan.json()["effective_membership_level"], dan.json()["user_access_level"]) == (1, "member")
    alice = await client.get(path, headers=acting(world, "alice"))
    assert alice.json()["user_access_level"] == "admin"
    system = await client.get(path, headers=admin_headers())
    assert (system.json()["name"], system.json()["effective_membership_level"]) == ("Project", None)


async def test_retrieve_hides_projects_outside_the_callers_reach(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["project_based_permissioning"], access_control=True)
    not_found = {"type": "invalid_request", "code": "not_found", "detail": "Not found.", "attr": None}
    eve = await seed.user("eve")
    outsider = await client.get("/api/projects/1/", headers=admin_headers(acting_user=eve.uuid))
    assert (outsider.status_code, outsider.json()) == (404, not_found)
    bob = await client.get("/api/environments/1/", headers=acting(world, "bob"))
    assert (bob.status_code, bob.json()) == (403, denied(NO_PERMISSIONS))
    other = await seed.organization(name="Other")
    wrong_org = await client.get(f"/api/organizations/{other}/projects/1/", headers=admin_headers())
    assert (wrong_org.status_code, wrong_org.json()) == (404, not_found)
    missing = await client.get("/api/projects/99/", headers=admin_headers())
    assert missing.status_code == 404


async def test_hard_denied_member_gets_access_none(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["access_control"])
    await seed.access_control(1, "project", 1, "none", member=world.memberships["bob"])
    bob = await client.get("/api/projects/1/", headers=acting(world, "bob"))
    assert (bob.status_code, bob.json()) == (403, denied(NO_PERMISSIONS))
    listed = await client.get("/api/projects/", headers=acting(world, "bob"))
    assert [p["id"] for p in listed.json()["results"]] == [2]


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
async def test_update_sets_name_and_flag_and_ignores_organization(
    client: Client, seed: Seed, method: str
) -> None:
    world = await seed.spec_world(["project_based_permissioning"])
    other = await seed.organization(name="Other")
    updated = await client.request(
        method,
        "/api/environments/1/",
        json={
            "name": "Renamed",
            "access_control": True,
            "organization": str(other),
            "user_access_level": "x",
        },
        headers=acting(world, "carol"),
    )
    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert (body["name"], body["access_control"], body["organization"]) == (
        "Renamed",
        True,
        str(world.organization),
    )
    assert body["updated_at"] >= body["created_at"]
    # The response reflects the new state: Bob no longer sees the now private project.
    bob = await client.get("/api/projects/1/", headers=acting(world, "bob"))
    assert bob.status_code == 403


async def test_flag_needs_an_organization_admin(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["project_based_permissioning"])
    flag = await client.patch("/api/projects/1/", json={"access_control": True}, headers=acting(world, "bob"))
    assert (flag.status_code, flag.json()) == (403, denied(INSUFFICIENT))
    # On an open project without access controls a member is project admin and may rename it.
    name = await client.patch("/api/projects/1/", json={"name": "Bob's"}, headers=acting(world, "bob"))
    assert (name.status_code, name.json()["name"]) == (200, "Bob's")
    bad = await client.patch(
        "/api/projects/1/", json={"access_control": "yes"}, headers=acting(world, "carol")
    )
    assert bad.json() == envelope("invalid", "Must be a valid boolean.", "access_control")


async def test_update_needs_project_admin_access(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["advanced_permissions"])
    await seed.access_control(1, "project", 1, "member")
    refused = await client.patch("/api/projects/1/", json={"name": "x"}, headers=acting(world, "bob"))
    assert (refused.status_code, refused.json()) == (
        403,
        denied("You do not have admin access to this resource."),
    )


async def test_delete_needs_project_admin_and_cascades(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["project_based_permissioning"], access_control=True)
    await seed.explicit_member(1, world.memberships["bob"], 1)
    await seed.dashboard(1, 7)
    bob = await client.delete("/api/projects/1/", headers=acting(world, "bob"))
    assert (bob.status_code, bob.json()) == (403, denied(NO_PERMISSIONS))
    carol = await client.delete("/api/environments/1/", headers=acting(world, "carol"))
    assert carol.status_code == 204
    assert (await client.get("/api/projects/1/", headers=admin_headers())).status_code == 404
    async with seed.pool.acquire() as conn:
        left = await conn.fetchval(
            "SELECT (SELECT count(*) FROM explicit_memberships) + (SELECT count(*) FROM resources)"
        )
    assert left == 0
    system = await client.delete("/api/projects/2/", headers=admin_headers())
    assert system.status_code == 204


async def test_bad_input_gets_the_envelope(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    not_int = await client.get("/api/projects/abc/", headers=admin_headers())
    assert not_int.json() == envelope("invalid", "A valid integer is required.", "project_id")
    zero = await client.get("/api/environments/0/", headers=admin_headers())
    assert (zero.json()["code"], zero.json()["attr"]) == ("min_value", "project_id")
    unknown = await client.post(
        "/api/projects/",
        json={"organization": str(world.organization), "name": "X", "x": 1},
        headers=admin_headers(),
    )
    assert (unknown.json()["code"], unknown.json()["attr"]) == ("unknown_field", "x")
    bad_org = await client.post(
        "/api/projects/", json={"organization": "x", "name": "X"}, headers=admin_headers()
    )
    assert bad_org.json() == envelope("invalid", "Must be a valid UUID.", "organization")
    name = await client.post(
        "/api/projects/", json={"organization": str(world.organization), "name": ""}, headers=admin_headers()
    )
    assert (name.json()["code"], name.json()["attr"]) == ("blank", "name")
    no_org = await client.post("/api/projects/", json={"name": "X"}, headers=admin_headers())
    assert (no_org.json()["code"], no_org.json()["attr"]) == ("required", "organization")
    bad_id = await client.post(
        "/api/projects/",
        json={"organization": str(world.organization), "name": "X", "id": 0},
        headers=admin_headers(),
    )
    assert bad_id.json()["detail"] == "Ensure this value is greater than or equal to 1."
    anonymous = await client.post("/api/projects/", json={"name": 1})
    assert anonymous.status_code == 401
    wrong_type = await client.patch("/api/projects/1/", json={"name": 5}, headers=admin_headers())
    assert wrong_type.json()["detail"] == "Not a valid string."
    post_detail = await client.post("/api/projects/1/", json={}, headers=admin_headers())
    assert post_detail.status_code == 405


async def test_example_1_private_project_explicit_admin_deletes(client: Client, seed: Seed) -> None:
    """SPEC §8 example 1 (the project part; explicit members in test_admin_explicit_members)."""
    world = await seed.spec_world(["project_based_permissioning"], access_control=True)
    await seed.explicit_member(1, world.memberships["alice"], 8)
    alice = await client.get("/api/projects/1/", headers=acting(world, "alice"))
    assert (alice.json()["effective_membership_level"], alice.json()["user_access_level"]) == (8, "admin")
    bob = await client.get("/api/projects/1/", headers=acting(world, "bob"))
    assert (bob.status_code, bob.json()["detail"]) == (403, NO_PERMISSIONS)
    deleted = await client.delete("/api/projects/1/", headers=acting(world, "alice"))
    assert deleted.status_code == 204
