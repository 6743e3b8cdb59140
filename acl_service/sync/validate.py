"""One NDJSON line into a row Struct, or the problem with it, in SPEC §6's words.

A line is decoded as a request body is (`acl_service.api.bodies.decode_body`: types, bounds, NUL
characters), then checked for what the admin API checks beyond the types: resource types, access
levels for the resource (asked of the policy engine), dashboard ids and restriction levels, key
scopes, the size of stored JSON. Whatever needs other rows (references, duplicates, one
organization per row's parents) is checked by the importer on the staged rows.
"""

from collections.abc import Callable
from typing import Any, Final

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


def check_user(row: rows.UserRow, _: LevelsOf) -> None:
    if row.hedgehog_config is not None:
        check_stored_json(row.hedgehog_config, "hedgehog_config")


def check_resource(row: rows.ResourceRow, _: LevelsOf) -> None:
    if row.resource not in OBJECT_TYPES:
        raise invalid_choice(row.resource, "resource")
    if row.resource == DASHBOARD:
        check_dashboard_id(row.resource_id, "resource_id")
        if row.restriction_level is None:
            row.restriction_level = DEFAULT_RESTRICTION
    elif row.restriction_level is not None:
        raise InvalidInput("Only dashboards have a restriction level.", attr="restriction_level")


def check_dashboard_link(row: rows.InsightDashboardRow | rows.DashboardPrivilegeRow, _: LevelsOf) -> None:
    check_dashboard_id(row.dashboard_id, "dashboard_id")


def check_access_control(row: rows.AccessControlRow, levels_of: LevelsOf) -> None:
    if row.resource not in RESOURCE_TYPES:
        raise invalid_choice(row.resource, "resource")
    if row.access_level not in levels_of(row.resource):
        raise invalid_choice(row.access_level, "access_level")
    if row.organization_member_id is not None and row.role_id is not None:
        raise InvalidInput("Provide at most one of organization_member_id, role_id.", attr="role_id")


def check_key(row: rows.PersonalApiKeyRow, _: LevelsOf) -> None:
    if row.scopes is not None:
        validate_scopes(row.scopes)


def no_check(row: msgspec.Struct, _: LevelsOf) -> None:
    """The row's types and `Meta` constraints say everything about it."""


# What each table's rows need beyond their types; raises InvalidInput, fills dashboard defaults.
# Looked up once per table, not once per row.
ROW_CHECKS: Final[dict[type[msgspec.Struct], Callable[[Any, LevelsOf], None]]] = {
    rows.UserRow: check_user,
    rows.ResourceRow: check_resource,
    rows.InsightDashboardRow: check_dashboard_link,
    rows.DashboardPrivilegeRow: check_dashboard_link,
    rows.AccessControlRow: check_access_control,
    rows.PersonalApiKeyRow: check_key,
}


class RowDecoder:
    """Lines of one table into rows; one per import, since it remembers the levels it asked for."""

    def __init__(self, table: rows.Table, levels_of: LevelsOf) -> None:
        self._decoder = msgspec.json.Decoder(table.row, strict=True)
        self._row = table.row
        self._levels: dict[str, tuple[str, ...]] = {}
        self._levels_of = levels_of
        self._check = ROW_CHECKS.get(table.row, no_check)

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
        self._check(row, self.levels)
        return row
