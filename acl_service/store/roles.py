"""SQL of roles and role memberships (SPEC §2 roles, role_memberships; §5.3.10).

Every read and write is confined to the organization of the URL, so a role of another
organization is simply not found.
"""

from collections.abc import Sequence
from typing import Final
from uuid import UUID

import asyncpg

from acl_service.store.facts import Connection

ROLE_COLUMNS: Final = (
    "r.id, r.name, r.created_at, c.id AS creator_id, c.uuid AS creator_uuid, "
    "c.distinct_id AS creator_distinct_id, c.first_name AS creator_first_name, "
    "c.last_name AS creator_last_name, c.email AS creator_email, "
    "c.is_email_verified AS creator_is_email_verified, c.hedgehog_config AS creator_hedgehog_config"
)
ROLE_FROM: Final = "FROM roles r LEFT JOIN users c ON c.id = r.created_by_id"
ROLE_MEMBERSHIP_COLUMNS: Final = (
    "rm.id, rm.role_id, rm.joined_at, rm.updated_at, m.id AS member_id, m.level AS member_level, "
    "m.joined_at AS member_joined_at, m.updated_at AS member_updated_at, u.id AS user_id, u.uuid, "
    "u.distinct_id, u.first_name, u.last_name, u.email, u.is_email_verified, u.hedgehog_config"
)
ROLE_MEMBERSHIP_FROM: Final = """
    FROM role_memberships rm
    JOIN organization_memberships m ON m.id = rm.organization_member_id
    JOIN users u ON u.id = rm.user_id
"""


# -- roles ---------------------------------------------------------------------------------------


async def list_roles(
    conn: Connection, organization_id: UUID, *, limit: int, offset: int
) -> tuple[int, list[asyncpg.Record]]:
    total: int = await conn.fetchval("SELECT count(*) FROM roles WHERE organization_id = $1", organization_id)
    records = await conn.fetch(
        f"""
        SELECT {ROLE_COLUMNS} {ROLE_FROM}
        WHERE r.organization_id = $1
        ORDER BY r.created_at, r.id
        LIMIT $2 OFFSET $3
        """,
        organization_id,
        limit,
        offset,
    )
    return total, records


async def get_role(conn: Connection, organization_id: UUID, role_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {ROLE_COLUMNS} {ROLE_FROM} WHERE r.organization_id = $1 AND r.id = $2",
        organization_id,
        role_id,
    )


async def role_name_taken(
    conn: Connection, organization_id: UUID, name: str, except_role: UUID | None = None
) -> bool:
    """Names are unique per organization regardless of case (the schema's unique index agrees)."""
    taken: bool = await conn.fetchval(
        """
        SELECT EXISTS (SELECT 1 FROM roles
                       WHERE organization_id = $1 AND lower(name) = lower($2)
                         AND id IS DISTINCT FROM $3)
        """,
        organization_id,
        name,
        except_role,
    )
    return taken


async def insert_role(conn: Connection, organization_id: UUID, name: str, created_by_id: int | None) -> UUID:
    role_id: UUID = await conn.fetchval(
        "INSERT INTO roles (organization_id, name, created_by_id) VALUES ($1, $2, $3) RETURNING id",
        organization_id,
        name,
        created_by_id,
    )
    return role_id


async def rename_role(conn: Connection, role_id: UUID, name: str) -> None:
    await conn.execute("UPDATE roles SET name = $2 WHERE id = $1", role_id, name)


async def delete_role(conn: Connection, organization_id: UUID, role_id: UUID) -> bool:
    deleted = await conn.fetchval(
        "DELETE FROM roles WHERE organization_id = $1 AND id = $2 RETURNING id", organization_id, role_id
    )
    return deleted is not None


# -- role memberships ------------------------------------------------------------------------------


async def memberships_of_roles(conn: Connection, role_ids: Sequence[UUID]) -> list[asyncpg.Record]:
    """The members of several roles (active users), each role's in the order they joined."""
    return await conn.fetch(
        f"""
        SELECT {ROLE_MEMBERSHIP_COLUMNS} {ROLE_MEMBERSHIP_FROM}
        WHERE rm.role_id = any($1::uuid[]) AND u.is_active
        ORDER BY rm.joined_at, rm.id
        """,
        list(role_ids),
    )


async def list_role_memberships(
    conn: Connection, organization_id: UUID, role_id: UUID, *, limit: int, offset: int
) -> tuple[int, list[asyncpg.Record]]:
    in_role = f"""
        {ROLE_MEMBERSHIP_FROM} JOIN roles r ON r.id = rm.role_id
        WHERE r.organization_id = $1 AND rm.role_id = $2 AND u.is_active
    """
    total: int = await conn.fetchval(f"SELECT count(*) {in_role}", organization_id, role_id)
    records = await conn.fetch(
        f"SELECT {ROLE_MEMBERSHIP_COLUMNS} {in_role} ORDER BY rm.joined_at, rm.id LIMIT $3 OFFSET $4",
        organization_id,
        role_id,
        limit,
        offset,
    )
    return total, records


async def get_role_membership(conn: Connection, membership_id: UUID) -> asyncpg.Record:
    record = await conn.fetchrow(
        f"SELECT {ROLE_MEMBERSHIP_COLUMNS} {ROLE_MEMBERSHIP_FROM} WHERE rm.id = $1", membership_id
    )
    assert record is not None
    return record


async def active_membership(
    conn: Connection, organization_id: UUID, user_uuid: UUID
) -> asyncpg.Record | None:
    """The organization membership of an active user: its id and the user's id."""
    return await conn.fetchrow(
        """
        SELECT m.id, m.user_id FROM organization_memberships m JOIN users u ON u.id = m.user_id
        WHERE m.organization_id = $1 AND u.uuid = $2 AND u.is_active
        """,
        organization_id,
        user_uuid,
    )


async def holds_role(conn: Connection, role_id: UUID, user_id: int) -> bool:
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM role_memberships WHERE role_id = $1 AND user_id = $2)", role_id, user_id
    )
    return found


async def insert_role_membership(conn: Connection, role_id: UUID, user_id: int, member_id: UUID) -> UUID:
    membership_id: UUID = await conn.fetchval(
        """
        INSERT INTO role_memberships (role_id, user_id, organization_member_id)
        VALUES ($1, $2, $3) RETURNING id
        """,
        role_id,
        user_id,
        member_id,
    )
    return membership_id


async def delete_role_membership(
    conn: Connection, organization_id: UUID, role_id: UUID, membership_id: UUID
) -> bool:
    deleted = await conn.fetchval(
        """
        DELETE FROM role_memberships rm USING roles r
        WHERE rm.id = $3 AND rm.role_id = $2 AND r.id = rm.role_id AND r.organization_id = $1
        RETURNING rm.id
        """,
        organization_id,
        role_id,
        membership_id,
    )
    return deleted is not None
