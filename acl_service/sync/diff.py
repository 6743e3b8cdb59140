"""The drift check and the import summary, as printed by `acl-service import` and `diff`."""

from collections.abc import Iterator

import msgspec

from acl_service.sync.importer import ImportSummary

HEADER = ("table", "inserted", "updated", "unchanged", "deleted")
DRIFT_HEADER = ("table", "missing", "different", "extra", "same")
# What an import would do to a row, said as drift: the service lacks it, holds it otherwise, or
# holds it while the files do not.
DRIFT_WORDS = {"insert": "missing", "update": "different", "delete": "extra"}


def table_lines(header: tuple[str, ...], rows: list[tuple[str, int, int, int, int]]) -> Iterator[str]:
    width = max(len(header[0]), *(len(row[0]) for row in rows)) if rows else len(header[0])
    yield f"{header[0]:<{width}}" + "".join(f"{title:>11}" for title in header[1:])
    for name, *counts in rows:
        yield f"{name:<{width}}" + "".join(f"{count:>11,}" for count in counts)


def summary_lines(summary: ImportSummary) -> Iterator[str]:
    rows = [(t.table, t.inserted, t.updated, t.unchanged, t.deleted) for t in summary.tables]
    yield from table_lines(HEADER, rows)
    if summary.revision is None:
        yield "nothing changed: no new revision"
    else:
        yield f"{summary.changed:,} rows changed in revision {summary.revision}"


def drift_lines(summary: ImportSummary) -> Iterator[str]:
    rows = [(t.table, t.inserted, t.updated, t.deleted, t.unchanged) for t in summary.tables]
    yield from table_lines(DRIFT_HEADER, rows)
    for table in summary.tables:
        for change in table.samples:
            key = msgspec.json.encode(change.key).decode()
            yield f"{DRIFT_WORDS[change.op]:<9} {table.table} {key}"
    if summary.changed:
        yield f"drift: {summary.changed:,} rows differ"
    else:
        yield "no drift"
