"""SQL of objects (SPEC §2 resources, dashboards included), insight placements and collaborators.

Writers hold the revision row lock (`write_transaction`), so a check followed by a write inside one
transaction cannot race another writer; inserts still use `ON CONFLICT DO NOTHING` so a duplicate
can never surface as a database error.
"""

from collections.abc import Iterable, Sequence
from typing import Any, Final
from uuid import UUID

import asyncpg

from acl_service.store.facts import Connection

DASHBOARD: Final = "dashboard"
MAX_BIGINT: Final = 2**63 - 1

# The creator as a UserBasic-shaped object (or NULL), and an insight's dashboards as integers.
OBJECT_COLUMNS: Final = """
    r.resource, r.resource_id, r.name, r.created_by_id, r.restriction_level, r.created_at, r.updated_at,
    CASE WHEN u.id IS NULL THEN NULL ELSE jsonb_build_object(
        'id', u.id, 'uuid', u.uuid, 'distinct_id', u.distinct_id, 'first_name', u.first_name,
        'last_name', u.last_name, 'email', u.email, 'is_email_verified', u.is_email_verified,
        'hedgehog_config', u.hedgehog_config) END AS created_by,
    CASE WHEN r.resource <> 'insight' THEN '{}'::bigint[] ELSE ARRAY(
        SELECT d.dashboard_id::bigint FROM insight_dashboards d
        WHERE d.project_id = r.project_id AND d.insight_id = r.resource_id
        ORDER BY d.dashboard_id::bigint) END AS dashboards
"""

COLLABORATOR_COLUMNS: Final = """
    p.id, p.dashboard_id::bigint AS dashboard_id, p.level, p.added_at, p.updated_at,
    jsonb_build_object(
        'id', u.id, 'uuid', u.uuid, 'distinct_id', u.distinct_id, 'first_name', u.first_name,
        'last_name', u.last_name, 'email', u.email, 'is_email_verified', u.is_email_verified,
        'hedgehog_config', u.hedgehog_config) AS "user"
"""


# -- objects -----------------------------------------------------------------------------------------


async def get_object(
    conn: Connection, project_id: int, resource: str, resource_id: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""
        SELECT {OBJECT_COLUMNS}
        FROM resources r LEFT JOIN users u ON u.id = r.created_by_id
        WHERE r.project_id = $1 AND r.resource = $2 AND r.resource_id = $3
        """,
        project_id,
        resource,
        resource_id,
    )


async def object_exists(conn: Connection, project_id: int, resource: str, resource_id: str) -> bool:
    found: bool = await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM resources
                          WHERE project_id = $1 AND resource = $2 AND resource_id = $3)""",
        project_id,
        resource,
        resource_id,
    )
    return found


async def list_objects(
    conn: Connection,
    project_id: int,
    resource: str,
    *,
    mode: str,
    ids: Sequence[str],
    created_by_id: int | None,
    limit: int,
    offset: int,
) -> tuple[int, list[asyncpg.Record]]:
    """One page of a type's objects under a §3.10 filter, and the filtered count.

    `mode` is all, only or except; `created_by_id`, when given, keeps that user's objects whatever
    the ids say (`include_created_by`). Dashboards come in id order, other types by creation.
    """
    records = await conn.fetch(
        f"""
        SELECT {OBJECT_COLUMNS}, count(*) OVER () AS total
        FROM resources r LEFT JOIN users u ON u.id = r.created_by_id
        WHERE r.project_id = $1 AND r.resource = $2
          AND (
            $3 = 'all'
            OR ($3 = 'only' AND r.resource_id = any($4::text[]))
            OR ($3 = 'except' AND r.resource_id <> all($4::text[]))
            OR ($5::bigint IS NOT NULL AND r.created_by_id = $5)
          )
        ORDER BY CASE WHEN r.resource = 'dashboard' THEN r.resource_id::numeric END,
                 r.created_at, r.resource_id
        LIMIT $6 OFFSET $7
        """,
        project_id,
        resource,
        mode,
        list(ids),
        created_by_id,
        limit,
        offset,
    )
    if records:
        return records[0]["total"], records
    # An offset past the end returns no row to carry the count.
    count: int = await conn.fetchval(
        """
        SELECT count(*) FROM resources r
        WHERE r.project_id = $1 AND r.resource = $2
          AND ($3 = 'all' OR ($3 = 'only' AND r.resource_id = any($4::text[]))
               OR ($3 = 'except' AND r.resource_id <> all($4::text[]))
               OR ($5::bigint IS NOT NULL AND r.created_by_id = $5))
        """,
        project_id,
        resource,
        mode,
        list(ids),
        created_by_id,
    )
    return count, records


async def next_dashboard_id(conn: Connection) -> int | None:
    """An id above every dashboard's in every project (None when bigint has no room left)."""
    next_id: int = await conn.fetchval(
        "SELECT coalesce(max(resource_id::numeric), 0) + 1 FROM resources WHERE resource = 'dashboard'"
    )
    return int(next_id) if next_id <= MAX_BIGINT else None


async def insert_object(
    conn: Connection,
    project_id: int,
    resource: str,
    resource_id: str,
    *,
    name: str | None,
    created_by_id: int | None,
    restriction_level: int | None,
) -> bool:
    """Create an object; False when its key exists."""
    inserted = await conn.fetchval(
        """
        INSERT INTO resources (project_id, resource, resource_id, name, created_by_id, restriction_level)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (project_id, resource, resource_id) DO NOTHING
        RETURNING true
        """,
        project_id,
        resource,
        resource_id,
        name,
        created_by_id,
        restriction_level,
    )
    return inserted is not None


async def upsert_object(
    conn: Connection, project_id: int, resource: str, resource_id: str, fields: dict[str, Any]
) -> bool:
    """Create an object or set the fields given on the existing one; True when created.

    `fields` may hold name, created_by_id and restriction_level; absent ones keep their value (a new
    dashboard without one gets 21, SPEC §2's default, which the schema leaves to writers).
    """
    restriction_level = fields.get("restriction_level")
    if resource == DASHBOARD and restriction_level is None:
        restriction_level = 21
    created: bool = await conn.fetchval(
        """
        INSERT INTO resources AS r
            (project_id, resource, resource_id, name, created_by_id, restriction_level)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (project_id, resource, resource_id) DO UPDATE SET
            name = CASE WHEN $7 THEN EXCLUDED.name ELSE r.name END,
            created_by_id = CASE WHEN $8 THEN EXCLUDED.created_by_id ELSE r.created_by_id END,
            restriction_level = CASE WHEN $9 THEN EXCLUDED.restriction_level ELSE r.restriction_level END
        RETURNING (xmax = 0)
        """,
        project_id,
        resource,
        resource_id,
        fields.get("name"),
        fields.get("created_by_id"),
        restriction_level,
        "name" in fields,
        "created_by_id" in fields,
        "restriction_level" in fields,
    )
    return created


async def update_object(
    conn: Connection, project_id: int, resource: str, resource_id: str, fields: dict[str, Any]
) -> None:
    """Set name and/or restriction_level when given (PATCH semantics)."""
    await conn.execute(
        """
        UPDATE resources SET
            name = CASE WHEN $4 THEN $5 ELSE name END,
            restriction_level = CASE WHEN $6 THEN $7::smallint ELSE restriction_level END
        WHERE project_id = $1 AND resource = $2 AND resource_id = $3
        """,
        project_id,
        resource,
        resource_id,
        "name" in fields,
        fields.get("name"),
        "restriction_level" in fields,
        fields.get("restriction_level"),
    )


async def delete_object(conn: Connection, project_id: int, resource: str, resource_id: str) -> bool:
    # Placements and collaborators cascade; a trigger deletes the object's access-control rows.
    deleted = await conn.fetchval(
        "DELETE FROM resources WHERE project_id = $1 AND resource = $2 AND resource_id = $3 RETURNING 1",
        project_id,
        resource,
        resource_id,
    )
    return deleted is not None


# -- insight placements --------------------------------------------------------------------------------


async def missing_dashboards(conn: Connection, project_id: int, dashboard_ids: Iterable[int]) -> list[int]:
    """The ids among `dashboard_ids` that are not dashboards of the project, in the order given."""
    wanted = [str(dashboard_id) for dashboard_id in dashboard_ids]
    found = await conn.fetch(
        """SELECT resource_id FROM resources
           WHERE project_id = $1 AND resource = 'dashboard' AND resource_id = any($2::text[])""",
        project_id,
        wanted,
    )
    present = {record["resource_id"] for record in found}
    return [int(dashboard_id) for dashboard_id in wanted if dashboard_id not in present]


async def set_insight_dashboards(
    conn: Connection, project_id: int, insight_id: str, dashboard_ids: Iterable[int]
) -> None:
    """Replace the insight's dashboard set."""
    wanted = sorted({str(dashboard_id) for dashboard_id in dashboard_ids})
    await conn.execute(
        """DELETE FROM insight_dashboards
           WHERE project_id = $1 AND insight_id = $2 AND dashboard_id <> all($3::text[])""",
        project_id,
        insight_id,
        wanted,
    )
    await conn.execute(
        """INSERT INTO insight_dashboards (project_id, insight_id, dashboard_id)
           SELECT $1, $2, unnest($3::text[])
           ON CONFLICT DO NOTHING""",
        project_id,
        insight_id,
        wanted,
    )


# -- collaborators (dashboard privileges) ------------------------------------------------------------------


async def list_collaborators(conn: Connection, project_id: int, dashboard_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""
        SELECT {COLLABORATOR_COLUMNS}
        FROM dashboard_privileges p JOIN users u ON u.id = p.user_id
        WHERE p.project_id = $1 AND p.dashboard_id = $2
        ORDER BY p.added_at, p.id
        """,
        project_id,
        dashboard_id,
    )


async def get_collaborator(
    conn: Connection, project_id: int, dashboard_id: str, user_id: int
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""
        SELECT {COLLABORATOR_COLUMNS}
        FROM dashboard_privileges p JOIN users u ON u.id = p.user_id
        WHERE p.project_id = $1 AND p.dashboard_id = $2 AND p.user_id = $3
        """,
        project_id,
        dashboard_id,
        user_id,
    )


async def insert_collaborator(
    conn: Connection, project_id: int, dashboard_id: str, user_id: int, level: int
) -> UUID | None:
    """Add a collaborator; None when the user already is one."""
    privilege_id: UUID | None = await conn.fetchval(
        """
        INSERT INTO dashboard_privileges (project_id, dashboard_id, user_id, level)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (project_id, dashboard_id, user_id) DO NOTHING
        RETURNING id
        """,
        project_id,
        dashboard_id,
        user_id,
        level,
    )
    return privilege_id


async def delete_collaborator(conn: Connection, project_id: int, dashboard_id: str, user_id: int) -> bool:
    deleted = await conn.fetchval(
        """DELETE FROM dashboard_privileges
           WHERE project_id = $1 AND dashboard_id = $2 AND user_id = $3 RETURNING 1""",
        project_id,
        dashboard_id,
        user_id,
    )
    return deleted is not None
