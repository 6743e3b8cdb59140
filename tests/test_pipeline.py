"""The §3.14 pipeline over the §4 route table, on SPEC §8's organization, without HTTP."""

import uuid
from collections.abc import Iterable
from typing import Any

import pytest

from acl_service.authz.engine import PolicyEngine
from acl_service.authz.pipeline import Authorization, RequestScope, authorize, reads_identity
from acl_service.authz.routes import RouteTable
from acl_service.domain import (
    AccessControlRow,
    ApiKeyRef,
    Caller,
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

ORG = uuid.UUID("00000000-0000-4000-8000-0000000000aa")
USERS = {
    name: UserRef(index + 1, uuid.UUID(int=index + 1))
    for index, name in enumerate(["alice", "bob", "carol", "dan"])
}
LEVELS = {"alice": 1, "bob": 1, "carol": 15, "dan": 1}
MEMBERSHIPS = {
    name: Membership(uuid.UUID(int=100 + user.id), user.id, LEVELS[name]) for name, user in USERS.items()
}
ENG_ROLE = uuid.UUID(int=500)


def world(
    features: Iterable[str] = (),
    *,
    access_control: bool = False,
    explicit: Iterable[tuple[str, int]] = (),
    objects: Iterable[StoredObject] = (),
    rows: Iterable[AccessControlRow] = (),
    privileges: Iterable[DashboardPrivilege] = (),
    placements: Iterable[InsightPlacement] = (),
    roles: Iterable[str] = (),
) -> RequestScope:
    project = Project(1, ORG, access_control=access_control)
    view = OrganizationView(
        Organization(ORG, "O", frozenset(features)),
        memberships=MEMBERSHIPS.values(),
        projects=[project, Project(2, ORG)],
        explicit_memberships=[ExplicitMembership(1, MEMBERSHIPS[name].id, level) for name, level in explicit],
        objects=objects,
        access_controls=rows,
        role_memberships=[RoleMembership(ENG_ROLE, USERS[name].id) for name in roles],
        privileges=privileges,
        insight_placements=placements,
    )
    return RequestScope(project=project, view=view)


def dashboard(dashboard_id: int, creator: str, restriction: int = 21) -> StoredObject:
    return StoredObject(1, "dashboard", str(dashboard_id), USERS[creator].id, restriction)


def member_row(name: str, resource: str, resource_id: str | None, level: str) -> AccessControlRow:
    return AccessControlRow(1, resource, resource_id, level, member_id=MEMBERSHIPS[name].id)


def acting(name: str) -> Caller:
    return Caller("user", USERS[name])


def keyed(name: str, scopes: tuple[str, ...] | None, scoped_teams: tuple[int, ...] = ()) -> Caller:
    key = ApiKeyRef(uuid.UUID(int=900), USERS[name].id, scopes, scoped_teams)
    return Caller("key", USERS[name], key)


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine.load()


@pytest.fixture(scope="module")
def routes() -> RouteTable:
    from acl_service.authz.engine import DEFAULT_POLICY_DIR

    return RouteTable.load(DEFAULT_POLICY_DIR)


def ask(
    engine: PolicyEngine,
    routes: RouteTable,
    caller: Caller | None,
    scope: RequestScope,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
) -> Authorization:
    match = routes.match(method, path)
    return authorize(engine, match, caller, scope, body=body, body_rules=body is not None)


def test_private_project_admits_its_explicit_admin_and_refuses_other_members(
    engine: PolicyEngine, routes: RouteTable
) -> None:
    scope = world(["project_based_permissioning"], access_control=True, explicit=[("alice", 8)])
    assert ask(engine, routes, acting("alice"), scope, "DELETE", "/api/projects/1/").allowed
    denied = ask(engine, routes, acting("bob"), scope, "GET", "/api/projects/1/")
    assert (denied.status, denied.detail) == (403, "You don't have sufficient permissions in the project.")
    assert ask(
        engine, routes, acting("alice"), scope, "POST", "/api/environments/1/explicit_members/"
    ).allowed


def test_rows_make_a_project_private_and_grant_admin(engine: PolicyEngine, routes: RouteTable) -> None:
    rows = [AccessControlRow(1, "project", "1", "none"), member_row("alice", "project", "1", "admin")]
    scope = world(["advanced_permissions"], rows=rows, objects=[dashboard(7, "dan", 37)])
    denied = ask(engine, routes, acting("bob"), scope, "GET", "/api/environments/1/dashboards/")
    assert (denied.status, denied.detail) == (403, "You don't have access to the project.")
    restrict = {"restriction_level": 21}
    assert ask(
        engine, routes, acting("alice"), scope, "PATCH", "/api/environments/1/dashboards/7/", restrict
    ).allowed


def test_dashboard_collaborator_edits_but_cannot_restrict(engine: PolicyEngine, routes: RouteTable) -> None:
    scope = world(
        ["dashboard_permissioning"],
        objects=[dashboard(7, "alice", 37)],
        privileges=[DashboardPrivilege(1, "7", USERS["bob"].id, 37)],
    )
    path = "/api/environments/1/dashboards/7/"
    assert ask(engine, routes, acting("dan"), scope, "GET", path).allowed
    denied = ask(engine, routes, acting("dan"), scope, "PATCH", path, {"name": "x"})
    assert denied.detail == "You don't have edit permissions for this dashboard."
    assert ask(engine, routes, acting("bob"), scope, "PATCH", path, {"name": "x"}).allowed
    denied = ask(engine, routes, acting("bob"), scope, "PATCH", path, {"restriction_level": 21})
    assert denied.detail == (
        "Only the dashboard owner and project admins have the restriction rights required to change the "
        "dashboard's restriction level."
    )


def test_specific_none_beats_a_resource_wide_editor_row(engine: PolicyEngine, routes: RouteTable) -> None:
    rows = [AccessControlRow(1, "dashboard", None, "editor"), member_row("bob", "dashboard", "8", "none")]
    scope = world(["advanced_permissions"], rows=rows, objects=[dashboard(8, "dan"), dashboard(9, "dan")])
    denied = ask(engine, routes, acting("bob"), scope, "GET", "/api/environments/1/dashboards/8/")
    assert (denied.status, denied.detail) == (403, "You do not have viewer access to this resource.")
    assert ask(engine, routes, acting("bob"), scope, "GET", "/api/environments/1/dashboards/9/").allowed


@pytest.mark.parametrize(
    ("features", "method", "expected"),
    [
        (["advanced_permissions"], "GET", "You do not have viewer access to this resource."),
        (["advanced_permissions", "role_based_access"], "GET", None),
        (
            ["advanced_permissions", "role_based_access"],
            "POST",
            "You do not have editor access to this resource.",
        ),
    ],
)
def test_role_rows_apply_only_under_role_based_access(
    engine: PolicyEngine, routes: RouteTable, features: list[str], method: str, expected: str | None
) -> None:
    rows = [
        AccessControlRow(1, "feature_flag", None, "none"),
        AccessControlRow(1, "feature_flag", None, "viewer", role_id=ENG_ROLE),
    ]
    scope = world(features, rows=rows, roles=["bob"])
    answer = ask(engine, routes, acting("bob"), scope, method, "/api/environments/1/feature_flags/")
    assert answer.detail == expected


@pytest.mark.parametrize(
    ("scopes", "method", "path", "expected"),
    [
        (
            ("dashboard:read",),
            "PATCH",
            "/dashboards/7/move_tile/",
            "This action does not support Personal API Key access",
        ),
        (("*",), "PATCH", "/dashboards/7/move_tile/", "This action does not support Personal API Key access"),
        (None, "PATCH", "/dashboards/7/move_tile/", None),
        (("dashboard:read",), "PATCH", "/dashboards/7/", "API key missing required scope 'dashboard:write'"),
        (("dashboard:read",), "GET", "/dashboards/7/", None),
        (("dashboard:write",), "GET", "/dashboards/7/", None),
    ],
)
def test_personal_api_key_scopes(
    engine: PolicyEngine,
    routes: RouteTable,
    scopes: tuple[str, ...] | None,
    method: str,
    path: str,
    expected: str | None,
) -> None:
    scope = world(objects=[dashboard(7, "alice")])
    answer = ask(engine, routes, keyed("alice", scopes), scope, method, "/api/environments/1" + path)
    assert answer.detail == expected


def test_key_scoped_to_another_project(engine: PolicyEngine, routes: RouteTable) -> None:
    project_two = world()
    project_two = RequestScope(project=Project(2, ORG), view=project_two.view)
    caller = keyed("alice", ("*",), scoped_teams=(1,))
    answer = ask(engine, routes, caller, project_two, "GET", "/api/environments/2/dashboards/")
    assert answer.detail == "API key does not have access to the requested project: ID 2."
    answer = ask(engine, routes, caller, RequestScope(), "GET", "/api/projects/")
    assert answer.detail == "API keys with scoped projects are only supported on project-based endpoints."
    assert ask(engine, routes, caller, RequestScope(), "GET", "/api/users/@me/").allowed


def test_insight_on_a_restricted_dashboard_blocks_edits(engine: PolicyEngine, routes: RouteTable) -> None:
    objects = [dashboard(7, "alice", 37), StoredObject(1, "insight", "42", USERS["alice"].id)]
    placements = [InsightPlacement(1, "42", "7"), InsightPlacement(1, "42", "10")]
    editable = world(
        ["dashboard_permissioning"], objects=[*objects, dashboard(10, "alice", 21)], placements=placements
    )
    assert ask(engine, routes, acting("dan"), editable, "PATCH", "/api/environments/1/insights/42/").allowed
    locked = world(
        ["dashboard_permissioning"], objects=[*objects, dashboard(10, "alice", 37)], placements=placements
    )
    denied = ask(engine, routes, acting("dan"), locked, "PATCH", "/api/environments/1/insights/42/")
    assert denied.detail == (
        "This insight is on a dashboard that can only be edited by its owner, team members invited to "
        "editing the dashboard, and project admins."
    )
    assert ask(engine, routes, acting("alice"), locked, "PATCH", "/api/environments/1/insights/42/").allowed


def test_project_member_cannot_manage_explicit_members_but_may_leave(
    engine: PolicyEngine, routes: RouteTable
) -> None:
    scope = world(["project_based_permissioning"], access_control=True, explicit=[("bob", 1)])
    denied = ask(engine, routes, acting("bob"), scope, "POST", "/api/environments/1/explicit_members/")
    assert denied.detail == "You don't have sufficient permissions in the project."
    leave = f"/api/environments/1/explicit_members/{USERS['bob'].uuid}/"
    assert ask(engine, routes, acting("bob"), scope, "DELETE", leave).allowed


def test_managing_access_to_a_notebook(engine: PolicyEngine, routes: RouteTable) -> None:
    notebooks = [
        StoredObject(1, "notebook", "n-17", USERS["dan"].id),
        StoredObject(1, "notebook", "n-18", USERS["dan"].id),
    ]
    rows = [AccessControlRow(1, "notebook", "n-17", "none"), member_row("bob", "notebook", "n-17", "viewer")]
    scope = world(["advanced_permissions"], objects=notebooks, rows=rows)
    body = {"access_level": "editor"}
    n17 = "/api/environments/1/notebooks/n-17/access_controls/"
    n18 = "/api/environments/1/notebooks/n-18/access_controls/"
    assert ask(engine, routes, acting("bob"), scope, "PUT", n17, body).detail == (
        "You do not have editor access to this resource."
    )
    assert ask(engine, routes, acting("dan"), scope, "PUT", n17, body).allowed
    assert ask(engine, routes, acting("bob"), scope, "PUT", n18, body).detail == (
        "Must be manager to modify notebook permissions."
    )
    admin_row = world(
        ["advanced_permissions"],
        objects=notebooks,
        rows=[*rows, member_row("alice", "project", "1", "admin")],
    )
    assert ask(engine, routes, acting("alice"), admin_row, "PUT", n18, body).allowed
    wide = ask(engine, routes, acting("bob"), scope, "PUT", "/api/projects/1/resource_access_controls/", body)
    assert wide.detail == "Must be an Organization admin to modify project-wide permissions."


def test_system_calls_run_only_existence_checks(engine: PolicyEngine, routes: RouteTable) -> None:
    system = Caller("system")
    scope = world(objects=[dashboard(7, "alice", 37)])
    assert ask(
        engine, routes, system, scope, "PATCH", "/api/environments/1/dashboards/7/", {"name": "x"}
    ).allowed
    missing = ask(engine, routes, system, scope, "GET", "/api/environments/1/dashboards/99/")
    assert (missing.status, missing.detail) == (404, "Not found.")
    me = ask(engine, routes, system, scope, "GET", "/api/users/@me/")
    assert (me.status, me.code) == (400, "acting_user_required")


def test_unauthenticated_and_unknown_project(engine: PolicyEngine, routes: RouteTable) -> None:
    anonymous = ask(engine, routes, None, world(), "GET", "/api/environments/1/dashboards/")
    assert (anonymous.status, anonymous.code) == (401, "not_authenticated")
    gone = ask(engine, routes, acting("alice"), RequestScope(), "GET", "/api/environments/5/dashboards/")
    assert (gone.status, gone.detail) == (404, "Project not found.")


def test_project_routes_answer_under_both_prefixes(routes: RouteTable) -> None:
    for prefix in ("/api/projects/1", "/api/environments/1"):
        assert routes.match("GET", f"{prefix}/").route.action == "retrieve"
        assert (
            routes.match("PUT", f"{prefix}/resource_access_controls/").route.action
            == "resource_access_controls"
        )
        assert routes.match("GET", f"{prefix}/dashboards/7/").route.action == "retrieve"
        assert routes.match("GET", f"{prefix}/explicit_members").route.action == "list"


def test_routes_reading_the_callers_identity_are_known(engine: PolicyEngine, routes: RouteTable) -> None:
    # STRICT (leaving a project) and SELFKEY (a key reading itself) compare the caller with the path.
    reading = {route.template for route in routes.routes if reads_identity(engine, route)}
    assert any("explicit_members" in template for template in reading)
    assert any("personal_api_keys" in template for template in reading)
    assert not any("/dashboards/" in template for template in reading)
