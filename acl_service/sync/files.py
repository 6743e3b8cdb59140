"""Where the NDJSON files come from: a directory or a `.tar.gz` of `<table>.ndjson` files."""

import tarfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from acl_service.sync.format import TABLES, TABLES_BY_FILE, Table


class SourceError(Exception):
    """The files cannot be read at all (no such path, not a directory or archive, unknown files)."""


@dataclass(frozen=True, slots=True)
class TableFile:
    table: Table
    name: str  # as problems name it
    size: int  # bytes, for progress
    source: Path
    member: str | None = None  # the archive member, for a .tar.gz

    def open(self) -> AbstractContextManager[IO[bytes]]:
        return _open_member(self.source, self.member) if self.member else self.source.open("rb")


@contextmanager
def _open_member(archive: Path, member: str) -> Iterator[IO[bytes]]:
    with tarfile.open(archive, "r:gz") as tar:
        extracted = tar.extractfile(member)
        if extracted is None:
            raise SourceError(f"{archive}: {member} is not a regular file")
        yield extracted


def table_files(path: Path) -> list[TableFile]:
    """The table files under `path`, in foreign-key order; tables without a file are absent."""
    found: dict[str, TableFile] = {}
    unknown: list[str] = []
    if path.is_dir():
        for entry in sorted(path.iterdir()):
            if entry.suffix != ".ndjson":
                continue
            table = TABLES_BY_FILE.get(entry.name)
            if table is None:
                unknown.append(entry.name)
            else:
                found[table.name] = TableFile(table, entry.name, entry.stat().st_size, entry)
    elif path.is_file() and path.name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(path, "r:gz") as tar:
            for info in tar.getmembers():
                name = Path(info.name).name
                if not info.isfile() or not name.endswith(".ndjson"):
                    continue
                table = TABLES_BY_FILE.get(name)
                if table is None:
                    unknown.append(info.name)
                else:
                    found[table.name] = TableFile(table, info.name, info.size, path, info.name)
    else:
        raise SourceError(f"{path}: not a directory or a .tar.gz of .ndjson files")
    if unknown:
        expected = ", ".join(table.file_name for table in TABLES)
        raise SourceError(f"{path}: unknown file(s) {', '.join(unknown)} (expected: {expected})")
    if not found:
        raise SourceError(f"{path}: no .ndjson table files")
    return [found[table.name] for table in TABLES if table.name in found]


def numbered_lines(file: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """Non-blank lines with their 1-based numbers."""
    for number, line in enumerate(file, 1):
        if line.strip():
            yield number, line
