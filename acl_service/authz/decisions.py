"""The decision API's answers (SPEC §5.4), computed over facts already loaded: pure and synchronous.

A `/v1/check` action is evaluated as its *equivalent request* (`policies/check_actions.csv`) through
the §3.14 pipeline, so a check and the request it stands for can never disagree. `/v1/authorize`
runs the pipeline on a request given as method and path. The `levels` that come with a decision and
the answers of `/v1/levels`, `/v1/filter` and `/v1/subjects` are §3 functions of the
`AccessEvaluator`. Nothing here compares levels: the policy engine decides, this module assembles.

Loading facts (the fact index), authentication of the service's own callers and HTTP shapes of
errors belong to `acl_service.api.decisions`.
"""

import csv
import re
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import parse_qs
from uuid import UUID

import msgspec

from acl_service.authz.engine import PolicyEngine
from acl_service.authz.evaluator import AccessEvaluator, ListFilter, SubjectAccess
from acl_service.authz.memo import BoundedMemo
from acl_service.authz.pipeline import (
    Authorization,
    RequestScope,
    authorize,
    credential_outcomes,
    reads_identity,
)
from acl_service.authz.routes import RouteMatch, RouteTable
from acl_service.domain import SCOPE_OBJECTS, Caller, OrganizationView, Project, UserRef
from acl_service.errors import InvalidInput, MethodNotAllowed, NotFound, ServiceError

PROJECT: Final = "project"
USER: Final = "user"
KEY: Final = "key"
ORGANIZATION: Final = "organization"
DASHBOARD: Final = "dashboard"
INSIGHT: Final = "insight"
ANY_TYPE: Final = "*"
CHECK_ACTIONS_FILE: Final = "check_actions.csv"

CHECK_TYPES: Final = frozenset(SCOPE_OBJECTS) - {PROJECT, ORGANIZATION}
"""`resource.type` of a check: any SCOPE_OBJECTS type but the project and the organization (§5.4)."""

PROJECT_NOT_FOUND: Final = "Project not found."
# A check's key travels in the body, not in an Authorization header (§5.4).
INVALID_BODY_KEY: Final = "Personal API key found in request body is invalid."
ACTION_NOT_AVAILABLE: Final = "This action is not available for this target."
Action = Literal["read", "write", "delete", "create", "manage_access", "restrict"]
# Dashboard ids are positive decimal integers without a leading zero (§2); no other id can exist.
DASHBOARD_ID: Final = re.compile(r"^[1-9][0-9]*\Z")
# Pipeline steps before the route checks: a request that fails there has consulted no level yet.
PRE_ROUTE_RULES: Final = ("3.14.AUTH.", "3.13.k", "3.14.RESOLVE.")
DEFAULT_MEMO_SIZE: Final = 100_000

SubjectState = str  # ok | invalid_user | invalid_key (AuthFacts states of the pipeline)


class Levels(msgspec.Struct, gc=False):
    """SPEC §5.4 `levels`: every key present, null when not applicable. Filled in by
    `target_levels`, never changed once it is part of an answer (answers are shared)."""

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


class CheckResult(msgspec.Struct, frozen=True, gc=False):
    allowed: bool
    status: int
    detail: str | None
    levels: Levels
    reason: tuple[str, ...]


class Subject(msgspec.Struct, frozen=True, gc=False):
    """Who a decision is about, as the subject lookup found it."""

    caller: Caller | None
    state: SubjectState = "ok"


INVALID_USER: Final = Subject(None, "invalid_user")
INVALID_KEY: Final = Subject(None, "invalid_key")
ANONYMOUS: Final = Subject(None, "anonymous")


class CheckTarget(msgspec.Struct, frozen=True, gc=False):
    project_id: int
    resource: str | None  # None: the project itself
    resource_id: str | None  # None: the resource type
    action: str

    @property
    def kind(self) -> str:
        if self.resource is None:
            return PROJECT
        return "type" if self.resource_id is None else "object"


class CheckAction(msgspec.Struct, frozen=True, gc=False):
    """One row of `check_actions.csv`: the request a check action stands for."""

    method: str
    path: str
    body: tuple[tuple[str, str | int], ...]
    without_flags: frozenset[str]


class RequestDecision(msgspec.Struct):
    """`/v1/authorize`: the pipeline's answer for a request (or the route table's 400/404/405)."""

    allowed: bool
    status: int
    code: str | None
    detail: str | None
    attr: str | None
    user: UserRef | None
    project_id: int | None
    action: str | None
    scope_object: str | None
    required_scopes: tuple[str, ...] | None
    levels: Levels | None


class ProjectLevels(msgspec.Struct):
    org_level: int | None
    effective_level: int | None
    user_access_level: str | None
    access_source: str | None


class DashboardLevels(msgspec.Struct):
    id: int
    exists: bool
    restriction_level: int | None = None
    effective_restriction_level: int | None = None
    effective_privilege_level: int | None = None
    can_edit: bool | None = None
    can_restrict: bool | None = None
    user_access_level: str | None = None
    access_source: str | None = None


class ResourceLevels(msgspec.Struct):
    type: str
    id: str
    exists: bool
    user_access_level: str | None = None
    access_source: str | None = None


class InsightLevels(ResourceLevels):
    effective_restriction_level: int | None = None
    effective_privilege_level: int | None = None


class DashboardResourceLevels(ResourceLevels):
    restriction_level: int | None = None
    effective_restriction_level: int | None = None
    effective_privilege_level: int | None = None
    can_edit: bool | None = None
    can_restrict: bool | None = None


class ResourceTypeLevels(msgspec.Struct):
    type: str
    access_level: str | None
    effective_access_level: str | None
    specific_access_level: str | None


def load_check_actions(policy_dir: Path) -> dict[tuple[str, str, str], CheckAction]:
    """(target, type, action) → equivalent request, from `policies/check_actions.csv`."""
    text = (policy_dir / CHECK_ACTIONS_FILE).read_text()
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    actions: dict[tuple[str, str, str], CheckAction] = {}
    for row in csv.DictReader(lines):
        body: list[tuple[str, str | int]] = []
        for pair in (row["body"] or "").split():
            name, _, value = pair.partition("=")
            body.append((name, int(value) if value.isdigit() else value))
        key = (row["target"], row["type"], row["action"])
        if key in actions:
            raise ValueError(f"{CHECK_ACTIONS_FILE}: duplicate row {key}")
        actions[key] = CheckAction(
            method=row["method"],
            path=row["path"],
            body=tuple(body),
            without_flags=frozenset((row["without_flags"] or "").split()),
        )
    return actions


class ViewAnswers:
    """One view's remembered answers by (caller, target), and the evaluator that gathered them."""

    __slots__ = ("answers", "evaluator")

    def __init__(self, evaluator: AccessEvaluator) -> None:
        self.answers: dict[object, CheckResult] = {}
        self.evaluator = evaluator


class AnswerMemo:
    """Check answers memoized per organization view, bounded in entries, with the view's evaluator.

    A view is immutable and replaced whole when any of its organization's facts change (and the
    subject's user and key records, global facts, are part of the key), so an answer stays right
    exactly as long as the view it was computed on is the current one: the first lookup on a new
    view drops that organization's answers (and with them the old view). The evaluator's gathered
    facts are right for exactly as long, so they live beside the answers: a check never asked
    before still reuses its user's project and type facts from earlier requests. They grow by a
    few entries per answer computed and go with the answers, so the bound holds them too.
    """

    def __init__(self, engine: PolicyEngine, capacity: int) -> None:
        self.engine = engine
        self.capacity = capacity
        self._organizations: OrderedDict[UUID, tuple[OrganizationView, ViewAnswers]] = OrderedDict()
        self._size = 0
        self.hits = 0
        self.added = 0  # answers taken in, ever

    def of(self, view: OrganizationView) -> ViewAnswers:
        if self.capacity <= 0:  # memoization off: nothing outlives the check
            return ViewAnswers(AccessEvaluator(self.engine, view, view.users))
        organization = view.organization.id
        entry = self._organizations.get(organization)
        if entry is not None and entry[0] is view:
            self._organizations.move_to_end(organization)
            return entry[1]
        if entry is not None:
            self._size -= len(entry[1].answers)
        found = ViewAnswers(AccessEvaluator(self.engine, view, view.users))
        self._organizations[organization] = (view, found)
        self._organizations.move_to_end(organization)
        return found

    def put(self, found: ViewAnswers, key: object, answer: CheckResult) -> None:
        if self.capacity <= 0:
            return
        self.added += 1
        answers = found.answers
        while self._size >= self.capacity and self._organizations:
            # The least recently asked organization goes first, whole: cheap, and it unpins its view.
            _, (_, oldest) = next(iter(self._organizations.items()))
            if oldest is found:
                self._size -= len(answers)
                answers.clear()
                found.evaluator = AccessEvaluator(self.engine, found.evaluator.view, found.evaluator.users)
                break
            self._organizations.popitem(last=False)
            self._size -= len(oldest.answers)
        answers[key] = answer
        self._size += 1

    def __len__(self) -> int:
        return self._size


class Decider:
    """Answers of the decision API over loaded facts, for one policy engine and route table."""

    def __init__(
        self,
        engine: PolicyEngine,
        routes: RouteTable,
        policy_dir: Path,
        *,
        memo_size: int = DEFAULT_MEMO_SIZE,
    ) -> None:
        self.engine = engine
        self.routes = routes
        self.actions = load_check_actions(policy_dir)
        self._matches: dict[tuple[CheckAction, str | None], tuple[RouteMatch, dict[str, Any]]] = {}
        # Every row must name a route of the table: a typo stops startup, not a check.
        for (kind, type_, _), action in self.actions.items():
            sample_type = None if kind == PROJECT else DASHBOARD if type_ == DASHBOARD else "notebook"
            try:
                self._equivalent_match(action, 1, sample_type, "1" if kind == "object" else None)
            except ServiceError as error:
                message = (
                    f"{CHECK_ACTIONS_FILE}: {action.method} {action.path} matches no route ({error.detail})"
                )
                raise ValueError(message) from None
        self._refuse_identity_reads()
        self._any_route = self.routes.match("GET", "/api/users/@me/")
        self._answers = AnswerMemo(engine, memo_size)
        self._alike = BoundedMemo(memo_size)

    @property
    def memo_hits(self) -> int:
        return self._answers.hits + self._alike.hits

    @property
    def answers_added(self) -> int:
        """Answers its memos have taken in, ever: each leaves long-lived objects behind."""
        return self._answers.added + self._alike.misses

    def _refuse_identity_reads(self) -> None:
        """Answers are shared between callers with equal facts (`check`): no check action's route may
        read who the caller is beyond those facts, or a startup error says which."""
        for match, _ in self._matches.values():
            if reads_identity(self.engine, match.route):
                route = match.route
                raise ValueError(
                    f"{CHECK_ACTIONS_FILE}: {route.method} {route.template} reads the caller's identity"
                )

    # -- /v1/check -------------------------------------------------------------------------------

    def check_action(self, target: CheckTarget) -> CheckAction | None:
        """The equivalent request of a check; None when the action is not available for the target."""
        kind = target.kind
        if target.resource is not None:
            found = self.actions.get((kind, target.resource, target.action))
            if found is not None:
                return found
        return self.actions.get((kind, ANY_TYPE, target.action))

    def require_action(self, target: CheckTarget, attr: str = "action") -> CheckAction:
        action = self.check_action(target)
        if action is None:
            raise InvalidInput(ACTION_NOT_AVAILABLE, code="invalid", attr=attr)
        return action

    def equivalent_request(
        self, target: CheckTarget, action: CheckAction
    ) -> tuple[RouteMatch, dict[str, Any]]:
        """The route match and body a check is evaluated as (what `/v1/explain` traces)."""
        return self._equivalent_match(action, target.project_id, target.resource, target.resource_id)

    def _equivalent_match(
        self, action: CheckAction, project_id: int, resource: str | None, resource_id: str | None
    ) -> tuple[RouteMatch, dict[str, Any]]:
        """The route match of a check's equivalent request: the table matches the row's path once per
        resource type; each check then only fills in its own project and object ids."""
        found = self._matches.get((action, resource))
        if found is None:
            found = self._matches[(action, resource)] = self._match_path(action, resource)
        sample, body = found
        params = dict(sample.params)
        params["project_id"] = project_id
        if "id" in params:
            params["id"] = int(resource_id or 0)
        if "rid" in params:
            params["rid"] = resource_id
        return RouteMatch(sample.route, params, sample.scope_object), body

    def _match_path(self, action: CheckAction, resource: str | None) -> tuple[RouteMatch, dict[str, Any]]:
        path = action.path.format(project_id=1, type=resource, id=1)
        path, _, query = path.partition("?")
        params = {name: values[-1] for name, values in parse_qs(query).items()}
        match = self.routes.match(action.method, path, params)
        if action.without_flags:
            route = msgspec.structs.replace(match.route, flags=match.route.flags - action.without_flags)
            match = msgspec.structs.replace(match, route=route)
        body = {name: resource if value == "{type}" else value for name, value in action.body}
        return match, body

    def check(
        self, subject: Subject, target: CheckTarget, action: CheckAction, view: OrganizationView | None
    ) -> CheckResult:
        """One check (§5.4): subject, then project, then the equivalent request through the pipeline.

        Answers are remembered twice: per organization view by (caller, target), and for good by
        what the decision reads, the caller's credentials and the decision signature (the user's
        project, type and object facts), so a check equal in facts to any earlier one, of another
        user, project or organization, costs its fact gathering only, and gathering reuses what the
        view's evaluator already gathered for the user.
        """
        project = view.projects.get(target.project_id) if view is not None else None
        if subject.caller is None or subject.caller.user is None:
            return self._unauthenticated(subject)
        if project is None or view is None:
            return CheckResult(False, 404, PROJECT_NOT_FOUND, Levels(), ())
        remembered = self._answers.of(view)
        key = (subject.caller, target)
        found = remembered.answers.get(key)
        if found is not None:
            self._answers.hits += 1
            return found
        evaluator = remembered.evaluator
        user_id = subject.caller.user.id
        signature = evaluator.decision_signature(user_id, project.id, target.resource, target.resource_id)
        if signature is None:  # no such object: nothing to share
            found = self._check(evaluator, subject.caller, user_id, target, action, project)
        else:
            alike = (self._credentials(subject.caller, target, action, evaluator, project), action, signature)
            found = self._alike.get(alike)
            if found is None:
                found = self._check(evaluator, subject.caller, user_id, target, action, project)
                self._alike.put(alike, found)
        self._answers.put(remembered, key, found)
        return found

    def _credentials(
        self,
        caller: Caller,
        target: CheckTarget,
        action: CheckAction,
        evaluator: AccessEvaluator,
        project: Project,
    ) -> tuple[object, ...]:
        """What a check reads of its caller besides the user's facts (the decision signature).

        A user caller: only the kind. An API key: the outcomes of the steps that read its
        credentials, which include the project and organization a refusal names. So answers are
        shared between users, and between keys, whose facts are equal, across projects and
        organizations: the signature holds every fact the decision reads, gates included.
        """
        if caller.key is None:
            return (USER, target.kind, target.resource)
        match, body = self._equivalent_match(action, project.id, target.resource, target.resource_id)
        scope = RequestScope(project=project, view=evaluator.view, evaluator=evaluator)
        return (
            KEY,
            target.kind,
            target.resource,
            credential_outcomes(self.engine, match, caller, scope, body),
        )

    def _check(
        self,
        evaluator: AccessEvaluator,
        caller: Caller,
        user_id: int,
        target: CheckTarget,
        action: CheckAction,
        project: Project,
    ) -> CheckResult:
        view = evaluator.view
        levels, reasons = target_levels(evaluator, user_id, project.id, target.resource, target.resource_id)
        resource_id = target.resource_id
        if target.resource == DASHBOARD and resource_id is not None and not DASHBOARD_ID.match(resource_id):
            # Not a dashboard id at all (§2): no such dashboard can exist, and no path would route.
            return CheckResult(False, 404, "Not found.", levels, reasons)
        match, body = self._equivalent_match(action, project.id, target.resource, resource_id)
        scope = RequestScope(project=project, view=view, evaluator=evaluator)
        outcome = authorize(self.engine, match, caller, scope, body=body, body_rules=True)
        # The levels' own explanations first, then the pipeline's steps: evaluation order (§5.4).
        reason = tuple(dict.fromkeys(reasons + outcome.reasons))
        return CheckResult(outcome.allowed, outcome.status, outcome.detail, levels, reason)

    def _unauthenticated(self, subject: Subject) -> CheckResult:
        # AUTH is the pipeline's first step and reads nothing else: any route answers it.
        outcome = authorize(self.engine, self._any_route, None, RequestScope(), auth_state=subject.state)
        detail = INVALID_BODY_KEY if subject.state == "invalid_key" else outcome.detail
        return CheckResult(False, outcome.status, detail, Levels(), outcome.reasons)

    # -- /v1/authorize -----------------------------------------------------------------------------

    def match_request(self, method: str, path: str) -> RouteMatch | RequestDecision:
        """The route of an evaluated request, or its 404/405/400 as a decision (§5.4 /v1/authorize)."""
        raw_path, _, query_string = path.partition("?")
        query = {name: values[-1] for name, values in parse_qs(query_string).items() if name == "resource"}
        try:
            return self.routes.match(method, raw_path, query)
        except (NotFound, MethodNotAllowed, InvalidInput) as error:
            return refused(error, None)

    def authorize_request(
        self,
        subject: Subject,
        match: RouteMatch,
        body: Mapping[str, Any] | None,
        project: Project | None,
        view: OrganizationView | None,
    ) -> RequestDecision:
        caller = subject.caller
        user = caller.user if caller is not None else None
        if caller is not None and match.route.scope == "body.resource":
            # This route's scope object is its body's `resource`: validated before authorization (§5.1).
            problem = body_resource_problem(body)
            if problem is not None:
                return refused(problem, user)
        outcome = authorize(
            self.engine,
            match,
            caller,
            RequestScope(project=project, view=view),
            auth_state=subject.state,
            body=body or {},
            body_rules=True,
        )
        levels = None
        reached_routes = outcome.allowed or not (outcome.rule or "").startswith(PRE_ROUTE_RULES)
        if user is not None and project is not None and view is not None and reached_routes:
            resource, resource_id = request_target(match, outcome, project)
            evaluator = AccessEvaluator(self.engine, view, view.users)
            levels, _ = target_levels(evaluator, user.id, project.id, resource, resource_id)
        return decision_of(outcome, user, levels)


def body_resource_problem(body: Mapping[str, Any] | None) -> InvalidInput | None:
    resource = (body or {}).get("resource")
    if resource is None:
        return InvalidInput("This field is required.", code="required", attr="resource")
    if not isinstance(resource, str) or resource not in CHECK_TYPES:
        return InvalidInput(f'"{resource}" is not a valid choice.', code="invalid_choice", attr="resource")
    return None


def refused(error: ServiceError, user: UserRef | None) -> RequestDecision:
    status = 400 if isinstance(error, InvalidInput) else 405 if isinstance(error, MethodNotAllowed) else 404
    return RequestDecision(
        allowed=False,
        status=status,
        code=error.code,
        detail=error.detail,
        attr=error.attr,
        user=user,
        project_id=None,
        action=None,
        scope_object=None,
        required_scopes=None,
        levels=None,
    )


def decision_of(outcome: Authorization, user: UserRef | None, levels: Levels | None) -> RequestDecision:
    return RequestDecision(
        allowed=outcome.allowed,
        status=outcome.status,
        code=outcome.code,
        detail=outcome.detail,
        attr=None,
        user=user,
        project_id=outcome.project_id,
        action=outcome.action,
        scope_object=outcome.scope_object,
        required_scopes=outcome.required_scopes,
        levels=levels,
    )


def request_target(match: RouteMatch, outcome: Authorization, project: Project) -> tuple[str, str | None]:
    """The object an evaluated request acts on, for its levels: a dashboard, a resource or the project."""
    params = match.params
    if "id" in params:
        return DASHBOARD, str(params["id"])
    if "rid" in params and match.route.object_checks and outcome.scope_object is not None:
        return outcome.scope_object, str(params["rid"])
    scope_object = outcome.scope_object
    if match.route.context == "project" and scope_object in CHECK_TYPES:
        return scope_object, None
    return PROJECT, str(project.id)


# -- levels (§3.4-§3.11) --------------------------------------------------------------------------


def _org_level(evaluator: AccessEvaluator, user_id: int) -> int | None:
    return evaluator.org_level(user_id) or None  # 0 = no membership: null in answers


def target_levels(
    evaluator: AccessEvaluator, user_id: int, project_id: int, resource: str | None, resource_id: str | None
) -> tuple[Levels, tuple[str, ...]]:
    """`levels` of a decision on the project (resource None), a type (id None) or an object, with the
    reason codes of the decisions that gave them."""
    project = evaluator.project(user_id, project_id)
    levels = Levels(
        org_level=_org_level(evaluator, user_id),
        effective_level=project.effective_level,
        project_access_level=project.access_level,
    )
    if resource is None or resource == PROJECT:
        levels.user_access_level = project.access_level
        levels.access_source = project.access_source
        return levels, project.reasons
    if resource_id is None:
        found_type = evaluator.resource_type(user_id, project_id, resource)
        levels.user_access_level = found_type.access_level
        return levels, project.reasons + found_type.reasons
    if (project_id, resource, resource_id) not in evaluator.view.objects:
        return levels, project.reasons
    found = evaluator.object(user_id, project_id, resource, resource_id)
    levels.user_access_level = found.access_level
    levels.access_source = found.access_source
    reasons = project.reasons + found.reasons
    if resource == DASHBOARD:
        stored = evaluator.view.objects[(project_id, DASHBOARD, resource_id)]
        dashboard = evaluator.dashboard(user_id, project_id, resource_id)
        levels.restriction_level = stored.restriction_level
        levels.effective_restriction_level = dashboard.effective_restriction_level
        levels.effective_privilege_level = dashboard.effective_privilege_level
        levels.can_edit = dashboard.can_edit
        levels.can_restrict = dashboard.can_restrict
        reasons += dashboard.reasons
    elif resource == INSIGHT:
        insight = evaluator.insight(user_id, project_id, resource_id)
        levels.effective_restriction_level = insight.restriction_level
        levels.effective_privilege_level = insight.privilege_level
        reasons += insight.reasons
    return levels, reasons


def project_levels(evaluator: AccessEvaluator, user_id: int, project_id: int) -> ProjectLevels:
    project = evaluator.project(user_id, project_id)
    return ProjectLevels(
        org_level=_org_level(evaluator, user_id),
        effective_level=project.effective_level,
        user_access_level=project.access_level,
        access_source=project.access_source,
    )


def dashboard_levels(
    evaluator: AccessEvaluator, user_id: int, project_id: int, dashboard_id: int
) -> DashboardLevels:
    key = str(dashboard_id)
    stored = evaluator.view.objects.get((project_id, DASHBOARD, key))
    if stored is None:
        return DashboardLevels(id=dashboard_id, exists=False)
    dashboard = evaluator.dashboard(user_id, project_id, key)
    found = evaluator.object(user_id, project_id, DASHBOARD, key)
    return DashboardLevels(
        id=dashboard_id,
        exists=True,
        restriction_level=stored.restriction_level,
        effective_restriction_level=dashboard.effective_restriction_level,
        effective_privilege_level=dashboard.effective_privilege_level,
        can_edit=dashboard.can_edit,
        can_restrict=dashboard.can_restrict,
        user_access_level=found.access_level,
        access_source=found.access_source,
    )


def resource_levels(
    evaluator: AccessEvaluator, user_id: int, project_id: int, resource: str, resource_id: str
) -> ResourceLevels:
    exists = (project_id, resource, resource_id) in evaluator.view.objects
    if resource == DASHBOARD:
        entry: ResourceLevels = DashboardResourceLevels(resource, resource_id, exists)
    elif resource == INSIGHT:
        entry = InsightLevels(resource, resource_id, exists)
    else:
        entry = ResourceLevels(resource, resource_id, exists)
    if not exists:
        return entry
    levels, _ = target_levels(evaluator, user_id, project_id, resource, resource_id)
    entry.user_access_level = levels.user_access_level
    entry.access_source = levels.access_source
    if isinstance(entry, DashboardResourceLevels):
        entry.restriction_level = levels.restriction_level
        entry.can_edit = levels.can_edit
        entry.can_restrict = levels.can_restrict
    if isinstance(entry, DashboardResourceLevels | InsightLevels):
        entry.effective_restriction_level = levels.effective_restriction_level
        entry.effective_privilege_level = levels.effective_privilege_level
    return entry


def resource_type_levels(
    evaluator: AccessEvaluator, user_id: int, project_id: int, resource: str
) -> ResourceTypeLevels:
    found = evaluator.resource_type(user_id, project_id, resource)
    return ResourceTypeLevels(
        type=resource,
        access_level=found.access_level,
        effective_access_level=found.effective_access_level,
        specific_access_level=found.specific_access_level,
    )


def list_filter(
    evaluator: AccessEvaluator, user_id: int, project_id: int, resource: str, admin_include_all: bool
) -> ListFilter:
    """§3.10; for `resource = project` the project id is not read (visible projects of the organization)."""
    return evaluator.list_filter(user_id, project_id, resource, admin_include_all)


def subjects(
    evaluator: AccessEvaluator, project_id: int, resource: str, resource_id: str
) -> list[SubjectAccess] | None:
    """§3.8 users with access to an object (the project when `resource = project`); None: no such object."""
    if resource == PROJECT:
        if resource_id != str(project_id):
            return None
    elif (project_id, resource, resource_id) not in evaluator.view.objects:
        return None
    return evaluator.users_with_access(project_id, resource, resource_id)
