import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest

from acl_service.migrate import (
    MigrationChecksumError,
    MigrationError,
    MigrationStatus,
    apply_migrations,
    discover_migrations,
    migration_status,
)


@asynccontextmanager
async def connect(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(dsn)
    try:
        yield conn
    finally:
        await conn.close()


def write_migrations(folder: Path, files: dict[str, str]) -> Path:
    for name, sql in files.items():
        (folder / name).write_text(sql)
    return folder


async def test_fresh_database_has_every_migration_pending(empty_database_url: str) -> None:
    names = tuple(m.name for m in discover_migrations())
    async with connect(empty_database_url) as conn:
        status = await migration_status(conn)
    assert names[0] == "0001_schema.sql"
    assert status == MigrationStatus(applied=(), pending=names)


async def test_apply_records_every_migration_once(empty_database_url: str) -> None:
    migrations = discover_migrations()
    async with connect(empty_database_url) as conn:
        applied_now = await apply_migrations(conn)
        applied_again = await apply_migrations(conn)
        status = await migration_status(conn)
        recorded = await conn.fetch("SELECT name, checksum FROM schema_migrations ORDER BY name")
    assert applied_now == [m.name for m in migrations]
    assert applied_again == []
    assert status == MigrationStatus(applied=tuple(applied_now), pending=())
    assert [(r["name"], r["checksum"]) for r in recorded] == [(m.name, m.checksum) for m in migrations]


async def test_checksum_is_sha256_of_file_bytes(tmp_path: Path) -> None:
    content = "CREATE TABLE widgets (id int);\n"
    write_migrations(tmp_path, {"0001_widgets.sql": content})
    [migration] = discover_migrations(tmp_path)
    assert migration.checksum == hashlib.sha256(content.encode()).hexdigest()


async def test_concurrent_runs_serialize(empty_database_url: str, tmp_path: Path) -> None:
    # The sleep keeps the first run inside its migration while the second one starts.
    folder = write_migrations(
        tmp_path,
        {
            "0001_slow.sql": "SELECT pg_sleep(0.3); CREATE TABLE widgets (id int);",
            "0002_more.sql": "CREATE TABLE gadgets (id int);",
        },
    )
    async with connect(empty_database_url) as first, connect(empty_database_url) as second:
        runs = await asyncio.gather(apply_migrations(first, folder), apply_migrations(second, folder))
        status = await migration_status(first, folder)
    assert sorted(runs, key=len) == [[], ["0001_slow.sql", "0002_more.sql"]]
    assert status.pending == ()


async def test_edited_applied_migration_is_refused(empty_database_url: str, tmp_path: Path) -> None:
    folder = write_migrations(tmp_path, {"0001_widgets.sql": "CREATE TABLE widgets (id int);"})
    async with connect(empty_database_url) as conn:
        await apply_migrations(conn, folder)
        write_migrations(folder, {"0001_widgets.sql": "CREATE TABLE widgets (id bigint);"})
        with pytest.raises(MigrationChecksumError, match=r"0001_widgets\.sql"):
            await apply_migrations(conn, folder)
        with pytest.raises(MigrationChecksumError, match=r"0001_widgets\.sql"):
            await migration_status(conn, folder)


async def test_migrations_apply_in_numeric_order(empty_database_url: str, tmp_path: Path) -> None:
    # Written in reverse so that directory order differs from numeric order.
    folder = write_migrations(
        tmp_path,
        {
            "0010_third.sql": "INSERT INTO steps (name) VALUES ('third');",
            "0002_second.sql": "INSERT INTO steps (name) VALUES ('second');",
            "0001_first.sql": "CREATE TABLE steps (position serial, name text);",
        },
    )
    async with connect(empty_database_url) as conn:
        applied = await apply_migrations(conn, folder)
        steps = await conn.fetch("SELECT name FROM steps ORDER BY position")
    assert applied == ["0001_first.sql", "0002_second.sql", "0010_third.sql"]
    assert [r["name"] for r in steps] == ["second", "third"]


async def test_failing_migration_rolls_back_only_itself(empty_database_url: str, tmp_path: Path) -> None:
    folder = write_migrations(
        tmp_path,
        {
            "0001_widgets.sql": "CREATE TABLE widgets (id int);",
            "0002_broken.sql": "CREATE TABLE gadgets (id int); SELECT 1 / 0;",
        },
    )
    async with connect(empty_database_url) as conn:
        with pytest.raises(MigrationError, match=r"0002_broken\.sql"):
            await apply_migrations(conn, folder)
        status = await migration_status(conn, folder)
        tables = await conn.fetchval("SELECT array[to_regclass('widgets'), to_regclass('gadgets')]::text[]")
        # A pending file may still be fixed; the run picks it up and the lock was released.
        write_migrations(folder, {"0002_broken.sql": "CREATE TABLE gadgets (id int);"})
        async with connect(empty_database_url) as other:
            applied_by_other = await asyncio.wait_for(apply_migrations(other, folder), timeout=5)
    assert status == MigrationStatus(applied=("0001_widgets.sql",), pending=("0002_broken.sql",))
    assert tables == ["widgets", None]
    assert applied_by_other == ["0002_broken.sql"]


def test_misnamed_migration_file_is_refused(tmp_path: Path) -> None:
    write_migrations(tmp_path, {"0001_widgets.sql": "SELECT 1;", "gadgets.sql": "SELECT 1;"})
    with pytest.raises(MigrationError, match=r"gadgets\.sql"):
        discover_migrations(tmp_path)


def test_duplicate_migration_number_is_refused(tmp_path: Path) -> None:
    write_migrations(tmp_path, {"0001_widgets.sql": "SELECT 1;", "0001_gadgets.sql": "SELECT 1;"})
    with pytest.raises(MigrationError, match="0001"):
        discover_migrations(tmp_path)
