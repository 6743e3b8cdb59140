"""SPEC §5.3.5: explicit project members (the seed endpoint), rules (1)-(7) in order, over HTTP."""

import asyncio
import uuid

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.fixtures.app import admin_headers
from tests.fixtures.seed import Seed, World

Client = AsyncTestClient[Litestar]
PREFIXES = ["/api/environments", "/api/projects"]
SEED_FIELDS = {
    "id", "level", "parent_level", "parent_membership_id", "joined_at", "updated_at", "user", "user_uuid",
    "effective_level",
}  # fmt: skip
NO_PERMISSIONS = "You don't have sufficient permissions in the project."


def envelope(code: str, detail: str, attr: str | None) -> dict[str, object]:
    return {"type": "validation_error", "code": code, "detail": detail, "attr": attr}


def denied(detail: str) -> dict[str, object]:
    return {"type": "authentication_error", "code": "permission_denied", "detail": detail, "attr": None}


def invalid(detail: str) -> dict[str, object]:
    return {"type": "validation_error", "code": "invalid_input", "detail": detail, "attr": None}


def acting(world: World, name: str) -> dict[str, str]:
    return admin_headers(acting_user=world[name].uuid)


def path(project: int = 1, user: uuid.UUID | None = None, prefix: str = "/api/environments") -> str:
    base = f"{prefix}/{project}/explicit_members/"
    return base if user is None else f"{base}{user}/"


async def private_world(seed: Seed) -> World:
    """SPEC §8 example 1's state: O with project_based_permissioning, project 1 private, Alice explicit 8."""
    world = await seed.spec_world(["project_based_permissioning"], access_control=True)
    await seed.explicit_member(1, world.memberships["alice"], 8)
    return world


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_example_1_explicit_admin_adds_a_member(client: Client, seed: Seed, prefix: str) -> None:
    world = await private_world(seed)
    bob = world["bob"]
    added = await client.post(
        path(prefix=prefix), json={"user_uuid": str(bob.uuid)}, headers=acting(world, "alice")
    )
    assert added.status_code == 201, added.text
    body = added.json()
    assert set(body) == SEED_FIELDS
    assert (body["level"], body["parent_level"], body["effective_level"]) == (1, 1, 1)
    assert body["parent_membership_id"] == str(world.memberships["bob"])
    assert body["user_uuid"] == body["user"]["uuid"] == str(bob.uuid)
    assert body["user"] == {
        "id": bob.id, "uuid": str(bob.uuid), "distinct_id": None, "first_name": "Bob", "last_name": "",
        "email": "bob@example.com", "is_email_verified": False, "hedgehog_config": None,
    }  # fmt: skip
    # Bob now sees the project.
    project = await client.get("/api/projects/1/", headers=acting(world, "bob"))
    assert (project.status_code, project.json()["effective_membership_level"]) == (200, 1)


async def test_example_2_owner_adds_an_explicit_admin(client: Client, seed: Seed) -> None:
    world = await private_world(seed)
    carol = await client.get("/api/projects/1/", headers=acting(world, "carol"))
    assert carol.json()["effective_membership_level"] == 15
    added = await client.post(
        path(), json={"user_uuid": str(world["bob"].uuid), "level": 8}, headers=acting(world, "carol")
    )
    assert added.status_code == 201
    assert (added.json()["level"], added.json()["parent_level"], added.json()["effective_level"]) == (8, 1, 8)


async def test_example_13_a_project_member_cannot_manage_members_but_may_leave(
    client: Client, seed: Seed
) -> None:
    world = await seed.spec_world(["project_based_permissioning"], access_control=True)
    await seed.explicit_member(1, world.memberships["bob"], 1)
    refused = await client.post(
        path(), json={"user_uuid": str(world["dan"].uuid)}, headers=acting(world, "bob")
    )
    assert (refused.status_code, refused.json()) == (403, denied(NO_PERMISSIONS))
    listed = await client.get(path(), headers=acting(world, "bob"))
    assert [m["user_uuid"] for m in listed.json()] == [str(world["bob"].uuid)]
    leave = await client.delete(path(user=world["bob"].uuid), headers=acting(world, "bob"))
    assert leave.status_code == 204
    assert (await client.get(path(), headers=admin_headers())).json() == []


async def test_list_is_a_plain_array_of_active_users_by_level_then_latest(client: Client, seed: Seed) -> None:
    world = await private_world(seed)
    eve = await seed.user("eve", active=False)
    await seed.explicit_member(1, await seed.member(world.organization, eve), 1)
    await seed.explicit_member(1, world.memberships["bob"], 1)
    await seed.explicit_member(1, world.memberships["dan"], 1)
    listed = await client.get(path(), headers=acting(world, "alice"))
    assert listed.status_code == 200
    assert [(m["user"]["first_name"], m["level"]) for m in listed.json()] == [
        ("Dan", 1),
        ("Bob", 1),
        ("Alice", 8),
    ]
    bob = await client.get(path(user=world["bob"].uuid), headers=acting(world, "dan"))
    assert (bob.status_code, bob.json()["user_uuid"]) == (200, str(world["bob"].uuid))
    hidden = await client.get(path(user=eve.uuid), headers=admin_headers())
    assert hidden.status_code == 404


async def test_strict_gate_on_reads(client: Client, seed: Seed) -> None:
    world = await private_world(seed)
    bob = await client.get(path(), headers=acting(world, "bob"))
    assert (bob.status_code, bob.json()) == (403, denied(NO_PERMISSIONS))
    eve = await seed.user("eve")
    outsider = await client.get(path(), headers=admin_headers(acting_user=eve.uuid))
    assert outsider.status_code == 403
    missing = await client.get(path(project=99), headers=admin_headers())
    assert (missing.status_code, missing.json()["detail"]) == (404, "Project not found.")


async def test_rule_1_needs_a_private_project(client: Client, seed: Seed) -> None:
    world = await private_world(seed)
    body = {"user_uuid": str(world["bob"].uuid)}
    refused = await client.post(path(project=2), json=body, headers=acting(world, "carol"))
    assert (refused.status_code, refused.json()) == (
        400,
        invalid(
            "Explicit members can only be accessed for projects with project-based permissioning enabled."
        ),
    )
    system = await client.post(path(project=2), json=body, headers=admin_headers())
    assert system.status_code == 201
    update = await client.patch(
        path(project=2, user=world["bob"].uuid), json={}, headers=acting(world, "carol")
    )
    assert update.status_code == 400
    # Reads and deletes run none of the rules.
    assert (await client.get(path(project=2), headers=acting(world, "carol"))).status_code == 200
    gone = await client.delete(path(project=2, user=world["bob"].uuid), headers=acting(world, "carol"))
    assert gone.status_code == 204


async def test_rule_3_nobody_adds_themselves(client: Client, seed: Seed) -> None:
    world = await private_world(seed)
    refused = await client.post(
        path(), json={"user_uuid": str(world["carol"].uuid)}, headers=acting(world, "carol")
    )
    assert (refused.status_code, refused.json()) == (
        403,
        denied("You can't explicitly add yourself to projects."),
    )


async def test_rule_5_nobody_sets_their_own_level(client: Client, seed: Seed) -> None:
    world = await private_world(seed)
    own = await client.patch(
        path(user=world["alice"].uuid), json={"level": 8}, headers=acting(world, "alice")
    )
    assert (own.status_code, own.json()) == (403, denied("You can't set your own access level."))
    unchanged = await client.put(path(user=world["alice"].uuid), json={}, headers=acting(world, "alice"))
    assert (unchanged.status_code, unchanged.json()["level"]) == (200, 8)


async def test_rule_6_the_member_must_belong_to_the_organization(client: Client, seed: Seed) -> None:
    world = await private_world(seed)
    same_org = "You both need to belong to the same organization."
    eve = await seed.user("eve")
    for headers in (acting(world, "carol"), admin_headers()):
        outsider = await client.post(path(), json={"user_uuid": str(eve.uuid)}, headers=headers)
        assert (outsider.status_code, outsider.json()) == (403, denied(same_org))
    unknown = await client.post(path(), json={"user_uuid": str(uuid.uuid4())}, headers=admin_headers())
    assert unknown.json() == denied(same_org)
    inactive = await seed.user("ina", active=False)
    await seed.member(world.organization, inactive)
    refused = await client.post(path(), json={"user_uuid": str(inactive.uuid)}, headers=admin_headers())
    assert refused.json() == denied(same_org)
    other = await seed.organization(name="Other")
    await seed.member(other, eve)
    elsewhere = await client.post(path(), json={"user_uuid": str(eve.uuid)}, headers=admin_headers())
    assert elsewhere.json() == denied(same_org)


async def test_rule_7_duplicates(client: Client, seed: Seed) -> None:
    world = await private_world(seed)
    duplicate = await client.post(
        path(), json={"user_uuid": str(world["alice"].uuid)}, headers=acting(world, "carol")
    )
    assert (duplicate.status_code, duplicate.json()) == (
        400,
        invalid("This user likely already is an explicit member of the project."),
    )


async def test_concurrent_duplicate_creates_give_one_201_and_one_400(client: Client, seed: Seed) -> None:
    world = await private_world(seed)
    body = {"user_uuid": str(world["dan"].uuid)}
    responses = await asyncio.gather(
        *(client.post(path(), json=body, headers=admin_headers()) for _ in range(2))
    )
    assert sorted(r.status_code for r in responses) == [201, 400]
    refused = next(r for r in responses if r.status_code == 400)
    assert refused.json()["detail"] == "This user likely already is an explicit member of the project."


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
async def test_update_changes_the_level(client: Client, seed: Seed, method: str) -> None:
    world = await private_world(seed)
    await seed.explicit_member(1, world.memberships["bob"], 1)
    updated = await client.request(
        method,
        path(user=world["bob"].uuid, prefix="/api/projects"),
        json={"level": 8, "user_uuid": "ignored", "effective_level": 1},
        headers=acting(world, "alice"),
    )
    assert updated.status_code == 200, updated.text
    assert (updated.json()["level"], updated.json()["effective_level"]) == (8, 8)
    project = await client.get("/api/projects/1/", headers=acting(world, "bob"))
    assert project.json()["effective_membership_level"] == 8


async def test_admin_removes_a_member_and_unknown_members_are_not_found(client: Client, seed: Seed) -> None:
    world = await private_world(seed)
    await seed.explicit_member(1, world.memberships["bob"], 1)
    removed = await client.delete(path(user=world["bob"].uuid), headers=acting(world, "alice"))
    assert removed.status_code == 204
    for method in ("GET", "PATCH", "PUT", "DELETE"):
        response = await client.request(
            method,
            path(user=world["bob"].uuid),
            json={} if method in ("PATCH", "PUT") else None,
            headers=acting(world, "alice"),
        )
        assert (response.status_code, response.json()["detail"]) == (404, "Not found."), method


async def test_bad_input_gets_the_envelope(client: Client, seed: Seed) -> None:
    world = await private_world(seed)
    carol = acting(world, "carol")
    not_uuid = await client.post(path(), json={"user_uuid": "nope"}, headers=carol)
    assert not_uuid.json() == envelope("invalid", "Must be a valid UUID.", "user_uuid")
    missing = await client.post(path(), json={"level": 1}, headers=carol)
    assert (missing.json()["code"], missing.json()["attr"]) == ("required", "user_uuid")
    level = await client.post(path(), json={"user_uuid": str(world["bob"].uuid), "level": 15}, headers=carol)
    assert level.json() == envelope("invalid_choice", '"15" is not a valid choice.', "level")
    unknown = await client.post(path(), json={"user_uuid": str(world["bob"].uuid), "x": 1}, headers=carol)
    assert (unknown.json()["code"], unknown.json()["attr"]) == ("unknown_field", "x")
    bad_path = await client.get(path(user="nope"), headers=carol)  # type: ignore[arg-type]
    assert (bad_path.json()["code"], bad_path.json()["attr"]) == ("invalid", "uuid")
    string = await client.patch(path(user=world["alice"].uuid), json={"level": "8"}, headers=carol)
    assert string.json()["code"] == "invalid_choice"
