"""SQL of access-control rows (SPEC §2 access_controls, §5.3.9)."""

from typing import Final
from uuid import UUID

import asyncpg

from acl_service.store.facts import Connection

ROW_COLUMNS: Final = (
    "access_level, resource, resource_id, organization_member_id, role_id, created_by_id, created_at,"
    " updated_at"
)


async def object_rows(
    conn: Connection, project_id: int, resource: str, resource_id: str | None
) -> list[asyncpg.Record]:
    """The rows of one object, or the resource-wide rows of one type when `resource_id` is None."""
    return await conn.fetch(
        f"""
        SELECT {ROW_COLUMNS} FROM access_controls
        WHERE project_id = $1 AND resource = $2 AND resource_id IS NOT DISTINCT FROM $3
        ORDER BY created_at, id
        """,
        project_id,
        resource,
        resource_id,
    )


async def resource_wide_rows(conn: Connection, project_id: int) -> list[asyncpg.Record]:
    """Every resource-wide row of a project, whatever its type."""
    return await conn.fetch(
        f"""
        SELECT {ROW_COLUMNS} FROM access_controls
        WHERE project_id = $1 AND resource_id IS NULL
        ORDER BY created_at, id
        """,
        project_id,
    )


async def membership_organization(conn: Connection, membership_id: UUID) -> UUID | None:
    organization: UUID | None = await conn.fetchval(
        "SELECT organization_id FROM organization_memberships WHERE id = $1", membership_id
    )
    return organization


async def role_organization(conn: Connection, role_id: UUID) -> UUID | None:
    organization: UUID | None = await conn.fetchval(
        "SELECT organization_id FROM roles WHERE id = $1", role_id
    )
    return organization


async def upsert_row(
    conn: Connection,
    project_id: int,
    resource: str,
    resource_id: str | None,
    member_id: UUID | None,
    role_id: UUID | None,
    access_level: str,
    created_by_id: int | None,
) -> asyncpg.Record:
    """One row per (project, resource, resource_id, member, role): insert it or change its level."""
    record = await conn.fetchrow(
        f"""
        INSERT INTO access_controls
            (project_id, resource, resource_id, organization_member_id, role_id, access_level, created_by_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT ON CONSTRAINT access_controls_subject_key
        DO UPDATE SET access_level = EXCLUDED.access_level
        RETURNING {ROW_COLUMNS}
        """,
        project_id,
        resource,
        resource_id,
        member_id,
        role_id,
        access_level,
        created_by_id,
    )
    assert record is not None
    return record


async def delete_row(
    conn: Connection,
    project_id: int,
    resource: str,
    resource_id: str | None,
    member_id: UUID | None,
    role_id: UUID | None,
) -> None:
    await conn.execute(
        """
        DELETE FROM access_controls
        WHERE project_id = $1 AND resource = $2 AND resource_id IS NOT DISTINCT FROM $3
          AND organization_member_id IS NOT DISTINCT FROM $4 AND role_id IS NOT DISTINCT FROM $5
        """,
        project_id,
        resource,
        resource_id,
        member_id,
        role_id,
    )
