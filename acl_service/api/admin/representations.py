"""Response shapes shared by admin endpoints (SPEC §5.2)."""

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec


class UserBasic(msgspec.Struct, frozen=True):
    id: int
    uuid: UUID
    distinct_id: str | None
    first_name: str
    last_name: str
    email: str
    is_email_verified: bool
    hedgehog_config: dict[str, Any] | None


def user_basic(record: asyncpg.Record, *, prefix: str = "", id_column: str | None = None) -> UserBasic:
    """UserBasic from a row: a user's own columns, or a joined row's (`<prefix>uuid`, ...; the user's
    id in `id_column`, by default `<prefix>id`)."""
    return UserBasic(
        id=record[id_column or f"{prefix}id"],
        uuid=record[f"{prefix}uuid"],
        distinct_id=record[f"{prefix}distinct_id"],
        first_name=record[f"{prefix}first_name"],
        last_name=record[f"{prefix}last_name"],
        email=record[f"{prefix}email"],
        is_email_verified=record[f"{prefix}is_email_verified"],
        hedgehog_config=record[f"{prefix}hedgehog_config"],
    )


class Member(msgspec.Struct, frozen=True):
    """An organization membership (SPEC §5.3.3), also nested in role memberships (§5.3.10)."""

    id: UUID
    user: UserBasic
    level: int
    joined_at: datetime
    updated_at: datetime
