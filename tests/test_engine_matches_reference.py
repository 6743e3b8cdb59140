"""The policy engine agrees with the plain-Python reading of SPEC §3 on random organizations.

Each example draws one small organization (tests/strategies.py) and asks every question of one §3
family about it — every user, project, object and resource type — through the production
`AccessEvaluator` and through tests/reference/spec.py. A disagreement fails with the question and both
answers; hypothesis then shrinks the organization and prints it. Which side is right is decided by the
SPEC, never by this test.
"""

from collections.abc import Iterator

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from acl_service.authz.engine import PolicyEngine
from acl_service.authz.evaluator import AccessEvaluator
from tests.reference import spec
from tests.strategies import QUERY_TYPES, GeneratedOrganization, organizations, questions

ENGINE = PolicyEngine.load()
# pycasbin's own enforce_ex over the same rows (the default engine runs them compiled): slower, so it
# sees fewer organizations, but it checks the policy itself rather than its compiled form.
STOCK_ENGINE = PolicyEngine.load(evaluator="casbin")


def property_settings(examples: int) -> settings:
    # Examples are cheap (one byte-string draw, a few hundred memoized decisions), so the tests on the
    # default engine together run over 10,000 organizations inside the CI budget (~60 s in all).
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=False,
        suppress_health_check=[HealthCheck.too_slow],
    )


def evaluator(generated: GeneratedOrganization, engine: PolicyEngine = ENGINE) -> AccessEvaluator:
    # Hypothesis reports a failing example as the bytes it decoded; the note prints the organization.
    note(repr(generated))
    return AccessEvaluator(engine, generated.view, generated.users)


def assert_agrees(question: str, engine: object, reference: object) -> None:
    assert engine == reference, f"{question}: engine={engine!r} reference={reference!r}"


def project_targets(generated: GeneratedOrganization, project_id: int) -> Iterator[tuple[str, str]]:
    """The objects of a project, and the project itself, as (resource, resource_id)."""
    yield ("project", str(project_id))
    for p, resource, resource_id in generated.view.objects:
        if p == project_id:
            yield (resource, resource_id)


def check_project_levels(generated: GeneratedOrganization, engine: PolicyEngine) -> None:
    view, ev = generated.view, evaluator(generated, engine)
    for u in generated.users:
        assert_agrees(f"org_access_level(u={u})", ev.org_access_level(u), spec.org_access_level(view, u))
        filtered = ev.list_filter(u, 1, "project")
        assert_agrees(
            f"list_filter(u={u}, project)",
            (filtered.mode, tuple(filtered.ids), filtered.include_created_by),
            spec.list_filter(view, u, 1, "project"),
        )
        for p in view.projects:
            assert_agrees(
                f"effective_level(u={u}, p={p})", ev.effective_level(u, p), spec.effective_level(view, u, p)
            )
            for explicit in (False, True):
                assert_agrees(
                    f"project_access_level(u={u}, p={p}, explicit={explicit})",
                    ev.project_access_level(u, p, explicit=explicit),
                    spec.project_access_level(view, u, p, explicit),
                )
            assert_agrees(
                f"can_modify_project_wide(u={u}, p={p})",
                ev.can_modify_project_wide(u, p),
                spec.can_modify_project_wide(view, u, p),
            )


def check_object_ladder_source_and_modify(generated: GeneratedOrganization, engine: PolicyEngine) -> None:
    view, ev = generated.view, evaluator(generated, engine)
    for u in generated.users:
        for p in view.projects:
            for r, rid in project_targets(generated, p):
                for explicit in (False, True):
                    assert_agrees(
                        f"object_access_level(u={u}, p={p}, {r}/{rid}, explicit={explicit})",
                        ev.object_access_level(u, p, r, rid, explicit=explicit),
                        spec.object_access_level(view, u, p, r, rid, explicit),
                    )
                assert_agrees(
                    f"access_source(u={u}, p={p}, {r}/{rid})",
                    ev.access_source(u, p, r, rid),
                    spec.access_source(view, u, p, r, rid),
                )
                assert_agrees(
                    f"can_modify(u={u}, p={p}, {r}/{rid})",
                    ev.can_modify(u, p, r, rid),
                    spec.can_modify(view, u, p, r, rid),
                )


def check_resource_wide_access_and_list_filter(
    generated: GeneratedOrganization, engine: PolicyEngine
) -> None:
    view, ev = generated.view, evaluator(generated, engine)
    for u in generated.users:
        for p in view.projects:
            for r in QUERY_TYPES:
                assert_agrees(
                    f"resource_access_level(u={u}, p={p}, {r})",
                    ev.resource_access_level(u, p, r),
                    spec.resource_access_level(view, u, p, r),
                )
                assert_agrees(
                    f"specific_access_level(u={u}, p={p}, {r})",
                    ev.specific_access_level(u, p, r),
                    spec.specific_access_level(view, u, p, r),
                )
                assert_agrees(
                    f"effective_access_level_for_resource(u={u}, p={p}, {r})",
                    ev.effective_access_level_for_resource(u, p, r),
                    spec.effective_access_level_for_resource(view, u, p, r),
                )
                for include_all in (False, True):
                    filtered = ev.list_filter(u, p, r, admin_include_all=include_all)
                    assert_agrees(
                        f"list_filter(u={u}, p={p}, {r}, admin_include_all={include_all})",
                        (filtered.mode, tuple(filtered.ids), filtered.include_created_by),
                        spec.list_filter(view, u, p, r, include_all),
                    )


def check_dashboard_and_insight_decisions(generated: GeneratedOrganization, engine: PolicyEngine) -> None:
    view, ev = generated.view, evaluator(generated, engine)
    for u in generated.users:
        for p, r, rid in view.objects:
            if r == "dashboard":
                d = ev.dashboard(u, p, rid)
                assert_agrees(
                    f"dashboard(u={u}, p={p}, {rid}) erl/epl/can_edit/can_restrict",
                    (d.effective_restriction_level, d.effective_privilege_level, d.can_edit, d.can_restrict),
                    (
                        spec.effective_restriction_level(view, p, rid),
                        spec.effective_privilege_level(view, u, p, rid),
                        spec.can_edit(view, u, p, rid),
                        spec.can_restrict(view, u, p, rid),
                    ),
                )
            elif r == "insight":
                i = ev.insight(u, p, rid)
                assert_agrees(
                    f"insight(u={u}, p={p}, {rid}) restriction/privilege",
                    (i.restriction_level, i.privilege_level),
                    (
                        spec.insight_restriction_level(view, p, rid),
                        spec.insight_privilege_level(view, u, p, rid),
                    ),
                )


def check_users_with_access(generated: GeneratedOrganization, engine: PolicyEngine) -> None:
    view, ev = generated.view, evaluator(generated, engine)
    for p in view.projects:
        for r, rid in project_targets(generated, p):
            assert_agrees(
                f"users_with_access(p={p}, {r}/{rid})",
                [
                    (
                        s.user_id,
                        s.access_level,
                        s.access_source,
                        s.organization_membership_id,
                        s.organization_membership_level,
                    )
                    for s in ev.users_with_access(p, r, rid)
                ],
                spec.users_with_access(view, generated.users, p, r, rid),
            )


@property_settings(500)
@given(st.data())
def test_random_questions_match_reference(data: st.DataObject) -> None:
    generated = data.draw(organizations())
    view, ev = generated.view, evaluator(generated)
    for query in data.draw(questions(generated)):
        u, p, r, rid = query.user_id, query.project_id, query.resource, query.resource_id
        if rid is None:
            assert_agrees(
                f"{query}: effective_access_level_for_resource",
                ev.effective_access_level_for_resource(u, p, r),
                spec.effective_access_level_for_resource(view, u, p, r),
            )
        else:
            assert_agrees(
                f"{query}: object_access_level",
                ev.object_access_level(u, p, r, rid, explicit=query.explicit),
                spec.object_access_level(view, u, p, r, rid, query.explicit),
            )


@property_settings(2500)
@given(organizations())
def test_project_levels_match_reference(generated: GeneratedOrganization) -> None:
    check_project_levels(generated, ENGINE)


@property_settings(2500)
@given(organizations())
def test_object_ladder_source_and_modify_match_reference(generated: GeneratedOrganization) -> None:
    check_object_ladder_source_and_modify(generated, ENGINE)


@property_settings(2000)
@given(organizations())
def test_resource_wide_access_and_list_filter_match_reference(generated: GeneratedOrganization) -> None:
    check_resource_wide_access_and_list_filter(generated, ENGINE)


@property_settings(2000)
@given(organizations())
def test_dashboard_and_insight_decisions_match_reference(generated: GeneratedOrganization) -> None:
    check_dashboard_and_insight_decisions(generated, ENGINE)


@property_settings(1000)
@given(organizations())
def test_users_with_access_match_reference(generated: GeneratedOrganization) -> None:
    check_users_with_access(generated, ENGINE)


@property_settings(15)
@given(organizations())
def test_stock_casbin_enforcer_matches_reference(generated: GeneratedOrganization) -> None:
    check_project_levels(generated, STOCK_ENGINE)
    check_object_ladder_source_and_modify(generated, STOCK_ENGINE)
    check_resource_wide_access_and_list_filter(generated, STOCK_ENGINE)
    check_dashboard_and_insight_decisions(generated, STOCK_ENGINE)
    check_users_with_access(generated, STOCK_ENGINE)
