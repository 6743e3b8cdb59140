"""Response shapes shared by admin endpoints (SPEC §5.2)."""

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


def user_basic(record: asyncpg.Record) -> UserBasic:
    return UserBasic(
        id=record["id"],
        uuid=record["uuid"],
        distinct_id=record["distinct_id"],
        first_name=record["first_name"],
        last_name=record["last_name"],
        email=record["email"],
        is_email_verified=record["is_email_verified"],
        hedgehog_config=record["hedgehog_config"],
    )
