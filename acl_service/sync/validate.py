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

from acl_service.api.admin.keys import validate_scopes
from acl_service.api.admin.resources import DEFAULT_RESTRICTION, valid_dashboard_id
from acl_service.api.bodies import check_stored_json, decode_body
from acl_service.domain import SCOPE_OBJECTS
from acl_service.errors import InvalidInput
from acl_service.sync import format as rows

LevelsOf = Callable[[str], tuple[str, ...]]
"""The access levels of a resource type (`PolicyEngine.resource_info(r).levels`)."""

NOT_OBJECTS: Final = ("project", "organization")
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
    if row.resource not in SCOPE_OBJECTS or row.resource in NOT_OBJECTS:
        raise invalid_choice(row.resource, "resource")
    if row.resource == DASHBOARD:
        check_dashboard_id(row.resource_id, "resource_id")
        if row.restriction_level is None:
            row.restriction_level = DEFAULT_RESTRICTION
    elif row.restriction_level is not None:
        raise InvalidInput("Only dashboards have a restriction level.", attr="restriction_level")


def check_access_control(row: rows.AccessControlRow, levels_of: LevelsOf) -> None:
    if row.resource not in SCOPE_OBJECTS:
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
    elif isinstance(row, rows.InsightDashboardRow):
        check_dashboard_id(row.dashboard_id, "dashboard_id")
    elif isinstance(row, rows.DashboardPrivilegeRow):
        check_dashboard_id(row.dashboard_id, "dashboard_id")
    elif isinstance(row, rows.AccessControlRow):
        check_access_control(row, levels_of)
    elif isinstance(row, rows.PersonalApiKeyRow) and row.scopes is not None:
        validate_scopes(row.scopes)


def decode_row(table: rows.Table, line: bytes, levels_of: LevelsOf) -> msgspec.Struct:
    """The row a (non-blank) line holds; raises InvalidInput (`attr`: the field) for its first problem."""
    row = decode_body(line, table.row)
    check_row(row, levels_of)
    return row
