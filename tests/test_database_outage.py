"""The admin API while its PostgreSQL is down: 503 with Retry-After, and back without a restart."""

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from acl_service.app import create_app
from acl_service.migrate import apply_migrations
from acl_service.store.embedded import EmbeddedPostgres
from tests.fixtures.app import admin_headers, settings_for


@pytest.fixture
def server() -> Iterator[EmbeddedPostgres]:
    # Under /tmp, not pytest's tmp_path: as root the server account must traverse every parent.
    folder = Path(tempfile.mkdtemp(prefix="acl-outage-", dir="/tmp"))
    server = EmbeddedPostgres(folder / "data")
    try:
        with server:
            yield server
    finally:
        shutil.rmtree(folder)


async def test_admin_api_answers_503_while_the_database_is_down(
    server: EmbeddedPostgres, tmp_path: Path
) -> None:
    conn = await asyncpg.connect(server.dsn, timeout=10)
    try:
        await apply_migrations(conn)
    finally:
        await conn.close()
    async with AsyncTestClient(app=create_app(settings_for(server.dsn, tmp_path))) as client:
        before = await client.get("/api/organizations/", headers=admin_headers())
        server.stop()
        during = await client.get("/api/organizations/", headers=admin_headers())
        server.start()
        after = await client.get("/api/organizations/", headers=admin_headers())
    assert before.status_code == 200
    assert during.status_code == 503
    assert during.headers["Retry-After"] == "1"
    assert during.json() == {
        "type": "server_error",
        "code": "unavailable",
        "detail": "The database is unavailable.",
        "attr": None,
    }
    assert after.status_code == 200
