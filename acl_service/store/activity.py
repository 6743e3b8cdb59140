"""Reading the changelog back: the audit trail (`GET /api/activity`) and the change feed (`/v1/changes`).

Both read only what the retention window (`store.changelog`) has kept: rows of revisions up to
`pruned_through` are gone, so the feed reads the horizon in the same snapshot as the revisions.
The feed's reads go through one `ChangeFeedReader` per app, which lets streams share them.
"""

import asyncio
import functools
from datetime import datetime
from typing import Any, Final
from uuid import UUID

import asyncpg
import msgspec

from acl_service.store.changelog import pruned_through
from acl_service.store.facts import Connection

# Two spellings rather than `($2 IS NULL OR organization_id = $2)`: a generic plan of that would not
# use the organization index.
_ACTIVITY_QUERY: Final = """
SELECT revision, changed_at, actor, request_id, organization_id, table_name, op, row_key
FROM changelog
WHERE revision > $1
ORDER BY revision, id
LIMIT $2 OFFSET $3
"""
_ACTIVITY_COUNT_QUERY: Final = "SELECT count(*) FROM changelog WHERE revision > $1"
_ORGANIZATION_ACTIVITY_QUERY: Final = """
SELECT revision, changed_at, actor, request_id, organization_id, table_name, op, row_key
FROM changelog
WHERE organization_id = $4 AND revision > $1
ORDER BY revision, id
LIMIT $2 OFFSET $3
"""
_ORGANIZATION_ACTIVITY_COUNT_QUERY: Final = (
    "SELECT count(*) FROM changelog WHERE organization_id = $2 AND revision > $1"
)

# One row per revision. Users and personal API keys belong to no organization; the feed names the
# users they concern instead (a key's owner), read from the row key only where it holds a number.
_REVISIONS_QUERY: Final = """
SELECT c.revision,
       min(c.changed_at) AS changed_at,
       coalesce(array_agg(DISTINCT c.organization_id) FILTER (WHERE c.organization_id IS NOT NULL), '{}')
           AS organizations,
       coalesce(
           array_agg(DISTINCT k.user_key::bigint) FILTER (WHERE jsonb_typeof(k.user_key) = 'number'), '{}'
       ) AS users,
       array_agg(DISTINCT c.table_name) AS tables
FROM changelog AS c
CROSS JOIN LATERAL (
    SELECT c.row_key -> CASE c.table_name WHEN 'users' THEN 'id' WHEN 'personal_api_keys' THEN 'user_id' END
) AS k (user_key)
WHERE c.revision > $1 AND c.revision <= $2
GROUP BY c.revision
ORDER BY c.revision
"""


class ActivityEntry(msgspec.Struct, frozen=True):
    """One changed row: which revision, when, by whom, in which request."""

    revision: int
    changed_at: datetime
    actor: str
    request_id: str | None
    organization_id: UUID | None
    table: str
    op: str
    key: dict[str, Any]


class RevisionChanges(msgspec.Struct, frozen=True):
    """What one revision changed, as the change feed announces it."""

    revision: int
    changed_at: datetime
    organizations: list[UUID]
    users: list[int]
    tables: list[str]


class RevisionRange(msgspec.Struct, frozen=True):
    """One read of the change feed: the revisions of a range, unless they were pruned (then empty)."""

    pruned_through: int
    revisions: list[RevisionChanges]


def _entry(record: Any) -> ActivityEntry:
    return ActivityEntry(
        revision=record["revision"],
        changed_at=record["changed_at"],
        actor=record["actor"],
        request_id=record["request_id"],
        organization_id=record["organization_id"],
        table=record["table_name"],
        op=record["op"],
        key=record["row_key"],
    )


async def list_activity(
    conn: Connection, *, organization: UUID | None, after_revision: int, limit: int, offset: int
) -> tuple[int, list[ActivityEntry]]:
    """The changes after `after_revision`, oldest first, and how many there are."""
    if organization is None:
        count: int = await conn.fetchval(_ACTIVITY_COUNT_QUERY, after_revision)
        records = await conn.fetch(_ACTIVITY_QUERY, after_revision, limit, offset)
    else:
        count = await conn.fetchval(_ORGANIZATION_ACTIVITY_COUNT_QUERY, after_revision, organization)
        records = await conn.fetch(_ORGANIZATION_ACTIVITY_QUERY, after_revision, limit, offset, organization)
    return count, [_entry(record) for record in records]


async def read_revisions(conn: Connection, after: int, through: int) -> list[RevisionChanges]:
    """The revisions in (after, through] that changed something, oldest first."""
    records = await conn.fetch(_REVISIONS_QUERY, after, through)
    return [
        RevisionChanges(
            revision=record["revision"],
            changed_at=record["changed_at"],
            organizations=sorted(record["organizations"]),
            users=sorted(record["users"]),
            tables=list(record["tables"]),
        )
        for record in records
    ]


class ChangeFeedReader:
    """The change feed's reads, shared by the streams of one instance that ask for the same range.

    Streams that are caught up all wake on the same applied revision and ask for the same range:
    one query answers them all, rather than one per stream.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._reads: dict[tuple[int, int], asyncio.Task[RevisionRange]] = {}

    async def read(self, after: int, through: int) -> RevisionRange:
        """The revisions in (after, through] with changes, and the pruned horizon of the same snapshot."""
        key = (after, through)
        task = self._reads.get(key)
        if task is None:
            task = asyncio.create_task(self._read(after, through))
            self._reads[key] = task
            task.add_done_callback(functools.partial(self._forget, key))
        # Shielded: one stream closing must not cancel the read others wait for.
        return await asyncio.shield(task)

    async def _read(self, after: int, through: int) -> RevisionRange:
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            horizon = await pruned_through(conn)
            revisions = [] if horizon > after else await read_revisions(conn, after, through)
        return RevisionRange(horizon, revisions)

    def _forget(self, key: tuple[int, int], task: "asyncio.Task[RevisionRange]") -> None:
        self._reads.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved here: every stream may have gone
