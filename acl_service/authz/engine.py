"""The policy engine: a stock pycasbin enforcer over `policies/`, answering with memoized decisions.

Every query (`project.effective_level`, `check.ACP`, ...) is a handful of prioritized policy rows;
the first row whose condition holds over the request's facts decides, and its answer, rule id and
reason code come back as the explanation. Python composes queries (the answer of one is a derived
fact of the next) but never compares levels or orders rules itself.

Two evaluators decide a query from the same loaded enforcer:
- `casbin`: pycasbin's own `enforce_ex`, the reference semantics (~1 ms a query: it re-parses the
  matcher once per policy row);
- `compiled` (default): the same rows in the enforcer's priority order, each condition compiled once
  to Python bytecode, with `g` answered from the role manager's links. tests/test_engine.py checks
  that both pick the same row for every rule.

A decision is a pure function of its fact vector, so each family of decisions is memoized per
distinct vector in one bounded cache (oldest entries evicted first).

PolicyError is raised for a malformed policy or a query that no row decides.
"""

import itertools
import operator
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import CodeType
from typing import Any, Literal

import casbin
import msgspec
from casbin.persist.adapter import Adapter, load_policy_line
from casbin.util import escape_assertion

from acl_service.authz.facts import (
    CheckFacts,
    DashboardFacts,
    FeatureFacts,
    Gates,
    InsightFacts,
    KeyFacts,
    LevelFacts,
    LevelSetFacts,
    ListFacts,
    ListObjectFacts,
    ModifyFacts,
    ObjectFacts,
    OrgLevelFacts,
    ProjectFacts,
    RequiredLevelFacts,
    ResourceFacts,
    ResourceInfo,
    ResourceTypeFacts,
    ScopeFacts,
)
from acl_service.authz.memo import BoundedMemo
from acl_service.domain import frozen

DEFAULT_POLICY_DIR = Path(__file__).resolve().parent.parent.parent / "policies"
DEFAULT_CACHE_SIZE = 200_000

FACT_FIELD = re.compile(r"\br\.f\.([a-z_]+)")
WHOLE_FACTS = re.compile(r"\br\.f\b(?!\.[a-z_])")
EvaluatorName = Literal["compiled", "casbin"]


class PolicyError(Exception):
    pass


class PolicyRule(msgspec.Struct, frozen=True, gc=False):
    priority: int
    query: str
    condition: str
    answer: str
    rule: str
    reason: str


class Derived(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Answers of earlier queries of one decision, visible to later rows as `r.d.<name>`."""

    access: str | None = None
    access_level: str | None = None
    can_restrict: bool | None = None
    default_level: str | None = None
    defaults_max: str | None = None
    effective_level: int | None = None
    effective_privilege_level: int | None = None
    effective_restriction_level: int | None = None
    has_ra: bool | None = None
    highest: str | None = None
    object_specific_max: str | None = None
    parent: str | None = None
    parent_default: str | None = None
    parent_highest: str | None = None
    resource_level: str | None = None
    resource_rows_max: str | None = None
    rows_max: str | None = None
    specific_level: str | None = None
    specific_max: str | None = None


NO_DERIVED = Derived()


class Answer(msgspec.Struct, frozen=True):
    value: Any
    rule: str
    reason: str


class CheckOutcome(msgspec.Struct, frozen=True, gc=False):
    """A permission code's answer: pass, or the status, error code and detail of the failure."""

    allowed: bool
    status: int
    code: str | None
    detail: str | None
    rule: str
    reason: str


class ProjectDecision(msgspec.Struct, frozen=True, gc=False):
    effective_level: int | None
    access_level: str | None
    access_source: str | None
    reasons: tuple[str, ...]
    rules: tuple[str, ...]


class ObjectDecision(msgspec.Struct, frozen=True, gc=False):
    access_level: str | None
    access_source: str | None
    resource_access_level: str | None
    reasons: tuple[str, ...]
    rules: tuple[str, ...]


class ResourceTypeDecision(msgspec.Struct, frozen=True, gc=False):
    access_level: str | None
    specific_access_level: str | None
    effective_access_level: str | None
    reasons: tuple[str, ...]
    rules: tuple[str, ...]


class DashboardDecision(msgspec.Struct, frozen=True, gc=False):
    effective_restriction_level: int
    effective_privilege_level: int
    can_edit: bool
    can_restrict: bool
    reasons: tuple[str, ...]
    rules: tuple[str, ...]


class InsightDecision(msgspec.Struct, frozen=True, gc=False):
    restriction_level: int
    privilege_level: int
    reasons: tuple[str, ...]
    rules: tuple[str, ...]


class ListMode(msgspec.Struct, frozen=True, gc=False):
    mode: str  # all | only | except
    ids_from: str  # none | allowed | blocked
    include_created_by: bool
    rule: str


class CacheStats(msgspec.Struct, frozen=True, gc=False):
    hits: int
    misses: int
    size: int
    capacity: int


class _PolicyFilesAdapter(Adapter):  # type: ignore[misc]
    """Loads every `*.csv` under `rules/`, in file-name order, into the model."""

    def __init__(self, files: list[Path]) -> None:
        self._files = files

    def load_policy(self, model: Any) -> None:
        for path in self._files:
            for line in path.read_text().splitlines():
                load_policy_line(line.strip(), model)


def load_enforcer(policy_dir: Path) -> Any:
    files = sorted((policy_dir / "rules").glob("*.csv"))
    if not files:
        raise PolicyError(f"no rule files under {policy_dir / 'rules'}")
    return casbin.Enforcer(str(policy_dir / "model.conf"), _PolicyFilesAdapter(files))


def _explain(answers: Iterable[Answer]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    answers = list(answers)
    reasons = tuple(dict.fromkeys(a.reason for a in answers if a.reason != "-"))
    return reasons, tuple(a.rule for a in answers)


class _CompiledRule:
    __slots__ = ("code", "rule")

    def __init__(self, rule: PolicyRule) -> None:
        self.rule = rule
        self.code = _compile(rule.condition, rule)


def _compile(expression: str, rule: PolicyRule) -> CodeType:
    try:
        return compile(escape_assertion(expression), f"<policy rule {rule.rule}>", "eval")
    except SyntaxError as error:
        raise PolicyError(f"rule {rule.rule}: {error.msg}: {expression}") from error


FactReader = Callable[[msgspec.Struct], object]


def _reader(texts: Iterable[str]) -> FactReader:
    """What rule texts read of a fact vector: the values of the fields they name, or the whole vector
    when a text reads `r.f` itself."""
    texts = list(texts)
    if any(WHOLE_FACTS.search(text) for text in texts):
        return lambda facts: facts
    fields = sorted({name for text in texts for name in FACT_FIELD.findall(text)})
    if not fields:
        return lambda facts: ()
    return operator.attrgetter(*fields)


class _StepReads(msgspec.Struct, frozen=True):
    """Per pipeline query: what its conditions read, and per deciding row what its answer reads."""

    conditions: FactReader
    answers: dict[str, FactReader]

    @classmethod
    def of(cls, engine: "PolicyEngine", query: str) -> "_StepReads":
        rules = list(engine.rules_of(query))
        if not rules:
            raise PolicyError(f"unknown query {query}")
        answers = {rule.rule: _reader((rule.answer,)) for rule in rules}
        if len(answers) != len(rules):
            raise PolicyError(f"query {query} names a rule id twice")
        return cls(conditions=_reader(rule.condition for rule in rules), answers=answers)


class PolicyEngine:
    def __init__(
        self, enforcer: Any, *, cache_size: int = DEFAULT_CACHE_SIZE, evaluator: EvaluatorName = "compiled"
    ):
        self.enforcer = enforcer
        self.rules = tuple(PolicyRule(int(row[0]), *row[1:]) for row in enforcer.get_policy())
        self._by_query: dict[str, list[_CompiledRule]] = {}
        for rule in self.rules:
            self._by_query.setdefault(rule.query, []).append(_CompiledRule(rule))
        self._answers: dict[PolicyRule, CodeType] = {rule: _compile(rule.answer, rule) for rule in self.rules}
        self._check_every_query_decides()
        links = {tuple(pair) for pair in enforcer.get_grouping_policy()}
        names = {name for pair in links for name in pair}
        role_manager = enforcer.get_role_manager()
        satisfied = frozenset((a, b) for a in names for b in names if role_manager.has_link(a, b))
        self._namespace: dict[str, Any] = {
            "__builtins__": {},
            "g": lambda have, need: have == need or (have, need) in satisfied,
        }
        self._decide: Callable[[str, msgspec.Struct, Derived], PolicyRule] = (
            self._decide_compiled if evaluator == "compiled" else self._decide_casbin
        )
        self._memo = BoundedMemo(cache_size)
        self._fields_read: dict[str, frozenset[str]] = {}
        self._step_reads: dict[str, _StepReads] = {}

    @classmethod
    def load(
        cls,
        policy_dir: Path | None = None,
        *,
        cache_size: int = DEFAULT_CACHE_SIZE,
        evaluator: EvaluatorName = "compiled",
    ) -> "PolicyEngine":
        return cls(
            load_enforcer(policy_dir or DEFAULT_POLICY_DIR), cache_size=cache_size, evaluator=evaluator
        )

    def _check_every_query_decides(self) -> None:
        for query, rules in self._by_query.items():
            if rules[-1].rule.condition.strip() != "True":
                raise PolicyError(f"query {query} has no final catch-all row (condition True)")

    @property
    def queries(self) -> tuple[str, ...]:
        return tuple(self._by_query)

    # -- one query -------------------------------------------------------------------------------

    def _decide_compiled(self, query: str, facts: msgspec.Struct, derived: Derived) -> PolicyRule:
        scope = {"r_q": query, "r_f": facts, "r_d": derived}
        for compiled in self._by_query[query]:
            if eval(compiled.code, self._namespace, scope):
                return compiled.rule
        raise PolicyError(f"no rule decided {query}")  # unreachable: every query ends with True

    def _decide_casbin(self, query: str, facts: msgspec.Struct, derived: Derived) -> PolicyRule:
        allowed, row = self.enforcer.enforce_ex(query, facts, derived)
        if not allowed or not row:
            raise PolicyError(f"no rule decided {query}")
        return PolicyRule(int(row[0]), *row[1:])

    def ask(self, query: str, facts: msgspec.Struct, derived: Derived = NO_DERIVED) -> Answer:
        """Decide one query, uncached: the deciding row's answer evaluated over the same facts."""
        if query not in self._by_query:
            raise PolicyError(f"unknown query {query}")
        rule = self._decide(query, facts, derived)
        value = eval(self._answers[rule], self._namespace, {"r_q": query, "r_f": facts, "r_d": derived})
        return Answer(value, rule.rule, rule.reason)

    def deciding_rule(self, query: str, facts: msgspec.Struct, derived: Derived = NO_DERIVED) -> PolicyRule:
        return self._decide(query, facts, derived)

    # -- memo ------------------------------------------------------------------------------------

    def cache_stats(self) -> CacheStats:
        memo = self._memo
        return CacheStats(memo.hits, memo.misses, len(memo), memo.capacity)

    def clear_cache(self) -> None:
        self._memo.clear()

    # -- constants and small answers ---------------------------------------------------------------

    def gates(self, features: frozenset[str]) -> Gates:
        def compute() -> Gates:
            facts = FeatureFacts(features)
            return Gates(
                legacy_private=self.ask("gate.legacy_private", facts).value,
                dash_restrict=self.ask("gate.dash_restrict", facts).value,
                ac_on=self.ask("gate.ac_on", facts).value,
                roles_on=self.ask("gate.roles_on", facts).value,
                key_policy=self.ask("gate.key_policy", facts).value,
            )

        return self._memo.cached(("gates", features), compute)

    def resource_info(self, resource: str) -> ResourceInfo:
        def compute() -> ResourceInfo:
            facts = ResourceFacts(resource)
            return ResourceInfo(
                resource=resource,
                parent=self.ask("resource.parent", facts).value,
                levels=self.ask("resource.levels", facts).value,
                default_level=self.ask("resource.default_level", facts).value,
                highest=self.ask("resource.highest", facts).value,
                minimum=self.ask("resource.minimum", facts).value,
            )

        return self._memo.cached(("resource", resource), compute)

    def max_level(self, levels: frozenset[str]) -> str | None:
        level: str | None = self._memo.cached(
            ("max", levels), lambda: self.ask("level.max", LevelSetFacts(levels)).value
        )
        return level

    def grants_access(self, level: str | None) -> bool:
        grants: bool = self._memo.cached(
            ("grants", level), lambda: self.ask("level.grants_access", LevelFacts(level)).value
        )
        return grants

    def organization_access_level(self, org_level: int) -> str | None:
        return self.ask("organization.access_level", OrgLevelFacts(org_level)).value  # type: ignore[no-any-return]

    def organization_level_name(self, org_level: int) -> str | None:
        return self.ask("organization.level_name", OrgLevelFacts(org_level)).value  # type: ignore[no-any-return]

    # -- decisions over fact vectors ---------------------------------------------------------------

    def project(self, facts: ProjectFacts) -> ProjectDecision:
        def compute() -> ProjectDecision:
            specific_max = self.max_level(facts.specific)
            effective = self.ask("project.effective_level", facts, Derived(specific_max=specific_max))
            access = self.ask(
                "project.access_level",
                facts,
                Derived(specific_max=specific_max, effective_level=effective.value),
            )
            source = self.ask("project.access_source", facts)
            reasons, rules = _explain((effective, access, source))
            return ProjectDecision(effective.value, access.value, source.value, reasons, rules)

        return self._memo.cached(facts, compute)

    def _resource_access(self, facts: ObjectFacts | ResourceTypeFacts, parent: ResourceInfo) -> Answer:
        return self.ask(
            "resource.access_level",
            facts,
            Derived(
                parent=parent.resource,
                parent_default=parent.default_level,
                parent_highest=parent.highest,
                rows_max=self.max_level(facts.resource_rows),
            ),
        )

    def object(self, facts: ObjectFacts) -> ObjectDecision:
        def compute() -> ObjectDecision:
            info = self.resource_info(facts.resource)
            resource_access = self._resource_access(facts, self.resource_info(info.parent))
            level = self.ask(
                "object.access_level",
                facts,
                Derived(
                    highest=info.highest,
                    default_level=info.default_level,
                    specific_max=self.max_level(facts.specific),
                    defaults_max=self.max_level(facts.defaults),
                    resource_rows_max=self.max_level(facts.resource_rows),
                    resource_level=resource_access.value,
                ),
            )
            source = self.ask("object.access_source", facts)
            reasons, rules = _explain((level, source))
            return ObjectDecision(level.value, source.value, resource_access.value, reasons, rules)

        return self._memo.cached(facts, compute)

    def resource_type(self, facts: ResourceTypeFacts) -> ResourceTypeDecision:
        def compute() -> ResourceTypeDecision:
            info = self.resource_info(facts.resource)
            access = self._resource_access(facts, self.resource_info(info.parent))
            specific = self.ask(
                "resource.specific_access_level",
                facts,
                Derived(highest=info.highest, object_specific_max=self.max_level(facts.object_specific)),
            )
            effective = self.ask(
                "resource.effective_access_level",
                facts,
                Derived(access_level=access.value, specific_level=specific.value),
            )
            reasons, rules = _explain((access, specific, effective))
            return ResourceTypeDecision(access.value, specific.value, effective.value, reasons, rules)

        return self._memo.cached(facts, compute)

    def dashboard(self, facts: DashboardFacts) -> DashboardDecision:
        def compute() -> DashboardDecision:
            restriction = self.ask("dashboard.effective_restriction_level", facts)
            can_restrict = self.ask("dashboard.can_restrict", facts)
            privilege = self.ask(
                "dashboard.effective_privilege_level",
                facts,
                Derived(effective_restriction_level=restriction.value, can_restrict=can_restrict.value),
            )
            can_edit = self.ask(
                "dashboard.can_edit",
                facts,
                Derived(
                    effective_restriction_level=restriction.value,
                    effective_privilege_level=privilege.value,
                ),
            )
            reasons, rules = _explain((restriction, privilege, can_edit, can_restrict))
            return DashboardDecision(
                restriction.value, privilege.value, can_edit.value, can_restrict.value, reasons, rules
            )

        return self._memo.cached(facts, compute)

    def insight(self, facts: InsightFacts) -> InsightDecision:
        def compute() -> InsightDecision:
            restriction = self.ask("insight.restriction_level", facts)
            privilege = self.ask("insight.privilege_level", facts)
            reasons, rules = _explain((restriction, privilege))
            return InsightDecision(restriction.value, privilege.value, reasons, rules)

        return self._memo.cached(facts, compute)

    def list_object(self, facts: ListObjectFacts) -> str:
        def compute() -> str:
            derived = Derived(
                specific_max=self.max_level(facts.specific), defaults_max=self.max_level(facts.defaults)
            )
            return self.ask("list.object", facts, derived).value  # type: ignore[no-any-return]

        return self._memo.cached(facts, compute)

    def list_mode(self, facts: ListFacts) -> ListMode:
        def compute() -> ListMode:
            answer = self.ask("list.mode", facts, Derived(has_ra=self.grants_access(facts.resource_level)))
            mode, ids_from, include_created_by = answer.value
            return ListMode(mode, ids_from, include_created_by, answer.rule)

        return self._memo.cached(facts, compute)

    def can_modify(self, facts: ModifyFacts) -> bool:
        allowed: bool = self._memo.cached(facts, lambda: self.ask("modify", facts).value)
        return allowed

    def scope_present(self, facts: ScopeFacts) -> bool:
        present: bool = self._memo.cached(facts, lambda: self.ask("scope.present", facts).value)
        return present

    def key_scopes(
        self, scopes: tuple[str, ...] | None, required: tuple[str, ...] | None
    ) -> tuple[frozenset[str], str | None]:
        """A key's scopes as a set, and the first required scope it lacks (§3.13 K4), or None."""

        def compute() -> tuple[frozenset[str], str | None]:
            held = frozen(scopes or ())
            for scope in required or ():
                scope_object, _, action = scope.partition(":")
                if not self.scope_present(ScopeFacts(scope_object, action, held)):
                    return held, scope
            return held, None

        return self._memo.cached(("key scopes", scopes, required), compute)

    def required_level(self, facts: RequiredLevelFacts) -> str:
        def compute() -> str:
            access = self.ask("pipeline.access", facts).value
            return self.ask("pipeline.required_level", facts, Derived(access=access)).value  # type: ignore[no-any-return]

        return self._memo.cached(facts, compute)

    def key_check(self, stage: Literal["k1", "k2_k4"], facts: KeyFacts) -> CheckOutcome:
        return self.step(f"key.{stage}", facts)

    def check(self, code: str, facts: CheckFacts) -> CheckOutcome:
        return self.step(f"check.{code}", facts)

    def step(self, query: str, facts: msgspec.Struct) -> CheckOutcome:
        """A pipeline step: a permission code, a key check, pipeline.auth, pipeline.resolve, ...

        Memoized by what decides it rather than by the whole fact vector: the deciding row by the
        fields the query's conditions read, then its outcome by the fields that row's answer reads
        (none, for a pass or a fixed refusal). A key's facts name its project and organization,
        which only some refusals' messages read, so keys in different projects share decisions.
        """
        reads = self._step_reads.get(query)
        if reads is None:
            reads = self._step_reads[query] = _StepReads.of(self, query)
        decided_by = (query, reads.conditions(facts))
        rule = self._memo.get(decided_by)
        if rule is not None:
            found = self._memo.get((query, rule, reads.answers[rule](facts)))
            if found is not None:
                return found  # type: ignore[no-any-return]
        answer = self.ask(query, facts)
        if answer.value == "pass":
            outcome = CheckOutcome(True, 200, None, None, answer.rule, answer.reason)
        else:
            status, code, detail = answer.value
            outcome = CheckOutcome(False, status, code, detail, answer.rule, answer.reason)
        self._memo.put(decided_by, answer.rule)
        self._memo.put((query, answer.rule, reads.answers[answer.rule](facts)), outcome)
        return outcome

    def fields_read(self, query: str) -> frozenset[str]:
        """The fact fields (`r.f.<name>`) the rows of a query read, so callers gather only those."""
        found = self._fields_read.get(query)
        if found is None:
            texts = [f"{c.rule.condition} {c.rule.answer}" for c in self._by_query[query]]
            found = frozenset(FACT_FIELD.findall(" ".join(texts)))
            self._fields_read[query] = found
        return found

    def check_codes(self) -> tuple[str, ...]:
        return tuple(q.removeprefix("check.") for q in self._by_query if q.startswith("check."))

    def rules_of(self, query: str) -> Iterator[PolicyRule]:
        return (compiled.rule for compiled in self._by_query.get(query, ()))

    def all_rules(self) -> Iterator[PolicyRule]:
        return itertools.chain.from_iterable(self.rules_of(q) for q in self._by_query)
