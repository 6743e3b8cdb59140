"""Fact vectors (SPEC §3.15) and the pure functions that gather them from an `OrganizationView`.

Gathering is lookups only: which rows apply to a user (§3.3), which levels they carry, which flags
hold. Every maximum, precedence and comparison over those facts is decided by the policies; a fact
vector is hashable so the engine can memoize its answers.
"""

from typing import Final
from uuid import UUID

import msgspec

from acl_service.domain import NOTHING, Membership, OrganizationView, RowSummary, frozen


class FeatureFacts(msgspec.Struct, frozen=True, gc=False):
    """An organization's feature keys (§3.2)."""

    features: frozenset[str]


class ResourceFacts(msgspec.Struct, frozen=True, gc=False):
    resource: str


class LevelSetFacts(msgspec.Struct, frozen=True, gc=False):
    levels: frozenset[str]


class LevelFacts(msgspec.Struct, frozen=True, gc=False):
    level: str | None


class OrgLevelFacts(msgspec.Struct, frozen=True, gc=False):
    org_level: int  # 0 without membership


class Gates(msgspec.Struct, frozen=True, gc=False):
    """Feature gates of an organization (§3.2), decided by the policy from its feature keys."""

    legacy_private: bool
    dash_restrict: bool
    ac_on: bool
    roles_on: bool
    key_policy: bool


class ResourceInfo(msgspec.Struct, frozen=True, gc=False):
    """Constants of a resource type (§3.1), decided by the policy."""

    resource: str
    parent: str
    levels: tuple[str, ...]
    default_level: str
    highest: str
    minimum: str


class ProjectFacts(msgspec.Struct, frozen=True, gc=False):
    """Facts of §3.4/§3.5 for one user and one project."""

    org_level: int  # 0 without membership
    legacy_private: bool  # gate LEGACY_PRIVATE
    ac_on: bool  # gate AC_ON
    access_control: bool  # the project's legacy private flag
    default_row: str | None  # level of the applicable default project row
    specific: frozenset[str]  # levels of applicable member/role project rows
    explicit_level: int  # legacy explicit membership level, 0 without one
    member_row: bool = False  # an applicable project row names the user's membership
    role_row: bool = False  # an applicable project row names a role the user holds
    explicit: bool = False


class ObjectFacts(msgspec.Struct, frozen=True, gc=False):
    """Facts of §3.6-§3.8 for one user and one object (or, without an object, one resource type)."""

    resource: str
    org_level: int
    creator: bool
    ac_on: bool
    specific: frozenset[str]  # applicable member/role rows on the object
    resource_rows: frozenset[str]  # applicable resource-wide rows of the parent type
    defaults: frozenset[str]  # applicable default rows on the object
    member_row: bool = False  # an applicable row on the object names the user's membership
    role_row: bool = False  # an applicable row on the object names a role the user holds
    project_member_row: bool = False  # a project row of the project names the user's membership
    explicit: bool = False


class ResourceTypeFacts(msgspec.Struct, frozen=True, gc=False):
    """Facts of §3.6 and §3.9 for one user and one resource type in a project."""

    resource: str
    org_level: int
    ac_on: bool
    resource_rows: frozenset[str]  # applicable resource-wide rows of the parent type
    object_specific: frozenset[str]  # applicable member/role rows on any object of this type


class DashboardFacts(msgspec.Struct, frozen=True, gc=False):
    """Facts of §3.11 for one user and one dashboard."""

    dash_restrict: bool
    restriction_level: int
    creator: bool
    effective_level: int | None  # the user's effective project level (§3.4)
    privilege_level: int | None  # the user's collaborator level on the dashboard


class InsightFacts(msgspec.Struct, frozen=True, gc=False):
    """Facts of §3.11 for one user and one insight: what its dashboards decided."""

    restriction_levels: frozenset[int]  # effective restriction levels of its dashboards
    dashboards_editable: frozenset[bool]  # can_edit of the user on each of its dashboards


class ListObjectFacts(msgspec.Struct, frozen=True, gc=False):
    """Facts of §3.10 step 5 for one object's applicable rows."""

    specific: frozenset[str]
    defaults: frozenset[str]


class ListFacts(msgspec.Struct, frozen=True, gc=False):
    """Facts of §3.10 steps 2-8."""

    org_level: int
    effective_level: int | None  # §3.4
    admin_include_all: bool
    resource_level: str | None  # resource_access_level (§3.6)
    has_blocked: bool


class ModifyFacts(msgspec.Struct, frozen=True, gc=False):
    """Facts of §3.12."""

    creator: bool
    is_project: bool
    project_level: str | None  # project_access_level(explicit=true)
    object_level: str | None  # object_access_level(explicit=true)


class KeyFacts(msgspec.Struct, frozen=True, gc=False):
    """Facts of §3.13 for one personal API key on one request."""

    legacy: bool
    scopes: frozenset[str]
    required_scopes: tuple[str, ...] | None  # None: the route defines none
    scope_object: str
    missing_scope: str | None  # first required scope the key lacks (§3.13 K4)
    org_context: bool
    org_name: str
    org_id: str
    key_policy: bool
    members_can_use_keys: bool
    owner_org_level: int
    scoped_teams: bool  # the key lists teams
    project_context: bool  # the request has a project context
    project_id: int | None  # the project context's id (None without one)
    project_listed: bool
    scoped_organizations: bool
    organization_listed: bool


class ScopeFacts(msgspec.Struct, frozen=True, gc=False):
    """Facts of §3.13 K4 for one required scope."""

    scope_object: str
    scope_action: str
    scopes: frozenset[str]


class RequiredLevelFacts(msgspec.Struct, frozen=True, gc=False):
    """Facts of the required level L of §3.14."""

    scope_object: str
    method: str
    has_scopes: bool
    write_scope: bool  # a required scope ends with :write


class AuthFacts(msgspec.Struct, frozen=True, gc=False):
    """Step 1 of §3.14: the caller's state as authentication found it."""

    state: str  # anonymous | invalid_key | invalid_user | ok


class ResolveFacts(msgspec.Struct, frozen=True, gc=False):
    """Step 3 of §3.14: whether the route's project or organization can be shown to the caller."""

    context: str  # project | project_detail | org_nested | org_detail | none
    caller: str
    project_exists: bool
    project_in_org: bool  # the project belongs to the organization in the path, if the path names one
    org_exists: bool
    org_level: int  # the caller's level in the organization
    scoped_teams: bool
    project_listed: bool
    scoped_organizations: bool
    organization_listed: bool


class ObjectExistsFacts(msgspec.Struct, frozen=True, gc=False):
    exists: bool


class MemberRuleFacts(msgspec.Struct, frozen=True, gc=False):
    """The organization-member rules of SPEC §5.3.3 (the (actor) rules: system calls pass)."""

    caller: str  # system | user | key
    action: str  # create | update | destroy
    is_self: bool  # the member is the caller
    caller_level: int  # the caller's organization level
    member_level: int  # the member's current level (0 on create)
    new_level: int | None  # the level the body asks for, if any


class ExplicitMemberRuleFacts(msgspec.Struct, frozen=True, gc=False):
    """The explicit-member rules (1)-(5) of SPEC §5.3.5 (all (actor): system calls pass)."""

    caller: str  # system | user | key
    action: str  # create | update
    access_control: bool  # the project's legacy private flag
    effective_level: int | None  # the caller's §3.4 effective level in the project
    is_self: bool  # the member created or updated is the caller
    member_level: int  # the explicit level of the member updated (0 on create)
    new_level: int | None  # the level the body asks for, if any


class CollaboratorRuleFacts(msgspec.Struct, frozen=True, gc=False):
    """The collaborator rules (1)-(5) of SPEC §5.3.7 and the restriction rule of its DELETE."""

    caller: str  # system | user | key
    action: str  # create | destroy
    effective_restriction_level: int  # the dashboard's (§3.11)
    requested_level: int  # the privilege level a create asks for (37 unless the body says)
    user_exists: bool  # the user to add is an active user
    target_effective_level: int | None  # that user's §3.4 effective level in the project
    target_can_restrict: bool  # that user's §3.11 can_restrict on the dashboard


class CheckFacts(msgspec.Struct, frozen=True, gc=False):
    """Facts of the permission codes of §3.14; each code reads the fields it needs."""

    caller: str  # system | user | key
    method: str
    required: str | None = None  # the required level L
    resource: str = ""
    highest: str = ""  # highest(resource)
    internal: bool = False  # the scope object is INTERNAL
    create: bool = False  # the route's C flag
    org_level: int = 0
    effective_level: int | None = None
    resource_level: str | None = None  # §3.6 for the scope object
    specific_level: str | None = None  # §3.9 for the scope object
    object_level: str | None = None  # §3.7 (§3.5 for a project)
    dashboard_exists: bool = True
    can_edit: bool = True
    insight_privilege_level: int | None = None
    own_explicit_membership: bool = False  # the target explicit membership is the caller's
    own_key_get: bool = False  # a GET of the key the caller authenticated with
    body_restriction_level: bool = False
    can_restrict: bool = False
    body_access_control: bool = False
    target_exists: bool = True  # MOVE's destination dashboard
    target_level: str | None = None
    target_can_edit: bool = False
    project_wide: bool = False
    can_modify: bool = False


NO_ROWS: Final = RowSummary(NOTHING, {}, {})


def applicable_rows(
    rows: RowSummary, membership: Membership | None, role_ids: frozenset[UUID]
) -> tuple[frozenset[str], frozenset[str], bool, bool]:
    """Split rows by whether they apply to a user (§3.3): (specific levels, default levels, a row
    names the membership?, a row names a role the user holds?).

    The caller passes rows only when AC_ON holds and role ids only when ROLES_ON holds, so every
    row handed in is of the right project and gate.
    """
    member_levels = rows.by_member.get(membership.id) if membership is not None else None
    specific = member_levels or NOTHING
    role_row = False
    if rows.by_role and role_ids:
        for role_id in role_ids:
            role_levels = rows.by_role.get(role_id)
            if role_levels is not None:
                specific = specific | role_levels
                role_row = True
    return specific, rows.defaults, member_levels is not None, role_row


class UserContext(msgspec.Struct, frozen=True, gc=False):
    """What the fact builders need to know about a user in one organization."""

    user_id: int
    membership: Membership | None
    role_ids: frozenset[UUID]  # role ids whose rows apply (empty unless ROLES_ON)


def user_context(view: OrganizationView, gates: Gates, user_id: int) -> UserContext:
    membership = view.memberships_by_user.get(user_id)
    role_ids: frozenset[UUID] = (
        frozen(view.role_ids_by_user.get(user_id, ()))
        if gates.roles_on and membership is not None
        else NOTHING
    )
    return UserContext(user_id=user_id, membership=membership, role_ids=role_ids)


AlikeKey = tuple[int, UUID | None, frozenset[UUID]]
NOT_A_MEMBER: Final[AlikeKey] = (0, None, NOTHING)


def alike_in_project(view: OrganizationView, user: UserContext, project_id: int) -> AlikeKey:
    """What a user's facts of a project and of its resource types read of the user: the level, and
    the membership and roles only where a row or an explicit membership of that project names
    them. Users with equal keys have equal project and type facts in the project."""
    membership = user.membership
    if membership is None:
        return NOT_A_MEMBER
    named = view.named_memberships.get(project_id, NOTHING)
    roles = frozen(user.role_ids & view.named_roles.get(project_id, NOTHING)) if user.role_ids else NOTHING
    return membership.level, membership.id if membership.id in named else None, roles


def _rows(
    view: OrganizationView, gates: Gates, project_id: int, resource: str, resource_id: str | None
) -> RowSummary:
    if not gates.ac_on:
        return NO_ROWS
    return view.row_summaries.get((project_id, resource, resource_id), NO_ROWS)


def project_facts(
    view: OrganizationView, gates: Gates, user: UserContext, project_id: int, *, explicit: bool = False
) -> ProjectFacts:
    project = view.projects[project_id]
    membership = user.membership
    rows = _rows(view, gates, project_id, "project", str(project_id))
    specific, defaults, member_row, role_row = applicable_rows(rows, membership, user.role_ids)
    explicit_level = 0
    if membership is not None:
        explicit_level = view.explicit_levels.get((project_id, membership.id), 0)
    return ProjectFacts(
        org_level=membership.level if membership is not None else 0,
        legacy_private=gates.legacy_private,
        ac_on=gates.ac_on,
        access_control=project.access_control,
        # At most one default row exists per (project, resource, resource_id) (§2 uniqueness).
        default_row=next(iter(defaults), None),
        specific=specific,
        explicit_level=explicit_level,
        member_row=member_row,
        role_row=role_row,
        explicit=explicit,
    )


def object_facts(
    view: OrganizationView,
    gates: Gates,
    user: UserContext,
    project: ProjectFacts,
    of_type: ResourceTypeFacts,
    project_id: int,
    resource_id: str,
    *,
    explicit: bool = False,
) -> ObjectFacts:
    """Facts for an object `(of_type.resource, resource_id)`, given the same user's facts of its
    project and type: the resource-wide rows and the project's member rows are theirs."""
    stored = view.objects.get((project_id, of_type.resource, resource_id))
    creator = stored is not None and stored.created_by_id is not None and stored.created_by_id == user.user_id
    rows = view.row_summaries.get((project_id, of_type.resource, resource_id)) if gates.ac_on else None
    if rows is None:  # most objects have no rows of their own
        specific = defaults = NOTHING
        member_row = role_row = False
    else:
        specific, defaults, member_row, role_row = applicable_rows(rows, user.membership, user.role_ids)
    return ObjectFacts(
        resource=of_type.resource,
        org_level=project.org_level,
        creator=creator,
        ac_on=gates.ac_on,
        specific=specific,
        resource_rows=of_type.resource_rows,
        defaults=defaults,
        member_row=member_row,
        role_row=role_row,
        project_member_row=project.member_row,
        explicit=explicit,
    )


def resource_type_facts(
    view: OrganizationView, gates: Gates, user: UserContext, project_id: int, info: ResourceInfo
) -> ResourceTypeFacts:
    membership = user.membership
    wide_specific, wide_defaults, _, _ = applicable_rows(
        _rows(view, gates, project_id, info.parent, None), membership, user.role_ids
    )
    object_rows = (
        view.type_object_summaries.get((project_id, info.resource), NO_ROWS) if gates.ac_on else NO_ROWS
    )
    object_specific, _, _, _ = applicable_rows(object_rows, membership, user.role_ids)
    return ResourceTypeFacts(
        resource=info.resource,
        org_level=membership.level if membership is not None else 0,
        ac_on=gates.ac_on,
        resource_rows=frozen(wide_specific | wide_defaults),
        object_specific=object_specific,
    )


def dashboard_facts(
    view: OrganizationView,
    gates: Gates,
    user: UserContext,
    project_id: int,
    dashboard_id: str,
    effective_level: int | None,
) -> DashboardFacts:
    stored = view.objects[(project_id, "dashboard", dashboard_id)]
    return DashboardFacts(
        dash_restrict=gates.dash_restrict,
        restriction_level=stored.restriction_level if stored.restriction_level is not None else 21,
        creator=stored.created_by_id is not None and stored.created_by_id == user.user_id,
        effective_level=effective_level,
        privilege_level=view.privileges.get((project_id, dashboard_id, user.user_id)),
    )


def list_object_facts(
    view: OrganizationView, gates: Gates, user: UserContext, project_id: int, resource: str
) -> dict[str, ListObjectFacts]:
    """Per object id, the applicable object rows of one type (§3.10 step 5)."""
    facts: dict[str, ListObjectFacts] = {}
    if not gates.ac_on:
        return facts
    for resource_id in view.object_ids_with_rows.get((project_id, resource), ()):
        rows = view.row_summaries[(project_id, resource, resource_id)]
        specific, defaults, _, _ = applicable_rows(rows, user.membership, user.role_ids)
        if specific or defaults:
            facts[resource_id] = ListObjectFacts(specific=specific, defaults=defaults)
    return facts
