"""SPEC §5.3.2: organizations over HTTP (system calls, acting users, keys)."""

import asyncio
import uuid

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.fixtures.app import admin_headers
from tests.fixtures.seed import Seed

Client = AsyncTestClient[Litestar]
FEATURES = [{"key": "advanced_permissions", "name": "Advanced permissions"}]


def envelope(code: str, detail: str, attr: str | None = None) -> dict[str, object]:
    return {"type": "validation_error", "code": code, "detail": detail, "attr": attr}


def denied(detail: str) -> dict[str, object]:
    return {"type": "authentication_error", "code": "permission_denied", "detail": detail, "attr": None}


NOT_FOUND = {"type": "invalid_request", "code": "not_found", "detail": "Not found.", "attr": None}


async def test_system_call_creates_an_organization_with_every_field(client: Client) -> None:
    wanted = uuid.uuid4()
    created = await client.post(
        "/api/organizations/",
        json={
            "id": str(wanted),
            "name": "Acme",
            "available_product_features": FEATURES,
            "members_can_use_personal_api_keys": False,
        },
        headers=admin_headers(),
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == {
        "id", "name", "available_product_features", "members_can_use_personal_api_keys",
        "membership_level", "created_at", "updated_at",
    }  # fmt: skip
    assert body["id"] == str(wanted)
    assert body["available_product_features"] == FEATURES
    assert (body["members_can_use_personal_api_keys"], body["membership_level"]) == (False, None)
    assert body["created_at"].endswith("Z")


async def test_existing_id_is_a_unique_error(client: Client, seed: Seed) -> None:
    existing = await seed.organization()
    again = await client.post(
        "/api/organizations/", json={"id": str(existing), "name": "X"}, headers=admin_headers()
    )
    assert again.status_code == 400
    assert again.json() == envelope("unique", "An organization with this id already exists.", "id")


async def test_acting_user_becomes_owner_of_the_organization_they_create(client: Client, seed: Seed) -> None:
    alice = await seed.user("alice")
    created = await client.post(
        "/api/organizations/", json={"name": "Mine"}, headers=admin_headers(acting_user=alice.uuid)
    )
    assert created.status_code == 201
    assert created.json()["membership_level"] == 15
    assert created.json()["available_product_features"] == []
    members = await client.get(
        f"/api/organizations/{created.json()['id']}/members/", headers=admin_headers(acting_user=alice.uuid)
    )
    assert [(m["user"]["uuid"], m["level"]) for m in members.json()["results"]] == [(str(alice.uuid), 15)]


async def test_acting_user_cannot_set_system_fields(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    headers = admin_headers(acting_user=world["alice"].uuid)
    with_id = await client.post(
        "/api/organizations/", json={"name": "X", "id": str(uuid.uuid4())}, headers=headers
    )
    assert with_id.status_code == 400
    assert with_id.json() == envelope("read_only", "This field can only be set by a system call.", "id")
    with_features = await client.post(
        "/api/organizations/", json={"name": "X", "available_product_features": FEATURES}, headers=headers
    )
    assert with_features.json() == envelope(
        "read_only", "This field can only be set by a system call.", "available_product_features"
    )
    patched = await client.patch(
        f"/api/organizations/{world.organization}/",
        json={"available_product_features": FEATURES},
        headers=admin_headers(acting_user=world["carol"].uuid),
    )
    assert patched.json()["code"] == "read_only"


async def test_list_shows_own_organizations_to_acting_users_and_all_to_system(
    client: Client, seed: Seed
) -> None:
    world = await seed.spec_world()
    other = await seed.organization(name="Other")
    alice = await client.get("/api/organizations/", headers=admin_headers(acting_user=world["alice"].uuid))
    assert alice.status_code == 200
    assert alice.json()["count"] == 1
    assert [(o["id"], o["membership_level"]) for o in alice.json()["results"]] == [
        (str(world.organization), 1)
    ]
    system = await client.get("/api/organizations/", headers=admin_headers())
    assert {o["id"] for o in system.json()["results"]} == {str(world.organization), str(other)}
    assert {o["membership_level"] for o in system.json()["results"]} == {None}


async def test_list_paginates(client: Client, seed: Seed) -> None:
    for index in range(3):
        await seed.organization(name=f"O{index}")
    first = await client.get("/api/organizations/?limit=2", headers=admin_headers())
    assert (first.json()["count"], len(first.json()["results"])) == (3, 2)
    # The request's own path, trailing slash included (SPEC §5.2: links are request paths).
    assert first.json()["next"] == "/api/organizations/?limit=2&offset=2"
    assert first.json()["previous"] is None
    second = await client.get(first.json()["next"], headers=admin_headers())
    assert (len(second.json()["results"]), second.json()["next"]) == (1, None)
    bad = await client.get("/api/organizations/?limit=0", headers=admin_headers())
    assert bad.json() == envelope("min_value", "Ensure this value is greater than or equal to 1.", "limit")


async def test_key_lists_only_its_scoped_organizations(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    second = await seed.organization(name="Second")
    await seed.member(second, world["alice"])
    key = await seed.personal_api_key(world["alice"], ["*"], scoped_organizations=[second])
    listed = await client.get("/api/organizations/", headers={"Authorization": f"Bearer {key}"})
    assert listed.status_code == 200
    assert [o["id"] for o in listed.json()["results"]] == [str(second)]
    unscoped = await seed.personal_api_key(world["alice"], ["organization:read"])
    both = await client.get("/api/organizations/", headers={"Authorization": f"Bearer {unscoped}"})
    assert {o["id"] for o in both.json()["results"]} == {str(world.organization), str(second)}
    outside = await client.get(
        f"/api/organizations/{world.organization}/", headers={"Authorization": f"Bearer {key}"}
    )
    assert (outside.status_code, outside.json()) == (404, NOT_FOUND)


async def test_retrieve_shows_the_callers_membership_level(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    path = f"/api/organizations/{world.organization}/"
    carol = await client.get(path, headers=admin_headers(acting_user=world["carol"].uuid))
    assert (carol.status_code, carol.json()["membership_level"], carol.json()["name"]) == (200, 15, "O")
    system = await client.get(path, headers=admin_headers())
    assert system.json()["membership_level"] is None
    outsider = await seed.user("eve")
    hidden = await client.get(path, headers=admin_headers(acting_user=outsider.uuid))
    assert (hidden.status_code, hidden.json()) == (404, NOT_FOUND)
    missing = await client.get(f"/api/organizations/{uuid.uuid4()}/", headers=admin_headers())
    assert missing.status_code == 404


async def test_update_needs_an_admin_and_sets_only_given_fields(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    path = f"/api/organizations/{world.organization}/"
    member = await client.patch(
        path, json={"name": "N"}, headers=admin_headers(acting_user=world["bob"].uuid)
    )
    assert (member.status_code, member.json()) == (
        403,
        denied("Your organization access level is insufficient."),
    )
    carol = admin_headers(acting_user=world["carol"].uuid)
    renamed = await client.patch(path, json={"name": "Renamed", "membership_level": 1}, headers=carol)
    assert renamed.status_code == 200
    assert (renamed.json()["name"], renamed.json()["membership_level"]) == ("Renamed", 15)
    assert renamed.json()["members_can_use_personal_api_keys"] is True
    put = await client.put(path, json={"members_can_use_personal_api_keys": False}, headers=carol)
    assert (put.json()["name"], put.json()["members_can_use_personal_api_keys"]) == ("Renamed", False)
    system = await client.patch(path, json={"available_product_features": FEATURES}, headers=admin_headers())
    assert system.json()["available_product_features"] == FEATURES
    blank = await client.patch(path, json={"name": " "}, headers=carol)
    assert blank.json() == envelope("blank", "This field may not be blank.", "name")
    long = await client.patch(path, json={"name": "x" * 65}, headers=carol)
    assert long.json() == envelope("max_length", "Ensure this field has no more than 64 characters.", "name")


async def test_only_owners_delete_and_delete_cascades(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    await seed.member(second := await seed.organization(name="Second"), world["alice"], 8)
    path = f"/api/organizations/{world.organization}/"
    await client.patch(path, json={}, headers=admin_headers())
    admin_refused = await client.delete(
        f"/api/organizations/{second}/", headers=admin_headers(acting_user=world["alice"].uuid)
    )
    assert admin_refused.json() == denied("Your organization access level is insufficient.")
    deleted = await client.delete(path, headers=admin_headers(acting_user=world["carol"].uuid))
    assert deleted.status_code == 204
    assert (await client.get(path, headers=admin_headers())).status_code == 404
    project = await client.get("/api/projects/1/", headers=admin_headers())
    assert project.status_code == 404


async def test_bad_input_gets_the_envelope(client: Client, seed: Seed) -> None:
    bad_path = await client.get("/api/organizations/nope/", headers=admin_headers())
    assert bad_path.json() == envelope("invalid", "Must be a valid UUID.", "org")
    unknown = await client.post("/api/organizations/", json={"name": "X", "x": 1}, headers=admin_headers())
    assert unknown.json() == envelope("unknown_field", "Unknown field.", "x")
    wrong = await client.post("/api/organizations/", json={"name": 3}, headers=admin_headers())
    assert wrong.json() == envelope("invalid", "Not a valid string.", "name")
    flag = await client.post(
        "/api/organizations/",
        json={"name": "X", "members_can_use_personal_api_keys": "yes"},
        headers=admin_headers(),
    )
    assert flag.json() == envelope("invalid", "Must be a valid boolean.", "members_can_use_personal_api_keys")
    feature = await client.post(
        "/api/organizations/",
        json={"name": "X", "available_product_features": [{"name": "no key"}]},
        headers=admin_headers(),
    )
    assert feature.json() == envelope(
        "required", "This field is required.", "available_product_features__0__key"
    )
    bad_id = await client.post("/api/organizations/", json={"name": "X", "id": "1"}, headers=admin_headers())
    assert bad_id.json() == envelope("invalid", "Must be a valid UUID.", "id")
    missing = await client.post("/api/organizations/", json={}, headers=admin_headers())
    assert missing.json() == envelope("required", "This field is required.", "name")
    not_json = await client.post("/api/organizations/", content=b"{", headers=admin_headers())
    assert (not_json.status_code, not_json.json()["code"]) == (400, "parse_error")


async def test_concurrent_creates_of_one_id_give_one_201_and_one_400(client: Client) -> None:
    body = {"id": str(uuid.uuid4()), "name": "Race"}
    responses = await asyncio.gather(
        *(client.post("/api/organizations/", json=body, headers=admin_headers()) for _ in range(2))
    )
    assert sorted(r.status_code for r in responses) == [201, 400]
    refused = next(r for r in responses if r.status_code == 400)
    assert refused.json()["code"] == "unique"
