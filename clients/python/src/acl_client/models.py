"""Results of acl-service, mirroring SPEC §5.4 (decisions) and §5.3 (admin representations).

Unknown fields are ignored on decode, so a newer server adding a field does not break older clients.
"""

from typing import Any

import msgspec


class Envelope(msgspec.Struct, frozen=True):
    """The SPEC §5.2 error envelope; field order is the wire order."""

    type: str
    code: str
    detail: str | None = None
    attr: str | None = None


class Levels(msgspec.Struct, frozen=True):
    org_level: int | None = None
    effective_level: int | None = None
    project_access_level: str | None = None
    user_access_level: str | None = None
    access_source: str | None = None
    restriction_level: int | None = None
    effective_restriction_level: int | None = None
    effective_privilege_level: int | None = None
    can_edit: bool | None = None
    can_restrict: bool | None = None


class Decision(msgspec.Struct, frozen=True):
    """One check's answer, as an item of a batch."""

    allowed: bool
    status: int
    detail: str | None
    levels: Levels
    reason: tuple[str, ...] = ()


class CheckResult(Decision, frozen=True):
    revision: int = 0


class BatchResult(msgspec.Struct, frozen=True):
    results: list[Decision]
    revision: int


class ProjectLevels(msgspec.Struct, frozen=True):
    org_level: int | None = None
    effective_level: int | None = None
    user_access_level: str | None = None
    access_source: str | None = None


class ObjectLevels(msgspec.Struct, frozen=True, kw_only=True):
    """An object's levels; the dashboard and insight fields are null where they do not apply (§5.4)."""

    exists: bool
    user_access_level: str | None = None
    access_source: str | None = None
    restriction_level: int | None = None
    effective_restriction_level: int | None = None
    effective_privilege_level: int | None = None
    can_edit: bool | None = None
    can_restrict: bool | None = None


class DashboardLevels(ObjectLevels, frozen=True, kw_only=True):
    id: int


class ResourceLevels(ObjectLevels, frozen=True, kw_only=True):
    type: str
    id: str


class ResourceTypeLevels(msgspec.Struct, frozen=True):
    type: str
    access_level: str | None = None
    effective_access_level: str | None = None
    specific_access_level: str | None = None


class LevelsResult(msgspec.Struct, frozen=True):
    project: ProjectLevels
    dashboards: list[DashboardLevels]
    resources: list[ResourceLevels]
    resource_types: list[ResourceTypeLevels]
    revision: int


class UserRef(msgspec.Struct, frozen=True):
    id: int
    uuid: str


class AuthorizeResult(msgspec.Struct, frozen=True):
    allowed: bool
    status: int
    body: Envelope | None
    user: UserRef | None
    project_id: int | None
    action: str | None
    scope_object: str | None
    required_scopes: tuple[str, ...] | None
    levels: Levels | None
    revision: int


class FilterResult(msgspec.Struct, frozen=True):
    """How to filter a list (§3.10): `all`, `only` these ids, or all `except` them, plus own rows."""

    mode: str
    ids: list[str]
    include_created_by: bool
    created_by: int | None
    revision: int


class SubjectAccess(msgspec.Struct, frozen=True):
    user_id: str
    access_level: str
    access_source: str
    organization_membership_id: str
    organization_membership_level: str


class SubjectsResult(msgspec.Struct, frozen=True):
    users: list[SubjectAccess]
    total_count: int
    revision: int


# -- admin representations (§5.3) ------------------------------------------------------------------


class UserBasic(msgspec.Struct, frozen=True):
    id: int
    uuid: str
    distinct_id: str | None = None
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    is_email_verified: bool | None = None
    hedgehog_config: dict[str, Any] | None = None


class User(UserBasic, frozen=True):
    is_active: bool = True


class Organization(msgspec.Struct, frozen=True):
    id: str
    name: str
    available_product_features: list[dict[str, Any]] = []
    members_can_use_personal_api_keys: bool = True
    membership_level: int | None = None
    created_at: str | None = None
    updated_at: str | None = None


class Project(msgspec.Struct, frozen=True):
    id: int
    organization: str
    name: str
    access_control: bool
    effective_membership_level: int | None = None
    user_access_level: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class Dashboard(msgspec.Struct, frozen=True):
    id: int
    name: str | None
    created_by: UserBasic | None = None
    created_at: str | None = None
    restriction_level: int | None = None
    effective_restriction_level: int | None = None
    effective_privilege_level: int | None = None
    user_access_level: str | None = None


class Member(msgspec.Struct, frozen=True):
    """An organization membership (§5.3.3)."""

    id: str
    user: UserBasic
    level: int
    joined_at: str | None = None
    updated_at: str | None = None


class ExplicitMember(msgspec.Struct, frozen=True):
    """A project's explicit member (§5.3.5)."""

    id: str
    level: int
    parent_level: int
    parent_membership_id: str
    user: UserBasic
    user_uuid: str
    effective_level: int
    joined_at: str | None = None
    updated_at: str | None = None


class Collaborator(msgspec.Struct, frozen=True):
    """A dashboard collaborator and its privilege (§5.3.7)."""

    id: str
    dashboard_id: int | str
    user: UserBasic
    level: int
    added_at: str | None = None
    updated_at: str | None = None


class Resource(msgspec.Struct, frozen=True):
    """An object of the generic resources registry (§5.3.8); dashboard and insight fields where they apply."""

    resource: str
    resource_id: str
    name: str | None = None
    created_by: UserBasic | None = None
    created_at: str | None = None
    user_access_level: str | None = None
    access_source: str | None = None
    restriction_level: int | None = None
    dashboards: list[int] | None = None
    effective_restriction_level: int | None = None
    effective_privilege_level: int | None = None


class AccessControl(msgspec.Struct, frozen=True):
    """One access-control row (§5.3.9)."""

    access_level: str
    resource: str
    resource_id: str | None
    organization_member: str | None
    role: str | None
    created_by: int | None = None
    created_at: str | None = None
    updated_at: str | None = None


class RoleMembership(msgspec.Struct, frozen=True):
    id: str
    role_id: str
    organization_member: Member
    user: UserBasic
    joined_at: str | None = None
    updated_at: str | None = None


class Role(msgspec.Struct, frozen=True):
    """A role of an organization and its members (§5.3.10)."""

    id: str
    name: str
    created_at: str | None = None
    created_by: UserBasic | None = None
    members: list[RoleMembership] = []
