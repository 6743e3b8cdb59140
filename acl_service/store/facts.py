"""Reading facts for decisions: one organization's whole view in one query, and global lookups.

The view query aggregates each table into a JSON array on the server, so an organization loads in
one round trip whatever its size; msgspec decodes the arrays straight into typed tuples.
"""

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final
from uuid import UUID

import asyncpg
import msgspec
from asyncpg.pool import PoolConnectionProxy

from acl_service.domain import (
    AccessControlRow,
    ApiKeyRef,
    DashboardPrivilege,
    ExplicitMembership,
    InsightPlacement,
    Membership,
    Organization,
    OrganizationView,
    Project,
    RoleMembership,
    StoredObject,
    UserRef,
)

Connection = asyncpg.Connection | PoolConnectionProxy

VIEW_QUERY: Final = """
SELECT
    o.id,
    o.name,
    o.available_product_features,
    o.members_can_use_personal_api_keys,
    (SELECT coalesce(json_agg(json_build_array(m.id, m.user_id, m.level)), '[]')
       FROM organization_memberships m WHERE m.organization_id = o.id) AS memberships,
    (SELECT coalesce(json_agg(json_build_array(u.id, u.uuid, u.is_active)), '[]')
       FROM organization_memberships m JOIN users u ON u.id = m.user_id
      WHERE m.organization_id = o.id) AS users,
    (SELECT coalesce(json_agg(json_build_array(p.id, p.access_control)), '[]')
       FROM projects p WHERE p.organization_id = o.id) AS projects,
    (SELECT coalesce(json_agg(json_build_array(e.project_id, e.parent_membership_id, e.level)), '[]')
       FROM explicit_memberships e JOIN projects p ON p.id = e.project_id
      WHERE p.organization_id = o.id) AS explicit_memberships,
    (SELECT coalesce(json_agg(json_build_array(r.project_id, r.resource, r.resource_id, r.created_by_id,
                                               r.restriction_level)), '[]')
       FROM resources r JOIN projects p ON p.id = r.project_id
      WHERE p.organization_id = o.id) AS objects,
    (SELECT coalesce(json_agg(json_build_array(a.project_id, a.resource, a.resource_id, a.access_level,
                                               a.organization_member_id, a.role_id, a.id)), '[]')
       FROM access_controls a JOIN projects p ON p.id = a.project_id
      WHERE p.organization_id = o.id) AS access_controls,
    (SELECT coalesce(json_agg(json_build_array(rm.role_id, rm.user_id)), '[]')
       FROM role_memberships rm JOIN roles ro ON ro.id = rm.role_id
      WHERE ro.organization_id = o.id) AS role_memberships,
    (SELECT coalesce(json_agg(json_build_array(dp.project_id, dp.dashboard_id, dp.user_id, dp.level)), '[]')
       FROM dashboard_privileges dp JOIN projects p ON p.id = dp.project_id
      WHERE p.organization_id = o.id) AS privileges,
    (SELECT coalesce(json_agg(json_build_array(i.project_id, i.insight_id, i.dashboard_id)), '[]')
       FROM insight_dashboards i JOIN projects p ON p.id = i.project_id
      WHERE p.organization_id = o.id) AS insight_placements
FROM organizations o
WHERE o.id = $1
"""


class _Feature(msgspec.Struct):
    key: str
    name: str = ""


_decode_memberships = msgspec.json.Decoder(list[tuple[UUID, int, int]]).decode
_decode_users = msgspec.json.Decoder(list[tuple[int, UUID, bool]]).decode
_decode_projects = msgspec.json.Decoder(list[tuple[int, bool]]).decode
_decode_explicit = msgspec.json.Decoder(list[tuple[int, UUID, int]]).decode
_decode_objects = msgspec.json.Decoder(list[tuple[int, str, str, int | None, int | None]]).decode
_decode_rows = msgspec.json.Decoder(
    list[tuple[int, str, str | None, str, UUID | None, UUID | None, UUID]]
).decode
_decode_role_memberships = msgspec.json.Decoder(list[tuple[UUID, int]]).decode
_decode_privileges = msgspec.json.Decoder(list[tuple[int, str, int, int]]).decode
_decode_placements = msgspec.json.Decoder(list[tuple[int, str, str]]).decode


@contextmanager
def collector_paused() -> Iterator[None]:
    """Building a view allocates an object per row, and the collector would rescan them every few
    hundred allocations: at 200,000 rows that doubled the build. Nothing built can form a cycle
    (domain.py), so there is nothing for it to find."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


async def load_organization_view(conn: Connection, organization_id: UUID) -> OrganizationView | None:
    record = await conn.fetchrow(VIEW_QUERY, organization_id)
    if record is None:
        return None
    with collector_paused():
        return _build_view(record)


def _build_view(record: asyncpg.Record) -> OrganizationView:
    features = msgspec.convert(record["available_product_features"], list[_Feature])
    organization = Organization(
        id=record["id"],
        name=record["name"],
        features=frozenset(feature.key for feature in features),
        members_can_use_personal_api_keys=record["members_can_use_personal_api_keys"],
    )
    return OrganizationView(
        organization,
        memberships=[Membership(*row) for row in _decode_memberships(record["memberships"])],
        users=[UserRef(*row) for row in _decode_users(record["users"])],
        projects=[Project(pid, organization.id, flag) for pid, flag in _decode_projects(record["projects"])],
        explicit_memberships=[
            ExplicitMembership(*row) for row in _decode_explicit(record["explicit_memberships"])
        ],
        objects=[StoredObject(*row) for row in _decode_objects(record["objects"])],
        access_controls=[
            AccessControlRow(pid, resource, rid, level, member_id=member, role_id=role, id=row_id)
            for pid, resource, rid, level, member, role, row_id in _decode_rows(record["access_controls"])
        ],
        role_memberships=[
            RoleMembership(*row) for row in _decode_role_memberships(record["role_memberships"])
        ],
        privileges=[DashboardPrivilege(*row) for row in _decode_privileges(record["privileges"])],
        insight_placements=[
            InsightPlacement(*row) for row in _decode_placements(record["insight_placements"])
        ],
    )


async def load_project(conn: Connection, project_id: int) -> Project | None:
    record = await conn.fetchrow(
        "SELECT id, organization_id, access_control FROM projects WHERE id = $1", project_id
    )
    return Project(record["id"], record["organization_id"], record["access_control"]) if record else None


async def organization_exists(conn: Connection, organization_id: UUID) -> bool:
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM organizations WHERE id = $1)", organization_id
    )
    return found


async def load_user_by_uuid(conn: Connection, user_uuid: UUID) -> UserRef | None:
    record = await conn.fetchrow("SELECT id, uuid, is_active FROM users WHERE uuid = $1", user_uuid)
    return UserRef(record["id"], record["uuid"], record["is_active"]) if record else None


async def load_user_by_id(conn: Connection, user_id: int) -> UserRef | None:
    record = await conn.fetchrow("SELECT id, uuid, is_active FROM users WHERE id = $1", user_id)
    return UserRef(record["id"], record["uuid"], record["is_active"]) if record else None


async def load_key(conn: Connection, secure_value: str) -> ApiKeyRef | None:
    record = await conn.fetchrow(
        """
        SELECT id, user_id, scopes, scoped_teams, scoped_organizations
        FROM personal_api_keys WHERE secure_value = $1
        """,
        secure_value,
    )
    if record is None:
        return None
    return ApiKeyRef(
        id=record["id"],
        user_id=record["user_id"],
        scopes=tuple(record["scopes"]) if record["scopes"] else None,
        scoped_teams=tuple(record["scoped_teams"]),
        scoped_organizations=tuple(record["scoped_organizations"]),
    )


async def touch_key(pool: asyncpg.Pool, key_id: UUID) -> None:
    """Record a key's use, at most hourly (SPEC §2): on its own connection, outside the request's
    transaction (which may be read-only), and outside revisions and the changelog (the triggers
    ignore this column)."""
    async with pool.acquire() as conn:
        await conn.execute(
            """
            UPDATE personal_api_keys SET last_used_at = now()
            WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 hour')
            """,
            key_id,
        )
