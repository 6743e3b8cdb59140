"""SPEC §5.3.11 (personal API keys of the acting user), over HTTP."""

import hashlib
import re
from typing import Any
from uuid import uuid4

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.fixtures.app import admin_headers
from tests.fixtures.seed import Seed, SeedUser

Client = AsyncTestClient[Litestar]
KEYS = "/api/personal_api_keys/"
KEY_FIELDS = {
    "id", "label", "value", "mask_value", "created_at", "last_used_at", "user_id", "scopes", "scoped_teams",
    "scoped_organizations",
}  # fmt: skip


def acting(user: SeedUser) -> dict[str, str]:
    return admin_headers(user.uuid)


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def failure(response: Any) -> tuple[int, str, str, str | None]:
    body = response.json()
    return response.status_code, body["code"], body["detail"], body["attr"]


async def create(client: Client, user: SeedUser, **fields: Any) -> dict[str, Any]:
    response = await client.post(KEYS, json={"label": "k", "scopes": ["*"], **fields}, headers=acting(user))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_create_shows_the_value_once_and_stores_only_its_digest(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    alice = world["alice"]
    created = await create(client, alice, label="ci", scopes=["user:read", "insight:write"])
    assert set(created) == KEY_FIELDS
    value = created["value"]
    assert re.fullmatch(r"phx_[A-Za-z0-9]{43}", value)
    assert created["mask_value"] == f"{value[:4]}...{value[-4:]}"
    assert (created["label"], created["user_id"], created["last_used_at"]) == ("ci", alice.id, None)
    assert (created["scopes"], created["scoped_teams"], created["scoped_organizations"]) == (
        ["user:read", "insight:write"],
        [],
        [],
    )
    stored = await seed.execute("SELECT secure_value FROM personal_api_keys WHERE id = $1", created["id"])
    assert stored == "sha256$" + hashlib.sha256(value.encode()).hexdigest()
    stored_anywhere = await seed.execute(
        "SELECT count(*) FROM personal_api_keys WHERE $1 IN (label, secure_value, mask_value)", value
    )
    assert stored_anywhere == 0
    fetched = (await client.get(f"{KEYS}{created['id']}/", headers=acting(alice))).json()
    assert fetched == {**created, "value": None}
    listed = (await client.get(KEYS, headers=acting(alice))).json()
    assert listed == [{**created, "value": None}]
    # The key authenticates as Alice.
    me = await client.get("/api/users/@me/", headers=bearer(value))
    assert me.json()["uuid"] == str(alice.uuid)


async def test_keys_are_listed_newest_first_and_only_the_callers(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    first = await create(client, world["alice"], label="first")
    second = await create(client, world["alice"], label="second")
    await create(client, world["bob"], label="bob's")
    listed = (await client.get(KEYS, headers=acting(world["alice"]))).json()
    assert [key["id"] for key in listed] == [second["id"], first["id"]]
    others = await client.get(f"{KEYS}{first['id']}/", headers=acting(world["bob"]))
    assert failure(others) == (404, "not_found", "Not found.", None)
    patch_others = await client.patch(
        f"{KEYS}{first['id']}/", json={"label": "x"}, headers=acting(world["bob"])
    )
    assert patch_others.status_code == 404
    delete_others = await client.delete(f"{KEYS}{first['id']}/", headers=acting(world["bob"]))
    assert delete_others.status_code == 404


async def test_empty_and_legacy_scopes_render_as_star(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    empty = await create(client, world["alice"], scopes=[])
    assert empty["scopes"] == ["*"]
    await seed.personal_api_key(world["alice"], None, label="legacy")
    listed = (await client.get(KEYS, headers=acting(world["alice"]))).json()
    assert [key["scopes"] for key in listed] == [["*"], ["*"]]


async def test_patch_changes_the_fields_given(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    key = await create(client, world["alice"], scoped_teams=[1])
    url = f"{KEYS}{key['id']}/"
    renamed = await client.patch(
        url, json={"label": "renamed", "value": "ignored"}, headers=acting(world["alice"])
    )
    assert renamed.status_code == 200
    body = renamed.json()
    assert (body["label"], body["scopes"], body["scoped_teams"], body["value"]) == (
        "renamed",
        ["*"],
        [1],
        None,
    )
    rescoped = await client.patch(
        url,
        json={
            "scopes": ["notebook:read"],
            "scoped_teams": [],
            "scoped_organizations": [str(world.organization)],
        },
        headers=acting(world["alice"]),
    )
    body = rescoped.json()
    assert (body["scopes"], body["scoped_teams"], body["scoped_organizations"]) == (
        ["notebook:read"],
        [],
        [str(world.organization)],
    )
    assert body["mask_value"] == key["mask_value"]
    invalid = await client.patch(url, json={"scopes": ["nope"]}, headers=acting(world["alice"]))
    assert failure(invalid) == (400, "invalid_input", "Invalid scope: nope", "scopes")


async def test_delete_removes_the_key(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    key = await create(client, world["alice"])
    deleted = await client.delete(f"{KEYS}{key['id']}/", headers=acting(world["alice"]))
    assert deleted.status_code == 204
    again = await client.delete(f"{KEYS}{key['id']}/", headers=acting(world["alice"]))
    assert failure(again) == (404, "not_found", "Not found.", None)
    refused = await client.get("/api/users/@me/", headers=bearer(key["value"]))
    assert refused.status_code == 401


async def test_scope_validation(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    for scope in (
        "nope",
        "dashboard",
        "dashboard:admin",
        "dashboards:read",
        "dashboard:read:write",
        "",
        "INTERNAL:read",
    ):
        response = await client.post(
            KEYS, json={"label": "k", "scopes": ["*", scope]}, headers=acting(world["alice"])
        )
        assert failure(response) == (400, "invalid_input", f"Invalid scope: {scope}", "scopes")
    ok = await create(
        client, world["alice"], scopes=["*", "user_interview_DO_NOT_USE:write", "access_control:read"]
    )
    assert ok["scopes"] == ["*", "user_interview_DO_NOT_USE:write", "access_control:read"]


async def test_scoped_teams_must_be_visible_projects_of_the_user(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["project_based_permissioning"])
    await seed.project(world.organization, 3, access_control=True)  # private: Alice cannot see it
    other = await seed.organization(name="Other")
    await seed.project(other, 4)
    message = "You must be a member of all teams that you are scoping the key to."
    for teams in ([3], [1, 3], [4], [99]):
        response = await client.post(
            KEYS, json={"label": "k", "scopes": ["*"], "scoped_teams": teams}, headers=acting(world["alice"])
        )
        assert failure(response) == (400, "invalid_input", message, "scoped_teams")
    assert (await create(client, world["alice"], scoped_teams=[1, 2]))["scoped_teams"] == [1, 2]
    assert (await create(client, world["carol"], scoped_teams=[3]))["scoped_teams"] == [3]
    await seed.member(other, world["alice"])
    assert (await create(client, world["alice"], scoped_teams=[4]))["scoped_teams"] == [4]
    bad_type = await client.post(
        KEYS, json={"label": "k", "scopes": ["*"], "scoped_teams": ["x"]}, headers=acting(world["alice"])
    )
    assert failure(bad_type) == (400, "invalid", "A valid integer is required.", "scoped_teams__0")


async def test_scoped_organizations_must_be_uuids_of_the_users_organizations(
    client: Client, seed: Seed
) -> None:
    world = await seed.spec_world()
    other = await seed.organization(name="Other")

    async def post(organizations: list[str]) -> Any:
        return await client.post(
            KEYS,
            json={"label": "k", "scopes": ["*"], "scoped_organizations": organizations},
            headers=acting(world["alice"]),
        )

    assert failure(await post(["nope"])) == (
        400,
        "invalid_input",
        "Invalid organization UUID",
        "scoped_organizations",
    )
    message = "You must be a member of all organizations that you are scoping the key to."
    for organizations in ([str(other)], [str(world.organization), str(uuid4())]):
        assert failure(await post(organizations)) == (400, "invalid_input", message, "scoped_organizations")
    created = await post([str(world.organization).upper()])
    assert (created.status_code, created.json()["scoped_organizations"]) == (201, [str(world.organization)])


async def test_validation_order_scopes_teams_organizations_then_the_limit(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    alice = world["alice"]
    for index in range(10):
        await seed.personal_api_key(alice, ["*"], label=f"k{index}")
    body = {"label": "k", "scopes": ["bad"], "scoped_teams": [99], "scoped_organizations": ["nope"]}
    assert failure(await client.post(KEYS, json=body, headers=acting(alice)))[3] == "scopes"
    body["scopes"] = ["*"]
    assert failure(await client.post(KEYS, json=body, headers=acting(alice)))[3] == "scoped_teams"
    body["scoped_teams"] = [1]
    assert failure(await client.post(KEYS, json=body, headers=acting(alice)))[3] == "scoped_organizations"
    body["scoped_organizations"] = []
    eleventh = await client.post(KEYS, json=body, headers=acting(alice))
    assert eleventh.json() == {
        "type": "validation_error", "code": "invalid_input",
        "detail": "You can only have 10 personal API keys. Remove an existing key before creating a new one.",
        "attr": None,
    }  # fmt: skip
    assert len((await client.get(KEYS, headers=acting(alice))).json()) == 10


async def test_ten_keys_is_the_limit(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    for _ in range(10):
        await create(client, world["bob"])
    refused = await client.post(KEYS, json={"label": "k", "scopes": ["*"]}, headers=acting(world["bob"]))
    assert failure(refused)[:2] == (400, "invalid_input")
    assert (await create(client, world["alice"]))["user_id"] == world["alice"].id


async def test_body_validation(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    headers = acting(world["alice"])
    no_label = await client.post(KEYS, json={"scopes": ["*"]}, headers=headers)
    assert failure(no_label) == (400, "required", "This field is required.", "label")
    no_scopes = await client.post(KEYS, json={"label": "k"}, headers=headers)
    assert failure(no_scopes) == (400, "required", "This field is required.", "scopes")
    long_label = await client.post(KEYS, json={"label": "x" * 41, "scopes": ["*"]}, headers=headers)
    assert failure(long_label) == (
        400,
        "max_length",
        "Ensure this field has no more than 40 characters.",
        "label",
    )
    blank = await client.post(KEYS, json={"label": "", "scopes": ["*"]}, headers=headers)
    assert failure(blank) == (400, "blank", "This field may not be blank.", "label")
    not_list = await client.post(KEYS, json={"label": "k", "scopes": "*"}, headers=headers)
    assert failure(not_list) == (400, "not_a_list", 'Expected a list of items but got type "str".', "scopes")
    unknown = await client.post(
        KEYS, json={"label": "k", "scopes": ["*"], "secure_value": "x"}, headers=headers
    )
    assert failure(unknown) == (400, "unknown_field", "Unknown field.", "secure_value")
    bad_key = await client.get(f"{KEYS}nope/", headers=headers)
    assert failure(bad_key) == (400, "invalid", "Must be a valid UUID.", "key")


async def test_system_calls_must_name_an_acting_user(client: Client, seed: Seed) -> None:
    await seed.spec_world()
    for response in (
        await client.get(KEYS, headers=admin_headers()),
        await client.post(KEYS, json={"label": "k", "scopes": ["*"]}, headers=admin_headers()),
        await client.get(f"{KEYS}@current/", headers=admin_headers()),
    ):
        assert response.status_code == 400
        assert response.json() == {
            "type": "validation_error", "code": "acting_user_required",
            "detail": "This endpoint acts for a user: send the X-Acting-User header.", "attr": None,
        }  # fmt: skip


async def test_current_key_is_only_known_to_key_callers(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    key = await create(client, world["alice"], scopes=["dashboard:read"])
    as_user = await client.get(f"{KEYS}@current/", headers=acting(world["alice"]))
    assert failure(as_user) == (404, "not_found", "Not found.", None)
    as_user_delete = await client.delete(f"{KEYS}@current/", headers=acting(world["alice"]))
    assert failure(as_user_delete) == (404, "not_found", "Not found.", None)
    current = await client.get(f"{KEYS}@current/", headers=bearer(key["value"]))
    assert (current.status_code, current.json()["id"], current.json()["value"]) == (200, key["id"], None)
    by_id = await client.get(f"{KEYS}{key['id']}/", headers=bearer(key["value"]))
    assert by_id.status_code == 200


async def test_keys_may_only_read_themselves(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    key = await create(client, world["alice"])
    other = await create(client, world["alice"], label="other")
    unsupported = "This action does not support Personal API Key access"
    headers = bearer(key["value"])
    for response in (
        await client.get(KEYS, headers=headers),
        await client.post(KEYS, json={"label": "k", "scopes": ["*"]}, headers=headers),
        await client.get(f"{KEYS}{other['id']}/", headers=headers),
        await client.patch(f"{KEYS}@current/", json={"label": "x"}, headers=headers),
        await client.delete(f"{KEYS}{key['id']}/", headers=headers),
    ):
        assert failure(response) == (403, "permission_denied", unsupported, None)
    legacy = await seed.personal_api_key(world["alice"], None)
    assert (await client.get(KEYS, headers=bearer(legacy))).status_code == 403
