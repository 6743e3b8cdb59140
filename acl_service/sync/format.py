"""The import/export format: one NDJSON file per SPEC §2 table, one JSON object per line.

Each table's row Struct is the file format: its fields are the table's columns (timestamps are
bookkeeping and not part of the format; rows get `now()` when inserted), with SPEC §2's defaults
for the optional ones. Ids are always given, so re-importing the same files finds the same rows.
Personal API keys carry their digest (`secure_value`) and mask, never a key's value.

`TABLES` lists the tables in foreign-key order (parents first) with what the importer needs to
know about each: its key, where its organization comes from and the rows it references.
"""

from dataclasses import dataclass, field
from typing import Annotated, Any, Final
from uuid import UUID

import msgspec

from acl_service.api.bodies import Email, Label, Name, PersonName, PositiveId, ResourceId, text
from acl_service.api.columns import ExplicitLevel, Feature, MemberLevel, ObjectName, RestrictionLevel

TypeName = Annotated[str, text(64)]


class UserRow(msgspec.Struct, forbid_unknown_fields=True):
    id: PositiveId
    uuid: UUID
    email: Email
    distinct_id: Annotated[str, text(200)] | None = None
    first_name: PersonName = ""
    last_name: PersonName = ""
    is_email_verified: bool = False
    hedgehog_config: dict[str, Any] | None = None
    is_active: bool = True


class OrganizationRow(msgspec.Struct, forbid_unknown_fields=True):
    id: UUID
    name: Annotated[str, text(64)]
    available_product_features: list[Feature] = msgspec.field(default_factory=list)
    members_can_use_personal_api_keys: bool = True


class MembershipRow(msgspec.Struct, forbid_unknown_fields=True):
    id: UUID
    organization_id: UUID
    user_id: PositiveId
    level: MemberLevel = 1


class ProjectRow(msgspec.Struct, forbid_unknown_fields=True):
    id: PositiveId
    organization_id: UUID
    name: Name
    access_control: bool = False


class ExplicitMembershipRow(msgspec.Struct, forbid_unknown_fields=True):
    id: UUID
    project_id: PositiveId
    parent_membership_id: UUID
    level: ExplicitLevel = 1


class RoleRow(msgspec.Struct, forbid_unknown_fields=True):
    id: UUID
    organization_id: UUID
    name: Name
    created_by_id: PositiveId | None = None


class RoleMembershipRow(msgspec.Struct, forbid_unknown_fields=True):
    id: UUID
    role_id: UUID
    user_id: PositiveId
    organization_member_id: UUID


class ResourceRow(msgspec.Struct, forbid_unknown_fields=True):
    project_id: PositiveId
    resource: TypeName
    resource_id: ResourceId
    name: ObjectName | None = None
    created_by_id: PositiveId | None = None
    restriction_level: RestrictionLevel | None = None  # dashboards: default 21 (validate.py)


class InsightDashboardRow(msgspec.Struct, forbid_unknown_fields=True):
    project_id: PositiveId
    insight_id: ResourceId
    dashboard_id: ResourceId


class DashboardPrivilegeRow(msgspec.Struct, forbid_unknown_fields=True):
    id: UUID
    project_id: PositiveId
    dashboard_id: ResourceId
    user_id: PositiveId
    level: RestrictionLevel


class AccessControlRow(msgspec.Struct, forbid_unknown_fields=True):
    id: UUID
    project_id: PositiveId
    resource: TypeName
    access_level: TypeName
    resource_id: Annotated[str, text(36)] | None = None
    organization_member_id: UUID | None = None
    role_id: UUID | None = None
    created_by_id: PositiveId | None = None


class PersonalApiKeyRow(msgspec.Struct, forbid_unknown_fields=True):
    id: UUID
    user_id: PositiveId
    label: Label
    secure_value: Annotated[
        str,
        msgspec.Meta(
            pattern=r"^sha256\$[0-9a-f]{64}$",
            extra={"pattern_code": "invalid", "pattern_detail": 'Enter "sha256$" and 64 hex digits.'},
        ),
    ]
    mask_value: Annotated[
        str,
        msgspec.Meta(
            pattern=r"^.{4}\.\.\..{4}$",
            extra={"pattern_code": "invalid", "pattern_detail": 'Enter 4 characters, "...", 4 characters.'},
        ),
    ]
    scopes: list[str] | None = None
    scoped_teams: list[PositiveId] = msgspec.field(default_factory=list)
    scoped_organizations: list[UUID] = msgspec.field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Reference:
    """Rows of `parent` that `columns` must name (a foreign key), `where` narrowing the parent."""

    columns: tuple[str, ...]
    parent: str
    parent_columns: tuple[str, ...]
    where: str = ""  # a condition on the parent's alias `p`


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    row: type[msgspec.Struct]
    key: tuple[str, ...]
    # The column that leads to the row's organization: organization_id itself, `id` of an
    # organization, or a project_id / role_id to look up; None for the global tables.
    organization_column: str | None
    organization_via: str | None = None  # "projects" or "roles" when the column is their id
    uniques: tuple[tuple[str, ...], ...] = ()
    references: tuple[Reference, ...] = ()
    # For users, projects and keys, which the fact index keeps in global maps refreshed by row:
    # the key columns of their changelog rows (as the triggers of migration 0001 write them).
    changelog_key: tuple[str, ...] = ()
    # Whether the table has `updated_at`, which an upsert sets itself: it runs without the row
    # triggers, touch_updated_at among them (importer.without_row_triggers).
    updated_at: bool = True
    columns: tuple[str, ...] = field(init=False)
    key_row: type[msgspec.Struct] = field(init=False)  # the key fields alone (a delete names a row so)

    def __post_init__(self) -> None:
        fields = msgspec.structs.fields(self.row)
        object.__setattr__(self, "columns", tuple(f.name for f in fields))
        key_fields = [(f.name, f.type) for f in fields if f.name in self.key]
        object.__setattr__(self, "key_row", msgspec.defstruct(f"{self.row.__name__}Key", key_fields))

    @property
    def file_name(self) -> str:
        return f"{self.name}.ndjson"

    @property
    def values(self) -> tuple[str, ...]:
        """The columns an upsert may change."""
        return tuple(column for column in self.columns if column not in self.key)


USERS: Final = "users"
ORGANIZATIONS: Final = "organizations"
PERSONAL_API_KEYS: Final = "personal_api_keys"

TABLES: Final = (
    Table(USERS, UserRow, ("id",), None, uniques=(("uuid",), ("distinct_id",)), changelog_key=("id", "uuid")),
    Table(ORGANIZATIONS, OrganizationRow, ("id",), "id"),
    Table(
        "organization_memberships",
        MembershipRow,
        ("id",),
        "organization_id",
        uniques=(("organization_id", "user_id"),),
        references=(
            Reference(("organization_id",), ORGANIZATIONS, ("id",)),
            Reference(("user_id",), USERS, ("id",)),
        ),
    ),
    Table(
        "projects",
        ProjectRow,
        ("id",),
        "organization_id",
        references=(Reference(("organization_id",), ORGANIZATIONS, ("id",)),),
        changelog_key=("id",),
    ),
    Table(
        "explicit_memberships",
        ExplicitMembershipRow,
        ("id",),
        "project_id",
        "projects",
        uniques=(("project_id", "parent_membership_id"),),
        references=(
            Reference(("project_id",), "projects", ("id",)),
            Reference(("parent_membership_id",), "organization_memberships", ("id",)),
        ),
    ),
    Table(
        "roles",
        RoleRow,
        ("id",),
        "organization_id",
        references=(
            Reference(("organization_id",), ORGANIZATIONS, ("id",)),
            Reference(("created_by_id",), USERS, ("id",)),
        ),
        updated_at=False,
    ),
    Table(
        "role_memberships",
        RoleMembershipRow,
        ("id",),
        "role_id",
        "roles",
        uniques=(("role_id", "user_id"),),
        references=(
            Reference(("role_id",), "roles", ("id",)),
            Reference(("user_id",), USERS, ("id",)),
            Reference(("organization_member_id",), "organization_memberships", ("id",)),
        ),
    ),
    Table(
        "resources",
        ResourceRow,
        ("project_id", "resource", "resource_id"),
        "project_id",
        "projects",
        references=(
            Reference(("project_id",), "projects", ("id",)),
            Reference(("created_by_id",), USERS, ("id",)),
        ),
    ),
    Table(
        "insight_dashboards",
        InsightDashboardRow,
        ("project_id", "insight_id", "dashboard_id"),
        "project_id",
        "projects",
        references=(
            Reference(
                ("project_id", "insight_id"),
                "resources",
                ("project_id", "resource_id"),
                "p.resource = 'insight'",
            ),
            Reference(
                ("project_id", "dashboard_id"),
                "resources",
                ("project_id", "resource_id"),
                "p.resource = 'dashboard'",
            ),
        ),
        updated_at=False,
    ),
    Table(
        "dashboard_privileges",
        DashboardPrivilegeRow,
        ("id",),
        "project_id",
        "projects",
        uniques=(("project_id", "dashboard_id", "user_id"),),
        references=(
            Reference(
                ("project_id", "dashboard_id"),
                "resources",
                ("project_id", "resource_id"),
                "p.resource = 'dashboard'",
            ),
            Reference(("user_id",), USERS, ("id",)),
        ),
    ),
    Table(
        "access_controls",
        AccessControlRow,
        ("id",),
        "project_id",
        "projects",
        uniques=(("project_id", "resource", "resource_id", "organization_member_id", "role_id"),),
        references=(
            Reference(("project_id",), "projects", ("id",)),
            Reference(("organization_member_id",), "organization_memberships", ("id",)),
            Reference(("role_id",), "roles", ("id",)),
            Reference(("created_by_id",), USERS, ("id",)),
        ),
    ),
    Table(
        PERSONAL_API_KEYS,
        PersonalApiKeyRow,
        ("id",),
        None,
        uniques=(("secure_value",),),
        references=(Reference(("user_id",), USERS, ("id",)),),
        changelog_key=("id", "user_id"),
        updated_at=False,
    ),
)

TABLES_BY_NAME: Final = {table.name: table for table in TABLES}
TABLES_BY_FILE: Final = {table.file_name: table for table in TABLES}
