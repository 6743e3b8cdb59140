"""SPEC §3.1–§3.12 transcribed into plain Python, as a second opinion on the policy engine.

This module is deliberately literal: each function follows the numbered steps of its SPEC pseudo-code
so a reader can hold the two side by side. It is the one place outside `policies/` where levels are
compared in Python, and it must never be imported by `acl_service` (it lives under `tests/` for that
reason). It reads only `acl_service.domain`, never the engine, the policy or the fact builders.

Where the SPEC leaves room for more than one reading, the chosen reading is written down next to the
step with a `Reading:` comment citing the SPEC line.
"""

from collections.abc import Iterable, Mapping

from acl_service.domain import (
    AccessControlRow,
    Membership,
    OrganizationView,
    Project,
    StoredObject,
    UserRef,
)

# --- §3.1 constants ---------------------------------------------------------------------------------

PROJECT_LEVELS = ("none", "member", "admin")
RESOURCE_LEVELS = ("none", "viewer", "editor", "manager")

INHERITANCE: Mapping[str, str] = {
    "session_recording_playlist": "session_recording",
    "external_data_schema": "external_data_source",
    "warehouse_table": "warehouse_objects",
    "warehouse_view": "warehouse_objects",
    "evaluation": "llm_analytics",
    "tagger": "llm_analytics",
    "dataset": "llm_analytics",
    "llm_provider_key": "llm_analytics",
    "llm_prompt": "llm_analytics",
    "llm_skill": "llm_analytics",
    "account": "customer_analytics",
    "customer_journey": "customer_analytics",
    "experiment_saved_metric": "experiment",
    "experiment_holdout": "experiment",
    "dashboard_template": "dashboard",
    "marketing_analytics": "web_analytics",
}

ORG_ADMIN = 8
RESTRICTION_EVERYONE = 21
RESTRICTION_COLLABORATORS = 37
PRIVILEGE_VIEW = 21
PRIVILEGE_EDIT = 37
MEMBERSHIP_LEVEL_NAMES: Mapping[int, str] = {1: "member", 8: "admin", 15: "owner"}


def levels(r: str) -> tuple[str, ...]:
    return PROJECT_LEVELS if r in {"project", "organization"} else RESOURCE_LEVELS


def default_level(r: str) -> str:
    if r == "project":
        return "admin"
    if r == "organization":
        return "member"
    if r == "activity_log":
        return "viewer"
    return "editor"


def highest(r: str) -> str:
    if r in {"project", "organization"}:
        return "admin"
    if r == "activity_log":
        return "viewer"
    return "manager"


def parent(r: str) -> str:
    return INHERITANCE.get(r, r)


def index(r: str, level: str) -> int:
    # Reading: §3.7 `satisfies` ranks in levels(parent(r)); parent never crosses the project/resource
    # divide, so levels(parent(r)) == levels(r) and one helper serves every comparison.
    return levels(parent(r)).index(level)


def max_level(r: str, candidates: Iterable[str | None]) -> str | None:
    """§3 preamble: `max` over access levels in the §3.1 order, `None` below every level."""
    best: str | None = None
    for level in candidates:
        if level is None:
            continue
        if best is None or index(r, level) > index(r, best):
            best = level
    return best


def satisfies(r: str, have: str | None, need: str) -> bool:
    return have is not None and index(r, have) >= index(r, need)


# --- §3.2 feature gates -----------------------------------------------------------------------------


def has(view: OrganizationView, key: str) -> bool:
    return key in view.organization.features


def legacy_private_gate(view: OrganizationView) -> bool:
    return has(view, "project_based_permissioning") or has(view, "advanced_permissions")


def dash_restrict(view: OrganizationView) -> bool:
    return has(view, "dashboard_permissioning") or has(view, "advanced_permissions")


def ac_on(view: OrganizationView) -> bool:
    return has(view, "advanced_permissions") or has(view, "access_control")


def roles_on(view: OrganizationView) -> bool:
    return ac_on(view) and has(view, "role_based_access")


# --- §3.3 applicable rows ---------------------------------------------------------------------------


def membership(view: OrganizationView, user_id: int) -> Membership | None:
    return view.memberships_by_user.get(user_id)


def is_applicable(view: OrganizationView, user_id: int, project_id: int, row: AccessControlRow) -> bool:
    if not ac_on(view) or row.project_id != project_id:
        return False
    if row.member_id is None and row.role_id is None:
        return True
    m = membership(view, user_id)
    if row.member_id is not None:
        return m is not None and row.member_id == m.id
    return roles_on(view) and row.role_id in view.role_ids_by_user.get(user_id, frozenset())


def all_rows(view: OrganizationView) -> Iterable[AccessControlRow]:
    # Scans every row rather than trusting the view's own indexes, so an indexing mistake in the
    # view cannot hide from the comparison.
    for rows in view.access_rows.values():
        yield from rows


def applicable_rows(
    view: OrganizationView, user_id: int, project_id: int, resource: str, resource_id: str | None
) -> list[AccessControlRow]:
    return [
        row
        for row in all_rows(view)
        if row.resource == resource
        and row.resource_id == resource_id
        and is_applicable(view, user_id, project_id, row)
    ]


def is_default_row(row: AccessControlRow) -> bool:
    return row.member_id is None and row.role_id is None


def specific(
    view: OrganizationView, user_id: int, project_id: int, resource: str, resource_id: str | None
) -> list[str]:
    rows = applicable_rows(view, user_id, project_id, resource, resource_id)
    return [row.access_level for row in rows if not is_default_row(row)]


def defaults(
    view: OrganizationView, user_id: int, project_id: int, resource: str, resource_id: str | None
) -> list[str]:
    rows = applicable_rows(view, user_id, project_id, resource, resource_id)
    return [row.access_level for row in rows if is_default_row(row)]


def project_of(view: OrganizationView, project_id: int) -> Project:
    return view.projects[project_id]


def project_specific(view: OrganizationView, user_id: int, project_id: int) -> list[str]:
    return specific(view, user_id, project_id, "project", str(project_id))


def default_project_row_level(view: OrganizationView, project_id: int) -> str | None:
    # Reading: §3.4 step 4 / §3.5 step 4 speak of "P's default project row"; it is only consulted
    # under AC_ON (§3.2: with AC_ON false no row has any effect), hence the gate here.
    if not ac_on(view):
        return None
    rows = view.access_rows.get((project_id, "project", str(project_id)), ())
    found = [row.access_level for row in rows if is_default_row(row)]
    return found[0] if found else None


# --- §3.4 effective project level -------------------------------------------------------------------


def effective_level(view: OrganizationView, user_id: int, project_id: int) -> int | None:
    p = project_of(view, project_id)
    m = membership(view, user_id)  # 1
    if m is None:
        return None
    level = m.level  # 2
    s = project_specific(view, user_id, project_id)
    if level < ORG_ADMIN and s and max_level("project", s) == "none":  # 3
        return None
    legacy_private = legacy_private_gate(view) and p.access_control  # 4
    ac_private = ac_on(view) and default_project_row_level(view, project_id) == "none"
    if not (legacy_private or ac_private):  # 5
        return level
    if level >= ORG_ADMIN:  # 6
        return level
    grants: set[int] = set()  # 7
    if legacy_private:
        explicit_level = view.explicit_levels.get((project_id, m.id))
        if explicit_level is not None:
            grants.add(explicit_level)
    grants |= {1 for a in s if a == "member"}
    grants |= {8 for a in s if a == "admin"}
    return max(max(grants), level) if grants else None  # 8


def is_visible(view: OrganizationView, user_id: int, project_id: int) -> bool:
    return effective_level(view, user_id, project_id) is not None


def floor_level(e: int) -> str:
    # §3.4: floor(e) = admin if e >= 8, member if e = 1 (explicit levels are 1/8, org levels 1/8/15).
    return "admin" if e >= ORG_ADMIN else "member"


# --- §3.5 project access level ----------------------------------------------------------------------


def project_access_level(
    view: OrganizationView, user_id: int, project_id: int, explicit: bool = False
) -> str | None:
    m = membership(view, user_id)  # 1
    if m is None:
        return None
    e = effective_level(view, user_id, project_id)  # 2
    if e is None:
        return "none"
    if m.level >= ORG_ADMIN:  # 3
        return "admin"
    s = project_specific(view, user_id, project_id)  # 4
    default_row = default_project_row_level(view, project_id)
    ladder: str | None
    if not ac_on(view):
        ladder = None if explicit else "admin"
    elif s:
        ladder = max_level("project", s)
    elif default_row is not None:
        ladder = default_row
    else:
        ladder = None if explicit else "admin"
    return max_level("project", [ladder, floor_level(e)])  # 5


def org_access_level(view: OrganizationView, user_id: int) -> str | None:
    m = membership(view, user_id)
    if m is None:
        return None
    return "admin" if m.level >= ORG_ADMIN else "member"


# --- §3.6 resource-wide access ----------------------------------------------------------------------


def resource_access_level(view: OrganizationView, user_id: int, project_id: int, resource: str) -> str | None:
    if resource in INHERITANCE:  # 1
        return resource_access_level(view, user_id, project_id, INHERITANCE[resource])
    if resource in {"organization", "project", "plugin"}:  # 2
        return default_level(resource)
    m = membership(view, user_id)  # 3
    if m is None:
        return None
    if m.level >= ORG_ADMIN:  # 4
        return highest(resource)
    if not ac_on(view):  # 5
        return default_level(resource)
    rows = applicable_rows(view, user_id, project_id, resource, None)  # 6
    if rows:  # 7
        return max_level(resource, [row.access_level for row in rows])
    return default_level(resource)


def has_resource_rows(view: OrganizationView, user_id: int, project_id: int, resource: str) -> bool:
    return bool(applicable_rows(view, user_id, project_id, parent(resource), None))


# --- §3.7 object ladder -----------------------------------------------------------------------------


def stored_object(
    view: OrganizationView, project_id: int, resource: str, resource_id: str
) -> StoredObject | None:
    return view.objects.get((project_id, resource, resource_id))


def created_by(view: OrganizationView, project_id: int, resource: str, resource_id: str) -> int | None:
    obj = stored_object(view, project_id, resource, resource_id)
    return obj.created_by_id if obj is not None else None


def object_access_level(
    view: OrganizationView,
    user_id: int,
    project_id: int,
    resource: str,
    resource_id: str,
    explicit: bool = False,
) -> str | None:
    if resource == "project":
        return project_access_level(view, user_id, int(resource_id), explicit)
    if resource == "organization":
        return org_access_level(view, user_id)
    m = membership(view, user_id)  # 1
    if m is None:
        return None
    if created_by(view, project_id, resource, resource_id) == user_id:  # 2
        return highest(resource)
    if m.level >= ORG_ADMIN:  # 3
        return highest(resource)
    if not ac_on(view):  # 4
        return None if explicit else default_level(resource)
    s = specific(view, user_id, project_id, resource, resource_id)  # 5
    if s:
        return max_level(resource, s)
    if has_resource_rows(view, user_id, project_id, resource):  # 6
        return resource_access_level(view, user_id, project_id, resource)
    d = defaults(view, user_id, project_id, resource, resource_id)  # 7
    if d:
        return max_level(resource, d)
    return None if explicit else default_level(resource)  # 8


# --- §3.8 access source; users with access ----------------------------------------------------------


def access_source(
    view: OrganizationView, user_id: int, project_id: int, resource: str, resource_id: str
) -> str | None:
    m = membership(view, user_id)  # 1
    if m is None:
        return None
    # Reading: projects carry no creator in §2, so "creator" never applies to X = the project.
    if resource != "project" and created_by(view, project_id, resource, resource_id) == user_id:
        return "creator"
    if m.level >= ORG_ADMIN:
        return "organization_admin"
    if not ac_on(view):
        return "default"
    rows = applicable_rows(view, user_id, project_id, resource, resource_id)
    # Reading: "a legacy explicit membership" = an explicit_memberships row of m in P, any level.
    legacy_explicit = (
        resource == "project"
        and legacy_private_gate(view)
        and project_of(view, project_id).access_control
        and (project_id, m.id) in view.explicit_levels
    )
    if any(row.member_id == m.id for row in rows) or legacy_explicit:  # 2
        return "explicit_member"
    if any(row.role_id is not None for row in rows):  # 3 (applicable role rows are held roles)
        return "explicit_role"
    project_rows = view.access_rows.get((project_id, "project", str(project_id)), ())  # 4
    if any(row.member_id == m.id for row in project_rows):
        return "project_admin"
    return "default"  # 5


def users_with_access(
    view: OrganizationView,
    users: Mapping[int, UserRef],
    project_id: int,
    resource: str,
    resource_id: str,
) -> list[tuple[str, str, str, str, str]]:
    found: list[tuple[int, str, tuple[str, str, str, str, str]]] = []
    for m in view.memberships_by_user.values():
        user = users.get(m.user_id)
        if user is None or not user.is_active:
            continue
        if effective_level(view, m.user_id, project_id) is None:
            continue
        lvl = object_access_level(view, m.user_id, project_id, resource, resource_id)
        if lvl is None or lvl == "none":
            continue
        source = access_source(view, m.user_id, project_id, resource, resource_id) or "default"
        entry = (str(user.uuid), lvl, source, str(m.id), MEMBERSHIP_LEVEL_NAMES[m.level])
        found.append((index(resource, lvl), str(user.uuid), entry))
    # §3.8: sort by (index(lvl), user_id) descending, user_id being the user's uuid string.
    found.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return [entry for _, _, entry in found]


# --- §3.9 specific access ---------------------------------------------------------------------------


def specific_access_level(view: OrganizationView, user_id: int, project_id: int, resource: str) -> str | None:
    m = membership(view, user_id)
    if m is None:
        return None
    if m.level >= ORG_ADMIN:
        return highest(resource)
    if not ac_on(view):
        return None
    found = [
        row.access_level
        for row in all_rows(view)
        if row.resource == resource
        and row.resource_id is not None
        and not is_default_row(row)
        and is_applicable(view, user_id, project_id, row)
    ]
    return max_level(resource, found)


def has_any_specific_access(
    view: OrganizationView, user_id: int, project_id: int, resource: str, need: str
) -> bool:
    return satisfies(resource, specific_access_level(view, user_id, project_id, resource), need)


def effective_access_level_for_resource(
    view: OrganizationView, user_id: int, project_id: int, resource: str
) -> str | None:
    a = resource_access_level(view, user_id, project_id, resource)
    if a not in {None, "none"}:
        return a
    return "viewer" if has_any_specific_access(view, user_id, project_id, resource, "viewer") else a


# --- §3.10 list filter ------------------------------------------------------------------------------


def list_filter(
    view: OrganizationView,
    user_id: int,
    project_id: int,
    resource: str,
    admin_include_all: bool = False,
) -> tuple[str, tuple[str, ...], bool]:
    if resource == "project":  # 1
        # Reading: "visible projects of the organization" = every project of the view for which
        # effective_level is not None; project_id only names the organization here.
        visible = sorted(str(p) for p in view.projects if is_visible(view, user_id, p))
        return ("only", tuple(visible), False)
    m = membership(view, user_id)  # 2
    if m is None or effective_level(view, user_id, project_id) is None:
        return ("only", (), False)
    if admin_include_all and m.level >= ORG_ADMIN:  # 3
        return ("all", (), False)
    has_ra = resource_access_level(view, user_id, project_id, resource) not in {None, "none"}  # 4
    grouped: dict[str, list[AccessControlRow]] = {}  # 5
    for row in all_rows(view):
        if (
            row.resource == resource
            and row.resource_id is not None
            and is_applicable(view, user_id, project_id, row)
        ):
            grouped.setdefault(row.resource_id, []).append(row)
    allowed: list[str] = []
    blocked: list[str] = []
    for resource_id, rows in grouped.items():
        specific_rows = [row for row in rows if not is_default_row(row)]
        if specific_rows:
            if any(row.access_level != "none" for row in specific_rows):
                allowed.append(resource_id)
            else:
                blocked.append(resource_id)
        elif all(row.access_level == "none" for row in rows):
            # Reading: with default rows only, a non-`none` default makes the object neither allowed
            # nor blocked (§3.10 step 5 names only the blocked case), as in PostHog's filter.
            blocked.append(resource_id)
    if not has_ra:  # 6
        return ("only", tuple(sorted(allowed)), True)
    if blocked:  # 7
        return ("except", tuple(sorted(blocked)), True)
    return ("all", (), False)  # 8


# --- §3.11 dashboards and insights ------------------------------------------------------------------


def dashboard(view: OrganizationView, project_id: int, dashboard_id: str) -> StoredObject:
    return view.objects[(project_id, "dashboard", dashboard_id)]


def effective_restriction_level(view: OrganizationView, project_id: int, dashboard_id: str) -> int:
    d = dashboard(view, project_id, dashboard_id)
    if dash_restrict(view):
        # Reading: §2 makes restriction_level not null for dashboards; 21 stands in if a view lacks it.
        return d.restriction_level if d.restriction_level is not None else RESTRICTION_EVERYONE
    return RESTRICTION_EVERYONE


def can_restrict(view: OrganizationView, user_id: int, project_id: int, dashboard_id: str) -> bool:
    d = dashboard(view, project_id, dashboard_id)
    e = effective_level(view, user_id, project_id)
    return d.created_by_id == user_id or (e is not None and e >= ORG_ADMIN)


def effective_privilege_level(
    view: OrganizationView, user_id: int, project_id: int, dashboard_id: str
) -> int:
    erl = effective_restriction_level(view, project_id, dashboard_id)
    if erl == RESTRICTION_EVERYONE or can_restrict(view, user_id, project_id, dashboard_id):
        return PRIVILEGE_EDIT
    return view.privileges.get((project_id, dashboard_id, user_id), PRIVILEGE_VIEW)


def can_edit(view: OrganizationView, user_id: int, project_id: int, dashboard_id: str) -> bool:
    return (
        effective_restriction_level(view, project_id, dashboard_id) < RESTRICTION_COLLABORATORS
        or effective_privilege_level(view, user_id, project_id, dashboard_id) >= PRIVILEGE_EDIT
    )


def insight_restriction_level(view: OrganizationView, project_id: int, insight_id: str) -> int:
    ds = view.insight_dashboards.get((project_id, insight_id), ())
    if not ds:
        return RESTRICTION_EVERYONE
    return max(effective_restriction_level(view, project_id, d) for d in ds)


def insight_privilege_level(view: OrganizationView, user_id: int, project_id: int, insight_id: str) -> int:
    ds = view.insight_dashboards.get((project_id, insight_id), ())
    if not ds or any(can_edit(view, user_id, project_id, d) for d in ds):
        return PRIVILEGE_EDIT
    return PRIVILEGE_VIEW


# --- §3.12 can_modify -------------------------------------------------------------------------------


def can_modify(
    view: OrganizationView, user_id: int, project_id: int, resource: str, resource_id: str
) -> bool:
    is_project = resource == "project" and resource_id == str(project_id)
    # Reading: §3.12 checks the creator before anything else, membership included; projects have
    # no creator (§2).
    if not is_project and created_by(view, project_id, resource, resource_id) == user_id:
        return True
    project_admin = satisfies(
        "project", project_access_level(view, user_id, project_id, explicit=True), "admin"
    )
    if is_project:
        return project_admin
    return project_admin or satisfies(
        resource,
        object_access_level(view, user_id, project_id, resource, resource_id, explicit=True),
        "manager",
    )


def can_modify_project_wide(view: OrganizationView, user_id: int, project_id: int) -> bool:
    return can_modify(view, user_id, project_id, "project", str(project_id))
