"""SQL of organizations and their memberships (SPEC §2, §5.3.2, §5.3.3).

Reads that render a caller-dependent field take the caller's user id (None for system calls) and
return the caller's `membership_level` with each organization.
"""

from collections.abc import Sequence
from typing import Any, Final
from uuid import UUID

import asyncpg

from acl_service.store.facts import Connection

ORGANIZATION_COLUMNS: Final = (
    "o.id, o.name, o.available_product_features, o.members_can_use_personal_api_keys, "
    "o.created_at, o.updated_at"
)
# The caller's level in the organization, NULL for system calls (user id NULL) and non-members.
CALLER_LEVEL: Final = (
    "(SELECT cm.level FROM organization_memberships cm "
    "WHERE cm.organization_id = o.id AND cm.user_id = $1) AS membership_level"
)
MEMBER_COLUMNS: Final = (
    "m.id, m.level, m.joined_at, m.updated_at, u.id AS user_id, u.uuid, u.distinct_id, u.first_name, "
    "u.last_name, u.email, u.is_email_verified, u.hedgehog_config"
)


# -- organizations -----------------------------------------------------------------------------------


VISIBLE_ORGANIZATIONS: Final = """
    FROM organizations o
    WHERE (NOT $2 OR EXISTS (SELECT 1 FROM organization_memberships m
                             WHERE m.organization_id = o.id AND m.user_id = $1))
      AND ($3::uuid[] IS NULL OR o.id = any($3::uuid[]))
"""


async def list_organizations(
    conn: Connection,
    caller_id: int | None,
    *,
    member_only: bool,
    within: Sequence[UUID] | None,
    limit: int,
    offset: int,
) -> tuple[int, list[asyncpg.Record]]:
    """Organizations by creation; `member_only` keeps the caller's own, `within` a key's scoping."""
    args = (caller_id, member_only, list(within) if within is not None else None)
    total: int = await conn.fetchval(f"SELECT count(*) {VISIBLE_ORGANIZATIONS}", *args)
    records = await conn.fetch(
        f"""
        SELECT {ORGANIZATION_COLUMNS}, {CALLER_LEVEL}
        {VISIBLE_ORGANIZATIONS}
        ORDER BY o.created_at, o.id
        LIMIT $4 OFFSET $5
        """,
        *args,
        limit,
        offset,
    )
    return total, records


async def get_organization(
    conn: Connection, organization_id: UUID, caller_id: int | None
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {ORGANIZATION_COLUMNS}, {CALLER_LEVEL} FROM organizations o WHERE o.id = $2",
        caller_id,
        organization_id,
    )


async def organization_exists(conn: Connection, organization_id: UUID) -> bool:
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM organizations WHERE id = $1)", organization_id
    )
    return found


async def insert_organization(
    conn: Connection,
    organization_id: UUID | None,
    name: str,
    features: list[dict[str, str]],
    members_can_use_personal_api_keys: bool,
) -> UUID | None:
    """The new organization's id; None when the id is taken."""
    created: UUID | None = await conn.fetchval(
        """
        INSERT INTO organizations (id, name, available_product_features, members_can_use_personal_api_keys)
        VALUES (coalesce($1, gen_random_uuid()), $2, $3, $4)
        ON CONFLICT (id) DO NOTHING
        RETURNING id
        """,
        organization_id,
        name,
        features,
        members_can_use_personal_api_keys,
    )
    return created


async def update_organization(conn: Connection, organization_id: UUID, fields: dict[str, Any]) -> None:
    """Set the fields given (name, available_product_features, members_can_use_personal_api_keys)."""
    await conn.execute(
        """
        UPDATE organizations SET
            name = coalesce($2, name),
            available_product_features = coalesce($3, available_product_features),
            members_can_use_personal_api_keys = coalesce($4, members_can_use_personal_api_keys),
            updated_at = now()
        WHERE id = $1
        """,
        organization_id,
        fields.get("name"),
        fields.get("available_product_features"),
        fields.get("members_can_use_personal_api_keys"),
    )


async def delete_organization(conn: Connection, organization_id: UUID) -> bool:
    # Memberships, projects (and everything in them) and roles cascade.
    deleted = await conn.fetchval("DELETE FROM organizations WHERE id = $1 RETURNING id", organization_id)
    return deleted is not None


# -- memberships -------------------------------------------------------------------------------------


async def list_members(
    conn: Connection, organization_id: UUID, *, limit: int, offset: int
) -> tuple[int, list[asyncpg.Record]]:
    """Members who are active users, by level ascending then most recently joined (SPEC §5.3.3)."""
    total: int = await conn.fetchval(
        """
        SELECT count(*) FROM organization_memberships m JOIN users u ON u.id = m.user_id
        WHERE m.organization_id = $1 AND u.is_active
        """,
        organization_id,
    )
    records = await conn.fetch(
        f"""
        SELECT {MEMBER_COLUMNS}
        FROM organization_memberships m JOIN users u ON u.id = m.user_id
        WHERE m.organization_id = $1 AND u.is_active
        ORDER BY m.level, m.joined_at DESC, m.id
        LIMIT $2 OFFSET $3
        """,
        organization_id,
        limit,
        offset,
    )
    return total, records


async def get_member(conn: Connection, organization_id: UUID, user_uuid: UUID) -> asyncpg.Record | None:
    """The membership of an active user (inactive users are not listed, so not found either)."""
    return await conn.fetchrow(
        f"""
        SELECT {MEMBER_COLUMNS}
        FROM organization_memberships m JOIN users u ON u.id = m.user_id
        WHERE m.organization_id = $1 AND u.uuid = $2 AND u.is_active
        """,
        organization_id,
        user_uuid,
    )


async def member_level(conn: Connection, organization_id: UUID, user_id: int) -> int | None:
    level: int | None = await conn.fetchval(
        "SELECT level FROM organization_memberships WHERE organization_id = $1 AND user_id = $2",
        organization_id,
        user_id,
    )
    return level


async def is_member(conn: Connection, organization_id: UUID, user_id: int) -> bool:
    return await member_level(conn, organization_id, user_id) is not None


async def insert_member(conn: Connection, organization_id: UUID, user_id: int, level: int) -> UUID | None:
    """The new membership's id; None when the user already is a member."""
    membership: UUID | None = await conn.fetchval(
        """
        INSERT INTO organization_memberships (organization_id, user_id, level)
        VALUES ($1, $2, $3)
        ON CONFLICT (organization_id, user_id) DO NOTHING
        RETURNING id
        """,
        organization_id,
        user_id,
        level,
    )
    return membership


async def update_member_level(conn: Connection, membership_id: UUID, level: int) -> None:
    await conn.execute(
        "UPDATE organization_memberships SET level = $2, updated_at = now() WHERE id = $1",
        membership_id,
        level,
    )


async def delete_member(conn: Connection, membership_id: UUID) -> None:
    # Explicit and role memberships and member access-control rows cascade (SPEC §2).
    await conn.execute("DELETE FROM organization_memberships WHERE id = $1", membership_id)


async def organizations_of_user(conn: Connection, user_id: int) -> list[UUID]:
    records = await conn.fetch(
        "SELECT organization_id FROM organization_memberships WHERE user_id = $1 ORDER BY organization_id",
        user_id,
    )
    return [record["organization_id"] for record in records]
