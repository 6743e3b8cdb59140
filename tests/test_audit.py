"""Who changed what: the changelog's actor and request id, read back through `GET /api/activity`."""

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from acl_service.settings import ChangelogRetention
from acl_service.store.changelog import prune_changelog
from tests.fixtures.app import admin_headers
from tests.fixtures.seed import Seed

Client = AsyncTestClient[Litestar]
ACTIVITY = "/api/activity/"
DASHBOARDS = "/api/environments/1/dashboards/"


async def activity(client: Client, **query: Any) -> dict[str, Any]:
    response = await client.get(ACTIVITY, params=query, headers=admin_headers())
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def rows_of(client: Client, revision: int) -> list[dict[str, Any]]:
    page = await activity(client, after_revision=revision - 1, limit=1000)
    return [row for row in page["results"] if row["revision"] == revision]


async def test_a_system_call_is_recorded_as_the_admin_token_with_its_request_id(
    client: Client, seed: Seed
) -> None:
    world = await seed.spec_world()
    response = await client.post(
        DASHBOARDS, json={"name": "Audited"}, headers={**admin_headers(), "X-Request-Id": "sync-run-7"}
    )
    assert response.status_code == 201, response.text
    revision = int(response.headers["X-Acl-Revision"])

    [row] = await rows_of(client, revision)
    assert set(row) == {
        "revision", "changed_at", "actor", "request_id", "organization_id", "table", "op", "key",
    }  # fmt: skip
    assert (row["actor"], row["request_id"], row["table"], row["op"]) == (
        "token:admin",
        "sync-run-7",
        "resources",
        "insert",
    )
    assert row["organization_id"] == str(world.organization)
    assert row["key"] == {"project_id": 1, "resource": "dashboard", "resource_id": str(response.json()["id"])}


async def test_an_acting_user_is_recorded_by_uuid_and_a_generated_request_id_is_the_echoed_one(
    client: Client, seed: Seed
) -> None:
    world = await seed.spec_world()
    alice = world["alice"]
    response = await client.post(DASHBOARDS, json={"name": "Mine"}, headers=admin_headers(alice.uuid))
    assert response.status_code == 201, response.text

    rows = await rows_of(client, int(response.headers["X-Acl-Revision"]))
    # The dashboard and its creator's privilege are both written by Alice, in one request.
    assert rows
    assert {row["actor"] for row in rows} == {f"user:{alice.uuid}"}
    assert {row["request_id"] for row in rows} == {response.headers["X-Request-Id"]}


async def test_a_personal_api_key_is_recorded_by_key_id_not_by_its_owner(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    value = await seed.personal_api_key(world["alice"], ["*"])
    key_id = await seed.execute("SELECT id FROM personal_api_keys WHERE user_id = $1", world["alice"].id)
    by_key = {"Authorization": f"Bearer {value}"}
    response = await client.post(DASHBOARDS, json={"name": "By key"}, headers=by_key)
    assert response.status_code == 201, response.text

    rows = await rows_of(client, int(response.headers["X-Acl-Revision"]))
    assert rows
    assert {row["actor"] for row in rows} == {f"key:{key_id}"}


async def test_writes_outside_a_request_are_recorded_as_system_without_request_id(
    client: Client, seed: Seed
) -> None:
    await seed.spec_world()
    page = await activity(client, limit=1000)
    assert page["count"] > 0
    assert {(row["actor"], row["request_id"]) for row in page["results"]} == {("system", None)}


async def test_activity_filters_by_organization_and_revision_and_pages_in_revision_order(
    client: Client, seed: Seed
) -> None:
    world = await seed.spec_world()
    other = await seed.organization(name="Other")
    await seed.project(other, 3)
    revisions = []
    for name in ("one", "two", "three"):
        response = await client.post(DASHBOARDS, json={"name": name}, headers=admin_headers())
        assert response.status_code == 201, response.text
        revisions.append(int(response.headers["X-Acl-Revision"]))

    mine = await activity(client, organization=str(world.organization), after_revision=revisions[0] - 1)
    assert mine["count"] == 3
    assert [row["revision"] for row in mine["results"]] == revisions
    theirs = await activity(client, organization=str(other))
    assert {row["organization_id"] for row in theirs["results"]} == {str(other)}
    assert {row["table"] for row in theirs["results"]} == {"organizations", "projects"}

    first = await activity(
        client, organization=str(world.organization), after_revision=revisions[0] - 1, limit=2
    )
    assert [row["revision"] for row in first["results"]] == revisions[:2]
    assert first["previous"] is None
    assert first["next"] is not None
    second = await client.get(first["next"], headers=admin_headers())
    assert [row["revision"] for row in second.json()["results"]] == revisions[2:]
    assert second.json()["next"] is None
    assert second.json()["count"] == 3


async def test_activity_of_pruned_revisions_is_gone(client: Client, seed: Seed) -> None:
    await seed.spec_world()
    response = await client.post(DASHBOARDS, json={"name": "kept"}, headers=admin_headers())
    revision = int(response.headers["X-Acl-Revision"])
    async with seed.pool.acquire() as conn:
        await prune_changelog(conn, ChangelogRetention(revisions=1))
    page = await activity(client)
    assert {row["revision"] for row in page["results"]} == {revision}


async def test_bad_activity_parameters_are_400s_naming_the_parameter(client: Client, seed: Seed) -> None:
    await seed.spec_world()
    cases = {
        "organization=nope": ("invalid", "Must be a valid UUID.", "organization"),
        "after_revision=x": ("invalid", "A valid integer is required.", "after_revision"),
        "after_revision=-1": (
            "min_value",
            "Ensure this value is greater than or equal to 0.",
            "after_revision",
        ),
        "after_revision=9223372036854775808": (
            "max_value",
            "Ensure this value is less than or equal to 9223372036854775807.",
            "after_revision",
        ),
        "limit=0": ("min_value", "Ensure this value is greater than or equal to 1.", "limit"),
    }
    for query, (code, detail, attr) in cases.items():
        response = await client.get(f"{ACTIVITY}?{query}", headers=admin_headers())
        assert response.status_code == 400, query
        assert response.json() == {"type": "validation_error", "code": code, "detail": detail, "attr": attr}


async def test_only_system_calls_read_activity(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    carol = world["carol"]  # an owner: still not a system call
    acting = await client.get(ACTIVITY, headers=admin_headers(carol.uuid))
    assert acting.status_code == 403
    assert acting.json()["detail"] == "You do not have permission to perform this action."
    value = await seed.personal_api_key(carol, ["*"])
    assert (await client.get(ACTIVITY, headers={"Authorization": f"Bearer {value}"})).status_code == 403
    assert (await client.get(ACTIVITY)).status_code == 401
