"""The decision API's answer memo never changes an answer.

A `Decider` remembers answers per organization view, by (caller, target) and by the decision's
signature: the user's project facts, the type's and the object's facts (two users, or two objects,
with equal facts get the same answer); each view's evaluator, with the facts it gathered, lives
beside that view's answers. Here, on random organizations, every answer a warm Decider gives across
many checks in random order (and one whose memo is so small that it drops answers and evaluators
all the time) must equal the answer a Decider that remembers nothing computes for that check alone.
And what memos keep is left out of the cycle collector's scans.
"""

import gc
import random
from typing import cast
from uuid import UUID

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.datastructures import State

from acl_service.api.decisions import FREEZE_EVERY_ANSWERS, freeze_new_answers
from acl_service.authz.decisions import CheckTarget, Decider, Subject
from acl_service.authz.engine import DEFAULT_POLICY_DIR, PolicyEngine
from acl_service.authz.evaluator import AccessEvaluator
from acl_service.authz.routes import RouteTable
from acl_service.domain import NOTHING, ApiKeyRef, Caller, Organization, OrganizationView
from tests.strategies import FACT_BYTES, GeneratedOrganization, decode_organization, organizations

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
    tiny = Decider(engine, routes, DEFAULT_POLICY_DIR, memo_size=5)  # evicts every few checks
    fresh = Decider(engine, routes, DEFAULT_POLICY_DIR, memo_size=0)  # remembers nothing
    planned = checks(generated)
    order.shuffle(planned)
    for user_id, target in planned:
        action = warm.check_action(target)
        if action is None:
            continue  # not available for this target (e.g. restrict on a notebook)
        subject = Subject(Caller("user", generated.users[user_id]))
        expected = fresh.check(subject, target, action, view)
        assert warm.check(subject, target, action, view) == expected, (user_id, target)
        assert tiny.check(subject, target, action, view) == expected, (user_id, target)


def parts(value: object) -> list[object]:
    """A memoized value and everything in it: tuples, structs and their fields, recursively."""
    found = [value]
    if isinstance(value, tuple):
        found += [part for item in value for part in parts(item)]
    elif isinstance(value, msgspec.Struct):
        found += [part for item in msgspec.structs.astuple(value) for part in parts(item)]
    return found


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated=organizations())
def test_memoized_answers_and_signatures_are_left_out_of_the_cycle_collector(
    engine: PolicyEngine, routes: RouteTable, generated: GeneratedOrganization
) -> None:
    """Memos keep answers and fact vectors by the hundred thousand: a full collection that scanned
    them all paused batches for 120 ms and more. Only non-empty sets may be tracked."""
    decider = Decider(engine, routes, DEFAULT_POLICY_DIR)
    evaluator = AccessEvaluator(engine, generated.view, generated.view.users)
    kept: list[object] = []
    for user_id, target in checks(generated)[:300]:
        action = decider.check_action(target)
        if action is not None:
            subject = Subject(Caller("user", generated.users[user_id]))
            kept.append(decider.check(subject, target, action, generated.view))
        kept.append(
            evaluator.decision_signature(user_id, target.project_id, target.resource, target.resource_id)
        )
    # A collection untracks a tuple once nothing in it is tracked: one nesting level per collection.
    for _ in range(3):
        gc.collect()
    for part in (part for value in kept for part in parts(value)):
        if isinstance(part, frozenset):
            assert part or part is NOTHING, "an empty level set other than NOTHING"
        else:
            assert not gc.is_tracked(part), part


def test_answers_are_frozen_out_of_the_collectors_way_every_so_many() -> None:
    class Grown:
        answers_added = 0

    state = State()
    decider = cast(Decider, Grown())
    freeze_new_answers(state, decider)
    pending: list[list[int]] = [[] for _ in range(100)]  # tracked, not frozen yet
    frozen = gc.get_freeze_count()
    Grown.answers_added = FREEZE_EVERY_ANSWERS - 1
    freeze_new_answers(state, decider)
    assert gc.get_freeze_count() == frozen
    Grown.answers_added = FREEZE_EVERY_ANSWERS
    freeze_new_answers(state, decider)
    assert gc.get_freeze_count() >= frozen + len(pending)


# Key kinds of §3.13: legacy, `*`, read-only, writes on some types, scoped to one project or organization.
KEY_SCOPES: tuple[tuple[str, ...] | None, ...] = (
    None,
    ("*",),
    ("dashboard:read", "insight:read", "notebook:read"),
    ("dashboard:write", "feature_flag:read", "access_control:write", "project:read"),
    ("project:write", "notebook:write"),
)
ALL_ACTIONS = (*ACTIONS, "create")
TYPES = ("dashboard", "insight", "notebook", "feature_flag", "session_recording_playlist", "plugin")


def callers(generated: GeneratedOrganization, organizations: list[UUID], draw: random.Random) -> list[Caller]:
    found = [Caller("user", user) for user in generated.users.values()]
    for user in draw.sample(list(generated.users.values()), k=min(3, len(generated.users))):
        key = ApiKeyRef(
            id=UUID(int=draw.getrandbits(64)),
            user_id=user.id,
            scopes=draw.choice(KEY_SCOPES),
            scoped_teams=draw.choice(((), (1,), (2,), (1, 2))),
            scoped_organizations=draw.choice(((), (draw.choice(organizations),))),
        )
        found.append(Caller("key", user, key))
    return found


def targets(view: OrganizationView) -> list[CheckTarget]:
    found = []
    for action in ALL_ACTIONS:
        for project_id in view.projects:
            found.append(CheckTarget(project_id, None, None, action))
            found += [CheckTarget(project_id, resource, None, action) for resource in TYPES]
            found.append(CheckTarget(project_id, "notebook", "missing", action))
        found += [CheckTarget(p, resource, rid, action) for p, resource, rid in view.objects]
    return found


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    drawn=st.lists(FACT_BYTES, min_size=2, max_size=3),
    policies=st.lists(st.booleans(), min_size=3, max_size=3),
    draw=st.randoms(use_true_random=False),
)
def test_answers_shared_across_organizations_users_and_keys_equal_fresh_answers(
    engine: PolicyEngine,
    routes: RouteTable,
    drawn: list[bytes],
    policies: list[bool],
    draw: random.Random,
) -> None:
    """One warm Decider over several organizations (equal project ids, different gates and key
    policies), users and API keys of every kind, every target kind: answers shared between callers,
    projects and organizations with equal facts equal the answers computed alone."""
    ids = [UUID(int=0xA0 + k) for k in range(len(drawn))]
    generated = [
        decode_organization(data, Organization(ids[k], f"Org {k}", frozenset(), policies[k]))
        for k, data in enumerate(drawn)
    ]
    planned = [
        (caller, organization.view, target)
        for organization in generated
        for caller in callers(organization, ids, draw)
        for target in targets(organization.view)
    ]
    warm = Decider(engine, routes, DEFAULT_POLICY_DIR)
    fresh = Decider(engine, routes, DEFAULT_POLICY_DIR, memo_size=0)
    for caller, view, target in draw.sample(planned, k=min(len(planned), 1500)):
        action = warm.check_action(target)
        if action is None:
            continue
        memoized = warm.check(Subject(caller), target, action, view)
        assert memoized == fresh.check(Subject(caller), target, action, view), (caller, target)
