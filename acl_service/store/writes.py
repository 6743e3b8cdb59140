"""The one way to change facts: a transaction that first takes the next revision.

Taking the revision row lock first serializes writers, so revisions commit in increasing order
and every fact read inside the transaction (READ COMMITTED: a fresh snapshot per statement, taken
after the lock) sees every earlier revision. The schema's triggers refuse fact writes in a
transaction that did not take a revision.

The writer also says who it is (`Audit`): the changelog rows of the transaction take the actor
and request id from transaction-local settings (migration 0004), so the attribution costs no
round trip of its own and ends with the transaction.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Final

import asyncpg
import msgspec
from asyncpg.pool import PoolConnectionProxy

CHANGES_CHANNEL = "acl_changes"

# set_config runs after the increment: the settings exist only once the revision is taken.
_TAKE_REVISION: Final = """
WITH taken AS (UPDATE acl_revision SET value = value + 1 RETURNING value)
SELECT value, set_config('acl.actor', $1, true), set_config('acl.request_id', $2, true) FROM taken
"""
_SET_ACTOR: Final = "SELECT set_config('acl.actor', $1, true)"


class Audit(msgspec.Struct, frozen=True):
    """Who writes, as recorded in the changelog's `actor` and `request_id` columns.

    Actors: `token:<role>` (a system call), `user:<uuid>` (an acting user), `key:<key id>` (a
    personal API key), `cli` (an `acl-service` command), `system` (anything else).
    """

    actor: str = "system"
    request_id: str | None = None


SYSTEM_AUDIT: Final = Audit()


@dataclass(slots=True)
class WriteTransaction:
    conn: PoolConnectionProxy
    revision: int
    actor: str

    async def attribute_to(self, actor: str) -> None:
        """Name the actor of the rest of this transaction's changes; no round trip if it already is.

        For writers that learn who acts only inside the transaction: admin requests authenticate
        there (SPEC §5.1), after the revision is taken.
        """
        if actor != self.actor:
            await self.conn.execute(_SET_ACTOR, actor)
            self.actor = actor


@asynccontextmanager
async def write_transaction(
    pool: asyncpg.Pool, audit: Audit = SYSTEM_AUDIT
) -> AsyncIterator[WriteTransaction]:
    """Yield a connection inside a transaction that owns a new revision, its changes by `audit`.

    Leaving normally announces the revision (`'<revision>:'` on acl_changes, delivered at commit)
    and commits; an exception rolls back everything, so a failed write consumes no revision.
    """
    async with pool.acquire() as conn, conn.transaction(isolation="read_committed"):
        revision: int = await conn.fetchval(_TAKE_REVISION, audit.actor, audit.request_id or "")
        yield WriteTransaction(conn=conn, revision=revision, actor=audit.actor)
        await conn.execute("SELECT pg_notify($1, $2)", CHANGES_CHANNEL, f"{revision}:")


async def current_revision(conn: asyncpg.Connection | PoolConnectionProxy) -> int:
    """The latest committed revision (or this transaction's own, inside a write)."""
    revision: int = await conn.fetchval("SELECT value FROM acl_revision")
    return revision
