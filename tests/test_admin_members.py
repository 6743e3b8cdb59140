"""SPEC §5.3.3: organization members and the member rules, in their order, over HTTP."""

import asyncio
import uuid

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.fixtures.app import admin_headers
from tests.fixtures.seed import Seed, World

Client = AsyncTestClient[Litestar]


def denied(detail: str) -> dict[str, object]:
    return {"type": "authentication_error", "code": "permission_denied", "detail": detail, "attr": None}


def members_path(world: World, user: uuid.UUID | None = None) -> str:
    base = f"/api/organizations/{world.organization}/members/"
    return base if user is None else f"{base}{user}/"


def acting(world: World, name: str) -> dict[str, str]:
    return admin_headers(acting_user=world[name].uuid)


async def test_list_orders_by_level_then_latest_joined_and_hides_inactive_users(
    client: Client, seed: Seed
) -> None:
    world = await seed.spec_world()
    eve = await seed.user("eve", active=False)
    await seed.member(world.organization, eve)
    listed = await client.get(members_path(world), headers=acting(world, "bob"))
    assert listed.status_code == 200
    body = listed.json()
    assert body["count"] == 4
    # Members joined alice, bob, dan in that order: latest first within level 1, then the owner.
    assert [m["user"]["first_name"] for m in body["results"]] == ["Dan", "Bob", "Alice", "Carol"]
    first = body["results"][0]
    assert set(first) == {"id", "user", "level", "joined_at", "updated_at"}
    assert first["id"] == str(world.memberships["dan"])
    assert set(first["user"]) == {
        "id", "uuid", "distinct_id", "first_name", "last_name", "email", "is_email_verified",
        "hedgehog_config",
    }  # fmt: skip
    page = await client.get(members_path(world) + "?limit=1&offset=3", headers=admin_headers())
    assert [m["level"] for m in page.json()["results"]] == [15]


async def test_non_members_cannot_list_and_unknown_organizations_are_not_found(
    client: Client, seed: Seed
) -> None:
    world = await seed.spec_world()
    eve = await seed.user("eve")
    outsider = await client.get(members_path(world), headers=admin_headers(acting_user=eve.uuid))
    assert (outsider.status_code, outsider.json()) == (
        403,
        denied("You do not have permission to perform this action."),
    )
    missing = await client.get(f"/api/organizations/{uuid.uuid4()}/members/", headers=admin_headers())
    assert (missing.status_code, missing.json()["detail"]) == (404, "Not found.")


async def test_admin_adds_a_member_with_the_default_level(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    await seed.execute(
        "UPDATE organization_memberships SET level = 8 WHERE id = $1", world.memberships["alice"]
    )
    eve = await seed.user("eve")
    added = await client.post(
        members_path(world), json={"user_uuid": str(eve.uuid)}, headers=acting(world, "alice")
    )
    assert added.status_code == 201, added.text
    assert (added.json()["level"], added.json()["user"]["uuid"]) == (1, str(eve.uuid))


async def test_add_member_validation_in_order(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    carol = acting(world, "carol")
    unknown = await client.post(members_path(world), json={"user_uuid": str(uuid.uuid4())}, headers=carol)
    assert unknown.json() == {
        "type": "validation_error", "code": "invalid_input",
        "detail": "User does not exist.", "attr": "user_uuid",
    }  # fmt: skip
    inactive = await seed.user("eve", active=False)
    refused = await client.post(members_path(world), json={"user_uuid": str(inactive.uuid)}, headers=carol)
    assert (refused.status_code, refused.json()["detail"]) == (400, "User does not exist.")
    again = await client.post(members_path(world), json={"user_uuid": str(world["bob"].uuid)}, headers=carol)
    assert again.json() == {
        "type": "validation_error", "code": "unique",
        "detail": "User is already a member of the organization.", "attr": "user_uuid",
    }  # fmt: skip
    bad_level = await client.post(
        members_path(world), json={"user_uuid": str(world["bob"].uuid), "level": 3}, headers=carol
    )
    assert (bad_level.json()["code"], bad_level.json()["detail"], bad_level.json()["attr"]) == (
        "invalid_choice",
        '"3" is not a valid choice.',
        "level",
    )


async def test_only_owners_add_owners_and_members_cannot_add(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    await seed.execute(
        "UPDATE organization_memberships SET level = 8 WHERE id = $1", world.memberships["alice"]
    )
    eve = await seed.user("eve")
    body = {"user_uuid": str(eve.uuid), "level": 15}
    by_admin = await client.post(members_path(world), json=body, headers=acting(world, "alice"))
    assert (by_admin.status_code, by_admin.json()) == (
        403,
        denied("You can only make another member owner if you're this organization's owner."),
    )
    by_member = await client.post(members_path(world), json=body, headers=acting(world, "bob"))
    assert by_member.json() == denied("Your organization access level is insufficient.")
    by_owner = await client.post(members_path(world), json=body, headers=acting(world, "carol"))
    assert (by_owner.status_code, by_owner.json()["level"]) == (201, 15)
    by_system = await client.post(
        members_path(world),
        json={"user_uuid": str((await seed.user("zed")).uuid), "level": 15},
        headers=admin_headers(),
    )
    assert by_system.status_code == 201


async def test_update_rule_one_editing_others(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    by_member = await client.patch(
        members_path(world, world["dan"].uuid), json={"level": 1}, headers=acting(world, "bob")
    )
    assert (by_member.status_code, by_member.json()) == (
        403,
        denied("You can only edit others if you are an admin."),
    )
    await seed.execute(
        "UPDATE organization_memberships SET level = 8 WHERE id = $1", world.memberships["alice"]
    )
    on_owner = await client.patch(
        members_path(world, world["carol"].uuid), json={}, headers=acting(world, "alice")
    )
    assert on_owner.json() == denied("You can only edit others with level lower or equal to you.")
    promoted = await client.patch(
        members_path(world, world["bob"].uuid), json={"level": 8}, headers=acting(world, "alice")
    )
    assert (promoted.status_code, promoted.json()["level"]) == (200, 8)


async def test_update_rule_two_new_levels(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    own = await client.patch(
        members_path(world, world["carol"].uuid), json={"level": 8}, headers=acting(world, "carol")
    )
    assert own.json() == denied("You can't change your own access level.")
    # Without a level, editing oneself is a no-op that succeeds.
    noop = await client.put(members_path(world, world["bob"].uuid), json={}, headers=acting(world, "bob"))
    assert (noop.status_code, noop.json()["level"]) == (200, 1)
    await seed.execute(
        "UPDATE organization_memberships SET level = 8 WHERE id = $1", world.memberships["alice"]
    )
    to_owner = await client.put(
        members_path(world, world["bob"].uuid), json={"level": 15}, headers=acting(world, "alice")
    )
    assert to_owner.json() == denied(
        "You can only make another member owner if you're this organization's owner."
    )


async def test_several_owners_may_coexist(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    made = await client.patch(
        members_path(world, world["alice"].uuid), json={"level": 15}, headers=acting(world, "carol")
    )
    assert (made.status_code, made.json()["level"]) == (200, 15)
    listed = await client.get(members_path(world), headers=admin_headers())
    assert sorted(m["level"] for m in listed.json()["results"]) == [1, 1, 15, 15]


async def test_unknown_member_is_not_found(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    eve = await seed.user("eve")
    for method in ("PATCH", "PUT", "DELETE"):
        response = await client.request(
            method,
            members_path(world, eve.uuid),
            json={} if method != "DELETE" else None,
            headers=acting(world, "carol"),
        )
        assert (response.status_code, response.json()["detail"]) == (404, "Not found."), method
    bad = await client.delete(members_path(world) + "nope/", headers=admin_headers())
    assert bad.json() == {
        "type": "validation_error",
        "code": "invalid",
        "detail": "Must be a valid UUID.",
        "attr": "uuid",
    }


async def test_anyone_may_leave_and_removal_follows_rule_one(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["project_based_permissioning"], access_control=True)
    await seed.explicit_member(1, world.memberships["bob"], 8)
    others = await client.delete(members_path(world, world["dan"].uuid), headers=acting(world, "bob"))
    assert others.json() == denied("You can only edit others if you are an admin.")
    await seed.execute(
        "UPDATE organization_memberships SET level = 8 WHERE id = $1", world.memberships["alice"]
    )
    owner = await client.delete(members_path(world, world["carol"].uuid), headers=acting(world, "alice"))
    assert owner.json() == denied("You can only edit others with level lower or equal to you.")
    leave = await client.delete(members_path(world, world["bob"].uuid), headers=acting(world, "bob"))
    assert leave.status_code == 204
    # Leaving the organization leaves its projects' explicit memberships too.
    explicit = await client.get("/api/projects/1/explicit_members/", headers=admin_headers())
    assert explicit.json() == []
    removed = await client.delete(members_path(world, world["dan"].uuid), headers=acting(world, "alice"))
    assert removed.status_code == 204
    owner_leaves = await client.delete(
        members_path(world, world["carol"].uuid), headers=acting(world, "carol")
    )
    assert owner_leaves.status_code == 204
    listed = await client.get(members_path(world), headers=admin_headers())
    assert [m["user"]["first_name"] for m in listed.json()["results"]] == ["Alice"]


async def test_concurrent_adds_of_one_user_give_one_201_and_one_400(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    eve = await seed.user("eve")
    responses = await asyncio.gather(
        *(
            client.post(members_path(world), json={"user_uuid": str(eve.uuid)}, headers=admin_headers())
            for _ in range(2)
        )
    )
    assert sorted(r.status_code for r in responses) == [201, 400]


async def test_bad_input_gets_the_envelope(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    not_uuid = await client.post(members_path(world), json={"user_uuid": "x"}, headers=admin_headers())
    assert not_uuid.json() == {
        "type": "validation_error",
        "code": "invalid",
        "detail": "Must be a valid UUID.",
        "attr": "user_uuid",
    }
    unknown = await client.post(
        members_path(world), json={"user_uuid": str(world["bob"].uuid), "role": 1}, headers=admin_headers()
    )
    assert (unknown.json()["code"], unknown.json()["attr"]) == ("unknown_field", "role")
    missing = await client.post(members_path(world), json={}, headers=admin_headers())
    assert (missing.json()["code"], missing.json()["attr"]) == ("required", "user_uuid")
    wrong = await client.patch(
        members_path(world, world["bob"].uuid), json={"level": "admin"}, headers=admin_headers()
    )
    assert (wrong.json()["code"], wrong.json()["detail"]) == (
        "invalid_choice",
        '"admin" is not a valid choice.',
    )
    array = await client.patch(members_path(world, world["bob"].uuid), json=[1], headers=admin_headers())
    assert array.json()["detail"] == "Invalid data. Expected a dictionary, but got list."
