"""`POST /v1/explain`: a `/v1/check` or `/v1/authorize` body, answered with that endpoint's decision
plus the trace of how it was reached (`acl_service.authz.explain`).

The body says which endpoint it stands for: one with `method` or `path` is an authorize body,
any other a check body; each is validated exactly as its own endpoint validates it. Check tokens may
call it, like every decision endpoint.
"""

import time
from typing import Any, Final

import msgspec
from litestar import Controller, Request, post
from litestar.datastructures import State

from acl_service.api.bodies import decode_body, decode_untyped
from acl_service.api.decisions import (
    AuthorizeRequest,
    AuthorizeResponse,
    CheckRequest,
    CheckResponse,
    _authorize_response,
    _bearer_key,
    _begin,
    _count,
    _project_in,
    check_target,
)
from acl_service.api.revision import record_revision
from acl_service.api.state import AppState
from acl_service.authz.decisions import Decider
from acl_service.authz.explain import Explainer, Trace
from acl_service.authz.pipeline import targets
from acl_service.authz.request_facts import RequestFacts
from acl_service.authz.routes import RouteMatch
from acl_service.errors import InvalidInput

EXPLAINER_KEY: Final = "acl_explainer"
# Fields only an authorize body has: their presence says which decision is asked for.
AUTHORIZE_FIELDS: Final = ("method", "path")


class CheckExplanation(CheckResponse):
    trace: Trace


class AuthorizeExplanation(AuthorizeResponse):
    trace: Trace


def explainer_of(state: State, app_state: AppState, decider: Decider) -> Explainer:
    found = state.get(EXPLAINER_KEY)
    if found is None:
        found = state[EXPLAINER_KEY] = Explainer(decider, app_state.settings.policy_dir)
    assert isinstance(found, Explainer)
    return found


def is_authorize_body(raw: bytes) -> bool:
    document = decode_untyped(raw) if raw.strip() else {}
    return isinstance(document, dict) and any(field in document for field in AUTHORIZE_FIELDS)


class ExplainController(Controller):
    path = "/v1"
    tags = ["decisions"]  # noqa: RUF012  (Litestar reads it as a class attribute)

    @post("/explain", status_code=200)
    async def explain(self, request: Request[Any, Any, State]) -> CheckExplanation | AuthorizeExplanation:
        """Explain a decision: the `/v1/check` or `/v1/authorize` answer plus its trace.

        The body is a `/v1/check` body, or a `/v1/authorize` body (one with `method` and `path`). The
        answer is that endpoint's answer, always the same decision, with `trace`: the SPEC §3 steps
        evaluated, in order, each with the stored facts it read (membership, explicit membership,
        access-control rows by id with whether they apply, roles, dashboard restriction and
        privilege, the key's scopes) and the `policies/` file, line and row of the rule that decided
        it; `trace.decided_by` names the rule that refused. 400 for a malformed body, 401 for a bad
        caller, 503 while the instance is unsure.
        """
        started = time.perf_counter()
        app_state, decider = _begin(request)
        raw = await request.body()
        explainer = explainer_of(request.app.state, app_state, decider)
        facts_wait = app_state.settings.min_revision_wait_ms
        if is_authorize_body(raw):
            authorize_body = decode_body(raw, AuthorizeRequest)
            return await _explain_request(request, explainer, authorize_body, facts_wait, started)
        body = decode_body(raw, CheckRequest)
        target, action = check_target(decider, body, "")
        facts = await RequestFacts.ready(app_state.index, body.min_revision, facts_wait)
        await facts.load([facts.organization_of(body.project_id)])
        record_revision(request.scope, facts.revision)
        subject = facts.subject(body.user, body.api_key)
        result, trace = explainer.check(subject, target, action, facts.view_of_project(body.project_id))
        _count(request, "explain", (result.allowed,), started)
        return CheckExplanation(
            result.allowed, result.status, result.detail, result.levels, result.reason, facts.revision, trace
        )


async def _explain_request(
    request: Request[Any, Any, State],
    explainer: Explainer,
    body: AuthorizeRequest,
    wait_ms: int,
    started: float,
) -> AuthorizeExplanation:
    if body.authorization is not None and body.user is not None:
        raise InvalidInput(
            "Provide at most one of authorization, user.", code="invalid", attr="authorization"
        )
    app_state = AppState.of(request.app.state)
    facts = await RequestFacts.ready(app_state.index, body.min_revision, wait_ms)
    matched = explainer.decider.match_request(body.method, body.path)
    trace = None
    if isinstance(matched, RouteMatch):
        project_id, organization_id = targets(matched, body.body)
        organization = facts.organization_of(project_id) or organization_id
        await facts.load([organization])
        key = _bearer_key(body.authorization)
        subject = facts.subject(body.user, None) if body.user is not None else facts.subject(None, key)
        view = facts.views.get(organization) if organization is not None else None
        decision, trace = explainer.request(subject, matched, body.body, _project_in(view, project_id), view)
    else:
        await facts.load(())
        decision = matched
    record_revision(request.scope, facts.revision)
    _count(request, "explain", (decision.allowed,), started)
    answer = _authorize_response(decision, facts.revision)
    if trace is None:
        trace = explainer.unmatched(decision)
    return AuthorizeExplanation(**msgspec.structs.asdict(answer), trace=trace)
