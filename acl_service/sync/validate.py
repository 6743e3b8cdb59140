"""One NDJSON line into a row Struct, or the problem with it, in SPEC §6's words.

A line is decoded as a request body is (`acl_service.api.bodies.decode_body`: types, bounds, NUL
characters), then checked for what the admin API checks beyond the types: resource types, access
levels for the resource (asked of the policy engine), dashboard ids and restriction levels, key
scopes, the size of stored JSON. Whatever needs other rows (references, duplicates, one
organization per row's parents) is checked by the importer on the staged rows.
"""

from collections.abc import Callable
from typing import Final

import msgspec

from acl_service.api.bodies import NUL_ESCAPE, check_stored_json, decode_body, reject_nul_characters
from acl_service.api.columns import DEFAULT_RESTRICTION, valid_dashboard_id, validate_scopes
from acl_service.domain import SCOPE_OBJECTS
from acl_service.errors import InvalidInput
from acl_service.sync import format as rows

LevelsOf = Callable[[str], tuple[str, ...]]
"""The access levels of a resource type (`PolicyEngine.resource_info(r).levels`)."""

RESOURCE_TYPES: Final = frozenset(SCOPE_OBJECTS)
OBJECT_TYPES: Final = RESOURCE_TYPES - {"project", "organization"}
DASHBOARD: Final = "dashboard"


class Problem(msgspec.Struct, frozen=True):
    """What is wrong with one row (or, with `line` None, with a file or the whole import)."""

    file: str
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        place = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{place}: {self.field or '-'}: {self.message}"


def invalid_choice(value: str, attr: str) -> InvalidInput:
    return InvalidInput(f'"{value}" is not a valid choice.', code="invalid_choice", attr=attr)


def check_dashboard_id(value: str, attr: str) -> None:
    if not valid_dashboard_id(value):
        raise InvalidInput("Enter a valid resource id.", attr=attr)


def check_resource(row: rows.ResourceRow) -> None:
    if row.resource not in OBJECT_TYPES:
        raise invalid_choice(row.resource, "resource")
    if row.resource == DASHBOARD:
        check_dashboard_id(row.resource_id, "resource_id")
        if row.restriction_level is None:
            row.restriction_level = DEFAULT_RESTRICTION
    elif row.restriction_level is not None:
        raise InvalidInput("Only dashboards have a restriction level.", attr="restriction_level")


def check_access_control(row: rows.AccessControlRow, levels_of: LevelsOf) -> None:
    if row.resource not in RESOURCE_TYPES:
        raise invalid_choice(row.resource, "resource")
    if row.access_level not in levels_of(row.resource):
        raise invalid_choice(row.access_level, "access_level")
    if row.organization_member_id is not None and row.role_id is not None:
        raise InvalidInput("Provide at most one of organization_member_id, role_id.", attr="role_id")


def check_row(row: msgspec.Struct, levels_of: LevelsOf) -> None:
    """Raise InvalidInput for the first rule a decoded row breaks; fill dashboard defaults."""
    if isinstance(row, rows.UserRow) and row.hedgehog_config is not None:
        check_stored_json(row.hedgehog_config, "hedgehog_config")
    elif isinstance(row, rows.ResourceRow):
        check_resource(row)
    elif isinstance(row, rows.InsightDashboardRow | rows.DashboardPrivilegeRow):
        check_dashboard_id(row.dashboard_id, "dashboard_id")
    elif isinstance(row, rows.AccessControlRow):
        check_access_control(row, levels_of)
    elif isinstance(row, rows.PersonalApiKeyRow) and row.scopes is not None:
        validate_scopes(row.scopes)


class RowDecoder:
    """Lines of one table into rows; one per import, since it remembers the levels it asked for."""

    def __init__(self, table: rows.Table, levels_of: LevelsOf) -> None:
        self._decoder = msgspec.json.Decoder(table.row, strict=True)
        self._row = table.row
        self._levels: dict[str, tuple[str, ...]] = {}
        self._levels_of = levels_of

    def levels(self, resource: str) -> tuple[str, ...]:
        levels = self._levels.get(resource)
        if levels is None:
            levels = self._levels[resource] = self._levels_of(resource)
        return levels

    def decode(self, line: bytes) -> msgspec.Struct:
        """The row a (non-blank) line holds; raises InvalidInput (`attr`: the field) for its first problem."""
        try:
            row: msgspec.Struct = self._decoder.decode(line)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            # Decoded again the way a request body is, for the same words in the problem.
            decode_body(line, self._row)
            raise InvalidInput("Invalid data.") from None  # not reached: decode_body raised
        if NUL_ESCAPE in line:
            reject_nul_characters(row, [])
        check_row(row, self.levels)
        return row
