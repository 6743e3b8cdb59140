"""SQL of the users directory (SPEC §2 users, §5.3.1)."""

from typing import Any, Final
from uuid import UUID

import asyncpg

from acl_service.store.facts import Connection
from acl_service.store.objects import MAX_BIGINT

USER_COLUMNS: Final = (
    "id, uuid, distinct_id, first_name, last_name, email, is_email_verified, hedgehog_config, is_active"
)


async def get_user(conn: Connection, user_uuid: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {USER_COLUMNS} FROM users WHERE uuid = $1", user_uuid)


async def get_user_by_id(conn: Connection, user_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {USER_COLUMNS} FROM users WHERE id = $1", user_id)


async def user_id_taken(conn: Connection, user_id: int) -> bool:
    taken: bool = await conn.fetchval("SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)", user_id)
    return taken


async def distinct_id_owner(conn: Connection, distinct_id: str) -> UUID | None:
    owner: UUID | None = await conn.fetchval("SELECT uuid FROM users WHERE distinct_id = $1", distinct_id)
    return owner


async def next_user_id(conn: Connection) -> int | None:
    """An id above every user's (None when bigint has no room left)."""
    # Writers hold the revision row lock, so no other write can take the same id meanwhile.
    next_id: int = await conn.fetchval("SELECT coalesce(max(id)::numeric, 0) + 1 FROM users")
    return int(next_id) if next_id <= MAX_BIGINT else None


async def insert_user(
    conn: Connection, user_uuid: UUID, user_id: int, fields: dict[str, Any]
) -> asyncpg.Record:
    record = await conn.fetchrow(
        f"""
        INSERT INTO users (id, uuid, distinct_id, first_name, last_name, email, is_email_verified,
                           hedgehog_config, is_active)
        VALUES ($1, $2, $3, coalesce($4, ''), coalesce($5, ''), $6, coalesce($7, false), $8,
                coalesce($9, true))
        RETURNING {USER_COLUMNS}
        """,
        user_id,
        user_uuid,
        fields.get("distinct_id"),
        fields.get("first_name"),
        fields.get("last_name"),
        fields["email"],
        fields.get("is_email_verified"),
        fields.get("hedgehog_config"),
        fields.get("is_active"),
    )
    assert record is not None
    return record


async def update_user(conn: Connection, user_uuid: UUID, fields: dict[str, Any]) -> asyncpg.Record:
    """Set the fields given, keep the others (SPEC §5.2 upsert)."""
    record = await conn.fetchrow(
        f"""
        UPDATE users SET
            distinct_id = CASE WHEN $2 THEN $3 ELSE distinct_id END,
            first_name = coalesce($4, first_name),
            last_name = coalesce($5, last_name),
            email = coalesce($6, email),
            is_email_verified = coalesce($7, is_email_verified),
            hedgehog_config = CASE WHEN $8 THEN $9 ELSE hedgehog_config END,
            is_active = coalesce($10, is_active)
        WHERE uuid = $1
        RETURNING {USER_COLUMNS}
        """,
        user_uuid,
        "distinct_id" in fields,
        fields.get("distinct_id"),
        fields.get("first_name"),
        fields.get("last_name"),
        fields.get("email"),
        fields.get("is_email_verified"),
        "hedgehog_config" in fields,
        fields.get("hedgehog_config"),
        fields.get("is_active"),
    )
    assert record is not None
    return record


async def delete_user(conn: Connection, user_uuid: UUID) -> bool:
    # Memberships, explicit and role memberships, collaborators and keys cascade; created_by becomes null.
    deleted = await conn.fetchval("DELETE FROM users WHERE uuid = $1 RETURNING id", user_uuid)
    return deleted is not None
