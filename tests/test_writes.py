import asyncio
import uuid

import asyncpg
import pytest

from acl_service.store.writes import CHANGES_CHANNEL, current_revision, write_transaction


class WriteFailedError(Exception):
    pass


async def insert_organization(conn: asyncpg.pool.PoolConnectionProxy, name: str = "Org") -> uuid.UUID:
    organization_id = uuid.uuid4()
    await conn.execute("INSERT INTO organizations (id, name) VALUES ($1, $2)", organization_id, name)
    return organization_id


async def test_write_transaction_takes_the_next_revision(db_pool: asyncpg.Pool) -> None:
    async with db_pool.acquire() as conn:
        assert await current_revision(conn) == 0
    async with write_transaction(db_pool) as first:
        assert first.revision == 1
        assert await current_revision(first.conn) == 1
    async with write_transaction(db_pool) as second:
        assert second.revision == 2
    async with db_pool.acquire() as conn:
        assert await current_revision(conn) == 2


async def test_failed_write_consumes_no_revision_and_keeps_no_fact(db_pool: asyncpg.Pool) -> None:
    async def failing_write() -> None:
        async with write_transaction(db_pool) as failed:
            await insert_organization(failed.conn)
            raise WriteFailedError

    with pytest.raises(WriteFailedError):
        await failing_write()
    async with db_pool.acquire() as conn:
        assert await current_revision(conn) == 0
        assert await conn.fetchval("SELECT count(*) FROM organizations") == 0
    async with write_transaction(db_pool) as next_write:
        assert next_write.revision == 1


async def test_concurrent_writers_get_distinct_consecutive_revisions(db_pool: asyncpg.Pool) -> None:
    async def write(name: str) -> tuple[int, uuid.UUID]:
        async with write_transaction(db_pool) as tx:
            organization_id = await insert_organization(tx.conn, name)
            # Hold the revision lock a little so that the other writers queue behind it.
            await asyncio.sleep(0.01)
            return tx.revision, organization_id

    results = await asyncio.gather(*(write(f"Org {i}") for i in range(8)))
    assert sorted(revision for revision, _ in results) == list(range(1, 9))
    async with db_pool.acquire() as conn:
        logged = await conn.fetch(
            "SELECT revision, organization_id FROM changelog WHERE table_name = 'organizations' ORDER BY id"
        )
    # Changelog order is commit order: revisions commit in increasing order.
    assert [(r["revision"], r["organization_id"]) for r in logged] == sorted(results)


async def test_each_write_announces_its_revision_once_at_commit(
    db_pool: asyncpg.Pool, database_url: str
) -> None:
    received: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(database_url)
    await listener.add_listener(CHANGES_CHANNEL, lambda *args: received.put_nowait(args[3]))
    try:
        with pytest.raises(WriteFailedError):
            async with write_transaction(db_pool):
                raise WriteFailedError
        async with write_transaction(db_pool) as tx:
            await asyncio.sleep(0.05)
            assert received.empty(), "announced before commit"
        assert await asyncio.wait_for(received.get(), timeout=5) == f"{tx.revision}:"
        await asyncio.sleep(0.05)
        assert received.empty()
    finally:
        await listener.close()
