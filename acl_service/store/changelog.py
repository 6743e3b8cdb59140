"""Bounding the changelog (`ACL_CHANGELOG_RETENTION`): prune old revisions, remember how far.

Replay only needs the rows after an instance's applied revision; older ones are kept for a
retention window (a number of revisions or an age) and then deleted. `changelog_horizon` records
the highest revision pruned, read by the fact index in the same snapshot as the rows it replays.
"""

import asyncio
import logging
from typing import Final

import asyncpg
import msgspec

from acl_service.settings import ChangelogRetention
from acl_service.store.facts import Connection

logger = logging.getLogger(__name__)

# One pruner at a time across instances; a second one skips rather than waits.
PRUNE_LOCK_KEY: Final = 0x61636C5F70727565  # "acl_prue"

_HORIZON_QUERY: Final = "SELECT pruned_through FROM changelog_horizon"
_CUTOFF_BY_REVISIONS: Final = "SELECT value - $1::bigint FROM acl_revision"
# Every row of one revision has the same changed_at (now() is the transaction's start), so a
# revision is pruned whole or not at all.
_CUTOFF_BY_AGE: Final = """
SELECT coalesce(max(revision), 0) FROM changelog WHERE changed_at < now() - make_interval(secs => $1)
"""
_DELETE_QUERY: Final = "DELETE FROM changelog WHERE revision <= $1"
_ADVANCE_HORIZON: Final = """
UPDATE changelog_horizon SET pruned_through = greatest(pruned_through, $1) RETURNING pruned_through
"""


class PruneResult(msgspec.Struct, frozen=True):
    deleted_rows: int
    pruned_through: int
    skipped: bool = False  # another pruner held the lock


async def pruned_through(conn: Connection) -> int:
    revision: int = await conn.fetchval(_HORIZON_QUERY)
    return revision


async def prune_changelog(conn: Connection, retention: ChangelogRetention) -> PruneResult:
    async with conn.transaction():
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", PRUNE_LOCK_KEY):
            return PruneResult(deleted_rows=0, pruned_through=await pruned_through(conn), skipped=True)
        if retention.revisions is not None:
            cutoff: int = await conn.fetchval(_CUTOFF_BY_REVISIONS, retention.revisions)
        else:
            cutoff = await conn.fetchval(_CUTOFF_BY_AGE, float(retention.seconds or 0))
        status: str = await conn.execute(_DELETE_QUERY, cutoff)
        horizon: int = await conn.fetchval(_ADVANCE_HORIZON, max(cutoff, 0))
    return PruneResult(deleted_rows=int(status.rsplit(" ", 1)[-1]), pruned_through=horizon)


async def prune_periodically(
    pool: asyncpg.Pool, retention: ChangelogRetention, interval_seconds: float
) -> None:
    """`serve`'s pruner: every `interval_seconds`, for as long as the app runs; outages are logged."""
    while True:
        await asyncio.sleep(interval_seconds)
        try:
            async with pool.acquire() as conn:
                result = await prune_changelog(conn, retention)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            logger.warning("changelog prune failed (%s); trying again in %.0f s", error, interval_seconds)
            continue
        if result.deleted_rows:
            logger.info(
                "changelog: pruned %d rows through revision %d (retention %s)",
                result.deleted_rows,
                result.pruned_through,
                retention.describe(),
            )
