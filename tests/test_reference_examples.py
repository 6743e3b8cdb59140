"""The test-only reference (tests/reference/spec.py) gives SPEC §8's answers wherever no HTTP is needed.

These prove the reference before it is used to judge the policy engine: if the reference disagrees with
a worked example, the reference is wrong.
"""

from uuid import UUID

import pytest

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
from tests.reference import spec

ALICE, BOB, CAROL, DAN = 1, 2, 3, 4
ORG_ID = UUID("00000000-0000-4000-8000-0000000000aa")
ENG_ROLE = UUID("00000000-0000-4000-8000-0000000000e1")


def membership_id(user_id: int) -> UUID:
    return UUID(int=0x1000 + user_id)


def user_uuid(user_id: int) -> UUID:
    return UUID(int=0x2000 + user_id)


USERS = {uid: UserRef(id=uid, uuid=user_uuid(uid)) for uid in (ALICE, BOB, CAROL, DAN)}


def organization_view(
    features: list[str],
    *,
    access_control: bool = False,
    explicit: tuple[tuple[int, int], ...] = (),
    objects: tuple[StoredObject, ...] = (),
    rows: tuple[AccessControlRow, ...] = (),
    roles: tuple[tuple[UUID, int], ...] = (),
    privileges: tuple[tuple[str, int, int], ...] = (),
    placements: tuple[tuple[str, str], ...] = (),
) -> OrganizationView:
    """SPEC §8's organization O: Alice, Bob and Dan members (1), Carol owner (15), project 1."""
    levels = {ALICE: 1, BOB: 1, CAROL: 15, DAN: 1}
    return OrganizationView(
        Organization(id=ORG_ID, name="O", features=frozenset(features)),
        memberships=[Membership(id=membership_id(u), user_id=u, level=lvl) for u, lvl in levels.items()],
        projects=[Project(id=1, organization_id=ORG_ID, access_control=access_control)],
        explicit_memberships=[
            ExplicitMembership(project_id=1, membership_id=membership_id(u), level=lvl) for u, lvl in explicit
        ],
        objects=objects,
        access_controls=rows,
        role_memberships=[RoleMembership(role_id=role, user_id=u) for role, u in roles],
        privileges=[
            DashboardPrivilege(project_id=1, dashboard_id=d, user_id=u, level=lvl) for d, u, lvl in privileges
        ],
        insight_placements=[
            InsightPlacement(project_id=1, insight_id=i, dashboard_id=d) for i, d in placements
        ],
    )


def row(
    resource: str,
    resource_id: str | None,
    level: str,
    *,
    member: int | None = None,
    role: UUID | None = None,
) -> AccessControlRow:
    return AccessControlRow(
        project_id=1,
        resource=resource,
        resource_id=resource_id,
        access_level=level,
        member_id=membership_id(member) if member is not None else None,
        role_id=role,
    )


def dashboard(dashboard_id: str, creator: int | None, restriction: int) -> StoredObject:
    return StoredObject(
        project_id=1,
        resource="dashboard",
        resource_id=dashboard_id,
        created_by_id=creator,
        restriction_level=restriction,
    )


def test_legacy_private_project_grants_explicit_admin_and_hides_from_others() -> None:
    view = organization_view(["project_based_permissioning"], access_control=True, explicit=((ALICE, 8),))

    assert spec.effective_level(view, ALICE, 1) == 8
    assert spec.project_access_level(view, ALICE, 1) == "admin"
    assert spec.effective_level(view, BOB, 1) is None
    assert spec.project_access_level(view, BOB, 1) == "none"
    assert spec.list_filter(view, BOB, 1, "project") == ("only", (), False)
    assert spec.list_filter(view, ALICE, 1, "project") == ("only", ("1",), False)


def test_owner_keeps_level_15_on_private_project() -> None:
    view = organization_view(["project_based_permissioning"], access_control=True, explicit=((ALICE, 8),))

    assert spec.effective_level(view, CAROL, 1) == 15
    assert spec.project_access_level(view, CAROL, 1) == "admin"


def test_project_row_admin_grant_on_row_private_project_lets_member_restrict() -> None:
    view = organization_view(
        ["advanced_permissions"],
        objects=(dashboard("7", CAROL, 37),),
        rows=(row("project", "1", "none"), row("project", "1", "admin", member=ALICE)),
    )

    assert spec.effective_level(view, ALICE, 1) == 8
    assert spec.can_restrict(view, ALICE, 1, "7")
    assert spec.effective_level(view, BOB, 1) is None
    assert not spec.can_restrict(view, BOB, 1, "7")
    assert spec.list_filter(view, BOB, 1, "dashboard") == ("only", (), False)


def test_member_row_none_hard_denies_on_open_project_but_not_the_owner() -> None:
    view = organization_view(["access_control"], rows=(row("project", "1", "none", member=BOB),))

    assert spec.effective_level(view, BOB, 1) is None
    assert spec.project_access_level(view, BOB, 1) == "none"
    assert spec.effective_level(view, CAROL, 1) == 15
    assert spec.project_access_level(view, CAROL, 1) == "admin"
    assert spec.effective_level(view, ALICE, 1) == 1


def test_restricted_dashboard_editable_by_collaborator_only() -> None:
    view = organization_view(
        ["dashboard_permissioning"], objects=(dashboard("7", ALICE, 37),), privileges=(("7", BOB, 37),)
    )

    def decision(user: int) -> tuple[int, int, bool, bool]:
        return (
            spec.effective_restriction_level(view, 1, "7"),
            spec.effective_privilege_level(view, user, 1, "7"),
            spec.can_edit(view, user, 1, "7"),
            spec.can_restrict(view, user, 1, "7"),
        )

    assert decision(BOB) == (37, 37, True, False)
    assert decision(DAN) == (37, 21, False, False)
    # Dan may still read it: without access control the object level is the default, editor.
    assert spec.satisfies("dashboard", spec.object_access_level(view, DAN, 1, "dashboard", "7"), "viewer")


@pytest.mark.parametrize("restriction", [21, 37])
def test_dashboard_creator_may_restrict_at_either_level(restriction: int) -> None:
    view = organization_view(["dashboard_permissioning"], objects=(dashboard("7", ALICE, restriction),))

    assert spec.can_restrict(view, ALICE, 1, "7")
    assert spec.effective_restriction_level(view, 1, "7") == restriction
    assert spec.effective_privilege_level(view, ALICE, 1, "7") == 37


def test_specific_none_beats_resource_wide_editor() -> None:
    view = organization_view(
        ["advanced_permissions"],
        objects=(dashboard("8", CAROL, 21), dashboard("9", CAROL, 21)),
        rows=(row("dashboard", None, "editor"), row("dashboard", "8", "none", member=BOB)),
    )

    assert spec.object_access_level(view, BOB, 1, "dashboard", "8") == "none"
    assert spec.object_access_level(view, BOB, 1, "dashboard", "9") == "editor"
    assert spec.list_filter(view, BOB, 1, "dashboard") == ("except", ("8",), True)


@pytest.mark.parametrize(
    ("features", "expected"),
    [
        (["advanced_permissions"], "none"),
        (["advanced_permissions", "role_based_access"], "viewer"),
    ],
)
def test_role_rows_take_effect_only_with_role_based_access(features: list[str], expected: str) -> None:
    view = organization_view(
        features,
        rows=(row("feature_flag", None, "none"), row("feature_flag", None, "viewer", role=ENG_ROLE)),
        roles=((ENG_ROLE, BOB),),
    )

    level = spec.resource_access_level(view, BOB, 1, "feature_flag")
    assert level == expected
    assert spec.effective_access_level_for_resource(view, BOB, 1, "feature_flag") == expected
    assert not spec.satisfies("feature_flag", level, "editor")


def test_insight_takes_strictest_restriction_and_most_generous_privilege() -> None:
    def placed_view(restriction_of_10: int) -> OrganizationView:
        return organization_view(
            ["dashboard_permissioning"],
            objects=(
                dashboard("7", ALICE, 37),
                dashboard("10", None, restriction_of_10),
                StoredObject(project_id=1, resource="insight", resource_id="42"),
            ),
            placements=(("42", "7"), ("42", "10")),
        )

    view = placed_view(21)
    assert spec.insight_restriction_level(view, 1, "42") == 37
    assert spec.insight_privilege_level(view, DAN, 1, "42") == 37

    view = placed_view(37)
    assert spec.insight_privilege_level(view, DAN, 1, "42") == 21
    assert spec.insight_privilege_level(view, ALICE, 1, "42") == 37


@pytest.mark.parametrize("carol_above_dan", [True, False])
def test_users_with_access_orders_by_level_then_uuid_descending(carol_above_dan: bool) -> None:
    view = organization_view(
        ["advanced_permissions"],
        objects=(StoredObject(project_id=1, resource="notebook", resource_id="n-17", created_by_id=DAN),),
        rows=(row("notebook", "n-17", "none"), row("notebook", "n-17", "viewer", member=BOB)),
    )
    users = dict(USERS)
    high, low = (CAROL, DAN) if carol_above_dan else (DAN, CAROL)
    users[high] = UserRef(id=high, uuid=UUID(int=0xFF00))
    users[low] = UserRef(id=low, uuid=UUID(int=0xF000))

    got = spec.users_with_access(view, users, 1, "notebook", "n-17")

    assert [(entry[0], entry[1], entry[2]) for entry in got] == [
        (str(users[high].uuid), "manager", "creator" if high == DAN else "organization_admin"),
        (str(users[low].uuid), "manager", "creator" if low == DAN else "organization_admin"),
        (str(users[BOB].uuid), "viewer", "explicit_member"),
    ]
    assert got[2][3:] == (str(membership_id(BOB)), "member")
    assert {entry[4] for entry in got[:2]} == {"owner", "member"}


def test_managing_access_needs_manager_creator_or_project_admin() -> None:
    view = organization_view(
        ["advanced_permissions"],
        objects=(
            StoredObject(project_id=1, resource="notebook", resource_id="n-17", created_by_id=DAN),
            StoredObject(project_id=1, resource="notebook", resource_id="n-18", created_by_id=DAN),
        ),
        rows=(
            row("notebook", "n-17", "none"),
            row("notebook", "n-17", "viewer", member=BOB),
            row("project", "1", "admin", member=ALICE),
        ),
    )

    assert not spec.satisfies(
        "notebook", spec.object_access_level(view, BOB, 1, "notebook", "n-17"), "editor"
    )
    assert spec.can_modify(view, DAN, 1, "notebook", "n-17")
    assert spec.object_access_level(view, BOB, 1, "notebook", "n-18") == "editor"
    assert not spec.can_modify(view, BOB, 1, "notebook", "n-18")
    assert spec.can_modify(view, ALICE, 1, "notebook", "n-18")
    assert not spec.can_modify_project_wide(view, BOB, 1)
    assert spec.can_modify_project_wide(view, CAROL, 1)
