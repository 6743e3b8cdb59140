"""Policy unit tests: YAML files of facts and expected answers, run against the policies.

A file holds `cases` (one decision family of the engine over a literal fact vector) and `scenarios`
(a small organization, built into an `OrganizationView` and questioned through `AccessEvaluator`).
policies/tests/README.md documents the format for policy authors.

Each file is decoded whole before any of it runs, so a malformed file reports one error naming the
file and the case and runs nothing. Every answer carries the rule ids that decided it; the run
collects them so a test can prove that every policy row decides some case.

PolicyTestFileError is raised for a malformed file (unknown key, bad type, unknown name).
"""

import argparse
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple, TextIO
from uuid import UUID

import msgspec
import yaml

from acl_service.authz.engine import (
    DEFAULT_POLICY_DIR,
    CheckOutcome,
    Derived,
    PolicyEngine,
)
from acl_service.authz.evaluator import AccessEvaluator
from acl_service.authz.facts import (
    AuthFacts,
    CheckFacts,
    CollaboratorRuleFacts,
    DashboardFacts,
    ExplicitMemberRuleFacts,
    FeatureFacts,
    InsightFacts,
    KeyFacts,
    LevelFacts,
    LevelSetFacts,
    ListFacts,
    ListObjectFacts,
    MemberRuleFacts,
    ModifyFacts,
    ObjectExistsFacts,
    ObjectFacts,
    OrgLevelFacts,
    ProjectFacts,
    RequiredLevelFacts,
    ResolveFacts,
    ResourceFacts,
    ResourceTypeFacts,
    ScopeFacts,
)
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

DEFAULT_TESTS_DIR = DEFAULT_POLICY_DIR / "tests"
EXIT_PASSED, EXIT_FAILED, EXIT_MALFORMED = 0, 1, 2

Level = Literal["none", "member", "admin", "viewer", "editor", "manager"]
Source = Literal[
    "creator", "organization_admin", "explicit_member", "explicit_role", "project_admin", "default"
]
ResourceId = str | int


class PolicyTestFileError(Exception):
    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


# --- cases: one decision family over a literal fact vector ---------------------------------------


class Verdict(NamedTuple):
    answer: dict[str, Any]  # output name -> value
    rules: dict[str, str]  # output name -> id of the rule that decided it


class Family(NamedTuple):
    facts: type[msgspec.Struct]
    outputs: tuple[str, ...]
    decide: Callable[[PolicyEngine, Any], Verdict]


def _from_decision(decision: Any, outputs: tuple[str, ...], ruled: tuple[str, ...]) -> Verdict:
    # A decision lists the rule of each query it asked, in the order of `ruled`.
    answer = {name: getattr(decision, name) for name in outputs}
    return Verdict(answer, dict(zip(ruled, decision.rules, strict=True)))


def _composed(
    method: Callable[[PolicyEngine, Any], Any], outputs: tuple[str, ...], ruled: tuple[str, ...] | None = None
) -> Callable[[PolicyEngine, Any], Verdict]:
    return lambda engine, facts: _from_decision(method(engine, facts), outputs, ruled or outputs)


def _asked(queries: dict[str, str]) -> Callable[[PolicyEngine, Any], Verdict]:
    """Outputs that are each one query over the facts alone."""

    def decide(engine: PolicyEngine, facts: Any) -> Verdict:
        answers = {name: engine.ask(query, facts) for name, query in queries.items()}
        return Verdict(
            {name: a.value for name, a in answers.items()}, {name: a.rule for name, a in answers.items()}
        )

    return decide


# engine.list_object and engine.required_level answer without their rules; asking their queries with
# the same derived facts names the deciding rows.
def _decide_list_object(engine: PolicyEngine, facts: ListObjectFacts) -> Verdict:
    derived = Derived(
        specific_max=engine.max_level(facts.specific), defaults_max=engine.max_level(facts.defaults)
    )
    answer = engine.ask("list.object", facts, derived)
    return Verdict({"classification": answer.value}, {"classification": answer.rule})


def _decide_required_level(engine: PolicyEngine, facts: RequiredLevelFacts) -> Verdict:
    access = engine.ask("pipeline.access", facts)
    level = engine.ask("pipeline.required_level", facts, Derived(access=access.value))
    return Verdict(
        {"access": access.value, "required_level": level.value},
        {"access": access.rule, "required_level": level.rule},
    )


def _decide_list_mode(engine: PolicyEngine, facts: ListFacts) -> Verdict:
    mode = engine.list_mode(facts)
    answer = {"mode": mode.mode, "ids_from": mode.ids_from, "include_created_by": mode.include_created_by}
    return Verdict(answer, dict.fromkeys(answer, mode.rule))


OUTCOME = ("allowed", "status", "code", "detail", "reason")


def _from_outcome(outcome: CheckOutcome) -> Verdict:
    answer = {name: getattr(outcome, name) for name in OUTCOME}
    return Verdict(answer, dict.fromkeys(OUTCOME, outcome.rule))


FAMILIES: dict[str, Family] = {
    "project": Family(
        ProjectFacts,
        ("effective_level", "access_level", "access_source"),
        _composed(PolicyEngine.project, ("effective_level", "access_level", "access_source")),
    ),
    "object": Family(
        ObjectFacts,
        ("access_level", "access_source", "resource_access_level"),
        # The resource-wide level's own rule is not part of an object decision (see resource_type).
        _composed(
            PolicyEngine.object,
            ("access_level", "access_source", "resource_access_level"),
            ("access_level", "access_source"),
        ),
    ),
    "resource_type": Family(
        ResourceTypeFacts,
        ("access_level", "specific_access_level", "effective_access_level"),
        _composed(
            PolicyEngine.resource_type, ("access_level", "specific_access_level", "effective_access_level")
        ),
    ),
    "dashboard": Family(
        DashboardFacts,
        ("effective_restriction_level", "effective_privilege_level", "can_edit", "can_restrict"),
        _composed(
            PolicyEngine.dashboard,
            ("effective_restriction_level", "effective_privilege_level", "can_edit", "can_restrict"),
        ),
    ),
    "insight": Family(
        InsightFacts,
        ("restriction_level", "privilege_level"),
        _composed(PolicyEngine.insight, ("restriction_level", "privilege_level")),
    ),
    "list_object": Family(ListObjectFacts, ("classification",), _decide_list_object),
    "list_mode": Family(ListFacts, ("mode", "ids_from", "include_created_by"), _decide_list_mode),
    "modify": Family(ModifyFacts, ("can_modify",), _asked({"can_modify": "modify"})),
    "scope": Family(ScopeFacts, ("present",), _asked({"present": "scope.present"})),
    "key.k1": Family(KeyFacts, OUTCOME, lambda engine, facts: _from_outcome(engine.key_check("k1", facts))),
    "key.k2_k4": Family(
        KeyFacts, OUTCOME, lambda engine, facts: _from_outcome(engine.key_check("k2_k4", facts))
    ),
    "required_level": Family(RequiredLevelFacts, ("access", "required_level"), _decide_required_level),
    # Pipeline steps that are not permission codes (§3.14 steps 1, 3 and the start of 6).
    "auth": Family(
        AuthFacts, OUTCOME, lambda engine, facts: _from_outcome(engine.step("pipeline.auth", facts))
    ),
    "resolve": Family(
        ResolveFacts, OUTCOME, lambda engine, facts: _from_outcome(engine.step("pipeline.resolve", facts))
    ),
    "object_exists": Family(
        ObjectExistsFacts,
        OUTCOME,
        lambda engine, facts: _from_outcome(engine.step("pipeline.object_exists", facts)),
    ),
    # Level rules of admin endpoints (§5.3.3 members, §5.3.5 explicit members).
    "member_rule": Family(
        MemberRuleFacts, OUTCOME, lambda engine, facts: _from_outcome(engine.step("member.rule", facts))
    ),
    "explicit_member_rule": Family(
        ExplicitMemberRuleFacts,
        OUTCOME,
        lambda engine, facts: _from_outcome(engine.step("explicit_member.rule", facts)),
    ),
    "collaborator_rule": Family(
        CollaboratorRuleFacts,
        OUTCOME,
        lambda engine, facts: _from_outcome(engine.step("collaborator.rule", facts)),
    ),
    "gates": Family(
        FeatureFacts,
        ("legacy_private", "dash_restrict", "ac_on", "roles_on", "key_policy"),
        _asked(
            {
                "legacy_private": "gate.legacy_private",
                "dash_restrict": "gate.dash_restrict",
                "ac_on": "gate.ac_on",
                "roles_on": "gate.roles_on",
                "key_policy": "gate.key_policy",
            }
        ),
    ),
    "resource_info": Family(
        ResourceFacts,
        ("parent", "levels", "default_level", "highest", "minimum"),
        _asked(
            {
                "parent": "resource.parent",
                "levels": "resource.levels",
                "default_level": "resource.default_level",
                "highest": "resource.highest",
                "minimum": "resource.minimum",
            }
        ),
    ),
    "max_level": Family(LevelSetFacts, ("level",), _asked({"level": "level.max"})),
    "grants_access": Family(LevelFacts, ("grants",), _asked({"grants": "level.grants_access"})),
    "org_access_level": Family(
        OrgLevelFacts, ("access_level",), _asked({"access_level": "organization.access_level"})
    ),
    "org_level_name": Family(
        OrgLevelFacts, ("level_name",), _asked({"level_name": "organization.level_name"})
    ),
}
CHECK_PREFIX = "check."


def _family(decide: str, engine: PolicyEngine) -> Family:
    if decide.startswith(CHECK_PREFIX):
        code = decide.removeprefix(CHECK_PREFIX)
        if code not in engine.check_codes():
            raise ValueError(f"unknown permission code {code!r} (known: {', '.join(engine.check_codes())})")
        return Family(CheckFacts, OUTCOME, lambda engine, facts: _from_outcome(engine.check(code, facts)))
    if decide not in FAMILIES:
        known = ", ".join([*FAMILIES, "check.<CODE>"])
        raise ValueError(f"unknown decision family {decide!r} (known: {known})")
    return FAMILIES[decide]


def _check_rule_ids(rules: Iterable[str | None], engine: PolicyEngine) -> None:
    # A misspelt (or renamed) rule id is a mistake in the file, not a failing answer.
    known = {rule.rule for rule in engine.all_rules()}
    unknown = sorted(rule for rule in rules if rule is not None and rule not in known)
    if unknown:
        raise ValueError(f"unknown rule id(s) {', '.join(unknown)} (see policies/rules/*.csv)")


class Case(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: str
    decide: str
    facts: dict[str, Any]
    expect: dict[str, Any]
    # A rule id among the deciding rules, or output name -> the rule id that decided it.
    rule: str | dict[str, str] | None = None


class PreparedCase(NamedTuple):
    case: Case
    family: Family
    facts: msgspec.Struct


def _prepare_case(case: Case, engine: PolicyEngine) -> PreparedCase:
    family = _family(case.decide, engine)
    known = family.facts.__struct_fields__
    unknown = sorted(set(case.facts) - set(known))
    if unknown:
        raise ValueError(
            f"unknown fact(s) {', '.join(unknown)} for {case.decide} (facts: {', '.join(known)})"
        )
    try:
        facts = msgspec.convert(case.facts, family.facts)
    except msgspec.ValidationError as error:
        raise ValueError(f"facts: {error}") from error
    if not case.expect:
        raise ValueError("expect names no answer")
    _check_rule_ids(case.rule.values() if isinstance(case.rule, dict) else [case.rule], engine)
    named = [*case.expect, *(case.rule if isinstance(case.rule, dict) else ())]
    unknown = sorted(set(named) - set(family.outputs))
    if unknown:
        raise ValueError(
            f"unknown answer(s) {', '.join(unknown)} for {case.decide} (answers: {', '.join(family.outputs)})"
        )
    return PreparedCase(case, family, facts)


# --- scenarios: a small organization and questions to AccessEvaluator ----------------------------


class UserSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    level: Literal[1, 8, 15] | None = None  # organization membership level; None: not a member
    uuid: UUID | None = None
    active: bool = True


class ProjectSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    id: int
    access_control: bool = False


class ExplicitMemberSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    user: str
    level: Literal[1, 8]
    project: int | None = None


class ObjectSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    resource: str
    id: ResourceId
    created_by: str | None = None
    restriction_level: Literal[21, 37] | None = None
    project: int | None = None


class AccessControlSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    resource: str
    level: Level
    id: ResourceId | None = None  # None: a resource-wide row (for `project`: the project's own row)
    member: str | None = None
    role: str | None = None
    project: int | None = None


class CollaboratorSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    dashboard: ResourceId
    user: str
    level: Literal[21, 37]
    project: int | None = None


class InsightSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    insight: ResourceId
    dashboards: list[ResourceId]
    project: int | None = None


ORGANIZATION_ID = UUID("00000000-0000-4000-8000-00000000000a")


def _uuid(kind: int, number: int) -> UUID:
    # Readable deterministic ids: kind 1 users, 2 memberships, 3 roles; the number in the last group.
    return UUID(f"00000000-0000-4000-8{kind:03d}-{number:012d}")


class World:
    """A scenario's organization, with the names the scenario uses for its users and roles."""

    def __init__(self, engine: PolicyEngine, scenario: "Scenario") -> None:
        self.user_ids: dict[str, int] = {}
        self.users: dict[int, UserRef] = {}
        memberships: dict[str, Membership] = {}
        for number, (name, spec) in enumerate(scenario.users.items(), start=1):
            if not isinstance(spec, UserSpec):
                spec = UserSpec(level=spec)
            self.user_ids[name] = number
            self.users[number] = UserRef(number, spec.uuid or _uuid(1, number), spec.active)
            if spec.level is not None:
                memberships[name] = Membership(_uuid(2, number), number, spec.level)
        self.names_by_uuid = {str(self.users[uid].uuid): name for name, uid in self.user_ids.items()}
        self.project_ids = [p.id for p in scenario.projects]
        role_ids = {name: _uuid(3, number) for number, name in enumerate(scenario.roles, start=1)}

        def membership(name: str) -> Membership:
            self.user_id(name)
            if name not in memberships:
                raise ValueError(f"user {name!r} is not a member of the organization")
            return memberships[name]

        def role(name: str) -> UUID:
            if name not in role_ids:
                raise ValueError(f"unknown role {name!r} (roles: {', '.join(role_ids) or 'none'})")
            return role_ids[name]

        def creator(name: str | None) -> int | None:
            return None if name is None else self.user_id(name)

        def row(spec: AccessControlSpec) -> AccessControlRow:
            if spec.member is not None and spec.role is not None:
                raise ValueError("an access-control row names a member or a role, not both")
            project = self.project_id(spec.project)
            resource_id = spec.id if spec.id is not None or spec.resource != "project" else project
            return AccessControlRow(
                project_id=project,
                resource=spec.resource,
                resource_id=None if resource_id is None else str(resource_id),
                access_level=spec.level,
                member_id=None if spec.member is None else membership(spec.member).id,
                role_id=None if spec.role is None else role(spec.role),
            )

        self.view = OrganizationView(
            Organization(ORGANIZATION_ID, "O", frozenset(scenario.features)),
            memberships=memberships.values(),
            projects=[Project(p.id, ORGANIZATION_ID, p.access_control) for p in scenario.projects],
            explicit_memberships=[
                ExplicitMembership(self.project_id(e.project), membership(e.user).id, e.level)
                for e in scenario.explicit_members
            ],
            objects=[
                StoredObject(
                    self.project_id(o.project),
                    o.resource,
                    str(o.id),
                    creator(o.created_by),
                    o.restriction_level,
                )
                for o in scenario.objects
            ],
            access_controls=[row(spec) for spec in scenario.access_controls],
            role_memberships=[
                RoleMembership(role(name), self.user_id(user))
                for name, users in scenario.roles.items()
                for user in users
            ],
            privileges=[
                DashboardPrivilege(
                    self.project_id(c.project), str(c.dashboard), self.user_id(c.user), c.level
                )
                for c in scenario.collaborators
            ],
            insight_placements=[
                InsightPlacement(self.project_id(i.project), str(i.insight), str(d))
                for i in scenario.insights
                for d in i.dashboards
            ],
        )
        self.engine = engine
        self.evaluator = AccessEvaluator(engine, self.view, self.users)

    def user_id(self, name: str) -> int:
        if name not in self.user_ids:
            raise ValueError(f"unknown user {name!r} (users: {', '.join(self.user_ids)})")
        return self.user_ids[name]

    def project_id(self, project: int | None) -> int:
        """The named project; rows and questions may omit it when the scenario has one project."""
        if project is None:
            if len(self.project_ids) != 1:
                raise ValueError("name the project: the scenario has several")
            return self.project_ids[0]
        if project not in self.project_ids:
            raise ValueError(f"unknown project {project}")
        return project

    def organization_rule(self, user_id: int) -> str:
        return self.engine.ask(
            "organization.access_level", OrgLevelFacts(self.evaluator.org_level(user_id))
        ).rule


class Question(msgspec.Struct, tag_field="ask", forbid_unknown_fields=True, kw_only=True):
    """One call of a §3 function; `expect` is its answer. Subclasses are the functions."""

    rule: str | None = None  # a rule id expected among the rules behind the answer

    def validate(self, world: World) -> None:
        """Raise ValueError for a name the scenario does not define."""

    def answer(self, world: World) -> tuple[Any, tuple[str, ...]]:
        raise NotImplementedError

    def expected(self) -> Any:
        return msgspec.to_builtins(getattr(self, "expect"))  # noqa: B009 - every subclass declares its own type


class _UserQuestion(Question, kw_only=True):
    user: str

    def validate(self, world: World) -> None:
        world.user_id(self.user)


class _ProjectQuestion(_UserQuestion, kw_only=True):
    project: int | None = None

    def validate(self, world: World) -> None:
        super().validate(world)
        world.project_id(self.project)

    def where(self, world: World) -> tuple[int, int]:
        return world.user_id(self.user), world.project_id(self.project)


class _ResourceQuestion(_ProjectQuestion, kw_only=True):
    resource: str

    def resource_type(self, world: World) -> Any:
        return world.evaluator.resource_type(*self.where(world), self.resource)


class _ObjectQuestion(_ResourceQuestion, kw_only=True):
    id: ResourceId | None = None  # the project's own id when omitted for resource `project`

    def validate(self, world: World) -> None:
        super().validate(world)
        if self.id is None and self.resource not in ("project", "organization"):
            raise ValueError(f"{self.resource} questions name the object: id")

    def object_id(self, world: World) -> str:
        return str(self.id if self.id is not None else world.project_id(self.project))

    def rules(self, world: World, explicit: bool = False) -> tuple[str, ...]:
        user, project = self.where(world)
        if self.resource == "project":
            return world.evaluator.project(user, project, explicit).rules
        if self.resource == "organization":
            return (world.organization_rule(user),)
        return world.evaluator.object(user, project, self.resource, self.object_id(world), explicit).rules


class EffectiveLevel(_ProjectQuestion, tag="effective_level", kw_only=True):
    expect: Literal[1, 8, 15] | None

    def answer(self, world: World) -> tuple[Any, tuple[str, ...]]:
        decision = world.evaluator.project(*self.where(world))
        return decision.effective_level, decision.rules


class ProjectAccessLevel(_ProjectQuestion, tag="project_access_level", kw_only=True):
    explicit: bool = False
    expect: Level | None

    def answer(self, world: World) -> tuple[Any, tuple[str, ...]]:
        decision = world.evaluator.project(*self.where(world), self.explicit)
        return decision.access_level, decision.rules


class OrgAccessLevel(_UserQuestion, tag="org_access_level", kw_only=True):
    expect: Level | None

    def answer(self, world: World) -> tuple[Any, tuple[str, ...]]:
        user = world.user_id(self.user)
        return world.evaluator.org_access_level(user), (world.organization_rule(user),)


class ResourceAccessLevel(_ResourceQuestion, tag="resource_access_level", kw_only=True):
    expect: Level | None

    def answer(self, world: World) -> tuple[Any, tuple[str, ...]]:
        decision = self.resource_type(world)
        return decision.access_level, decision.rules


class SpecificAccessLevel(_ResourceQuestion, tag="specific_access_level", kw_only=True):
    expect: Level | None

    def answer(self, world: World) -> tuple[Any, tuple[str, ...]]:
        decision = self.resource_type(world)
        return decision.specific_access_level, decision.rules


class EffectiveAccessLevelForResource(
    _ResourceQuestion, tag="effective_access_level_for_resource", kw_only=True
):
    expect: Level | None

    def answer(self, world: World) -> tuple[Any, tuple[str, ...]]:
        decision = self.resource_type(world)
        return decision.effective_access_level, decision.rules


class ObjectAccessLevel(_ObjectQuestion, tag="object_access_level", kw_only=True):
    explicit: bool = False
    expect: Level | None

    def answer(self, world: World) -> tuple[Any, tuple[str, ...]]:
        user, project = self.where(world)
        level = world.evaluator.object_access_level(
            user, project, self.resource, self.object_id(world), self.explicit
        )
        return level, self.rules(world, self.explicit)


class AccessSource(_ObjectQuestion, tag="access_source", kw_only=True):
    expect: Source | None

    def validate(self, world: World) -> None:
        super().validate(world)
        if self.resource == "organization":
            raise ValueError("access_source is asked of a project or an object")

    def answer(self, world: World) -> tuple[Any, tuple[str, ...]]:
        user, project = self.where(world)
        source = world.evaluator.access_source(user, project, self.resource, self.object_id(world))
        return source, self.rules(world)


class CanModify(_ObjectQuestion, tag="can_modify", kw_only=True):
    expect: bool

    def answer(self, world: World) -> tuple[Any, tuple[str, ...]]:
        user, project = self.where(world)
        allowed = world.evaluator.can_modify(user, project, self.resource, self.object_id(world))
        # can_modify reads the explicit project level, and the explicit object level for objects.
        rules = world.evaluator.project(user, project, True).rules
        if self.resource != "project":
            rules += self.rules(world, explicit=True)
        return allowed, rules


class CanModifyProjectWide(_ProjectQuestion, tag="can_modify_project_wide", kw_only=True):
    expect: bool

    def answer(self, world: World) -> tuple[Any, tuple[str, ...]]:
        user, project = self.where(world)
        return world.evaluator.can_modify_project_wide(user, project), world.evaluator.project(
            user, project, True
        ).rules


class ListFilterExpect(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    mode: Literal["all", "only", "except"] | msgspec.UnsetType = msgspec.UNSET
    ids: list[ResourceId] | msgspec.UnsetType = msgspec.UNSET
    include_created_by: bool | msgspec.UnsetType = msgspec.UNSET


class ListFilterQuestion(_ResourceQuestion, tag="list_filter", kw_only=True):
    admin_include_all: bool = False
    expect: ListFilterExpect

    def expected(self) -> Any:
        expected: dict[str, Any] = msgspec.to_builtins(self.expect)
        if "ids" in expected:
            expected["ids"] = [str(i) for i in expected["ids"]]
        return expected

    def answer(self, world: World) -> tuple[Any, tuple[str, ...]]:
        user, project = self.where(world)
        found = world.evaluator.list_filter(user, project, self.resource, self.admin_include_all)
        # The filter is built from the project and resource-wide decisions (§3.10 steps 2 and 4).
        rules = world.evaluator.project(user, project).rules + self.resource_type(world).rules
        return msgspec.to_builtins(found), rules


class DashboardExpect(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    effective_restriction_level: Literal[21, 37] | msgspec.UnsetType = msgspec.UNSET
    effective_privilege_level: Literal[21, 37] | msgspec.UnsetType = msgspec.UNSET
    can_edit: bool | msgspec.UnsetType = msgspec.UNSET
    can_restrict: bool | msgspec.UnsetType = msgspec.UNSET


class DashboardQuestion(_ProjectQuestion, tag="dashboard", kw_only=True):
    id: ResourceId
    expect: DashboardExpect

    def validate(self, world: World) -> None:
        super().validate(world)
        if (world.project_id(self.project), "dashboard", str(self.id)) not in world.view.objects:
            raise ValueError(f"unknown dashboard {self.id} (list it under objects)")

    def answer(self, world: World) -> tuple[Any, tuple[str, ...]]:
        decision = world.evaluator.dashboard(*self.where(world), str(self.id))
        answer = {name: getattr(decision, name) for name in DashboardExpect.__struct_fields__}
        return answer, decision.rules


class InsightExpect(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    restriction_level: Literal[21, 37] | msgspec.UnsetType = msgspec.UNSET
    privilege_level: Literal[21, 37] | msgspec.UnsetType = msgspec.UNSET


class InsightQuestion(_ProjectQuestion, tag="insight", kw_only=True):
    id: ResourceId
    expect: InsightExpect

    def answer(self, world: World) -> tuple[Any, tuple[str, ...]]:
        user, project = self.where(world)
        decision = world.evaluator.insight(user, project, str(self.id))
        dashboards = world.view.insight_dashboards.get((project, str(self.id)), ())
        rules = decision.rules + tuple(
            rule for d in dashboards for rule in world.evaluator.dashboard(user, project, d).rules
        )
        return {
            "restriction_level": decision.restriction_level,
            "privilege_level": decision.privilege_level,
        }, rules


class SubjectExpect(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    user: str
    access_level: Level
    access_source: Source
    membership_level: Literal["member", "admin", "owner"] | msgspec.UnsetType = msgspec.UNSET


class UsersWithAccess(Question, tag="users_with_access", kw_only=True):
    resource: str
    id: ResourceId | None = None
    project: int | None = None
    expect: list[SubjectExpect]

    def validate(self, world: World) -> None:
        world.project_id(self.project)
        if self.id is None and self.resource != "project":
            raise ValueError(f"{self.resource} questions name the object: id")
        for subject in self.expect:
            world.user_id(subject.user)

    def answer(self, world: World) -> tuple[Any, tuple[str, ...]]:
        project = world.project_id(self.project)
        object_id = str(self.id if self.id is not None else project)
        subjects = world.evaluator.users_with_access(project, self.resource, object_id)
        answer = [
            {
                "user": world.names_by_uuid.get(s.user_id, s.user_id),
                "access_level": s.access_level,
                "access_source": s.access_source,
                "membership_level": s.organization_membership_level,
            }
            for s in subjects
        ]
        return answer, ()


QuestionKind = (
    EffectiveLevel
    | ProjectAccessLevel
    | OrgAccessLevel
    | ResourceAccessLevel
    | SpecificAccessLevel
    | EffectiveAccessLevelForResource
    | ObjectAccessLevel
    | AccessSource
    | CanModify
    | CanModifyProjectWide
    | ListFilterQuestion
    | DashboardQuestion
    | InsightQuestion
    | UsersWithAccess
)


class Scenario(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: str
    features: list[str] = []
    users: dict[str, Literal[1, 8, 15] | UserSpec | None]
    # SPEC §8's setting: one open project 1, which rows and questions may then leave unnamed.
    projects: list[ProjectSpec] = msgspec.field(default_factory=lambda: [ProjectSpec(id=1)])
    explicit_members: list[ExplicitMemberSpec] = []
    roles: dict[str, list[str]] = {}
    objects: list[ObjectSpec] = []
    access_controls: list[AccessControlSpec] = []
    collaborators: list[CollaboratorSpec] = []
    insights: list[InsightSpec] = []
    questions: list[dict[str, Any]]


class PreparedScenario(NamedTuple):
    scenario: Scenario
    world: World
    questions: list[QuestionKind]


def _describe(question: Question) -> str:
    shown = [
        f"{name}={getattr(question, name)}"
        for name in question.__struct_fields__
        if name not in ("expect", "rule") and getattr(question, name) not in (None, False)
    ]
    return " ".join([str(question.__struct_config__.tag), *shown])


# --- files ------------------------------------------------------------------------------------


class PolicyTestFile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    # Entries stay raw here and are decoded one by one, so an error can name its case.
    cases: list[dict[str, Any]] = []
    scenarios: list[dict[str, Any]] = []


def _label(kind: str, index: int, raw: dict[str, Any]) -> str:
    name = raw.get("name")
    return f"{kind} #{index + 1} {name!r}" if isinstance(name, str) else f"{kind} #{index + 1}"


def load_policy_test_file(
    path: Path, engine: PolicyEngine
) -> tuple[list[PreparedCase], list[PreparedScenario]]:
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise PolicyTestFileError(path, str(error)) from error
    try:
        document = msgspec.convert(raw if raw is not None else {}, PolicyTestFile)
    except msgspec.ValidationError as error:
        raise PolicyTestFileError(path, f"{error} (a file holds `cases` and `scenarios`)") from error
    cases: list[PreparedCase] = []
    for index, entry in enumerate(document.cases):
        try:
            cases.append(_prepare_case(msgspec.convert(entry, Case), engine))
        except (msgspec.ValidationError, ValueError) as error:
            raise PolicyTestFileError(path, f"{_label('case', index, entry)}: {error}") from error
    scenarios: list[PreparedScenario] = []
    for index, entry in enumerate(document.scenarios):
        label = _label("scenario", index, entry)
        try:
            scenario = msgspec.convert(entry, Scenario)
            world = World(engine, scenario)
        except (msgspec.ValidationError, ValueError) as error:
            raise PolicyTestFileError(path, f"{label}: {error}") from error
        questions: list[QuestionKind] = []
        for number, question in enumerate(scenario.questions, start=1):
            try:
                decoded = msgspec.convert(question, QuestionKind)
                decoded.validate(world)
                _check_rule_ids([decoded.rule], engine)
            except (msgspec.ValidationError, ValueError) as error:
                raise PolicyTestFileError(path, f"{label}: question #{number}: {error}") from error
            questions.append(decoded)
        scenarios.append(PreparedScenario(scenario, world, questions))
    return cases, scenarios


def _matches(expected: Any, actual: Any) -> bool:
    """Whether actual agrees with every part of expected that is given (mappings may omit keys)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and _matches(v, actual[k]) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list | tuple)
            and len(actual) == len(expected)
            and all(_matches(e, a) for e, a in zip(expected, actual, strict=True))
        )
    # 1 == True in Python; an answer of the wrong kind must not pass.
    return isinstance(expected, bool) == isinstance(actual, bool) and expected == actual


def _show(value: Any) -> str:
    return msgspec.json.encode(msgspec.to_builtins(value)).decode()


# --- running ----------------------------------------------------------------------------------


class Failure(NamedTuple):
    title: str
    lines: list[str]


class FileResult(NamedTuple):
    path: Path
    passed: int
    failures: list[Failure]
    error: str | None  # set when the file is malformed; nothing of it ran


class SuiteResult(NamedTuple):
    files: list[FileResult]
    rules_hit: frozenset[str]
    seconds: float

    @property
    def passed(self) -> int:
        return sum(f.passed for f in self.files)

    @property
    def failed(self) -> int:
        return sum(len(f.failures) for f in self.files)

    @property
    def status(self) -> int:
        if any(f.error is not None for f in self.files):
            return EXIT_MALFORMED
        return EXIT_FAILED if self.failed else EXIT_PASSED


def _run_case(prepared: PreparedCase, engine: PolicyEngine, hits: set[str]) -> Failure | None:
    case = prepared.case
    title = f"case {case.name!r} (decide {case.decide})"
    try:
        verdict = prepared.family.decide(engine, prepared.facts)
    except Exception as error:  # a policy row that cannot evaluate these facts fails the case
        return Failure(title, [f"error: {type(error).__name__}: {error}"])
    hits.update(verdict.rules.values())
    lines: list[str] = []
    for name, expected in case.expect.items():
        actual = msgspec.to_builtins(verdict.answer[name])
        if not _matches(expected, actual):
            ruled = f" (rule {verdict.rules[name]})" if name in verdict.rules else ""
            lines.append(f"{name}: expected {_show(expected)}, got {_show(actual)}{ruled}")
    deciding = set(verdict.rules.values())
    if isinstance(case.rule, str) and case.rule not in deciding:
        lines.append(f"rule: expected {case.rule} among the deciding rules")
    elif isinstance(case.rule, dict):
        for name, rule in case.rule.items():
            if verdict.rules.get(name) != rule:
                lines.append(f"rule of {name}: expected {rule}, got {verdict.rules.get(name, 'none')}")
    if not lines:
        return None
    rules = ", ".join(f"{name} {rule}" for name, rule in verdict.rules.items())
    return Failure(title, [*lines, f"deciding rules: {rules}"])


def _run_question(scenario: Scenario, world: World, question: QuestionKind, hits: set[str]) -> Failure | None:
    title = f"scenario {scenario.name!r}: {_describe(question)}"
    try:
        actual, rules = question.answer(world)
    except Exception as error:  # a policy row that cannot evaluate these facts fails the question
        return Failure(title, [f"error: {type(error).__name__}: {error}"])
    hits.update(rules)
    expected = question.expected()
    lines: list[str] = []
    if not _matches(expected, actual):
        lines.append(f"expected {_show(expected)}, got {_show(actual)}")
    if question.rule is not None and question.rule not in rules:
        lines.append(f"rule: expected {question.rule} among the rules behind the answer")
    if not lines:
        return None
    return Failure(title, [*lines, f"rules behind the answer: {', '.join(dict.fromkeys(rules)) or 'none'}"])


def _run_file(path: Path, engine: PolicyEngine, hits: set[str]) -> FileResult:
    try:
        cases, scenarios = load_policy_test_file(path, engine)
    except PolicyTestFileError as error:
        return FileResult(path, 0, [], error.problem)
    outcomes = [_run_case(case, engine, hits) for case in cases]
    outcomes += [
        _run_question(prepared.scenario, prepared.world, question, hits)
        for prepared in scenarios
        for question in prepared.questions
    ]
    failures = [outcome for outcome in outcomes if outcome is not None]
    return FileResult(path, len(outcomes) - len(failures), failures, None)


def policy_test_files(paths: Iterable[Path]) -> Iterator[Path | PolicyTestFileError]:
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
            if not found:
                yield PolicyTestFileError(path, "no *.yaml or *.yml policy test files")
            yield from found
        elif path.is_file():
            yield path
        else:
            yield PolicyTestFileError(path, "no such file or directory")


def evaluate_policy_tests(paths: Sequence[Path], engine: PolicyEngine | None = None) -> SuiteResult:
    """Run every policy test file under `paths`; the result names the rule ids that decided."""
    engine = engine or PolicyEngine.load()
    started = time.perf_counter()
    hits: set[str] = set()
    files: list[FileResult] = []
    for found in policy_test_files(paths):
        if isinstance(found, PolicyTestFileError):
            files.append(FileResult(found.path, 0, [], found.problem))
        else:
            files.append(_run_file(found, engine, hits))
    return SuiteResult(files, frozenset(hits), time.perf_counter() - started)


def report(result: SuiteResult, out: TextIO) -> None:
    for file in result.files:
        if file.error is not None:
            print(f"{file.path}: malformed: {file.error}", file=out)
            continue
        print(f"{file.path}: {file.passed} passed, {len(file.failures)} failed", file=out)
        for failure in file.failures:
            print(f"  FAIL {failure.title}", file=out)
            for line in failure.lines:
                print(f"      {line}", file=out)
    print(f"{result.passed} passed, {result.failed} failed", file=out)


def run_policy_tests(paths: Sequence[Path], *, out: TextIO, engine: PolicyEngine | None = None) -> int:
    """Run and report; 0 when every case passed, 1 on any failure, 2 when a file is malformed."""
    result = evaluate_policy_tests(paths, engine)
    report(result, out)
    return result.status


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="acl-service policy test", description="Run policy unit tests (YAML files of facts and answers)."
    )
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        default=[DEFAULT_TESTS_DIR],
        help="files or directories of *.yaml tests",
    )
    arguments = parser.parse_args(argv)
    return run_policy_tests(arguments.paths, out=sys.stdout)


if __name__ == "__main__":
    raise SystemExit(main())
