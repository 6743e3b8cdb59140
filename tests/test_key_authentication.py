"""Personal API keys authenticating admin-API calls (SPEC §3.13 K1-K4, §5.1), §8 examples 9 and 10."""

from datetime import datetime
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.fixtures.app import admin_headers
from tests.fixtures.seed import Seed, World

Client = AsyncTestClient[Litestar]
P = "/api/environments/1"
UNSUPPORTED = "This action does not support Personal API Key access"
INVALID_KEY = {
    "type": "authentication_error",
    "code": "authentication_failed",
    "detail": "Personal API key found in request Authorization header is invalid.",
    "attr": None,
}


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def outcome(response: Any) -> tuple[int, str | None]:
    detail = response.json().get("detail") if response.status_code >= 400 else None
    return response.status_code, detail


async def world_with_dashboard(seed: Seed, features: list[str] | None = None, **options: Any) -> World:
    world = await seed.spec_world(features or [], **options)
    await seed.dashboard(1, 7, created_by=world["alice"])
    await seed.dashboard(1, 8, created_by=world["alice"])
    return world


async def test_example_9_key_with_dashboard_read(client: Client, seed: Seed) -> None:
    world = await world_with_dashboard(seed)
    key = bearer(await seed.personal_api_key(world["alice"], ["dashboard:read"]))
    move = {"toDashboard": 8, "tile": {"id": 1}}
    assert outcome(await client.patch(f"{P}/dashboards/7/move_tile/", json=move, headers=key)) == (
        403,
        UNSUPPORTED,
    )
    assert outcome(await client.patch(f"{P}/dashboards/7/", json={"name": "x"}, headers=key)) == (
        403,
        "API key missing required scope 'dashboard:write'",
    )
    assert outcome(await client.get(f"{P}/dashboards/7/", headers=key)) == (200, None)

    star = bearer(await seed.personal_api_key(world["alice"], ["*"]))
    assert outcome(await client.patch(f"{P}/dashboards/7/move_tile/", json=move, headers=star)) == (
        403,
        UNSUPPORTED,
    )
    legacy = bearer(await seed.personal_api_key(world["alice"], None))
    assert outcome(await client.patch(f"{P}/dashboards/7/move_tile/", json=move, headers=legacy)) == (
        200,
        None,
    )


async def test_example_10_scoped_teams(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    key = bearer(await seed.personal_api_key(world["alice"], ["*"], scoped_teams=[1]))
    assert outcome(await client.get("/api/environments/2/dashboards/", headers=key)) == (
        403,
        "API key does not have access to the requested project: ID 2.",
    )
    assert outcome(await client.get("/api/projects/", headers=key)) == (
        403,
        "API keys with scoped projects are only supported on project-based endpoints.",
    )
    assert outcome(await client.get("/api/users/@me/", headers=key)) == (200, None)
    assert outcome(await client.get(f"{P}/dashboards/", headers=key)) == (200, None)
    assert outcome(await client.get("/api/projects/1/access_controls/", headers=key)) == (200, None)
    # A project-detail route outside the key's projects is not found (RESOLVE).
    assert outcome(await client.get("/api/projects/2/access_controls/", headers=key)) == (404, "Not found.")
    roles = await client.get(f"/api/organizations/{world.organization}/roles/", headers=key)
    assert outcome(roles) == (
        403,
        "API keys with scoped projects are only supported on project-based endpoints.",
    )


async def test_scoped_organizations(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    other = await seed.organization(name="Other")
    await seed.member(other, world["alice"])
    await seed.project(other, 3)
    key = bearer(await seed.personal_api_key(world["alice"], ["*"], scoped_organizations=[other]))
    refusal = f"API key does not have access to the requested organization: ID {world.organization}."
    assert outcome(await client.get(f"/api/organizations/{world.organization}/roles/", headers=key)) == (
        403,
        refusal,
    )
    assert outcome(await client.get(f"{P}/access_controls/", headers=key)) == (404, "Not found.")
    assert outcome(await client.get(f"{P}/dashboards/", headers=key)) == (403, refusal)
    assert outcome(await client.get(f"/api/organizations/{other}/roles/", headers=key)) == (200, None)
    assert outcome(await client.get("/api/environments/3/access_controls/", headers=key)) == (200, None)
    assert outcome(await client.get("/api/users/@me/", headers=key)) == (200, None)


async def test_write_scope_implies_read(client: Client, seed: Seed) -> None:
    world = await world_with_dashboard(seed)
    writer = bearer(await seed.personal_api_key(world["carol"], ["access_control:write"]))
    reader = bearer(await seed.personal_api_key(world["carol"], ["access_control:read"]))
    assert outcome(await client.get(f"{P}/access_controls/", headers=writer)) == (200, None)
    assert outcome(await client.get(f"{P}/dashboards/7/users_with_access/", headers=writer)) == (200, None)
    put = {"access_level": "member"}
    assert outcome(await client.put(f"{P}/access_controls/", json=put, headers=writer)) == (200, None)
    assert outcome(await client.put(f"{P}/access_controls/", json=put, headers=reader)) == (
        403,
        "API key missing required scope 'access_control:write'",
    )
    assert outcome(await client.get(f"{P}/dashboards/7/", headers=writer)) == (
        403,
        "API key missing required scope 'dashboard:read'",
    )
    dashboards_only = bearer(await seed.personal_api_key(world["carol"], ["dashboard:write"]))
    assert outcome(await client.get(f"{P}/dashboards/7/", headers=dashboards_only)) == (200, None)
    assert outcome(await client.get(f"{P}/dashboards/7/access_controls/", headers=dashboards_only)) == (
        403,
        "API key missing required scope 'access_control:read'",
    )


async def test_internal_routes_refuse_scoped_keys(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    star = bearer(await seed.personal_api_key(world["carol"], ["*"]))
    assert outcome(await client.get(f"{P}/explicit_members/", headers=star)) == (403, UNSUPPORTED)
    # K1 comes before RESOLVE: no 404 for a missing project.
    assert outcome(await client.get("/api/environments/99/explicit_members/", headers=star)) == (
        403,
        UNSUPPORTED,
    )
    assert outcome(await client.get(f"/api/users/{world['carol'].uuid}/", headers=star)) == (403, UNSUPPORTED)
    legacy = bearer(await seed.personal_api_key(world["carol"], []))
    assert outcome(await client.get(f"{P}/explicit_members/", headers=legacy)) == (200, None)
    # Key checks come after RESOLVE for scoped routes.
    assert outcome(await client.get("/api/environments/99/dashboards/", headers=star)) == (
        404,
        "Project not found.",
    )


async def test_organization_key_policy(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["organization_security_settings"], members_can_use_personal_api_keys=False)
    refusal = (
        "Organization 'O' does not allow using personal API keys. "
        "Contact an admin to enable personal API keys for this organization."
    )
    bob = bearer(await seed.personal_api_key(world["bob"], ["*"]))
    assert outcome(await client.get(f"{P}/access_controls/", headers=bob)) == (403, refusal)
    assert outcome(await client.get(f"/api/organizations/{world.organization}/roles/", headers=bob)) == (
        403,
        refusal,
    )
    assert outcome(await client.get("/api/users/@me/", headers=bob)) == (200, None)  # scope object user
    bob_legacy = bearer(await seed.personal_api_key(world["bob"], None))
    assert outcome(await client.get(f"{P}/access_controls/", headers=bob_legacy)) == (200, None)
    carol = bearer(await seed.personal_api_key(world["carol"], ["*"]))
    assert outcome(await client.get(f"{P}/access_controls/", headers=carol)) == (200, None)
    await seed.execute(
        "UPDATE organization_memberships SET level = 8 WHERE id = $1", world.memberships["bob"]
    )
    assert outcome(await client.get(f"{P}/access_controls/", headers=bob)) == (200, None)


async def test_key_policy_needs_the_feature_and_the_setting(client: Client, seed: Seed) -> None:
    without_feature = await seed.spec_world([], members_can_use_personal_api_keys=False)
    key = bearer(await seed.personal_api_key(without_feature["bob"], ["*"]))
    assert outcome(await client.get(f"{P}/access_controls/", headers=key)) == (200, None)
    await seed.execute(
        "UPDATE organizations SET available_product_features = $1, members_can_use_personal_api_keys = true",
        [{"key": "organization_security_settings", "name": "s"}],
    )
    assert outcome(await client.get(f"{P}/access_controls/", headers=key)) == (200, None)


async def test_keys_act_as_their_user(client: Client, seed: Seed) -> None:
    world = await seed.spec_world(["advanced_permissions"])
    bob = bearer(await seed.personal_api_key(world["bob"], ["access_control:write"]))
    listing = (await client.get(f"{P}/access_controls/", headers=bob)).json()
    assert (listing["user_access_level"], listing["user_can_edit_access_levels"]) == ("admin", False)
    refused = await client.put(f"{P}/access_controls/", json={"access_level": "none"}, headers=bob)
    assert outcome(refused) == (403, "Must be admin to modify project permissions.")
    carol = bearer(await seed.personal_api_key(world["carol"], ["access_control:write"]))
    created = await client.put(f"{P}/access_controls/", json={"access_level": "none"}, headers=carol)
    assert (created.status_code, created.json()["created_by"]) == (200, world["carol"].id)


async def test_invalid_keys_and_inactive_owners_are_refused(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    unknown = await client.get("/api/users/@me/", headers=bearer("phx_" + "a" * 43))
    assert (unknown.status_code, unknown.json()) == (401, INVALID_KEY)
    value = await seed.personal_api_key(world["dan"], ["*"])
    assert (await client.get("/api/users/@me/", headers=bearer(value))).status_code == 200
    await seed.execute("UPDATE users SET is_active = false WHERE id = $1", world["dan"].id)
    inactive = await client.get(f"{P}/access_controls/", headers=bearer(value))
    assert (inactive.status_code, inactive.json()) == (401, INVALID_KEY)
    # Authentication comes before routing: an unknown path still answers 401 to a bad key.
    unknown_path = await client.get("/api/nothing-here/", headers=bearer(value))
    assert unknown_path.status_code == 401


async def test_last_used_at_is_recorded_at_most_hourly_without_a_revision(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    value = await seed.personal_api_key(world["alice"], ["*"], label="tracked")

    async def last_used() -> datetime | None:
        used: datetime | None = await seed.pool.fetchval(
            "SELECT last_used_at FROM personal_api_keys WHERE label = 'tracked'"
        )
        return used

    async def revision() -> int:
        current: int = await seed.pool.fetchval("SELECT value FROM acl_revision")
        return current

    assert await last_used() is None
    before = await revision()
    await client.get("/api/users/@me/", headers=bearer(value))
    first = await last_used()
    assert first is not None
    assert await revision() == before  # bookkeeping, not a fact

    await seed.execute(
        "UPDATE personal_api_keys SET last_used_at = now() - interval '30 minutes' WHERE label = 'tracked'"
    )
    recent = await last_used()
    await client.get("/api/users/@me/", headers=bearer(value))
    assert await last_used() == recent  # used within the hour: unchanged

    await seed.execute(
        "UPDATE personal_api_keys SET last_used_at = now() - interval '2 hours' WHERE label = 'tracked'"
    )
    stale = await last_used()
    # Even a refused request authenticated the key.
    await client.get(f"{P}/explicit_members/", headers=bearer(value))
    refreshed = await last_used()
    assert stale is not None
    assert refreshed is not None
    assert refreshed > stale

    listed = await client.get("/api/personal_api_keys/", headers=admin_headers(world["alice"].uuid))
    assert listed.json()[0]["last_used_at"] is not None
