"""SPEC §5.3.1 (users directory) and §5.1 (who may call the admin API), over HTTP."""

import uuid

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.fixtures.app import CHECK_TOKEN, admin_headers
from tests.fixtures.seed import Seed

Client = AsyncTestClient[Litestar]
ALICE = uuid.UUID("0b5a0000-0000-4000-8000-000000000001")
BOB = uuid.UUID("0b5a0000-0000-4000-8000-000000000002")


async def put_user(client: Client, user_uuid: uuid.UUID, **fields: object) -> dict[str, object]:
    response = await client.put(
        f"/api/users/{user_uuid}/", json={"email": "x@example.com", **fields}, headers=admin_headers()
    )
    assert response.status_code in (200, 201), response.text
    body: dict[str, object] = response.json()
    return body


async def test_put_creates_then_updates_a_user_keeping_absent_fields(client: Client) -> None:
    created = await client.put(
        f"/api/users/{ALICE}/",
        json={"email": "a@example.com", "first_name": "Alice"},
        headers=admin_headers(),
    )
    assert created.status_code == 201
    assert created.json() == {
        "id": 1, "uuid": str(ALICE), "distinct_id": None, "first_name": "Alice", "last_name": "",
        "email": "a@example.com", "is_email_verified": False, "hedgehog_config": None, "is_active": True,
    }  # fmt: skip
    updated = await client.put(
        f"/api/users/{ALICE}/", json={"email": "new@example.com"}, headers=admin_headers()
    )
    assert updated.status_code == 200
    assert (updated.json()["first_name"], updated.json()["email"]) == ("Alice", "new@example.com")
    assert int(updated.headers["X-Acl-Revision"]) == int(created.headers["X-Acl-Revision"]) + 1


async def test_assigned_ids_exceed_every_existing_id(client: Client) -> None:
    await put_user(client, ALICE, id=40)
    assert (await put_user(client, BOB))["id"] == 41


async def test_user_id_and_distinct_id_conflicts(client: Client) -> None:
    await put_user(client, ALICE, id=7, distinct_id="d-1")
    taken = await client.put(f"/api/users/{BOB}/", json={"email": "b@x", "id": 7}, headers=admin_headers())
    assert taken.status_code == 400
    assert taken.json() == {
        "type": "validation_error", "code": "unique",
        "detail": "A user with this id already exists.", "attr": "id",
    }  # fmt: skip
    changed = await client.put(
        f"/api/users/{ALICE}/", json={"email": "a@x", "id": 8}, headers=admin_headers()
    )
    assert (changed.status_code, changed.json()["detail"], changed.json()["attr"]) == (
        400,
        "id cannot be changed.",
        "id",
    )
    duplicate = await client.put(
        f"/api/users/{BOB}/", json={"email": "b@x", "distinct_id": "d-1"}, headers=admin_headers()
    )
    assert duplicate.json()["detail"] == "A user with this distinct_id already exists."
    assert duplicate.json()["attr"] == "distinct_id"


async def test_failed_write_changes_nothing_and_consumes_no_revision(client: Client) -> None:
    first = await client.put(f"/api/users/{ALICE}/", json={"email": "a@x", "id": 7}, headers=admin_headers())
    refused = await client.put(f"/api/users/{BOB}/", json={"email": "b@x", "id": 7}, headers=admin_headers())
    assert refused.headers["X-Acl-Revision"] == first.headers["X-Acl-Revision"]
    assert (await client.get(f"/api/users/{BOB}/", headers=admin_headers())).status_code == 404


async def test_get_delete_and_me(client: Client) -> None:
    await put_user(client, ALICE)
    assert (await client.get(f"/api/users/{ALICE}/", headers=admin_headers())).json()["uuid"] == str(ALICE)
    me = await client.get("/api/users/@me/", headers=admin_headers(acting_user=ALICE))
    assert (me.status_code, me.json()["uuid"]) == (200, str(ALICE))
    system_me = await client.get("/api/users/@me/", headers=admin_headers())
    assert system_me.status_code == 400
    assert system_me.json()["code"] == "acting_user_required"
    assert (await client.delete(f"/api/users/{ALICE}/", headers=admin_headers())).status_code == 204
    assert (await client.get(f"/api/users/{ALICE}/", headers=admin_headers())).status_code == 404
    assert (await client.delete(f"/api/users/{ALICE}/", headers=admin_headers())).status_code == 404


async def test_user_directory_is_for_system_calls_only(client: Client) -> None:
    await put_user(client, ALICE)
    acting = await client.get(f"/api/users/{ALICE}/", headers=admin_headers(acting_user=ALICE))
    assert (acting.status_code, acting.json()["detail"]) == (
        403,
        "You do not have permission to perform this action.",
    )


async def test_bad_input_gets_the_envelope(client: Client) -> None:
    bad_uuid = await client.get("/api/users/not-a-uuid/", headers=admin_headers())
    assert bad_uuid.json() == {
        "type": "validation_error",
        "code": "invalid",
        "detail": "Must be a valid UUID.",
        "attr": "uuid",
    }
    unknown = await client.put(
        f"/api/users/{ALICE}/", json={"email": "a@x", "nope": 1}, headers=admin_headers()
    )
    assert (unknown.json()["code"], unknown.json()["attr"]) == ("unknown_field", "nope")
    read_only = await client.put(
        f"/api/users/{ALICE}/", json={"email": "a@x", "uuid": str(BOB)}, headers=admin_headers()
    )
    assert (read_only.status_code, read_only.json()["uuid"]) == (201, str(ALICE))
    missing = await client.put(f"/api/users/{BOB}/", json={}, headers=admin_headers())
    assert (missing.json()["code"], missing.json()["attr"]) == ("required", "email")


async def test_callers_of_the_admin_api(client: Client) -> None:
    path = f"/api/users/{ALICE}/"
    missing = await client.get(path)
    assert (missing.status_code, missing.json()["code"]) == (401, "not_authenticated")
    check = await client.get(path, headers={"Authorization": f"Bearer {CHECK_TOKEN}"})
    assert (check.status_code, check.json()["detail"]) == (
        403,
        "You do not have permission to perform this action.",
    )
    wrong = await client.get(path, headers={"Authorization": "Bearer nope"})
    assert (wrong.status_code, wrong.json()["detail"]) == (401, "Invalid token.")
    basic = await client.get(path, headers={"Authorization": "Basic abc"})
    assert (basic.status_code, basic.json()["code"]) == (401, "authentication_failed")
    key = await client.get(path, headers={"Authorization": "Bearer phx_" + "a" * 43})
    assert key.json() == {
        "type": "authentication_error", "code": "authentication_failed",
        "detail": "Personal API key found in request Authorization header is invalid.", "attr": None,
    }  # fmt: skip
    bad_acting = await client.get(path, headers={**admin_headers(), "X-Acting-User": "x"})
    assert bad_acting.json() == {
        "type": "validation_error", "code": "invalid",
        "detail": "Must be a valid UUID.", "attr": "X-Acting-User",
    }  # fmt: skip
    unknown_acting = await client.get(path, headers=admin_headers(acting_user=BOB))
    assert (unknown_acting.status_code, unknown_acting.json()["code"]) == (401, "not_authenticated")
    await put_user(client, BOB, is_active=False)
    inactive = await client.get(path, headers=admin_headers(acting_user=BOB))
    assert inactive.status_code == 401


async def test_unknown_admin_path_authenticates_first(client: Client) -> None:
    assert (await client.get("/api/nothing/here/")).status_code == 401
    unknown = await client.get("/api/nothing/here/", headers=admin_headers())
    assert unknown.json() == {
        "type": "invalid_request",
        "code": "not_found",
        "detail": "Not found.",
        "attr": None,
    }
    assert "X-Acl-Revision" in unknown.headers


async def test_acting_user_me_in_the_spec_world(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["advanced_permissions"])
    me = await client.get("/api/users/@me/", headers=admin_headers(acting_user=world["carol"].uuid))
    assert (me.status_code, me.json()["first_name"]) == (200, "Carol")
    key = await seed.personal_api_key(world["alice"], ["user:read"])
    by_key = await client.get("/api/users/@me/", headers={"Authorization": f"Bearer {key}"})
    assert (by_key.status_code, by_key.json()["uuid"]) == (200, str(world["alice"].uuid))


async def test_key_use_is_recorded_outside_revisions(client: Client, seed: Seed, db_pool: object) -> None:
    world = await seed.spec_world()
    key = await seed.personal_api_key(world["alice"], ["user:read"])
    before = await client.get("/api/users/@me/", headers={"Authorization": f"Bearer {key}"})
    after = await client.get("/api/users/@me/", headers={"Authorization": f"Bearer {key}"})
    assert before.headers["X-Acl-Revision"] == after.headers["X-Acl-Revision"]
    assert isinstance(db_pool, asyncpg.Pool)
    used = await db_pool.fetchval(
        "SELECT last_used_at FROM personal_api_keys WHERE user_id = $1", world["alice"].id
    )
    assert used is not None
