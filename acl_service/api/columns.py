"""The value types of SPEC §2's columns that the admin API's bodies and the import format share.

Nothing of HTTP here: `acl-service import` reads these without loading the web stack.
"""

import re
from collections.abc import Sequence
from typing import Annotated, Final, Literal

import msgspec

from acl_service.api.bodies import MAX_BIGINT, text
from acl_service.domain import SCOPE_OBJECTS
from acl_service.errors import InvalidInput

MemberLevel = Literal[1, 8, 15]
ExplicitLevel = Literal[1, 8]
RestrictionLevel = Literal[21, 37]
DEFAULT_RESTRICTION: Final = 21  # SPEC §2: the schema leaves the dashboard default to writers
ObjectName = Annotated[str, text(400, allow_blank=True)]

# SPEC §2: a dashboard's id is a positive decimal integer without a leading zero that fits a bigint.
DASHBOARD_ID: Final = re.compile(r"^[1-9][0-9]{0,18}\Z")  # \Z: no final newline

SCOPE_ACTIONS: Final = ("read", "write")
ALL_SCOPES: Final = "*"


class Feature(msgspec.Struct, forbid_unknown_fields=True):
    key: Annotated[str, text(64)]
    name: Annotated[str, text(200, allow_blank=True)] = ""


def valid_dashboard_id(resource_id: str) -> bool:
    return DASHBOARD_ID.match(resource_id) is not None and int(resource_id) <= MAX_BIGINT


def validate_scopes(scopes: Sequence[str]) -> None:
    for scope in scopes:
        if scope == ALL_SCOPES:
            continue
        scope_object, separator, action = scope.partition(":")
        if not separator or scope_object not in SCOPE_OBJECTS or action not in SCOPE_ACTIONS:
            raise InvalidInput(f"Invalid scope: {scope}", attr="scopes")
