"""Forward-only schema migrations: numbered `.sql` files applied in order, with checksums.

MigrationError
 └── MigrationChecksumError   an applied file was edited afterwards

Files are named `NNNN_name.sql`. Each runs in its own transaction and is recorded in
`schema_migrations` with the sha256 of its bytes. A whole run holds one session advisory lock, so
replicas migrating at once serialize and the later ones find nothing pending.
"""

import hashlib
import re
from pathlib import Path

import asyncpg
import msgspec
from asyncpg.pool import PoolConnectionProxy

DEFAULT_DIRECTORY = Path(__file__).resolve().parent.parent / "migrations"

# Arbitrary but fixed: every acl-service process must contend for the same key.
_ADVISORY_LOCK_KEY = 7_310_552_161_190_001

_FILE_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class MigrationError(Exception):
    pass


class MigrationChecksumError(MigrationError):
    pass


class Migration(msgspec.Struct, frozen=True):
    name: str
    sql: str
    checksum: str


class MigrationStatus(msgspec.Struct, frozen=True):
    applied: tuple[str, ...]
    pending: tuple[str, ...]


def discover_migrations(directory: Path | None = None) -> list[Migration]:
    """The migration files of `directory` in numeric order.

    A `.sql` file with another name is an error rather than silently skipped: a typo in a file
    name must not leave a schema change unapplied.
    """
    folder = DEFAULT_DIRECTORY if directory is None else directory
    numbered: dict[int, Migration] = {}
    for path in folder.glob("*.sql"):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path}: migration files are named NNNN_name.sql (lowercase)")
        number = int(match.group(1))
        if number in numbered:
            raise MigrationError(f"{path}: number {number:04d} is used by {numbered[number].name} too")
        content = path.read_bytes()
        numbered[number] = Migration(
            name=path.name, sql=content.decode("utf-8"), checksum=hashlib.sha256(content).hexdigest()
        )
    return [numbered[number] for number in sorted(numbered)]


async def migration_status(
    conn: asyncpg.Connection | PoolConnectionProxy, directory: Path | None = None
) -> MigrationStatus:
    """Applied and pending migrations; raises MigrationChecksumError if an applied file was edited.

    `applied` also lists migrations unknown to this version (a newer replica applied them), so an
    older replica keeps working during a rolling upgrade.
    """
    migrations = discover_migrations(directory)
    applied = await _applied_checksums(conn)
    _check_unchanged(migrations, applied)
    return MigrationStatus(
        applied=tuple(applied), pending=tuple(m.name for m in migrations if m.name not in applied)
    )


async def apply_migrations(conn: asyncpg.Connection, directory: Path | None = None) -> list[str]:
    """Apply pending migrations; returns the names applied by this call.

    Takes a plain connection, not a pooled one: the advisory lock is session state, and pooled
    connections are released without a reset (see store.pool).
    """
    migrations = discover_migrations(directory)
    await conn.execute("SELECT pg_advisory_lock($1)", _ADVISORY_LOCK_KEY)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name text PRIMARY KEY,"
            " checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        applied = await _applied_checksums(conn)
        _check_unchanged(migrations, applied)
        names: list[str] = []
        for migration in migrations:
            if migration.name in applied:
                continue
            async with conn.transaction():
                try:
                    await conn.execute(migration.sql)
                except asyncpg.PostgresError as error:
                    raise MigrationError(f"{migration.name}: {error}") from error
                await conn.execute(
                    "INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)",
                    migration.name,
                    migration.checksum,
                )
            names.append(migration.name)
        return names
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _ADVISORY_LOCK_KEY)


async def _applied_checksums(conn: asyncpg.Connection | PoolConnectionProxy) -> dict[str, str]:
    if await conn.fetchval("SELECT to_regclass('schema_migrations') IS NULL"):
        return {}
    rows = await conn.fetch("SELECT name, checksum FROM schema_migrations ORDER BY name")
    return {row["name"]: row["checksum"] for row in rows}


def _check_unchanged(migrations: list[Migration], applied: dict[str, str]) -> None:
    for migration in migrations:
        recorded = applied.get(migration.name)
        if recorded is not None and recorded != migration.checksum:
            raise MigrationChecksumError(
                f"migration {migration.name} was edited after it was applied "
                f"(recorded sha256 {recorded}, file now {migration.checksum}); "
                "applied migrations are never edited: restore the file and add a new one"
            )
