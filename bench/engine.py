"""How fast the policy engine decides, with and without its memo.

    python bench/engine.py [--organizations 20] [--decisions 20000] [--seed 1]

Builds realistic organizations in memory (members and admins, private projects, explicit members,
dashboards with restriction levels and collaborators, resource-wide, object, member and role
access-control rows, all feature combinations), draws random (user, project, object) questions, and
gathers their fact vectors once. Then times the engine alone per decision:

- memo miss: memoization off, so every query of the decision is evaluated by the policy rows;
- memo hit: the same decisions again on a warm memo;
- evaluator: fact gathering plus a warm engine, as the decision API pays per object check;
- /v1/check, first seen: a whole check (levels + the §3.14 pipeline on its equivalent request) for
  a (subject, target) pair the decision API has not answered before, on a warm engine.

Prints decisions/s and p50/p99 per decision for each path and the number of distinct fact
vectors the workload produced (what bounds the memo's size).
"""

import argparse
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from acl_service.authz.decisions import CheckTarget, Decider, Subject
from acl_service.authz.engine import DEFAULT_POLICY_DIR, PolicyEngine
from acl_service.authz.evaluator import AccessEvaluator
from acl_service.authz.facts import (
    DashboardFacts,
    ObjectFacts,
    ProjectFacts,
    dashboard_facts,
    object_facts,
    project_facts,
    resource_type_facts,
    user_context,
)
from acl_service.authz.routes import RouteTable
from acl_service.domain import (
    AccessControlRow,
    Caller,
    DashboardPrivilege,
    ExplicitMembership,
    Membership,
    Organization,
    OrganizationView,
    Project,
    RoleMembership,
    StoredObject,
    UserRef,
)

FEATURE_SETS = [
    frozenset(),
    frozenset({"project_based_permissioning"}),
    frozenset({"dashboard_permissioning"}),
    frozenset({"advanced_permissions"}),
    frozenset({"advanced_permissions", "role_based_access"}),
    frozenset({"access_control", "dashboard_permissioning", "role_based_access"}),
]
TYPES = ["dashboard", "notebook", "feature_flag", "insight", "session_recording_playlist", "action"]
RESOURCE_LEVELS = ["none", "viewer", "editor", "manager"]


def build_organization(rng: random.Random, users: list[UserRef]) -> OrganizationView:
    organization = Organization(uuid.UUID(int=rng.getrandbits(128)), "bench", rng.choice(FEATURE_SETS))
    memberships = [
        Membership(uuid.UUID(int=rng.getrandbits(128)), user.id, rng.choices([1, 8, 15], [85, 12, 3])[0])
        for user in users
    ]
    roles = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(4)]
    projects = [
        Project(1000 + index, organization.id, access_control=rng.random() < 0.3)
        for index in range(rng.randint(2, 6))
    ]
    explicit, objects, rows, privileges = [], [], [], []
    for project in projects:
        for membership in rng.sample(memberships, len(memberships) // 4):
            explicit.append(ExplicitMembership(project.id, membership.id, rng.choice([1, 8])))
        if rng.random() < 0.3:
            rows.append(
                AccessControlRow(project.id, "project", str(project.id), rng.choice(["none", "member"]))
            )
        for membership in rng.sample(memberships, 3):
            rows.append(
                AccessControlRow(
                    project.id,
                    "project",
                    str(project.id),
                    rng.choice(["member", "admin"]),
                    member_id=membership.id,
                )
            )
        for resource in TYPES:
            if rng.random() < 0.4:
                rows.append(AccessControlRow(project.id, resource, None, rng.choice(RESOURCE_LEVELS)))
            if rng.random() < 0.3:
                rows.append(
                    AccessControlRow(
                        project.id, resource, None, rng.choice(RESOURCE_LEVELS), role_id=rng.choice(roles)
                    )
                )
        for index in range(60):
            resource = rng.choice(TYPES)
            resource_id = str(index + 1)
            creator = rng.choice(users).id
            restriction = rng.choice([21, 37]) if resource == "dashboard" else None
            objects.append(StoredObject(project.id, resource, resource_id, creator, restriction))
            if resource == "dashboard" and rng.random() < 0.3:
                privileges.append(DashboardPrivilege(project.id, resource_id, rng.choice(users).id, 37))
            if rng.random() < 0.2:
                member = rng.choice(memberships)
                rows.append(
                    AccessControlRow(
                        project.id, resource, resource_id, rng.choice(RESOURCE_LEVELS), member_id=member.id
                    )
                )
            if rng.random() < 0.1:
                rows.append(AccessControlRow(project.id, resource, resource_id, rng.choice(RESOURCE_LEVELS)))
    role_members = [RoleMembership(rng.choice(roles), user.id) for user in rng.sample(users, len(users) // 3)]
    return OrganizationView(
        organization,
        users=users,
        memberships=memberships,
        projects=projects,
        explicit_memberships=explicit,
        objects=objects,
        access_controls=rows,
        role_memberships=role_members,
        privileges=privileges,
    )


Question = tuple[OrganizationView, int, int, StoredObject]
Decision = tuple[ProjectFacts, ObjectFacts, DashboardFacts | None]


def draw_questions(rng: random.Random, views: Sequence[OrganizationView], count: int) -> list[Question]:
    questions = []
    for _ in range(count):
        view = rng.choice(views)
        stored = rng.choice(list(view.objects.values()))
        user_id = rng.choice(list(view.memberships_by_user))
        questions.append((view, user_id, stored.project_id, stored))
    return questions


def gather(engine: PolicyEngine, question: Question) -> Decision:
    view, user_id, project_id, stored = question
    gates = engine.gates(view.organization.features)
    user = user_context(view, gates, user_id)
    project = project_facts(view, gates, user, project_id)
    info = engine.resource_info(stored.resource)
    of_type = resource_type_facts(view, gates, user, project_id, info)
    obj = object_facts(view, gates, user, project, of_type, project_id, stored.resource_id)
    dashboard = None
    if stored.resource == "dashboard":
        effective = engine.project(project).effective_level
        dashboard = dashboard_facts(view, gates, user, project_id, stored.resource_id, effective)
    return project, obj, dashboard


def decide(engine: PolicyEngine, decision: Decision) -> None:
    project, obj, dashboard = decision
    engine.project(project)
    engine.object(obj)
    if dashboard is not None:
        engine.dashboard(dashboard)


def time_each(items: Sequence[object], run: Callable[[object], None]) -> list[float]:
    samples = []
    clock = time.perf_counter_ns
    for item in items:
        start = clock()
        run(item)
        samples.append((clock() - start) / 1000)
    return samples


def report(label: str, samples_us: list[float]) -> None:
    ordered = sorted(samples_us)
    p50 = statistics.median(ordered)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    per_second = len(ordered) / (sum(ordered) / 1e6)
    print(f"{label:<34} {per_second:>12,.0f} decisions/s   p50 {p50:8.2f} us   p99 {p99:8.2f} us")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--organizations", type=int, default=20)
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    users = [UserRef(index + 1, uuid.UUID(int=rng.getrandbits(128))) for index in range(400)]
    views = [build_organization(rng, rng.sample(users, 40)) for _ in range(args.organizations)]
    questions = draw_questions(rng, views, args.decisions)
    warm = PolicyEngine.load()
    decisions = [gather(warm, question) for question in questions]
    distinct = {(p, o, d) for p, o, d in decisions}
    print(
        f"workload: {len(views)} organizations, {len(decisions):,} decisions (project + object, + dashboard)"
    )
    projects, objects = len({d[0] for d in decisions}), len({d[1] for d in decisions})
    print(f"distinct fact vectors: {len(distinct):,} decisions, {projects:,} project, {objects:,} object")

    cold = PolicyEngine.load(cache_size=0)
    report("memo miss (policy rows evaluate)", time_each(decisions, lambda d: decide(cold, d)))  # type: ignore[arg-type]
    for decision in decisions:
        decide(warm, decision)
    report("memo hit", time_each(decisions, lambda d: decide(warm, d)))  # type: ignore[arg-type]

    def evaluate(question: object) -> None:
        view, user_id, project_id, stored = question  # type: ignore[misc]
        AccessEvaluator(warm, view, {}).object(user_id, project_id, stored.resource, stored.resource_id)

    report("evaluator (gather + warm engine)", time_each(questions, evaluate))

    decider = Decider(warm, RouteTable.load(DEFAULT_POLICY_DIR), DEFAULT_POLICY_DIR)

    def first_seen_check(question: object) -> None:
        view, user_id, project_id, stored = question  # type: ignore[misc]
        action = "write" if user_id % 2 else "read"
        target = CheckTarget(project_id, stored.resource, stored.resource_id, action)
        subject = Subject(Caller("user", view.users[user_id]))
        decider.check(subject, target, decider.require_action(target), view)

    by_pair = {(id(q[0]), q[1], q[3].project_id, q[3].resource, q[3].resource_id): q for q in questions}
    distinct_checks = list(by_pair.values())
    report("/v1/check, first seen", time_each(distinct_checks, first_seen_check))
    stats = warm.cache_stats()
    print(f"memo: {stats.size:,} entries, {stats.hits:,} hits, {stats.misses:,} misses")


if __name__ == "__main__":
    main()
