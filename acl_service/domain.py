"""Value structs shared by every layer: the stored facts of one organization, indexed for decisions.

`OrganizationView` is what the decision path reads. It is built from plain rows (by the store, from
PostgreSQL; by tests and policy-test files, from literals) and never mutated: a change to an
organization replaces its view whole, so readers never see a half-applied change.

These structs, the fact vectors, the engine's decisions and the decision API's answers are
`gc=False`: values whose fields are scalars, strings, tuples, frozensets and other such structs, so
they cannot form reference cycles, held by the hundred thousand in views and memos. Left to the
cycle collector, each full collection scanned them all (about 120 ms on the bench's dataset after
35 cold batches; 17 ms untracked).
"""

import hashlib
from collections.abc import Hashable, Iterable
from typing import Any, Final, TypeVar
from uuid import UUID

import msgspec

SCOPE_OBJECTS: Final = (
    "access_control", "account", "action", "activity_log", "annotation", "batch_export", "batch_import",
    "cohort", "customer_analytics", "customer_journey", "dashboard", "dashboard_template", "dataset",
    "early_access_feature", "endpoint", "error_tracking", "evaluation", "event_definition", "experiment",
    "experiment_holdout", "experiment_saved_metric", "export", "external_data_schema",
    "external_data_source", "feature_flag", "file_system", "file_system_shortcut", "group", "hog_function",
    "insight", "link", "llm_analytics", "llm_prompt", "llm_provider_key", "llm_skill", "logs",
    "marketing_analytics", "notebook", "organization", "organization_member", "person", "persisted_folder",
    "plugin", "project", "property_definition", "query", "revenue_analytics", "session_recording",
    "session_recording_playlist", "sharing_configuration", "subscription", "survey", "tagger", "tracing",
    "user", "user_interview_DO_NOT_USE", "warehouse_objects", "warehouse_table", "warehouse_view",
    "web_analytics", "webhook",
)  # fmt: skip
"""Valid resource types and API-key scope objects (SPEC §3.1), in SPEC's order: messages list them so."""

T = TypeVar("T", bound=Hashable)

NOTHING: Final[frozenset[Any]] = frozenset()


def frozen(values: Iterable[T]) -> frozenset[T]:
    """`frozenset(values)`, with every empty one the same object. Fact vectors and summaries live on
    in views and memos, and since Python 3.10 each empty frozenset is a new object the cycle
    collector has to scan."""
    found = frozenset(values)
    return found if found else NOTHING


class UserRef(msgspec.Struct, frozen=True, gc=False, cache_hash=True):
    """What decisions need of a user: who it is and whether it may act.

    Users and keys live in the index and are hashed into every check's memo key: their hashes are
    kept, rather than recomputed through Python-level `UUID.__hash__` each time."""

    id: int
    uuid: UUID
    is_active: bool = True


class ApiKeyRef(msgspec.Struct, frozen=True, gc=False, cache_hash=True):
    """What decisions need of a personal API key (§3.13); the value itself is never held."""

    id: UUID
    user_id: int
    scopes: tuple[str, ...] | None  # None or empty: a legacy key
    scoped_teams: tuple[int, ...] = ()
    scoped_organizations: tuple[UUID, ...] = ()


class Caller(msgspec.Struct, frozen=True, gc=False):
    """Who a request acts for: a system call, an acting user, or a personal API key's user."""

    kind: str  # system | user | key
    user: UserRef | None = None
    key: ApiKeyRef | None = None


SYSTEM_CALLER = Caller("system")


class Organization(msgspec.Struct, frozen=True, gc=False):
    id: UUID
    name: str
    features: frozenset[str]
    members_can_use_personal_api_keys: bool = True


class Membership(msgspec.Struct, frozen=True, gc=False):
    id: UUID
    user_id: int
    level: int


class Project(msgspec.Struct, frozen=True, gc=False):
    id: int
    organization_id: UUID
    access_control: bool = False


class ExplicitMembership(msgspec.Struct, frozen=True, gc=False):
    project_id: int
    membership_id: UUID
    level: int


class StoredObject(msgspec.Struct, frozen=True, gc=False):
    """A row of `resources`: an object of some resource type in a project."""

    project_id: int
    resource: str
    resource_id: str
    created_by_id: int | None = None
    restriction_level: int | None = None


class AccessControlRow(msgspec.Struct, frozen=True, gc=False):
    project_id: int
    resource: str
    resource_id: str | None
    access_level: str
    member_id: UUID | None = None
    role_id: UUID | None = None
    id: UUID | None = None  # the stored row's id: decisions never read it, explanations name it


class RoleMembership(msgspec.Struct, frozen=True, gc=False):
    role_id: UUID
    user_id: int


class DashboardPrivilege(msgspec.Struct, frozen=True, gc=False):
    project_id: int
    dashboard_id: str
    user_id: int
    level: int


class InsightPlacement(msgspec.Struct, frozen=True, gc=False):
    project_id: int
    insight_id: str
    dashboard_id: str


class RowSummary(msgspec.Struct, frozen=True, gc=False):
    """Access-control rows grouped by whom they name (§3.3): the levels of the default rows, and per
    organization membership and per role the levels of the rows naming it. Whether a row applies
    to a user is then a lookup of the user's membership and roles, not a scan of the rows."""

    defaults: frozenset[str]
    by_member: dict[UUID, frozenset[str]]
    by_role: dict[UUID, frozenset[str]]


def summarize_rows(rows: Iterable["AccessControlRow"]) -> RowSummary:
    defaults: set[str] = set()
    by_member: dict[UUID, set[str]] = {}
    by_role: dict[UUID, set[str]] = {}
    for row in rows:
        if row.member_id is not None:
            by_member.setdefault(row.member_id, set()).add(row.access_level)
        elif row.role_id is not None:
            by_role.setdefault(row.role_id, set()).add(row.access_level)
        else:
            defaults.add(row.access_level)
    return RowSummary(
        frozen(defaults),
        {member: frozen(levels) for member, levels in by_member.items()},
        {role: frozen(levels) for role, levels in by_role.items()},
    )


ObjectKey = tuple[int, str, str]
"""(project_id, resource, resource_id)"""

RowsKey = tuple[int, str, str | None]
"""(project_id, resource, resource_id or None for resource-wide rows)"""


class OrganizationView:
    """One organization's facts, indexed for O(1) lookups by user, project, object and role."""

    __slots__ = (
        "access_rows",
        "explicit_levels",
        "insight_dashboards",
        "memberships_by_id",
        "memberships_by_user",
        "named_memberships",
        "named_roles",
        "object_ids_with_rows",
        "objects",
        "organization",
        "privileges",
        "projects",
        "role_ids_by_user",
        "row_count",
        "row_summaries",
        "type_object_summaries",
        "users",
    )

    def __init__(
        self,
        organization: Organization,
        *,
        memberships: Iterable[Membership] = (),
        projects: Iterable[Project] = (),
        explicit_memberships: Iterable[ExplicitMembership] = (),
        objects: Iterable[StoredObject] = (),
        access_controls: Iterable[AccessControlRow] = (),
        role_memberships: Iterable[RoleMembership] = (),
        privileges: Iterable[DashboardPrivilege] = (),
        insight_placements: Iterable[InsightPlacement] = (),
        users: Iterable[UserRef] = (),
    ) -> None:
        self.organization = organization
        self.users: dict[int, UserRef] = {user.id: user for user in users}
        self.memberships_by_user: dict[int, Membership] = {m.user_id: m for m in memberships}
        self.memberships_by_id: dict[UUID, Membership] = {m.id: m for m in self.memberships_by_user.values()}
        self.projects: dict[int, Project] = {p.id: p for p in projects}
        self.explicit_levels: dict[tuple[int, UUID], int] = {
            (e.project_id, e.membership_id): e.level for e in explicit_memberships
        }
        self.objects: dict[ObjectKey, StoredObject] = {
            (o.project_id, o.resource, o.resource_id): o for o in objects
        }
        rows: dict[RowsKey, list[AccessControlRow]] = {}
        rows_by_type: dict[tuple[int, str], list[AccessControlRow]] = {}
        for row in access_controls:
            rows.setdefault((row.project_id, row.resource, row.resource_id), []).append(row)
            if row.resource_id is not None:
                rows_by_type.setdefault((row.project_id, row.resource), []).append(row)
        self.access_rows: dict[RowsKey, tuple[AccessControlRow, ...]] = {k: tuple(v) for k, v in rows.items()}
        # What decisions read of the rows, precomputed: per (project, resource, resource_id), and per
        # (project, type) over all the type's objects (what §3.9 asks), with the objects that have rows.
        self.row_summaries: dict[RowsKey, RowSummary] = {k: summarize_rows(v) for k, v in rows.items()}
        self.type_object_summaries: dict[tuple[int, str], RowSummary] = {
            k: summarize_rows(v) for k, v in rows_by_type.items()
        }
        # Per project, who its rows and explicit memberships name: a user whose membership and roles
        # are named nowhere in a project has there the facts of any other such user of their level.
        named_members: dict[int, set[UUID]] = {}
        named_roles: dict[int, set[UUID]] = {}
        for (project_id, _, _), group in rows.items():
            for row in group:
                if row.member_id is not None:
                    named_members.setdefault(project_id, set()).add(row.member_id)
                elif row.role_id is not None:
                    named_roles.setdefault(project_id, set()).add(row.role_id)
        for project_id, membership_id in self.explicit_levels:
            named_members.setdefault(project_id, set()).add(membership_id)
        self.named_memberships: dict[int, frozenset[UUID]] = {k: frozen(v) for k, v in named_members.items()}
        self.named_roles: dict[int, frozenset[UUID]] = {k: frozen(v) for k, v in named_roles.items()}
        self.object_ids_with_rows: dict[tuple[int, str], tuple[str, ...]] = {
            k: tuple(dict.fromkeys(row.resource_id for row in v if row.resource_id is not None))
            for k, v in rows_by_type.items()
        }
        roles: dict[int, set[UUID]] = {}
        for rm in role_memberships:
            roles.setdefault(rm.user_id, set()).add(rm.role_id)
        self.role_ids_by_user: dict[int, frozenset[UUID]] = {k: frozenset(v) for k, v in roles.items()}
        self.privileges: dict[tuple[int, str, int], int] = {
            (p.project_id, p.dashboard_id, p.user_id): p.level for p in privileges
        }
        placements: dict[tuple[int, str], list[str]] = {}
        for placement in insight_placements:
            placements.setdefault((placement.project_id, placement.insight_id), []).append(
                placement.dashboard_id
            )
        self.insight_dashboards: dict[tuple[int, str], tuple[str, ...]] = {
            k: tuple(v) for k, v in placements.items()
        }
        self.row_count = (
            1
            + len(self.users)
            + len(self.memberships_by_user)
            + len(self.projects)
            + len(self.explicit_levels)
            + len(self.objects)
            + sum(len(v) for v in self.access_rows.values())
            + sum(len(v) for v in self.role_ids_by_user.values())
            + len(self.privileges)
            + sum(len(v) for v in self.insight_dashboards.values())
        )


def secure_value(key_value: str) -> str:
    """How a personal API key is stored and looked up (SPEC §2): never the value itself."""
    return "sha256$" + hashlib.sha256(key_value.encode()).hexdigest()
