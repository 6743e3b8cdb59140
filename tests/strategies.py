"""Hypothesis strategies for random, small but rich organizations and the questions asked of them.

Views are small (3–6 users, 1–2 projects, a handful of objects and rows) so each example stays cheap,
yet every §3 ingredient appears often: every feature-gate combination, non-members and inactive
users, legacy private flags with explicit memberships, project rows that hide, grant and hard-deny,
resource-wide rows on parents and children, object rows of all three subject kinds, roles, restricted
dashboards with collaborators and insights placed on them.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar
from uuid import UUID

import msgspec
from hypothesis import strategies as st

from acl_service.domain import (
    AccessControlRow,
    DashboardPrivilege,
    ExplicitMembership,
    InsightPlacement,
    Membership,
    Organization,
    OrganizationView,
    Project,
    RoleMembership,
    StoredObject,
    UserRef,
)

FEATURES = (
    "project_based_permissioning",
    "advanced_permissions",
    "dashboard_permissioning",
    "access_control",
    "role_based_access",
    "organization_security_settings",
)
OBJECT_TYPES = (
    "dashboard",
    "insight",
    "notebook",
    "feature_flag",
    "session_recording_playlist",
    "activity_log",
    "action",
)
# Parents (session_recording) and a child (session_recording_playlist) both appear: the child's own
# resource-wide rows must be ignored in favour of its parent's (§3.6 step 1, §3.7 has_resource_rows).
RESOURCE_WIDE_TYPES = (
    "dashboard",
    "insight",
    "notebook",
    "feature_flag",
    "session_recording",
    "session_recording_playlist",
    "activity_log",
    "action",
)
# Types asked about without objects of their own: inheritance, fixed defaults (plugin, project,
# organization, §3.6 step 2) and parents.
QUERY_TYPES = (*RESOURCE_WIDE_TYPES, "plugin", "dashboard_template", "experiment", "project", "organization")
PROJECT_ROW_LEVELS = ("none", "member", "admin")
RESOURCE_ROW_LEVELS = ("none", "viewer", "editor", "manager")
# First options are the simplest, since shrinking drives every choice towards its first option.
ORG_LEVELS = (1, None, 8, 15, 1)
ACTIVE = (True, False, True, True)
EXPLICIT_LEVELS = (None, 1, 8, None)
ORGANIZATION_ID = UUID("00000000-0000-4000-8000-00000000000a")

Subject = tuple[UUID | None, UUID | None]
"""(member_id, role_id) of an access-control row; (None, None) is the default subject."""

DEFAULT_SUBJECT: Subject = (None, None)


@dataclass(frozen=True)
class GeneratedOrganization:
    """A view together with the users it refers to (views hold only memberships, not users)."""

    view: OrganizationView
    users: dict[int, UserRef]

    def __repr__(self) -> str:
        # Shrunk counterexamples print this; the view itself has no useful repr.
        return describe_view(self.view, self.users)


def describe_view(view: OrganizationView, users: dict[int, UserRef]) -> str:
    lines = [f"features={sorted(view.organization.features)}"]
    lines += [f"user {u.id} uuid={u.uuid} active={u.is_active}" for u in users.values()]
    lines += [
        f"membership user={m.user_id} level={m.level} id={m.id}" for m in view.memberships_by_user.values()
    ]
    lines += [f"project {p.id} access_control={p.access_control}" for p in view.projects.values()]
    lines += [f"explicit {key} level={lvl}" for key, lvl in view.explicit_levels.items()]
    lines += [f"object {o}" for o in view.objects.values()]
    lines += [f"row {r}" for rows in view.access_rows.values() for r in rows]
    lines += [f"roles user={u} {sorted(map(str, ids))}" for u, ids in view.role_ids_by_user.items()]
    lines += [f"privilege {key} level={lvl}" for key, lvl in view.privileges.items()]
    lines += [f"insight {key} on {ds}" for key, ds in view.insight_dashboards.items()]
    return "GeneratedOrganization(\n  " + "\n  ".join(lines) + "\n)"


T = TypeVar("T")


class ChoiceReader:
    """Turns one drawn byte string into a sequence of small choices.

    Hypothesis spends far more on each structured draw (tens of microseconds) than the checks of an
    example do, so a whole organization is decoded from a single `st.binary` draw instead. A zero byte
    always decodes to the first option, the lower count or False, and reading past the end yields
    zeros, so shrinking the bytes towards zeros (and shorter) shrinks the organization towards the
    simplest one.
    """

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._position = 0

    def byte(self) -> int:
        value = self._data[self._position] if self._position < len(self._data) else 0
        self._position += 1
        return value

    def choice(self, options: Sequence[T]) -> T:
        return options[self.byte() % len(options)]

    def count(self, low: int, high: int) -> int:
        return low + self.byte() % (high - low + 1)

    def flag(self) -> bool:
        return self.byte() % 2 == 1


FACT_BYTES = st.binary(min_size=256, max_size=256)


def decode_organization(data: bytes, organization: Organization | None = None) -> GeneratedOrganization:
    """The organization a byte string stands for (see ChoiceReader for why bytes); `organization`
    replaces the generated one's id, name and key policy (its features stay the drawn ones)."""
    read = ChoiceReader(data)
    feature_bits = read.byte()
    features = frozenset(key for k, key in enumerate(FEATURES) if feature_bits >> k & 1)
    if organization is None:
        organization = Organization(id=ORGANIZATION_ID, name="O", features=features)
    else:
        organization = msgspec.structs.replace(organization, features=features)
    organization_id = organization.id
    role_ids = [UUID(int=0x2000 + k) for k in range(read.count(0, 2))]
    project_ids = list(range(1, read.count(1, 2) + 1))
    projects = [
        Project(id=p, organization_id=organization_id, access_control=read.flag()) for p in project_ids
    ]

    users: dict[int, UserRef] = {}
    memberships: list[Membership] = []
    explicit: list[ExplicitMembership] = []
    role_memberships: list[RoleMembership] = []
    for uid in range(1, read.count(3, 6) + 1):
        # The leading byte orders users by uuid independently of their ids (§3.8 sorts by uuid).
        users[uid] = UserRef(id=uid, uuid=UUID(int=read.byte() << 120 | uid), is_active=read.choice(ACTIVE))
        level = read.choice(ORG_LEVELS)
        if level is None:
            continue
        m = Membership(id=UUID(int=0x1000 + uid), user_id=uid, level=level)
        memberships.append(m)
        for p in project_ids:
            explicit_level = read.choice(EXPLICIT_LEVELS)
            if explicit_level is not None:
                explicit.append(ExplicitMembership(project_id=p, membership_id=m.id, level=explicit_level))
        role_memberships += [RoleMembership(role_id=role, user_id=uid) for role in role_ids if read.flag()]
    user_ids = sorted(users)
    creators: list[int | None] = [None, *user_ids]

    objects: list[StoredObject] = []
    privileges: dict[tuple[int, str, int], int] = {}
    placements: list[InsightPlacement] = []
    for p in project_ids:
        dashboards: list[str] = []
        for k in range(1, read.count(1, 6) + 1):
            resource = read.choice(OBJECT_TYPES)
            created_by = read.choice(creators)
            if resource == "dashboard":
                # Dashboard ids are decimal integers (§2); numbering them per project keeps them so.
                dashboards.append(str(len(dashboards) + 1))
                objects.append(
                    StoredObject(
                        p, resource, dashboards[-1], created_by, restriction_level=read.choice((21, 37))
                    )
                )
            else:
                objects.append(StoredObject(p, resource, f"{resource[:2]}-{k}", created_by))
        for obj in [o for o in objects if o.project_id == p and o.resource == "insight"]:
            if dashboards:
                placed_on = {read.choice(dashboards) for _ in range(read.count(0, 2))}
                placements += [InsightPlacement(p, obj.resource_id, d) for d in sorted(placed_on)]
        for _ in range(read.count(0, 4) if dashboards else 0):
            privileges[(p, read.choice(dashboards), read.choice(user_ids))] = read.choice((21, 37))

    # Keyed by the schema's unique key (project, resource, resource_id, member, role): a later row for
    # the same key replaces the earlier one, as an upsert would.
    subjects: list[Subject] = [
        DEFAULT_SUBJECT,
        *((m.id, None) for m in memberships),
        *((None, r) for r in role_ids),
    ]
    rows: dict[tuple[int, str, str | None, UUID | None, UUID | None], str] = {}
    for p in project_ids:
        for _ in range(read.count(0, 3)):
            rows[(p, "project", str(p), *read.choice(subjects))] = read.choice(PROJECT_ROW_LEVELS)
        for _ in range(read.count(0, 4)):
            resource = read.choice(RESOURCE_WIDE_TYPES)
            rows[(p, resource, None, *read.choice(subjects))] = read.choice(RESOURCE_ROW_LEVELS)
        in_project = [o for o in objects if o.project_id == p]
        for _ in range(read.count(0, 5)):
            obj = read.choice(in_project)
            rows[(p, obj.resource, obj.resource_id, *read.choice(subjects))] = read.choice(
                RESOURCE_ROW_LEVELS
            )
    access_controls = [
        AccessControlRow(p, r, rid, row_level, member_id=member, role_id=role, id=UUID(int=0x3000 + k))
        for k, ((p, r, rid, member, role), row_level) in enumerate(rows.items())
    ]

    view = OrganizationView(
        organization,
        memberships=memberships,
        projects=projects,
        explicit_memberships=explicit,
        objects=objects,
        access_controls=access_controls,
        role_memberships=role_memberships,
        privileges=[DashboardPrivilege(p, d, u, lvl) for (p, d, u), lvl in privileges.items()],
        insight_placements=placements,
    )
    return GeneratedOrganization(view=view, users=users)


def organizations() -> st.SearchStrategy[GeneratedOrganization]:
    return FACT_BYTES.map(decode_organization)


@dataclass(frozen=True)
class Query:
    """One question about a view: who asks, in which project, about what, and the `explicit` flag."""

    user_id: int
    project_id: int
    resource: str
    resource_id: str | None
    explicit: bool


def queries(generated: GeneratedOrganization) -> st.SearchStrategy[Query]:
    """Questions about `generated`: an existing object, the project itself, or a resource type."""
    view = generated.view
    targets: list[tuple[int, str, str | None]] = []
    for p in view.projects:
        targets.append((p, "project", str(p)))
        targets += [(p, t, None) for t in QUERY_TYPES]
    targets += [(o.project_id, o.resource, o.resource_id) for o in view.objects.values()]
    return st.builds(
        lambda user_id, target, explicit: Query(user_id, target[0], target[1], target[2], explicit),
        st.sampled_from(sorted(generated.users)),
        st.sampled_from(targets),
        st.booleans(),
    )


def questions(generated: GeneratedOrganization) -> st.SearchStrategy[list[Query]]:
    """A handful of questions about `generated`, so one organization answers several."""
    return st.lists(queries(generated), min_size=1, max_size=8)
