import asyncio
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest

from acl_service.store.embedded import EmbeddedPostgres, EmbeddedPostgresError

REPOSITORY = Path(__file__).resolve().parent.parent

# Runs in a child process that the test then SIGKILLs, leaving its server behind.
_OWNER_SCRIPT = """
import sys, time
from pathlib import Path
from acl_service.store.embedded import EmbeddedPostgres
print(EmbeddedPostgres(Path(sys.argv[1])).start(), flush=True)
time.sleep(120)
"""


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Under /tmp, not pytest's tmp_path: as root the server account must traverse every parent.
    folder = Path(tempfile.mkdtemp(prefix="acl-embedded-", dir="/tmp"))
    yield folder / "data"
    if (folder / "data" / "postgres" / "postmaster.pid").exists():
        # A test that failed midway left a server behind: starting takes it over, stopping ends it.
        with EmbeddedPostgres(folder / "data"):
            pass
    shutil.rmtree(folder)


async def execute(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def fetch_column(dsn: str, sql: str) -> list[object]:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        return [row[0] for row in await conn.fetch(sql)]
    finally:
        await conn.close()


def postmaster_pid(server: EmbeddedPostgres) -> int:
    return int((server.pgdata / "postmaster.pid").read_text().split()[0])


async def test_data_survives_a_restart(data_dir: Path) -> None:
    began = time.monotonic()
    server = EmbeddedPostgres(data_dir)
    with server:
        await execute(server.dsn, "CREATE TABLE notes (body text); INSERT INTO notes VALUES ('kept')")
    assert not (server.pgdata / "postmaster.pid").exists(), "server still running after stop()"
    with server:
        bodies = await fetch_column(server.dsn, "SELECT body FROM notes")
    assert bodies == ["kept"]
    assert time.monotonic() - began < 30


async def test_a_second_owner_of_the_data_folder_is_refused(data_dir: Path) -> None:
    with EmbeddedPostgres(data_dir) as owner:
        with pytest.raises(EmbeddedPostgresError, match="in use"):
            EmbeddedPostgres(data_dir).start()
        assert await fetch_column(owner.dsn, "SELECT 1") == [1]


async def test_server_left_by_a_killed_owner_is_replaced(data_dir: Path) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _OWNER_SCRIPT, str(data_dir), cwd=REPOSITORY, stdout=asyncio.subprocess.PIPE
    )
    assert child.stdout is not None
    try:
        dsn = (await asyncio.wait_for(child.stdout.readline(), timeout=30)).decode().strip()
        await execute(dsn, "CREATE TABLE notes (body text); INSERT INTO notes VALUES ('kept')")
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()
    server = EmbeddedPostgres(data_dir)
    leftover = postmaster_pid(server)
    with server:
        assert postmaster_pid(server) != leftover
        bodies = await fetch_column(server.dsn, "SELECT body FROM notes")
    assert bodies == ["kept"]


async def test_long_data_path_gets_a_short_socket_folder(data_dir: Path) -> None:
    deep = data_dir / ("d" * 100)
    server = EmbeddedPostgres(deep)
    with server:
        socket_dir = Path(parse_qs(urlsplit(server.dsn).query)["host"][0])
        assert await fetch_column(server.dsn, "SELECT 1") == [1]
    shutil.rmtree(socket_dir)
    assert not socket_dir.is_relative_to(deep)
    assert len(os.fsencode(socket_dir / ".s.PGSQL.5432")) < 100
