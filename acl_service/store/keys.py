"""SQL of personal API keys (SPEC §2 personal_api_keys, §5.3.11): always one user's own keys.

Only the digest (`secure_value`) and the mask of a key's value are stored.
"""

from collections.abc import Sequence
from typing import Any, Final
from uuid import UUID

import asyncpg

from acl_service.store.facts import Connection

KEY_COLUMNS: Final = (
    "id, label, mask_value, created_at, last_used_at, user_id, scopes, scoped_teams, scoped_organizations"
)


class KeyLimitError(Exception):
    """The schema refused an 11th key of a user (its trigger backs the API's own count)."""


async def list_keys(conn: Connection, user_id: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {KEY_COLUMNS} FROM personal_api_keys WHERE user_id = $1 ORDER BY created_at DESC, id",
        user_id,
    )


async def get_key(conn: Connection, user_id: int, key_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {KEY_COLUMNS} FROM personal_api_keys WHERE user_id = $1 AND id = $2", user_id, key_id
    )


async def count_keys(conn: Connection, user_id: int) -> int:
    count: int = await conn.fetchval("SELECT count(*) FROM personal_api_keys WHERE user_id = $1", user_id)
    return count


async def insert_key(
    conn: Connection,
    user_id: int,
    label: str,
    secure_value: str,
    mask_value: str,
    scopes: Sequence[str],
    scoped_teams: Sequence[int],
    scoped_organizations: Sequence[UUID],
) -> asyncpg.Record:
    try:
        record = await conn.fetchrow(
            f"""
            INSERT INTO personal_api_keys
                (user_id, label, secure_value, mask_value, scopes, scoped_teams, scoped_organizations)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            RETURNING {KEY_COLUMNS}
            """,
            user_id,
            label,
            secure_value,
            mask_value,
            list(scopes),
            list(scoped_teams),
            list(scoped_organizations),
        )
    except asyncpg.CheckViolationError as error:
        if error.constraint_name == "personal_api_keys_per_user_limit":
            raise KeyLimitError() from None
        raise
    assert record is not None
    return record


async def update_key(conn: Connection, key_id: UUID, fields: dict[str, Any]) -> asyncpg.Record:
    """Set the fields given (label, scopes, scoped_teams, scoped_organizations), keep the others."""
    record = await conn.fetchrow(
        f"""
        UPDATE personal_api_keys SET
            label = coalesce($2, label),
            scopes = CASE WHEN $3 THEN $4 ELSE scopes END,
            scoped_teams = coalesce($5, scoped_teams),
            scoped_organizations = coalesce($6, scoped_organizations)
        WHERE id = $1
        RETURNING {KEY_COLUMNS}
        """,
        key_id,
        fields.get("label"),
        "scopes" in fields,
        fields.get("scopes"),
        fields.get("scoped_teams"),
        fields.get("scoped_organizations"),
    )
    assert record is not None
    return record


async def delete_key(conn: Connection, user_id: int, key_id: UUID) -> bool:
    deleted = await conn.fetchval(
        "DELETE FROM personal_api_keys WHERE user_id = $1 AND id = $2 RETURNING id", user_id, key_id
    )
    return deleted is not None


async def organizations_of_user(conn: Connection, user_id: int) -> list[UUID]:
    """The organizations a user is a member of."""
    records = await conn.fetch(
        "SELECT organization_id FROM organization_memberships WHERE user_id = $1 ORDER BY organization_id",
        user_id,
    )
    return [record["organization_id"] for record in records]
