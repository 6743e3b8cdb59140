"""POST /v1/explain and `acl_service.authz.explain`: the decision of `/v1/check` or `/v1/authorize`,
and a trace that ends where that decision did, naming stored facts by id and rules by file and line.

The property tests ask every check action (and a handful of requests) of random organizations
(tests/strategies.py), with users and API keys as subjects, on an explainer and on a separate
decider, and compare.
"""

from typing import Any
from uuid import UUID

import asyncpg
from hypothesis import HealthCheck, given, note, settings
from litestar import Litestar
from litestar.testing import AsyncTestClient

from acl_service.authz.decisions import INVALID_USER, CheckTarget, Decider, Subject
from acl_service.authz.engine import DEFAULT_POLICY_DIR, PolicyEngine
from acl_service.authz.explain import Explainer, Trace
from acl_service.authz.routes import RouteMatch, RouteTable
from acl_service.domain import ApiKeyRef, Caller
from tests.fixtures.app import check_headers
from tests.fixtures.seed import Seed
from tests.strategies import QUERY_TYPES, GeneratedOrganization, organizations

Client = AsyncTestClient[Litestar]

ROUTES = RouteTable.load(DEFAULT_POLICY_DIR)
EXPLAINER = Explainer(Decider(PolicyEngine.load(), ROUTES, DEFAULT_POLICY_DIR), DEFAULT_POLICY_DIR)
# The side the explanations are compared with: its own engine, memos and route matches.
CHECKER = Decider(PolicyEngine.load(), ROUTES, DEFAULT_POLICY_DIR)
# Each organization is asked every check of every subject (about 1,500 explanations of ~0.3 ms).
CHECK_EXAMPLES = 40
REQUEST_EXAMPLES = 40
ACTIONS = ("read", "write", "delete", "create", "manage_access", "restrict")
KEY_SCOPES: tuple[tuple[str, ...] | None, ...] = (None, ("*",), ("dashboard:read",), ("notebook:write",))
REQUESTS = (
    ("GET", "/api/environments/{p}/dashboards/{d}/", None),
    ("PATCH", "/api/environments/{p}/dashboards/{d}/", {"restriction_level": 21}),
    ("PATCH", "/api/environments/{p}/dashboards/{d}/move_tile/", {"toDashboard": 1, "tile": {"id": 1}}),
    ("GET", "/api/environments/{p}/insights/", None),
    ("DELETE", "/api/projects/{p}/", None),
    ("PUT", "/api/projects/{p}/resource_access_controls/", {"resource": "notebook", "access_level": "none"}),
    ("POST", "/api/environments/{p}/resources/", {"resource": "feature_flag"}),
    ("GET", "/api/users/@me/", None),
)


def subjects(generated: GeneratedOrganization) -> list[Subject]:
    """Every user (inactive ones as the lookup reports them), and a few keys of the first one."""
    found = [
        Subject(Caller("user", user)) if user.is_active else INVALID_USER for user in generated.users.values()
    ]
    owner = generated.users[min(generated.users)]
    if owner.is_active:
        for k, scopes in enumerate(KEY_SCOPES):
            key = ApiKeyRef(UUID(int=0x4000 + k), owner.id, scopes, scoped_teams=(1,) if k % 2 else ())
            found.append(Subject(Caller("key", owner, key)))
    return found


def check_targets(generated: GeneratedOrganization) -> list[CheckTarget]:
    """The project, every type and object of each project, a missing object and a missing project."""
    found = [CheckTarget(99, None, None, action) for action in ACTIONS]
    for p in generated.view.projects:
        wanted: list[tuple[str | None, str | None]] = [
            (None, None),
            ("notebook", "missing"),
            ("dashboard", "x7"),
        ]
        wanted += [(t, None) for t in QUERY_TYPES if t not in ("project", "organization")]
        wanted += [(o.resource, o.resource_id) for o in generated.view.objects.values() if o.project_id == p]
        found += [CheckTarget(p, r, rid, action) for r, rid in wanted for action in ACTIONS]
    return found


def assert_trace_ends_like(trace: Trace, allowed: bool, status: int, detail: str | None) -> None:
    last = trace.steps[-1]
    assert last.kind == "outcome"
    assert last.answer == {"allowed": allowed, "status": status, "detail": detail}
    if allowed:
        assert trace.decided_by is None
    if trace.decided_by is not None:
        assert any(s.kind == "query" and s.rule == trace.decided_by for s in trace.steps)
    for step in trace.steps:
        if step.kind == "query":
            # Every query names the row that decided it, as written in policies/.
            assert step.policy is not None, step
            assert step.rule is not None
            assert step.rule in step.policy.text
            assert step.policy.file.startswith("policies/rules/")
        if step.kind == "fact" and "access_level" in step.facts:
            assert step.facts["id"] is not None, step


def property_settings(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@property_settings(CHECK_EXAMPLES)
@given(organizations())
def test_explained_checks_decide_as_check_does_on_random_organizations(
    generated: GeneratedOrganization,
) -> None:
    note(repr(generated))
    view = generated.view
    for subject in subjects(generated):
        for target in check_targets(generated):
            action = CHECKER.check_action(target)
            if action is None:
                continue
            expected = CHECKER.check(subject, target, action, view)
            decision, trace = EXPLAINER.check(subject, target, action, view)
            assert decision == expected, (subject, target)
            assert_trace_ends_like(trace, expected.allowed, expected.status, expected.detail)


@property_settings(REQUEST_EXAMPLES)
@given(organizations())
def test_explained_requests_decide_as_authorize_does_on_random_organizations(
    generated: GeneratedOrganization,
) -> None:
    note(repr(generated))
    view = generated.view
    for subject in subjects(generated):
        for project_id in (*view.projects, 99):
            project = view.projects.get(project_id)
            for method, template, body in REQUESTS:
                match = CHECKER.match_request(method, template.format(p=project_id, d=1))
                assert isinstance(match, RouteMatch)
                expected = CHECKER.authorize_request(subject, match, body, project, view)
                decision, trace = EXPLAINER.request(subject, match, body, project, view)
                assert decision == expected, (subject, method, template)
                assert_trace_ends_like(trace, expected.allowed, expected.status, expected.detail)


# -- over HTTP -----------------------------------------------------------------------------------------


async def revision(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        value: int = await conn.fetchval("SELECT value FROM acl_revision")
        return value


async def ask(client: Client, pool: asyncpg.Pool, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(
        path, json={**body, "min_revision": await revision(pool)}, headers=check_headers()
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def facts_named(answer: dict[str, Any], **wanted: Any) -> list[dict[str, Any]]:
    return [
        step
        for step in answer["trace"]["steps"]
        if step["kind"] == "fact" and all(step["facts"].get(k) == v for k, v in wanted.items())
    ]


def rule_line(rule: str) -> tuple[str, int]:
    for path in sorted((DEFAULT_POLICY_DIR / "rules").glob("*.csv")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if line.startswith("p,") and f", {rule}," in line:
                return f"policies/rules/{path.name}", number
    raise AssertionError(f"no rule {rule}")


async def test_explain_names_the_row_and_rule_behind_a_specific_none(
    client: Client, seed: Seed, db_pool: asyncpg.Pool
) -> None:
    # SPEC §8 example 7: a member row `none` on dashboard 8 beats the resource-wide `editor`.
    world = await seed.spec_world(["advanced_permissions"])
    await seed.dashboard(1, 8, created_by=world["alice"])
    wide = await seed.access_control(1, "dashboard", None, "editor")
    bob_row = await seed.access_control(1, "dashboard", 8, "none", member=world.memberships["bob"])
    body = {
        "user": str(world["bob"].uuid),
        "project_id": 1,
        "resource": {"type": "dashboard", "id": 8},
        "action": "read",
    }
    checked = await ask(client, db_pool, "/v1/check", body)
    explained = await ask(client, db_pool, "/v1/explain", body)
    trace = explained.pop("trace")
    assert explained == checked
    assert (checked["status"], checked["detail"]) == (403, "You do not have viewer access to this resource.")
    assert trace["decided_by"] == "3.14.ACO.denied"
    file, line = rule_line("3.14.ACO.denied")
    assert (trace["decided_by_policy"]["file"], trace["decided_by_policy"]["line"]) == (file, line)
    # Listed where the ladder reads it and where §3.9's specific access does: the same row each time.
    rows = facts_named({"trace": trace}, id=str(bob_row))
    assert len(rows) == 2
    assert rows[0]["facts"] == rows[1]["facts"]
    assert rows[0]["facts"] | {"id": None} == {
        "id": None,
        "resource": "dashboard",
        "resource_id": "8",
        "subject": "member",
        "organization_member": str(world.memberships["bob"]),
        "role": None,
        "access_level": "none",
        "applies": True,
    }
    assert facts_named({"trace": trace}, id=str(wide), applies=True)
    ladder = [s for s in trace["steps"] if s["title"] == "object.access_level"]
    assert [(s["answer"], s["rule"]) for s in ladder] == [("none", "3.7.5.specific")]
    assert facts_named({"trace": trace}, id=str(world.memberships["bob"]), level=1)


async def test_explain_of_an_authorize_body_shows_the_key_and_the_missing_scope(
    client: Client, seed: Seed, db_pool: asyncpg.Pool
) -> None:
    # SPEC §8 example 9: a `dashboard:read` key may not PATCH a dashboard.
    world = await seed.spec_world()
    await seed.dashboard(1, 7, created_by=world["alice"])
    key = await seed.personal_api_key(world["alice"], ["dashboard:read"])
    body = {"method": "PATCH", "path": "/api/environments/1/dashboards/7/", "authorization": f"Bearer {key}"}
    authorized = await ask(client, db_pool, "/v1/authorize", body)
    explained = await ask(client, db_pool, "/v1/explain", body)
    trace = explained.pop("trace")
    assert explained == authorized
    assert authorized["body"]["detail"] == "API key missing required scope 'dashboard:write'"
    assert facts_named({"trace": trace}, scopes=["dashboard:read"])
    k2_k4 = [s for s in trace["steps"] if s["title"] == "key.k2_k4"]
    assert [s["facts"]["missing_scope"] for s in k2_k4] == ["dashboard:write"]
    assert trace["decided_by"] == k2_k4[0]["rule"]


async def test_explain_refuses_bodies_as_their_own_endpoint_does(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    for body in (
        {"user": str(world["bob"].uuid), "project_id": 1, "action": "fly"},
        {"project_id": 1, "action": "read"},
        {"method": "GET", "path": "/api/users/@me/", "user": str(world["bob"].uuid), "authorization": "x"},
        {"method": "BREW", "path": "/"},
        [1],
    ):
        path = "/v1/authorize" if isinstance(body, dict) and "method" in body else "/v1/check"
        own = await client.post(path, json=body, headers=check_headers())
        explained = await client.post("/v1/explain", json=body, headers=check_headers())
        assert own.status_code == explained.status_code == 400
        assert explained.json() == own.json()
    bad_json = await client.post("/v1/explain", content=b"{", headers=check_headers())
    assert (bad_json.status_code, bad_json.json()["code"]) == (400, "parse_error")


async def test_explain_of_an_unknown_path_is_the_route_tables_answer(
    client: Client, seed: Seed, db_pool: asyncpg.Pool
) -> None:
    await seed.spec_world()
    body = {"method": "GET", "path": "/api/nowhere/"}
    authorized = await ask(client, db_pool, "/v1/authorize", body)
    explained = await ask(client, db_pool, "/v1/explain", body)
    trace = explained.pop("trace")
    assert explained == authorized
    assert authorized["status"] == 404
    assert trace["steps"][-1]["answer"] == {
        "allowed": False,
        "status": 404,
        "detail": authorized["body"]["detail"],
    }


async def test_only_service_tokens_may_explain(client: Client, seed: Seed) -> None:
    world = await seed.spec_world()
    body = {"user": str(world["alice"].uuid), "project_id": 1, "action": "read"}
    assert (await client.post("/v1/explain", json=body)).status_code == 401
    key = await seed.personal_api_key(world["alice"], ["*"])
    with_key = await client.post("/v1/explain", json=body, headers={"Authorization": f"Bearer {key}"})
    assert with_key.status_code == 401
    assert (await client.post("/v1/explain", json=body, headers=check_headers())).status_code == 200


def test_an_unknown_user_is_traced_to_authentication() -> None:
    decision, trace = EXPLAINER.check(
        INVALID_USER, CheckTarget(1, None, None, "read"), CHECKER.actions[("project", "*", "read")], None
    )
    assert (decision.status, decision.detail) == (401, "Authentication credentials were not provided.")
    assert [s.title for s in trace.steps if s.kind == "query"] == ["pipeline.auth"]
    assert_trace_ends_like(trace, False, 401, decision.detail)


async def test_openapi_documents_explain_and_not_the_page(client: Client) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    operation = schema["paths"]["/v1/explain"]["post"]
    assert operation["summary"].startswith("Explain a decision")
    assert "decided_by" in operation["description"]
    assert set(operation["responses"]) == {"200", "400", "401", "503"}
    answers = operation["responses"]["200"]["content"]["application/json"]["schema"]["oneOf"]
    assert [a["$ref"].rsplit("/", 1)[1] for a in answers] == ["CheckExplanation", "AuthorizeExplanation"]
    assert not [path for path in schema["paths"] if path.startswith("/ui")]


async def test_the_inspector_page_is_served_with_a_same_origin_policy(client: Client) -> None:
    page = await client.get("/ui/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for asset in ("inspector.js", "inspector.css"):
        assert f'"{asset}"' in page.text
        assert (await client.get(f"/ui/{asset}")).status_code == 200
    # Nothing the page loads names another origin.
    assert "http" not in page.text.replace("http-equiv", "")
