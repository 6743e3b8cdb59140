"""SPEC §3.14: authorize a request on the route table, one step at a time, each step decided by the policy.

The steps run in SPEC's order (AUTH, K1, RESOLVE, K2-K4, route checks, object checks, body rules)
and the first failing one decides. Which facts a step needs is read off its policy rows
(`PolicyEngine.fields_read`), so a request gathers only what its route's checks look at.

Loading is the caller's job: `targets()` says which project and organization a request touches,
the caller loads them (from PostgreSQL for the admin API, from the fact index for the decision API)
and hands them in as a `RequestScope`; everything here is synchronous and pure.
"""

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar, overload
from uuid import UUID

import msgspec

from acl_service.authz.engine import CheckOutcome, PolicyEngine
from acl_service.authz.evaluator import AccessEvaluator
from acl_service.authz.facts import (
    AuthFacts,
    CheckFacts,
    KeyFacts,
    ObjectExistsFacts,
    RequiredLevelFacts,
    ResolveFacts,
)
from acl_service.authz.routes import INTERNAL, Route, RouteMatch
from acl_service.domain import Caller, OrganizationView, Project

PROJECT = "project"
DASHBOARD = "dashboard"
# CheckFacts fields that read who the caller is, not the caller's facts: a route whose checks read
# them cannot share answers between callers (see `credential_outcomes`).
IDENTITY_FIELDS = frozenset({"own_explicit_membership", "own_key_get"})
T = TypeVar("T")


class _lazy(Generic[T]):  # noqa: N801  (used as a decorator, named like one)
    """A computed-once attribute. Unlike functools.cached_property on Python 3.11, it takes no lock
    on each access, which showed as the largest single cost of a first-seen decision."""

    def __init__(self, compute: Callable[[Any], T]) -> None:
        self.compute = compute
        self.name = compute.__name__

    @overload
    def __get__(self, instance: None, owner: type) -> "_lazy[T]": ...

    @overload
    def __get__(self, instance: object, owner: type) -> T: ...

    def __get__(self, instance: object | None, owner: type) -> "T | _lazy[T]":
        if instance is None:
            return self
        value = self.compute(instance)
        # A non-data descriptor: from now on the instance attribute answers without calling us.
        instance.__dict__[self.name] = value
        return value


class RequestScope(msgspec.Struct, frozen=True):
    """What the request's route touches, as loaded by the caller of `authorize`."""

    project: Project | None = None  # the project of the path (None: no project, or none found)
    view: OrganizationView | None = None  # the organization in context (project's, path's or body's)
    evaluator: AccessEvaluator | None = None  # one over `view` the caller already has, to share its caches


class Authorization(msgspec.Struct, frozen=True):
    allowed: bool
    status: int
    code: str | None
    detail: str | None
    rule: str | None
    reasons: tuple[str, ...]
    project_id: int | None
    action: str
    scope_object: str | None
    required_scopes: tuple[str, ...] | None


def targets(match: RouteMatch, body: Mapping[str, Any] | None) -> tuple[int | None, UUID | None]:
    """The project id and organization id whose facts a request needs."""
    organization = match.params.get("org")
    if organization is None and match.route.context == "none" and body is not None:
        # POST /api/projects/ authorizes against the organization named in its body (OAW).
        try:
            organization = UUID(str(body.get("organization")))
        except ValueError:
            organization = None
    return match.project_id, organization if isinstance(organization, UUID) else None


def body_scope_object(match: RouteMatch, body: Mapping[str, Any] | None) -> str | None:
    if match.scope_object is not None or body is None:
        return match.scope_object
    resource = body.get("resource")
    return resource if isinstance(resource, str) else None


class _Request:
    """The facts of one request, each gathered on first use."""

    def __init__(
        self,
        engine: PolicyEngine,
        match: RouteMatch,
        caller: Caller,
        scope: RequestScope,
        body: Mapping[str, Any] | None,
        scope_object: str | None,
    ) -> None:
        self.engine = engine
        self.match = match
        self.route = match.route
        self.params = match.params
        self.caller_ = caller
        self.scope = scope
        self.body = body or {}
        self.scope_object = scope_object
        self.required_scopes = match.required_scopes(scope_object)
        self.user_id = caller.user.id if caller.user is not None else None
        self.project = scope.project
        self.view = scope.view
        self.evaluator = scope.evaluator
        if self.evaluator is None and scope.view is not None:
            self.evaluator = AccessEvaluator(engine, scope.view, scope.view.users)

    # -- who and what ---------------------------------------------------------------------------

    @_lazy
    def caller(self) -> str:
        return self.caller_.kind

    @_lazy
    def method(self) -> str:
        return self.route.method

    @_lazy
    def required(self) -> str:
        scopes = self.required_scopes or ()
        return self.engine.required_level(
            RequiredLevelFacts(
                scope_object=self.scope_object or "",
                method=self.method,
                has_scopes=bool(scopes),
                write_scope=any(scope.endswith(":write") for scope in scopes),
            )
        )

    @_lazy
    def internal(self) -> bool:
        return self.scope_object == INTERNAL

    @_lazy
    def create(self) -> bool:
        return self.route.create

    @_lazy
    def org_level(self) -> int:
        if self.evaluator is None or self.user_id is None:
            return 0
        return self.evaluator.org_level(self.user_id)

    # -- the project and its objects -----------------------------------------------------------------

    def _user_in_project(self) -> tuple[AccessEvaluator, int, int] | None:
        if self.evaluator is None or self.user_id is None or self.project is None:
            return None
        return self.evaluator, self.user_id, self.project.id

    @_lazy
    def effective_level(self) -> int | None:
        found = self._user_in_project()
        return found[0].effective_level(found[1], found[2]) if found else None

    @_lazy
    def resource_level(self) -> str | None:
        found = self._user_in_project()
        if not found or self.scope_object is None:
            return None
        return found[0].resource_access_level(found[1], found[2], self.scope_object)

    @_lazy
    def specific_level(self) -> str | None:
        found = self._user_in_project()
        if not found or self.scope_object is None:
            return None
        return found[0].specific_access_level(found[1], found[2], self.scope_object)

    @_lazy
    def target(self) -> tuple[str, str] | None:
        """The object the route acts on: (type, id)."""
        if "id" in self.params:
            return DASHBOARD, str(self.params["id"])
        if "rid" in self.params and self.route.object_checks and self.scope_object is not None:
            return self.scope_object, str(self.params["rid"])
        if self.route.context == "project_detail" and self.project is not None:
            return PROJECT, str(self.project.id)
        return None

    def _exists(self, resource: str, resource_id: str) -> bool:
        if self.project is None or self.view is None:
            return False
        if resource == PROJECT:
            return resource_id == str(self.project.id)
        return (self.project.id, resource, resource_id) in self.view.objects

    @_lazy
    def exists(self) -> bool:
        return self.target is not None and self._exists(*self.target)

    @_lazy
    def resource(self) -> str:
        return self.target[0] if self.target is not None else (self.scope_object or "")

    @_lazy
    def highest(self) -> str:
        return self.engine.resource_info(self.resource).highest

    @_lazy
    def object_level(self) -> str | None:
        found = self._user_in_project()
        if not found or self.target is None:
            return None
        return found[0].object_access_level(found[1], found[2], *self.target)

    @_lazy
    def dashboard_exists(self) -> bool:
        return "id" in self.params and self._exists(DASHBOARD, str(self.params["id"]))

    def _dashboard(self, dashboard_id: str) -> tuple[bool, bool]:
        """(can_edit, can_restrict) of the caller on a dashboard of the project."""
        found = self._user_in_project()
        if not found or not self._exists(DASHBOARD, dashboard_id):
            return False, False
        decision = found[0].dashboard(found[1], found[2], dashboard_id)
        return decision.can_edit, decision.can_restrict

    @_lazy
    def can_edit(self) -> bool:
        return self.target is not None and self._dashboard(self.target[1])[0]

    @_lazy
    def can_restrict(self) -> bool:
        return self.target is not None and self._dashboard(self.target[1])[1]

    @_lazy
    def insight_privilege_level(self) -> int | None:
        found = self._user_in_project()
        if not found or self.target is None:
            return None
        return found[0].insight(found[1], found[2], self.target[1]).privilege_level

    @_lazy
    def own_explicit_membership(self) -> bool:
        user = self.caller_.user
        return user is not None and self.params.get("uuid") == user.uuid

    @_lazy
    def own_key_get(self) -> bool:
        key = self.caller_.key
        wanted = self.params.get("key")
        return self.method == "GET" and key is not None and wanted in ("@current", key.id)

    # -- body rules -------------------------------------------------------------------------------

    @_lazy
    def body_restriction_level(self) -> bool:
        return "restriction_level" in self.body

    @_lazy
    def body_access_control(self) -> bool:
        return "access_control" in self.body

    @_lazy
    def move_target(self) -> str | None:
        destination = self.body.get("toDashboard")
        valid = isinstance(destination, int) and not isinstance(destination, bool)
        return str(destination) if valid else None

    @_lazy
    def target_exists(self) -> bool:
        return self.move_target is not None and self._exists(DASHBOARD, self.move_target)

    @_lazy
    def target_level(self) -> str | None:
        found = self._user_in_project()
        if not found or not self.target_exists or self.move_target is None:
            return None
        return found[0].object_access_level(found[1], found[2], DASHBOARD, self.move_target)

    @_lazy
    def target_can_edit(self) -> bool:
        return self.move_target is not None and self._dashboard(self.move_target)[0]

    @_lazy
    def project_wide(self) -> bool:
        return "MODIFY_WIDE" in self.route.body_rules

    @_lazy
    def can_modify(self) -> bool:
        found = self._user_in_project()
        if not found:
            return False
        evaluator, user_id, project_id = found
        if self.project_wide:
            return evaluator.can_modify_project_wide(user_id, project_id)
        resource, resource_id = self.target or (PROJECT, str(project_id))
        return evaluator.can_modify(user_id, project_id, resource, resource_id)

    # -- keys and resolution ------------------------------------------------------------------------

    @_lazy
    def organization_id(self) -> UUID | None:
        return self.view.organization.id if self.view is not None else None

    @_lazy
    def key_facts(self) -> KeyFacts:
        key = self.caller_.key
        assert key is not None
        scopes, missing = self.engine.key_scopes(key.scopes, self.required_scopes)
        context = self.route.context
        org_context = context in ("project", "project_detail", "org_nested") and self.view is not None
        organization = self.view.organization if self.view is not None else None
        project_id = self.project.id if self.project is not None else self.match.project_id
        in_project_context = context in ("project", "project_detail")
        return KeyFacts(
            legacy=not key.scopes,
            scopes=scopes,
            required_scopes=self.required_scopes,
            scope_object=self.scope_object or "",
            missing_scope=missing,
            org_context=org_context,
            org_name=organization.name if organization is not None else "",
            org_id=str(organization.id) if organization is not None else "",
            key_policy=self.evaluator.gates.key_policy if self.evaluator is not None else False,
            members_can_use_keys=organization.members_can_use_personal_api_keys if organization else True,
            owner_org_level=self.org_level,
            scoped_teams=bool(key.scoped_teams),
            project_context=in_project_context and project_id is not None,
            project_id=project_id if in_project_context else None,
            project_listed=project_id in key.scoped_teams,
            scoped_organizations=bool(key.scoped_organizations),
            organization_listed=self.organization_id in key.scoped_organizations,
        )

    def resolve_facts(self) -> ResolveFacts:
        key = self.caller_.key
        org_param = self.params.get("org")
        project = self.project
        return ResolveFacts(
            context=self.route.context,
            caller=self.caller,
            project_exists=project is not None,
            project_in_org=project is not None
            and (org_param is None or project.organization_id == org_param),
            org_exists=self.view is not None,
            org_level=self.org_level,
            scoped_teams=key is not None and bool(key.scoped_teams),
            project_listed=key is not None and project is not None and project.id in key.scoped_teams,
            scoped_organizations=key is not None and bool(key.scoped_organizations),
            organization_listed=key is not None and self.organization_id in key.scoped_organizations,
        )

    def check_facts(self, code: str) -> CheckFacts:
        fields = self.engine.fields_read(f"check.{code}") | {"caller", "method"}
        return CheckFacts(**{field: getattr(self, field) for field in fields})


class _Trail:
    """The outcomes of the steps run so far; the first failing one decides."""

    def __init__(self, match: RouteMatch, scope_object: str | None) -> None:
        self.match = match
        self.scope_object = scope_object
        self.outcomes: list[CheckOutcome] = []

    def failed(self, outcome: CheckOutcome) -> bool:
        self.outcomes.append(outcome)
        return not outcome.allowed

    def result(self) -> Authorization:
        match = self.match
        reasons = tuple(dict.fromkeys(o.reason for o in self.outcomes if o.reason != "-"))
        last = self.outcomes[-1] if self.outcomes else None
        denied = last is not None and not last.allowed
        return Authorization(
            allowed=not denied,
            status=last.status if denied and last else 200,
            code=last.code if denied and last else None,
            detail=last.detail if denied and last else None,
            rule=last.rule if denied and last else None,
            reasons=reasons,
            project_id=match.project_id,
            action=match.route.action,
            scope_object=self.scope_object,
            required_scopes=match.required_scopes(self.scope_object),
        )


def authorize(
    engine: PolicyEngine,
    match: RouteMatch,
    caller: Caller | None,
    scope: RequestScope,
    *,
    auth_state: str = "ok",
    body: Mapping[str, Any] | None = None,
    body_rules: bool = False,
) -> Authorization:
    """Steps 1-6 of §3.14, and step 7 when `body_rules` (the admin API runs it after body validation)."""
    route = match.route
    trail = _Trail(match, body_scope_object(match, body))
    if caller is None and auth_state == "ok":
        auth_state = "anonymous"
    if trail.failed(engine.step("pipeline.auth", AuthFacts(auth_state))) or caller is None:
        return trail.result()
    request = _Request(engine, match, caller, scope, body, trail.scope_object)
    for outcome in _credential_steps(engine, request):
        if trail.failed(outcome):
            return trail.result()
    for code in _applicable(route.route_checks, trail.scope_object):
        if trail.failed(engine.check(code, request.check_facts(code))):
            return trail.result()
    object_checks = _applicable(route.object_checks, trail.scope_object)
    if object_checks:
        if trail.failed(engine.step("pipeline.object_exists", ObjectExistsFacts(request.exists))):
            return trail.result()
        for code in object_checks:
            if code != "EXISTS" and trail.failed(engine.check(code, request.check_facts(code))):
                return trail.result()
    if body_rules:
        _run_body_rules(engine, request, trail)
    return trail.result()


def credential_outcomes(
    engine: PolicyEngine,
    match: RouteMatch,
    caller: Caller,
    scope: RequestScope,
    body: Mapping[str, Any] | None = None,
) -> tuple[CheckOutcome, ...]:
    """Outcomes of the steps that read the caller's credentials (K1, RESOLVE, K2-K4), up to the first
    that fails. The steps after them read the caller only through its kind and its user's facts
    (`IDENTITY_FIELDS` aside), so on one route, callers with equal outcomes here and equal user
    facts get equal answers: what lets the decision API share answers between API keys."""
    request = _Request(engine, match, caller, scope, body, body_scope_object(match, body))
    found = []
    for outcome in _credential_steps(engine, request):
        found.append(outcome)
        if not outcome.allowed:
            break
    return tuple(found)


def _credential_steps(engine: PolicyEngine, request: _Request) -> Iterator[CheckOutcome]:
    """K1, RESOLVE, K2-K4, in order, each computed only when the one before it is consumed."""
    key_checks = request.caller_.kind == "key" and request.route.key_checks
    if key_checks:
        yield engine.key_check("k1", request.key_facts)
    yield engine.step("pipeline.resolve", request.resolve_facts())
    if key_checks:
        yield engine.key_check("k2_k4", request.key_facts)


def authorize_body(
    engine: PolicyEngine, match: RouteMatch, caller: Caller, scope: RequestScope, body: Mapping[str, Any]
) -> Authorization:
    """Step 7 alone: the admin API runs it once the body is validated (SPEC §5.1 processing order)."""
    trail = _Trail(match, body_scope_object(match, body))
    _run_body_rules(engine, _Request(engine, match, caller, scope, body, trail.scope_object), trail)
    return trail.result()


def _run_body_rules(engine: PolicyEngine, request: _Request, trail: _Trail) -> None:
    for code in request.route.body_rules:
        if code == "MOVE" and "toDashboard" not in request.body:
            continue  # MOVE needs its body field; without it there is nothing to move
        name = _check_name(code)
        if trail.failed(engine.check(name, request.check_facts(name))):
            return


def _check_name(code: str) -> str:
    """The permission code a route's code runs: `CED?dashboard` runs CED, MODIFY_WIDE runs MODIFY."""
    name = code.partition("?")[0]
    return "MODIFY" if name == "MODIFY_WIDE" else name


def reads_identity(engine: PolicyEngine, route: Route) -> bool:
    """Whether any permission code of a route reads who the caller is (`IDENTITY_FIELDS`)."""
    for code in (*route.route_checks, *route.object_checks, *route.body_rules):
        query = f"check.{_check_name(code)}"
        if query in engine.queries and engine.fields_read(query) & IDENTITY_FIELDS:
            return True
    return False


def _applicable(codes: tuple[str, ...], scope_object: str | None) -> list[str]:
    """Codes of a route that apply to its scope object (`CED?dashboard` runs on dashboards only)."""
    found = []
    for code in codes:
        name, _, only_for = code.partition("?")
        if not only_for or only_for == scope_object:
            found.append(name)
    return found
