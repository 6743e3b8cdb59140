"""Export: every table of SPEC §2 as `<table>.ndjson`, the format `import` reads.

PostgreSQL builds each line (`json_build_object`, columns in the format's order) and COPY streams
it straight into the file, so memory stays flat whatever the data size. All tables are read in one
REPEATABLE READ snapshot: the files are one revision's state, which `export_files` returns.

COPY's text format would double every backslash of the JSON; CSV with a quote and a delimiter that
JSON text never contains raw (JSON escapes control characters) writes each line unchanged.
"""

import tarfile
import tempfile
from pathlib import Path
from typing import Final

import asyncpg

from acl_service.store.facts import Connection
from acl_service.sync.format import TABLES, Table

# Characters raw JSON text never holds (it escapes control characters).
UNUSED_QUOTE: Final = "\x01"
UNUSED_DELIMITER: Final = "\x02"


def export_query(table: Table) -> str:
    fields = ", ".join(f"'{column}', {column}" for column in table.columns)
    return f"SELECT json_build_object({fields}) FROM {table.name} ORDER BY {', '.join(table.key)}"


async def write_lines(conn: Connection, query: str, path: Path) -> None:
    """COPY the one JSON column of `query`'s rows into `path`, one line each."""
    await conn.copy_from_query(
        query, output=path, format="csv", quote=UNUSED_QUOTE, delimiter=UNUSED_DELIMITER
    )


async def export_files(pool: asyncpg.Pool, path: Path) -> int:
    """Write the files into the directory `path` (or the `.tar.gz` it names); returns the revision."""
    if path.name.endswith((".tar.gz", ".tgz")):
        with tempfile.TemporaryDirectory(dir=path.parent) as folder:
            exported = await export_files(pool, Path(folder))
            with tarfile.open(path, "w:gz") as tar:
                for table in TABLES:
                    tar.add(Path(folder) / table.file_name, arcname=table.file_name)
        return exported
    path.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240  (once, before any await)
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        revision: int = await conn.fetchval("SELECT value FROM acl_revision")
        for table in TABLES:
            await write_lines(conn, export_query(table), path / table.file_name)
    return revision
