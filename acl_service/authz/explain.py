"""Why a decision came out as it did: the SPEC §3 steps evaluated, each with its stored facts and the
policy row that decided it (`POST /v1/explain`, `acl-service explain`).

The decision of an explanation is always the decision API's own (`Decider.check`,
`Decider.authorize_request`): the trace is a second, slow evaluation of the same request over the
same view, by the same evaluator and pipeline code with an engine that remembers nothing and records
every query it is asked. So the trace shows each step the decision needs, in evaluation order, and
tests/test_explain.py proves on random organizations that the trace ends where the decision did.

A trace is a flat list of steps with a depth (a tree in document order): groups (`decision`: one
§3 function for one user and target, `request`: the pipeline of §3.14), policy queries (`query`:
the deciding row's id, file, line and answer, and the facts it read) and stored facts (`fact`: a
membership, an access-control row by id with whether it applies, a dashboard privilege, a key).
"""

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

import msgspec

from acl_service.authz.decisions import (
    DASHBOARD,
    DASHBOARD_ID,
    INVALID_BODY_KEY,
    PRE_ROUTE_RULES,
    PROJECT,
    PROJECT_NOT_FOUND,
    CheckAction,
    CheckResult,
    CheckTarget,
    Decider,
    RequestDecision,
    Subject,
    body_resource_problem,
    request_target,
    target_levels,
)
from acl_service.authz.engine import (
    NO_DERIVED,
    Answer,
    DashboardDecision,
    Derived,
    InsightDecision,
    ObjectDecision,
    PolicyEngine,
    ProjectDecision,
    ResourceTypeDecision,
)
from acl_service.authz.evaluator import AccessEvaluator
from acl_service.authz.facts import (
    DashboardFacts,
    Gates,
    InsightFacts,
    ObjectFacts,
    ProjectFacts,
    ResourceInfo,
    ResourceTypeFacts,
    UserContext,
    applicable_rows,
)
from acl_service.authz.memo import BoundedMemo
from acl_service.authz.pipeline import Authorization, RequestScope, authorize
from acl_service.authz.routes import RouteMatch
from acl_service.domain import AccessControlRow, Caller, OrganizationView, Project, summarize_rows

T = TypeVar("T")

RULES_FOLDER: Final = "rules"
ROUTES_FILE: Final = "policies/routes.csv"
DERIVED_FIELDS: Final = Derived.__struct_fields__
# The SPEC section a query implements, by query name or its family (the part before the dot).
SECTIONS: Final = {
    "level": "3.1",
    "resource.parent": "3.1",
    "resource.levels": "3.1",
    "resource.default_level": "3.1",
    "resource.highest": "3.1",
    "resource.minimum": "3.1",
    "gate": "3.2",
    "project.effective_level": "3.4",
    "project.access_level": "3.5",
    "organization": "3.5",
    "resource.access_level": "3.6",
    "object.access_level": "3.7",
    "project.access_source": "3.8",
    "object.access_source": "3.8",
    "resource.specific_access_level": "3.9",
    "resource.effective_access_level": "3.9",
    "list": "3.10",
    "dashboard": "3.11",
    "insight": "3.11",
    "modify": "3.12",
    "scope": "3.13",
    "key": "3.13",
    "pipeline": "3.14",
    "check": "3.14",
}


# -- what an explanation says ------------------------------------------------------------------------


class PolicyRow(msgspec.Struct, frozen=True):
    """Where a deciding rule lives: `policies/` file, line number and the row as written."""

    file: str
    line: int
    text: str


StepKind = Literal["decision", "request", "query", "fact", "outcome"]


class TraceStep(msgspec.Struct, kw_only=True):
    depth: int
    kind: StepKind
    title: str
    section: str | None = None  # SPEC §3 section
    answer: Any = None
    rule: str | None = None  # the deciding rule's id (queries and the outcome)
    reason: str | None = None
    policy: PolicyRow | None = None
    facts: dict[str, Any] = {}


class Trace(msgspec.Struct):
    steps: list[TraceStep]
    decided_by: str | None  # the rule of the step that refused; None when allowed
    decided_by_policy: PolicyRow | None


def load_policy_rows(policy_dir: Path) -> dict[str, PolicyRow]:
    """Rule id → where it is written, for every `p` row under `policies/rules/`."""
    found: dict[str, PolicyRow] = {}
    for path in sorted((policy_dir / RULES_FOLDER).glob("*.csv")):
        shown = f"{policy_dir.name}/{RULES_FOLDER}/{path.name}"
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            text = line.strip()
            if text.startswith("p,"):
                # The rule id and reason code are the last two fields and never contain commas.
                rule = text.rsplit(",", 2)[1].strip()
                found[rule] = PolicyRow(shown, number, text)
    return found


def _plain(value: Any) -> Any:
    """A JSON-friendly, stable rendering of a fact value: sets sorted, structs as objects."""
    if isinstance(value, frozenset | set):
        return sorted(_plain(item) for item in value)
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, msgspec.Struct):
        return {name: _plain(getattr(value, name)) for name in value.__struct_fields__}
    return msgspec.to_builtins(value)


def _section(query: str) -> str | None:
    return SECTIONS.get(query) or SECTIONS.get(query.partition(".")[0])


# -- recording ----------------------------------------------------------------------------------------


class RecordingEngine(PolicyEngine):
    """The engine's compiled rules with no memo, recording each query asked as a trace step.

    It shares the loaded policy of the engine it copies (nothing is compiled again) and is made for
    one explanation: the steps are its own. Constants (gates, a type's levels) are asked once each,
    so a trace shows them where they were first needed.
    """

    def __init__(
        self, engine: PolicyEngine, rows: Mapping[str, PolicyRow], derived: Mapping[str, tuple[str, ...]]
    ) -> None:
        # Deliberately not PolicyEngine.__init__: that would parse and compile the policy again.
        self.__dict__.update(engine.__dict__)
        self._memo = BoundedMemo(0)
        self._rows = rows
        self._derived = derived
        self._constants: dict[object, Any] = {}
        self.steps: list[TraceStep] = []
        self._depth = 0

    @contextmanager
    def group(self, kind: StepKind, title: str, section: str | None = None) -> Iterator[TraceStep]:
        step = TraceStep(depth=self._depth, kind=kind, title=title, section=section)
        self.steps.append(step)
        self._depth += 1
        try:
            yield step
        finally:
            self._depth -= 1

    def fact(self, title: str, **facts: Any) -> None:
        self.steps.append(
            TraceStep(
                depth=self._depth, kind="fact", title=title, facts={k: _plain(v) for k, v in facts.items()}
            )
        )

    def policy_row(self, rule: str | None) -> PolicyRow | None:
        return self._rows.get(rule) if rule is not None else None

    def ask(self, query: str, facts: msgspec.Struct, derived: Derived = NO_DERIVED) -> Answer:
        answer = super().ask(query, facts, derived)
        read = {name: _plain(getattr(facts, name)) for name in sorted(self.fields_read(query))}
        read.update((f"d.{name}", _plain(getattr(derived, name))) for name in self._derived[query])
        self.steps.append(
            TraceStep(
                depth=self._depth,
                kind="query",
                title=query,
                section=_section(query),
                answer=_plain(answer.value),
                rule=answer.rule,
                reason=None if answer.reason == "-" else answer.reason,
                policy=self.policy_row(answer.rule),
                facts=read,
            )
        )
        return answer

    def _constant(self, key: object, title: str, section: str, compute: Callable[[], T]) -> T:
        if key in self._constants:
            found: T = self._constants[key]
            return found
        with self.group("decision", title, section):
            value = self._constants[key] = compute()
        return value

    def gates(self, features: frozenset[str]) -> Gates:
        return self._constant(
            ("gates", features), "feature gates", "3.2", lambda: PolicyEngine.gates(self, features)
        )

    def resource_info(self, resource: str) -> ResourceInfo:
        return self._constant(
            ("resource", resource),
            f"constants of {resource}",
            "3.1",
            lambda: PolicyEngine.resource_info(self, resource),
        )

    # The decision families: their fact vector, as gathered, is shown on the group asking for it.

    def _annotate(self, facts: msgspec.Struct) -> None:
        # The innermost open group is the last step one level up.
        for step in reversed(self.steps):
            if step.depth == self._depth - 1:
                if step.kind == "decision":
                    step.facts.setdefault("gathered", _plain(facts))
                return

    def project(self, facts: ProjectFacts) -> ProjectDecision:
        self._annotate(facts)
        return super().project(facts)

    def object(self, facts: ObjectFacts) -> ObjectDecision:
        self._annotate(facts)
        return super().object(facts)

    def resource_type(self, facts: ResourceTypeFacts) -> ResourceTypeDecision:
        self._annotate(facts)
        return super().resource_type(facts)

    def dashboard(self, facts: DashboardFacts) -> DashboardDecision:
        self._annotate(facts)
        return super().dashboard(facts)

    def insight(self, facts: InsightFacts) -> InsightDecision:
        self._annotate(facts)
        return super().insight(facts)


def derived_fields_read(engine: PolicyEngine) -> dict[str, tuple[str, ...]]:
    """Per query, the derived answers (`r.d.<name>`) its rows read: what a trace shows beside its facts."""
    found = {}
    for query in engine.queries:
        texts = " ".join(f"{rule.condition} {rule.answer}" for rule in engine.rules_of(query))
        found[query] = tuple(name for name in DERIVED_FIELDS if re.search(rf"\br\.d\.{name}\b", texts))
    return found


class RecordingEvaluator(AccessEvaluator):
    """The evaluator, opening a trace group (with the stored facts it reads) for each §3 function
    it decides for the first time; later uses are its own cache, as in a check."""

    engine: RecordingEngine

    def __init__(self, engine: RecordingEngine, view: OrganizationView) -> None:
        super().__init__(engine, view, view.users)
        self._recorded: set[tuple[object, ...]] = set()

    def _first(self, *decision: object) -> bool:
        """Whether a decision is asked for the first time (then recorded), not a cache hit."""
        if decision in self._recorded:
            return False
        self._recorded.add(decision)
        return True

    def project(self, user_id: int, project_id: int, explicit: bool = False) -> ProjectDecision:
        if not self._first(PROJECT, user_id, project_id, explicit):
            return super().project(user_id, project_id, explicit)
        title = f"project {project_id} for user {user_id}" + (" (explicit)" if explicit else "")
        with self.engine.group("decision", title, "3.4"):
            self._record_project_facts(user_id, project_id)
            return super().project(user_id, project_id, explicit)

    def object(
        self, user_id: int, project_id: int, resource: str, resource_id: str, explicit: bool = False
    ) -> ObjectDecision:
        if not self._first("object", user_id, project_id, resource, resource_id, explicit):
            return super().object(user_id, project_id, resource, resource_id, explicit)
        title = f"{resource} {resource_id} for user {user_id}" + (" (explicit)" if explicit else "")
        with self.engine.group("decision", title, "3.7"):
            self._record_object_facts(user_id, project_id, resource, resource_id)
            return super().object(user_id, project_id, resource, resource_id, explicit)

    def resource_type(self, user_id: int, project_id: int, resource: str) -> ResourceTypeDecision:
        if not self._first("type", user_id, project_id, resource):
            return super().resource_type(user_id, project_id, resource)
        with self.engine.group("decision", f"resource type {resource} for user {user_id}", "3.6"):
            self._record_type_facts(user_id, project_id, resource)
            return super().resource_type(user_id, project_id, resource)

    def dashboard(self, user_id: int, project_id: int, dashboard_id: str) -> DashboardDecision:
        if not self._first(DASHBOARD, user_id, project_id, dashboard_id):
            return super().dashboard(user_id, project_id, dashboard_id)
        with self.engine.group("decision", f"dashboard {dashboard_id} legacy layer", "3.11"):
            stored = self.view.objects[(project_id, DASHBOARD, dashboard_id)]
            self.engine.fact(
                f"dashboard {dashboard_id}: restriction level {stored.restriction_level}",
                restriction_level=stored.restriction_level,
                created_by_id=stored.created_by_id,
            )
            privilege = self.view.privileges.get((project_id, dashboard_id, user_id))
            self.engine.fact(
                f"collaborator privilege of user {user_id}: {privilege or 'none'}", privilege_level=privilege
            )
            return super().dashboard(user_id, project_id, dashboard_id)

    def insight(self, user_id: int, project_id: int, insight_id: str) -> InsightDecision:
        with self.engine.group("decision", f"insight {insight_id} legacy layer", "3.11"):
            dashboards = self.view.insight_dashboards.get((project_id, insight_id), ())
            self.engine.fact(
                f"insight {insight_id} is on {len(dashboards)} dashboard(s)", dashboards=dashboards
            )
            return super().insight(user_id, project_id, insight_id)

    # -- stored facts ------------------------------------------------------------------------------

    def _record_project_facts(self, user_id: int, project_id: int) -> None:
        user = self.user(user_id)
        fact = self.engine.fact
        membership = user.membership
        if membership is None:
            fact(f"user {user_id} is not a member of the organization", membership=None)
        else:
            fact(
                f"membership {membership.id} level {membership.level}",
                id=membership.id,
                level=membership.level,
            )
            explicit = self.view.explicit_levels.get((project_id, membership.id))
            fact(
                f"explicit membership in project {project_id}: "
                + (f"level {explicit}" if explicit else "none"),
                parent_membership_id=membership.id,
                level=explicit,
            )
            held = self.view.role_ids_by_user.get(user_id, frozenset())
            if held:
                note = "" if self.gates.roles_on else " (roles are off: their rows do not apply)"
                fact(f"holds {len(held)} role(s){note}", roles=sorted(str(role) for role in held))
        project = self.view.projects[project_id]
        fact(
            f"project {project_id} legacy private flag: {'on' if project.access_control else 'off'}",
            access_control=project.access_control,
        )
        self._rows(
            user, "project rows", self.view.access_rows.get((project_id, PROJECT, str(project_id)), ())
        )

    def _record_object_facts(self, user_id: int, project_id: int, resource: str, resource_id: str) -> None:
        user = self.user(user_id)
        stored = self.view.objects.get((project_id, resource, resource_id))
        if stored is None:
            self.engine.fact(f"{resource} {resource_id} is not stored", exists=False)
        else:
            self.engine.fact(
                f"{resource} {resource_id} created by user {stored.created_by_id}",
                created_by_id=stored.created_by_id,
            )
        rows = self.view.access_rows.get((project_id, resource, resource_id), ())
        self._rows(user, f"rows on {resource} {resource_id}", rows)
        self._resource_wide(user, project_id, resource)

    def _record_type_facts(self, user_id: int, project_id: int, resource: str) -> None:
        user = self.user(user_id)
        self._resource_wide(user, project_id, resource)
        rows = [
            row
            for resource_id in self.view.object_ids_with_rows.get((project_id, resource), ())
            for row in self.view.access_rows[(project_id, resource, resource_id)]
        ]
        named = [row for row in rows if row.member_id is not None or row.role_id is not None]
        self._rows(user, f"member and role rows on objects of {resource}", named)

    def _resource_wide(self, user: UserContext, project_id: int, resource: str) -> None:
        parent = self.engine.resource_info(resource).parent
        title = f"resource-wide rows of {parent}" + (
            f" (the parent of {resource})" if parent != resource else ""
        )
        self._rows(user, title, self.view.access_rows.get((project_id, parent, None), ()))

    def _rows(
        self, user: UserContext, title: str, rows: tuple[AccessControlRow, ...] | list[AccessControlRow]
    ) -> None:
        if not rows:
            self.engine.fact(f"{title}: none")
            return
        for row in rows:
            subject, why = _row_subject(row, user, self.gates)
            specific, defaults, _, _ = applicable_rows(summarize_rows((row,)), user.membership, user.role_ids)
            applies = self.gates.ac_on and bool(specific or defaults)
            self.engine.fact(
                f"{title}: row {row.id} {subject} {row.access_level}: "
                + ("applies" if applies else "does not apply")
                + f" ({why})",
                id=row.id,
                resource=row.resource,
                resource_id=row.resource_id,
                subject=subject,
                organization_member=row.member_id,
                role=row.role_id,
                access_level=row.access_level,
                applies=applies,
            )


def _row_subject(row: AccessControlRow, user: UserContext, gates: Gates) -> tuple[str, str]:
    """(subject kind, why it applies or not), in §3.3's words; whether it applies is `applicable_rows`'s."""
    if not gates.ac_on:
        kind = (
            "default"
            if row.member_id is None and row.role_id is None
            else "member"
            if row.member_id
            else "role"
        )
        return kind, "access control is off"
    if row.member_id is not None:
        mine = user.membership is not None and row.member_id == user.membership.id
        return "member", "names the user's membership" if mine else "names another member"
    if row.role_id is not None:
        if row.role_id in user.role_ids:
            return "role", "a role the user holds"
        return "role", "roles are off" if not gates.roles_on else "a role the user does not hold"
    return "default", "everyone"


# -- explanations -------------------------------------------------------------------------------------


class Explainer:
    """Decisions of the decision API with their traces, for one decider and policy folder."""

    def __init__(self, decider: Decider, policy_dir: Path) -> None:
        self.decider = decider
        self.rows = load_policy_rows(policy_dir)
        self.derived = derived_fields_read(decider.engine)

    def check(
        self, subject: Subject, target: CheckTarget, action: CheckAction, view: OrganizationView | None
    ) -> tuple[CheckResult, Trace]:
        """`/v1/check`'s decision, and the trace of the same check."""
        decision = self.decider.check(subject, target, action, view)
        engine = self._recorder()
        outcome = self._trace_check(engine, subject, target, action, view)
        return decision, self._trace(engine, outcome)

    def request(
        self,
        subject: Subject,
        match: RouteMatch,
        body: Mapping[str, Any] | None,
        project: Project | None,
        view: OrganizationView | None,
    ) -> tuple[RequestDecision, Trace]:
        """`/v1/authorize`'s decision, and the trace of the same request."""
        decision = self.decider.authorize_request(subject, match, body, project, view)
        engine = self._recorder()
        _subject_facts(engine, subject, view)
        caller = subject.caller
        problem = (
            body_resource_problem(body)
            if caller is not None and match.route.scope == "body.resource"
            else None
        )
        if problem is not None:
            engine.fact(f"body: {problem.detail}", attr=problem.attr)
            return decision, self._trace(engine, Outcome(False, 400, problem.detail, None))
        evaluator = RecordingEvaluator(engine, view) if view is not None else None
        with engine.group("request", f"{match.route.method} {match.route.template}", "3.14"):
            outcome = authorize(
                engine,
                match,
                caller,
                RequestScope(project=project, view=view, evaluator=evaluator),
                auth_state=subject.state,
                body=body or {},
                body_rules=True,
            )
        # As in Decider.authorize_request: levels once the request reached its route checks.
        reached_routes = outcome.allowed or not (outcome.rule or "").startswith(PRE_ROUTE_RULES)
        user = caller.user if caller is not None else None
        if evaluator is not None and project is not None and user is not None and reached_routes:
            resource, resource_id = request_target(match, outcome, project)
            with engine.group("decision", "levels of the target"):
                target_levels(evaluator, user.id, project.id, resource, resource_id)
        return decision, self._trace(engine, Outcome.of(outcome))

    def _recorder(self) -> RecordingEngine:
        return RecordingEngine(self.decider.engine, self.rows, self.derived)

    def unmatched(self, decision: RequestDecision) -> Trace:
        """The trace of a request the route table refused (404, 405, or 400 for a path parameter)."""
        engine = self._recorder()
        engine.fact(f"route table ({ROUTES_FILE}): {decision.detail}", code=decision.code, attr=decision.attr)
        return self._trace(engine, Outcome(False, decision.status, decision.detail, None))

    def _trace_check(
        self,
        engine: RecordingEngine,
        subject: Subject,
        target: CheckTarget,
        action: CheckAction,
        view: OrganizationView | None,
    ) -> "Outcome":
        """The steps of `Decider.check` for one check, recorded: subject, project, levels, request."""
        _subject_facts(engine, subject, view)
        caller = subject.caller
        if caller is None or caller.user is None:
            any_route = self.decider.routes.match("GET", "/api/users/@me/")
            with engine.group("request", "authentication", "3.14"):
                outcome = authorize(engine, any_route, None, RequestScope(), auth_state=subject.state)
            # As in Decider.check: a check's key travels in the body, and the message says so.
            detail = INVALID_BODY_KEY if subject.state == "invalid_key" else outcome.detail
            return Outcome(outcome.allowed, outcome.status, detail, outcome.rule)
        project = view.projects.get(target.project_id) if view is not None else None
        if project is None or view is None:
            engine.fact(f"project {target.project_id} does not exist", project_id=target.project_id)
            return Outcome(False, 404, PROJECT_NOT_FOUND, None)
        evaluator = RecordingEvaluator(engine, view)
        user_id = caller.user.id
        with engine.group("decision", "levels of the target"):
            target_levels(evaluator, user_id, project.id, target.resource, target.resource_id)
        if (
            target.resource == DASHBOARD
            and target.resource_id is not None
            and not DASHBOARD_ID.match(target.resource_id)
        ):
            engine.fact(f"{target.resource_id} is not a dashboard id: no such dashboard", exists=False)
            return Outcome(False, 404, "Not found.", None)
        match, body = self.decider.equivalent_request(target, action)
        title = f"{match.route.method} {match.route.template}" + (f" {body}" if body else "")
        with engine.group("request", f"evaluated as {title}", "3.14"):
            scope = RequestScope(project=project, view=view, evaluator=evaluator)
            return Outcome.of(authorize(engine, match, caller, scope, body=body, body_rules=True))

    def _trace(self, engine: RecordingEngine, outcome: "Outcome") -> Trace:
        policy = engine.policy_row(outcome.rule)
        verdict = "allowed" if outcome.allowed else f"{outcome.status} {outcome.detail}"
        engine.steps.append(
            TraceStep(
                depth=0,
                kind="outcome",
                title=verdict,
                answer={"allowed": outcome.allowed, "status": outcome.status, "detail": outcome.detail},
                rule=outcome.rule,
                policy=policy,
            )
        )
        return Trace(engine.steps, outcome.rule, policy)


class Outcome(msgspec.Struct, frozen=True):
    """Where a traced evaluation ended: what the trace itself says the decision is."""

    allowed: bool
    status: int
    detail: str | None
    rule: str | None

    @classmethod
    def of(cls, authorization: Authorization) -> "Outcome":
        return cls(authorization.allowed, authorization.status, authorization.detail, authorization.rule)


def _subject_facts(engine: RecordingEngine, subject: Subject, view: OrganizationView | None) -> None:
    caller: Caller | None = subject.caller
    if caller is None or caller.user is None:
        engine.fact(f"subject: {subject.state.replace('_', ' ')}", state=subject.state)
        return
    user = caller.user
    engine.fact(f"user {user.id} ({user.uuid}), active", id=user.id, uuid=user.uuid, is_active=user.is_active)
    key = caller.key
    if key is not None:
        scopes = "legacy key (no scopes)" if not key.scopes else ", ".join(key.scopes)
        engine.fact(
            f"personal API key {key.id}: {scopes}",
            id=key.id,
            scopes=key.scopes,
            scoped_teams=key.scoped_teams,
            scoped_organizations=key.scoped_organizations,
        )
    if view is not None:
        organization = view.organization
        engine.fact(
            f"organization {organization.name} ({organization.id})",
            id=organization.id,
            features=organization.features,
            members_can_use_personal_api_keys=organization.members_can_use_personal_api_keys,
        )


# -- as text ------------------------------------------------------------------------------------------


def format_trace(trace: Trace, *, with_facts: bool = False) -> list[str]:
    """The trace as an indented tree, one step a line (`with_facts`: the facts each query read)."""
    steps = trace.steps
    lines: list[str] = []
    more_below: list[bool] = []  # per open ancestor: whether a sibling of it follows
    for i, step in enumerate(steps):
        last = _last_sibling(steps, i)
        del more_below[step.depth :]
        prefix = "".join("│  " if more else "   " for more in more_below)
        lines.append(f"{prefix}{'└─' if last else '├─'} {_describe(step)}")
        if with_facts and step.kind == "query" and step.facts:
            given = ", ".join(f"{name}={_json(value)}" for name, value in step.facts.items())
            lines.append(f"{prefix}{'   ' if last else '│  '}   given {given}")
        more_below.append(not last)
    return lines


def _last_sibling(steps: list[TraceStep], index: int) -> bool:
    depth = steps[index].depth
    for later in steps[index + 1 :]:
        if later.depth <= depth:
            return later.depth < depth
    return True


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _where(step: TraceStep) -> str:
    if step.policy is None:
        return f"{step.rule}" if step.rule else ""
    return f"{step.rule} at {step.policy.file}:{step.policy.line}"


def _describe(step: TraceStep) -> str:
    if step.kind == "query":
        return f"{step.title} = {_json(step.answer)}  ({_where(step)})"
    if step.kind == "outcome":
        decided = f", decided by {_where(step)}" if step.rule else ""
        return f"decision: {step.title}{decided}"
    if step.kind == "fact":
        return step.title
    return f"{step.title} (§{step.section})" if step.section else step.title
