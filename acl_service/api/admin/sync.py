"""POST /api/sync: the main application's sync job, many rows of many tables in one revision.

The body is NDJSON: one `{"table": ..., "op": "upsert" | "delete", "row": {...}}` per line, rows in
the import format (`acl_service.sync.format`; a delete needs only the row's key). Everything is
validated first, then applied as an import in merge mode (deletes first, then upserts): all lines
or none, in the one revision the request takes. The first problem is the 400, its detail starting
with `Line <n>: ` and its `attr` the field inside the line (`row__email`).
"""

from typing import Any, Final, Literal

import msgspec
from litestar import Request, Response, post
from litestar.datastructures import State
from litestar.status_codes import HTTP_200_OK

from acl_service.api.admin.context import AdminRequest, admin_request
from acl_service.api.bodies import decode_body
from acl_service.api.openapi import api_doc
from acl_service.errors import InvalidInput
from acl_service.sync.format import TABLES, TABLES_BY_NAME, Table
from acl_service.sync.importer import (
    ImportRejectedError,
    Plan,
    apply_staged,
    copy_rows,
    create_staging,
    delete_stage_name,
    prepare_staged,
)
from acl_service.sync.validate import RowDecoder

TableName = Literal[
    "users",
    "organizations",
    "organization_memberships",
    "projects",
    "explicit_memberships",
    "roles",
    "role_memberships",
    "resources",
    "insight_dashboards",
    "dashboard_privileges",
    "access_controls",
    "personal_api_keys",
]


NDJSON: Final = "application/x-ndjson"


class SyncLine(msgspec.Struct, forbid_unknown_fields=True):
    table: TableName
    op: Literal["upsert", "delete"]
    row: msgspec.Raw


class SyncedTable(msgspec.Struct, frozen=True):
    table: str
    inserted: int
    updated: int
    unchanged: int
    deleted: int


class SyncResponse(msgspec.Struct, frozen=True):
    revision: int | None  # null: nothing changed, no revision was taken
    tables: list[SyncedTable]


class NothingChangedError(Exception):
    """Rolls back a sync that changed nothing, so it takes no revision."""

    def __init__(self, response: SyncResponse) -> None:
        self.response = response


def line_error(number: int, error: InvalidInput, prefix: str = "") -> InvalidInput:
    attr = "__".join(part for part in (prefix, error.attr) if part) or None
    return InvalidInput(f"Line {number}: {error.detail}", code=error.code, attr=attr)


class StagedLines:
    """The body's lines by table, decoded and checked, ready to COPY into the staging tables."""

    def __init__(self, admin: AdminRequest) -> None:
        levels = admin.state.engine.resource_info
        self._decoders = {table.name: RowDecoder(table, lambda r: levels(r).levels) for table in TABLES}
        self.upserts: dict[str, list[tuple[Any, ...]]] = {}
        self.deletes: dict[str, list[tuple[Any, ...]]] = {}

    def add(self, number: int, raw: bytes) -> None:
        try:
            line = decode_body(raw, SyncLine)
        except InvalidInput as error:
            raise line_error(number, error) from None
        table = TABLES_BY_NAME[line.table]
        row_json = bytes(line.row)
        try:
            if line.op == "upsert":
                row = self._decoders[table.name].decode(row_json)
                self.upserts.setdefault(table.name, []).append((*msgspec.structs.astuple(row), number))
            else:
                key = decode_body(row_json, table.key_row)
                self.deletes.setdefault(table.name, []).append((*msgspec.structs.astuple(key), number))
        except InvalidInput as error:
            raise line_error(number, error, "row") from None


async def stage(admin: AdminRequest, lines: StagedLines) -> None:
    await create_staging(admin.conn, with_deletes=True)
    for name, records in lines.upserts.items():
        await copy_rows(admin.conn, TABLES_BY_NAME[name], records)
    await prepare_staged(admin.conn, (TABLES_BY_NAME[name] for name in lines.upserts))
    for name, records in lines.deletes.items():
        table: Table = TABLES_BY_NAME[name]
        await admin.conn.copy_records_to_table(
            delete_stage_name(table), records=records, columns=[*table.key, "line"]
        )


@post(
    "/api/sync",
    status_code=HTTP_200_OK,
    tags=["sync"],
    # The error answers (400 with the first bad line, 401, 403 for anything but a system call) come
    # with every /api/ operation's documentation.
    opt=api_doc(body=SyncLine, body_media_type=NDJSON),
)
async def sync_rows(request: Request[Any, Any, State]) -> Response[SyncResponse]:
    """Apply a batch of row upserts and deletes in one revision (system calls only).

    The body is NDJSON (`application/x-ndjson`), one `{"table", "op", "row"}` object per line (the
    schema is one line's), at most 16 MiB, applied all or nothing. 200: the counts per table and
    the revision (null when nothing changed). 400: the first bad line, by number; nothing written.
    401: no or an unknown token. 403: not a system call.
    """
    try:
        async with admin_request(request, write=True) as admin:
            lines = StagedLines(admin)
            for number, raw in enumerate(admin.raw_body.splitlines(), 1):
                if raw.strip():
                    lines.add(number, raw)
            await stage(admin, lines)
            plan = Plan("merge", frozenset(lines.upserts), deletes=frozenset(lines.deletes))
            try:
                revision, tables = await apply_staged(admin.conn, plan, revision=admin.revision)
            except ImportRejectedError as rejected:
                first = rejected.problems[0]
                field = f"row__{first.field}" if first.field else None
                place = f"Line {first.line}: " if first.line is not None else ""
                raise InvalidInput(f"{place}{first.message}", attr=field) from None
            response = SyncResponse(
                revision=revision,
                tables=[SyncedTable(t.table, t.inserted, t.updated, t.unchanged, t.deleted) for t in tables],
            )
            if not sum(t.inserted + t.updated + t.deleted for t in tables):
                raise NothingChangedError(msgspec.structs.replace(response, revision=None))
    except NothingChangedError as nothing:
        return Response(nothing.response)
    return Response(response)
