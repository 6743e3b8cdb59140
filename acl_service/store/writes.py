"""The one way to change facts: a transaction that first takes the next revision.

Taking the revision row lock first serializes writers, so revisions commit in increasing order
and every fact read inside the transaction (READ COMMITTED: a fresh snapshot per statement, taken
after the lock) sees every earlier revision. The schema's triggers refuse fact writes in a
transaction that did not take a revision.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
from asyncpg.pool import PoolConnectionProxy

CHANGES_CHANNEL = "acl_changes"


@dataclass(frozen=True, slots=True)
class WriteTransaction:
    conn: PoolConnectionProxy
    revision: int


@asynccontextmanager
async def write_transaction(pool: asyncpg.Pool) -> AsyncIterator[WriteTransaction]:
    """Yield a connection inside a transaction that owns a new revision.

    Leaving normally announces the revision (`'<revision>:'` on acl_changes, delivered at commit)
    and commits; an exception rolls back everything, so a failed write consumes no revision.
    """
    async with pool.acquire() as conn, conn.transaction(isolation="read_committed"):
        revision: int = await conn.fetchval("UPDATE acl_revision SET value = value + 1 RETURNING value")
        yield WriteTransaction(conn=conn, revision=revision)
        await conn.execute("SELECT pg_notify($1, $2)", CHANGES_CHANNEL, f"{revision}:")


async def current_revision(conn: asyncpg.Connection | PoolConnectionProxy) -> int:
    """The latest committed revision (or this transaction's own, inside a write)."""
    revision: int = await conn.fetchval("SELECT value FROM acl_revision")
    return revision
