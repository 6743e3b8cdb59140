"""SPEC §5.3.10 (roles and role memberships), over HTTP."""

from typing import Any
from uuid import uuid4

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.fixtures.app import admin_headers
from tests.fixtures.seed import Seed, SeedUser, World

Client = AsyncTestClient[Litestar]


def acting(user: SeedUser) -> dict[str, str]:
    return admin_headers(user.uuid)


def roles_url(world: World) -> str:
    return f"/api/organizations/{world.organization}/roles/"


def failure(response: Any) -> tuple[int, str, str, str | None]:
    body = response.json()
    return response.status_code, body["code"], body["detail"], body["attr"]


async def test_create_get_and_list_roles(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    created = await client.post(roles_url(world), json={"name": "Eng"}, headers=acting(world["carol"]))
    assert created.status_code == 201
    role = created.json()
    assert set(role) == {"id", "name", "created_at", "created_by", "members"}
    assert (role["name"], role["members"]) == ("Eng", [])
    assert role["created_by"] == {
        "id": world["carol"].id, "uuid": str(world["carol"].uuid), "distinct_id": None,
        "first_name": "Carol", "last_name": "", "email": "carol@example.com", "is_email_verified": False,
        "hedgehog_config": None,
    }  # fmt: skip
    assert role["created_at"].endswith("Z")
    system = await client.post(
        roles_url(world), json={"name": "Ops", "members": [], "id": "x"}, headers=admin_headers()
    )
    assert (system.status_code, system.json()["created_by"]) == (201, None)

    fetched = await client.get(f"{roles_url(world)}{role['id']}/", headers=acting(world["bob"]))
    assert fetched.json() == role
    listing = await client.get(roles_url(world), headers=acting(world["bob"]))
    assert listing.status_code == 200
    body = listing.json()
    assert (body["count"], body["next"], body["previous"]) == (2, None, None)
    assert [r["name"] for r in body["results"]] == ["Eng", "Ops"]
    first = (await client.get(f"{roles_url(world)}?limit=1", headers=acting(world["bob"]))).json()
    assert len(first["results"]) == 1
    assert first["next"] == f"/api/organizations/{world.organization}/roles/?limit=1&offset=1"


async def test_role_names_are_unique_regardless_of_case(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    other = await seed.organization(name="Other")
    await seed.role(other, "Eng")  # another organization may use the name
    first = await client.post(roles_url(world), json={"name": "Eng"}, headers=admin_headers())
    assert first.status_code == 201
    duplicate = await client.post(roles_url(world), json={"name": "eNG"}, headers=admin_headers())
    assert duplicate.status_code == 400
    assert duplicate.json() == {
        "type": "validation_error", "code": "unique", "detail": "There is already a role with this name.",
        "attr": "name",
    }  # fmt: skip
    second = await client.post(roles_url(world), json={"name": "Ops"}, headers=admin_headers())
    renamed = await client.patch(
        f"{roles_url(world)}{second.json()['id']}/", json={"name": "ENG"}, headers=admin_headers()
    )
    assert failure(renamed) == (400, "unique", "There is already a role with this name.", "name")
    same = await client.patch(
        f"{roles_url(world)}{first.json()['id']}/", json={"name": "eng"}, headers=admin_headers()
    )
    assert (same.status_code, same.json()["name"]) == (200, "eng")


async def test_update_and_delete_roles(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    role = await seed.role(world.organization, "Eng")
    url = f"{roles_url(world)}{role}/"
    patched = await client.patch(url, json={}, headers=acting(world["carol"]))
    assert (patched.status_code, patched.json()["name"]) == (200, "Eng")
    put = await client.put(url, json={"name": "Platform"}, headers=acting(world["carol"]))
    assert (put.status_code, put.json()["name"]) == (200, "Platform")
    put_without_name = await client.put(url, json={}, headers=acting(world["carol"]))
    assert failure(put_without_name) == (400, "required", "This field is required.", "name")
    blank = await client.patch(url, json={"name": " "}, headers=acting(world["carol"]))
    assert failure(blank) == (400, "blank", "This field may not be blank.", "name")
    long = await client.post(roles_url(world), json={"name": "x" * 201}, headers=admin_headers())
    assert failure(long) == (400, "max_length", "Ensure this field has no more than 200 characters.", "name")
    deleted = await client.delete(url, headers=acting(world["carol"]))
    assert deleted.status_code == 204
    for response in (
        await client.get(url, headers=admin_headers()),
        await client.patch(url, json={"name": "x"}, headers=admin_headers()),
        await client.delete(url, headers=admin_headers()),
    ):
        assert failure(response) == (404, "not_found", "Not found.", None)


async def test_roles_of_another_organization_are_not_found(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    other = await seed.organization(name="Other")
    foreign = await seed.role(other, "Eng")
    response = await client.get(f"{roles_url(world)}{foreign}/", headers=admin_headers())
    assert failure(response) == (404, "not_found", "Not found.", None)
    deleting = await client.delete(f"{roles_url(world)}{foreign}/", headers=admin_headers())
    assert deleting.status_code == 404
    missing_org = await client.get(f"/api/organizations/{uuid4()}/roles/", headers=admin_headers())
    assert failure(missing_org) == (404, "not_found", "Not found.", None)


async def test_members_read_roles_and_only_admins_write(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    outsider = await seed.user("outsider")
    role = await seed.role(world.organization, "Eng")
    denied = "You do not have permission to perform this action."
    not_member = await client.get(roles_url(world), headers=acting(outsider))
    assert failure(not_member) == (403, "permission_denied", denied, None)
    not_member_write = await client.post(roles_url(world), json={"name": "x"}, headers=acting(outsider))
    assert failure(not_member_write)[2] == denied
    admin_needed = "You need to have admin level or higher."
    for response in (
        await client.post(roles_url(world), json={"name": "x"}, headers=acting(world["bob"])),
        await client.patch(f"{roles_url(world)}{role}/", json={"name": "x"}, headers=acting(world["bob"])),
        await client.put(f"{roles_url(world)}{role}/", json={"name": "x"}, headers=acting(world["bob"])),
        await client.delete(f"{roles_url(world)}{role}/", headers=acting(world["bob"])),
        await client.post(
            f"{roles_url(world)}{role}/role_memberships/",
            json={"user_uuid": str(world["bob"].uuid)},
            headers=acting(world["bob"]),
        ),
        await client.delete(
            f"{roles_url(world)}{role}/role_memberships/{uuid4()}/", headers=acting(world["bob"])
        ),
    ):
        assert failure(response) == (403, "permission_denied", admin_needed, None)
    assert (
        await client.get(f"{roles_url(world)}{role}/role_memberships/", headers=acting(world["bob"]))
    ).status_code == 200
    await seed.execute(
        "UPDATE organization_memberships SET level = 8 WHERE id = $1", world.memberships["bob"]
    )
    promoted = await client.post(roles_url(world), json={"name": "x"}, headers=acting(world["bob"]))
    assert promoted.status_code == 201


async def test_role_memberships_add_list_and_remove(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    role = await seed.role(world.organization, "Eng")
    url = f"{roles_url(world)}{role}/role_memberships/"
    added = await client.post(url, json={"user_uuid": str(world["bob"].uuid)}, headers=acting(world["carol"]))
    assert added.status_code == 201
    membership = added.json()
    assert set(membership) == {"id", "role_id", "organization_member", "user", "joined_at", "updated_at"}
    assert membership["role_id"] == str(role)
    assert membership["user"]["uuid"] == str(world["bob"].uuid)
    member = membership["organization_member"]
    assert set(member) == {"id", "user", "level", "joined_at", "updated_at"}
    assert (member["id"], member["level"], member["user"]) == (
        str(world.memberships["bob"]),
        1,
        membership["user"],
    )
    await client.post(url, json={"user_uuid": str(world["dan"].uuid)}, headers=admin_headers())

    listing = (await client.get(url, headers=acting(world["alice"]))).json()
    assert listing["count"] == 2
    assert [m["user"]["uuid"] for m in listing["results"]] == [str(world["bob"].uuid), str(world["dan"].uuid)]
    shown = (await client.get(f"{roles_url(world)}{role}/", headers=admin_headers())).json()
    assert shown["members"] == listing["results"]

    removed = await client.delete(f"{url}{membership['id']}/", headers=acting(world["carol"]))
    assert removed.status_code == 204
    again = await client.delete(f"{url}{membership['id']}/", headers=acting(world["carol"]))
    assert failure(again) == (404, "not_found", "Not found.", None)
    assert (await client.get(url, headers=admin_headers())).json()["count"] == 1


async def test_role_membership_rules_in_order(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    role = await seed.role(world.organization, "Eng", [(world["bob"], world.memberships["bob"])])
    other = await seed.organization(name="Other")
    foreign_role = await seed.role(other, "Eng")
    stranger = await seed.user("stranger")
    await seed.member(other, stranger)
    inactive = await seed.user("gone", active=False)
    await seed.member(world.organization, inactive)

    async def add(role_id: object, user: object) -> tuple[int, str, str, str | None]:
        response = await client.post(
            f"{roles_url(world)}{role_id}/role_memberships/",
            json={"user_uuid": str(user)},
            headers=admin_headers(),
        )
        return failure(response)

    assert await add(uuid4(), world["dan"].uuid) == (400, "invalid_input", "Role does not exist.", None)
    assert await add(foreign_role, uuid4()) == (400, "invalid_input", "Role does not exist.", None)
    assert await add(role, uuid4()) == (400, "invalid_input", "User does not exist.", None)
    assert await add(role, stranger.uuid) == (400, "invalid_input", "User does not exist.", None)
    assert await add(role, inactive.uuid) == (400, "invalid_input", "User does not exist.", None)
    assert await add(role, world["bob"].uuid) == (
        400,
        "invalid_input",
        "User is already part of the role.",
        None,
    )
    missing = await client.post(
        f"{roles_url(world)}{role}/role_memberships/", json={}, headers=admin_headers()
    )
    assert failure(missing) == (400, "required", "This field is required.", "user_uuid")
    malformed = await client.post(
        f"{roles_url(world)}{role}/role_memberships/", json={"user_uuid": "x"}, headers=admin_headers()
    )
    assert failure(malformed) == (400, "invalid", "Must be a valid UUID.", "user_uuid")


async def test_removing_a_membership_of_another_role_is_not_found(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    eng = await seed.role(world.organization, "Eng")
    ops = await seed.role(world.organization, "Ops")
    added = await client.post(
        f"{roles_url(world)}{eng}/role_memberships/",
        json={"user_uuid": str(world["bob"].uuid)},
        headers=admin_headers(),
    )
    wrong_role = await client.delete(
        f"{roles_url(world)}{ops}/role_memberships/{added.json()['id']}/", headers=admin_headers()
    )
    assert wrong_role.status_code == 404
    bad_id = await client.delete(f"{roles_url(world)}{eng}/role_memberships/nope/", headers=admin_headers())
    assert failure(bad_id) == (400, "invalid", "Must be a valid UUID.", "membership_id")


async def test_role_grants_need_role_based_access_to_take_effect(client: Client, seed: Seed) -> None:
    """SPEC §8 example 8 through the roles API: the role and its membership are written over HTTP."""
    world = await seed.spec_world(["advanced_permissions"])
    await seed.resource(1, "notebook", "n-1")
    role = (await client.post(roles_url(world), json={"name": "Eng"}, headers=admin_headers())).json()["id"]
    await client.post(
        f"{roles_url(world)}{role}/role_memberships/",
        json={"user_uuid": str(world["bob"].uuid)},
        headers=admin_headers(),
    )
    await seed.access_control(1, "notebook", None, "none")
    grant = await client.put(
        "/api/environments/1/resource_access_controls/",
        json={"resource": "notebook", "role": role, "access_level": "viewer"},
        headers=acting(world["carol"]),
    )
    assert grant.status_code == 200
    url = "/api/environments/1/resources/notebook/n-1/access_controls/"
    assert (await client.get(url, headers=acting(world["bob"]))).status_code == 403
    await seed.execute(
        "UPDATE organizations SET available_product_features = $1 WHERE id = $2",
        [{"key": "advanced_permissions", "name": "a"}, {"key": "role_based_access", "name": "r"}],
        world.organization,
    )
    allowed = await client.get(url, headers=acting(world["bob"]))
    assert (allowed.status_code, allowed.json()["user_access_level"]) == (200, "viewer")
    users = (
        await client.get(url.replace("access_controls", "users_with_access"), headers=admin_headers())
    ).json()
    bob = next(u for u in users["users"] if u["user_id"] == str(world["bob"].uuid))
    assert (bob["access_level"], bob["access_source"]) == ("viewer", "default")
