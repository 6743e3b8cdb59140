"""SQL of projects and their explicit memberships (SPEC §2, §5.3.4, §5.3.5)."""

from collections.abc import Sequence
from typing import Any, Final
from uuid import UUID

import asyncpg

from acl_service.store.facts import Connection
from acl_service.store.objects import MAX_BIGINT

PROJECT_COLUMNS: Final = "p.id, p.organization_id, p.name, p.access_control, p.created_at, p.updated_at"
EXPLICIT_COLUMNS: Final = (
    "e.id, e.level, m.level AS parent_level, e.parent_membership_id, e.joined_at, e.updated_at, "
    "greatest(e.level, m.level) AS effective_level, "
    "u.id AS user_id, u.uuid, u.distinct_id, u.first_name, u.last_name, u.email, u.is_email_verified, "
    "u.hedgehog_config"
)
EXPLICIT_FROM: Final = """
    FROM explicit_memberships e
    JOIN organization_memberships m ON m.id = e.parent_membership_id
    JOIN users u ON u.id = m.user_id
"""
SELECTED_PROJECTS: Final = """
    FROM projects p
    WHERE ($1::uuid IS NULL OR p.organization_id = $1)
      AND ($2::bigint[] IS NULL OR p.id = any($2::bigint[]))
"""


# -- projects ----------------------------------------------------------------------------------------


async def list_projects(
    conn: Connection, *, organization: UUID | None, ids: Sequence[int] | None, limit: int, offset: int
) -> tuple[int, list[asyncpg.Record]]:
    """Projects by id, optionally of one organization and among `ids` (None: every project)."""
    args = (organization, list(ids) if ids is not None else None)
    total: int = await conn.fetchval(f"SELECT count(*) {SELECTED_PROJECTS}", *args)
    records = await conn.fetch(
        f"SELECT {PROJECT_COLUMNS} {SELECTED_PROJECTS} ORDER BY p.id LIMIT $3 OFFSET $4",
        *args,
        limit,
        offset,
    )
    return total, records


async def get_project(conn: Connection, project_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {PROJECT_COLUMNS} FROM projects p WHERE p.id = $1", project_id)


async def project_id_taken(conn: Connection, project_id: int) -> bool:
    taken: bool = await conn.fetchval("SELECT EXISTS (SELECT 1 FROM projects WHERE id = $1)", project_id)
    return taken


async def next_project_id(conn: Connection) -> int | None:
    """An id above every project's (None when bigint has no room left)."""
    # Writers hold the revision row lock, so an assigned id cannot be taken meanwhile.
    next_id: int = await conn.fetchval("SELECT coalesce(max(id)::numeric, 0) + 1 FROM projects")
    return int(next_id) if next_id <= MAX_BIGINT else None


async def insert_project(
    conn: Connection, project_id: int, organization_id: UUID, name: str, access_control: bool
) -> int | None:
    """The new project's id; None when the id is taken (a concurrent create won)."""
    created: int | None = await conn.fetchval(
        """
        INSERT INTO projects (id, organization_id, name, access_control)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (id) DO NOTHING
        RETURNING id
        """,
        project_id,
        organization_id,
        name,
        access_control,
    )
    return created


async def update_project(conn: Connection, project_id: int, fields: dict[str, Any]) -> None:
    await conn.execute(
        """
        UPDATE projects SET
            name = coalesce($2, name),
            access_control = coalesce($3, access_control),
            updated_at = now()
        WHERE id = $1
        """,
        project_id,
        fields.get("name"),
        fields.get("access_control"),
    )


async def delete_project(conn: Connection, project_id: int) -> None:
    # Explicit memberships, objects, collaborators and access-control rows cascade.
    await conn.execute("DELETE FROM projects WHERE id = $1", project_id)


# -- explicit memberships ----------------------------------------------------------------------------


async def list_explicit_members(conn: Connection, project_id: int) -> list[asyncpg.Record]:
    """Explicit members who are active users, by level ascending then most recently joined."""
    return await conn.fetch(
        f"""
        SELECT {EXPLICIT_COLUMNS} {EXPLICIT_FROM}
        WHERE e.project_id = $1 AND u.is_active
        ORDER BY e.level, e.joined_at DESC, e.id
        """,
        project_id,
    )


async def get_explicit_member(conn: Connection, project_id: int, user_uuid: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {EXPLICIT_COLUMNS} {EXPLICIT_FROM} WHERE e.project_id = $1 AND u.uuid = $2 AND u.is_active",
        project_id,
        user_uuid,
    )


async def get_explicit_member_by_id(conn: Connection, explicit_id: UUID) -> asyncpg.Record:
    record = await conn.fetchrow(f"SELECT {EXPLICIT_COLUMNS} {EXPLICIT_FROM} WHERE e.id = $1", explicit_id)
    assert record is not None
    return record


async def active_membership(conn: Connection, organization_id: UUID, user_uuid: UUID) -> UUID | None:
    """The membership of an active user in an organization (an explicit member's parent)."""
    membership: UUID | None = await conn.fetchval(
        """
        SELECT m.id FROM organization_memberships m JOIN users u ON u.id = m.user_id
        WHERE m.organization_id = $1 AND u.uuid = $2 AND u.is_active
        """,
        organization_id,
        user_uuid,
    )
    return membership


async def insert_explicit_member(
    conn: Connection, project_id: int, membership_id: UUID, level: int
) -> UUID | None:
    """The new explicit membership's id; None when the member already is one."""
    created: UUID | None = await conn.fetchval(
        """
        INSERT INTO explicit_memberships (project_id, parent_membership_id, level)
        VALUES ($1, $2, $3)
        ON CONFLICT (project_id, parent_membership_id) DO NOTHING
        RETURNING id
        """,
        project_id,
        membership_id,
        level,
    )
    return created


async def update_explicit_level(conn: Connection, explicit_id: UUID, level: int) -> None:
    await conn.execute(
        "UPDATE explicit_memberships SET level = $2, updated_at = now() WHERE id = $1", explicit_id, level
    )


async def delete_explicit_member(conn: Connection, explicit_id: UUID) -> None:
    await conn.execute("DELETE FROM explicit_memberships WHERE id = $1", explicit_id)
