"""The decision API's answer memo never changes an answer.

A `Decider` remembers answers per organization view, by (caller, target) and by the decision's
signature: the user's project facts, the type's and the object's facts (two users, or two objects,
with equal facts get the same answer); a batch shares one evaluator per view. Here, on random
organizations, every answer one warm Decider gives across many checks in random order must equal
the answer a Decider that remembers nothing computes for that check alone.
"""

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acl_service.authz.decisions import CheckTarget, Decider, Subject
from acl_service.authz.engine import DEFAULT_POLICY_DIR, PolicyEngine
from acl_service.authz.evaluator import AccessEvaluator
from acl_service.authz.routes import RouteTable
from acl_service.domain import Caller, OrganizationView
from tests.strategies import GeneratedOrganization, organizations

ACTIONS = ("read", "write", "delete", "manage_access", "restrict")


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine.load()


@pytest.fixture(scope="module")
def routes() -> RouteTable:
    return RouteTable.load(DEFAULT_POLICY_DIR)


def checks(generated: GeneratedOrganization) -> list[tuple[int, CheckTarget]]:
    view = generated.view
    found = []
    for user_id in generated.users:
        for project_id, resource, resource_id in view.objects:
            for action in ACTIONS:
                found.append((user_id, CheckTarget(project_id, resource, resource_id, action)))
    return found


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated=organizations(), order=st.randoms(use_true_random=False))
def test_memoized_answers_equal_fresh_answers(
    engine: PolicyEngine, routes: RouteTable, generated: GeneratedOrganization, order: random.Random
) -> None:
    view = generated.view
    warm = Decider(engine, routes, DEFAULT_POLICY_DIR)
    fresh = Decider(engine, routes, DEFAULT_POLICY_DIR, memo_size=0)  # remembers nothing
    shared: dict[OrganizationView, AccessEvaluator] = {}
    planned = checks(generated)
    order.shuffle(planned)
    for user_id, target in planned:
        action = warm.check_action(target)
        if action is None:
            continue  # not available for this target (e.g. restrict on a notebook)
        subject = Subject(Caller("user", generated.users[user_id]))
        memoized = warm.check(subject, target, action, view, shared)
        assert memoized == fresh.check(subject, target, action, view), (user_id, target)
