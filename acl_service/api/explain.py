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
from litestar.openapi import ResponseSpec

from acl_service.api.bodies import decode_body, decode_untyped
from acl_service.api.decisions import (
    AuthorizeRequest,
    AuthorizeResponse,
    CheckRequest,
    CheckResponse,
    Envelope,
    authorize_response,
    begin_decision,
    check_target,
    count_decisions,
    decode_authorize_body,
    resolve_authorize,
)
from acl_service.api.openapi import api_doc
from acl_service.api.revision import record_revision
from acl_service.api.state import AppState
from acl_service.authz.decisions import Decider, RequestDecision
from acl_service.authz.explain import Explainer, Trace
from acl_service.authz.request_facts import RequestFacts

EXPLAINER_KEY: Final = "acl_explainer"
# Fields only an authorize body has: their presence says which decision is asked for.
AUTHORIZE_FIELDS: Final = ("method", "path")


EXPLAIN_DESCRIPTION: Final = """\
The body is a `/v1/check` body, or a `/v1/authorize` body (one with `method` or `path`), validated as
that endpoint validates it. The answer is that endpoint's answer, always the same decision, plus
`trace`: the SPEC §3 steps evaluated, in order, as a flat list of steps with a `depth` (a tree in
document order). `kind` is `decision` (one §3 function for the user and a target), `request` (the
§3.14 pipeline of the equivalent request), `query` (one policy query: `answer`, the deciding `rule`,
its `policy` file, line and row text, and the `facts` it read), `fact` (a stored fact: the user, the
key and its scopes, the membership and its level, the explicit membership, each access-control row by
id with its subject, level and whether it applies, roles held, a dashboard's restriction level and the
user's privilege) or `outcome` (the last step). `trace.decided_by` is the rule of the step that
refused (null when allowed) and `decided_by_policy` where it is written. Check and admin tokens may
call it."""


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

    @post(
        "/explain",
        status_code=200,
        summary="Explain a decision: the /v1/check or /v1/authorize answer plus its trace",
        description=EXPLAIN_DESCRIPTION,
        opt=api_doc(body=(CheckRequest, AuthorizeRequest)),
        responses={
            400: ResponseSpec(
                Envelope, description="Malformed body, as its own endpoint refuses it (SPEC §6)"
            ),
            401: ResponseSpec(Envelope, description="No check or admin service token"),
            503: ResponseSpec(Envelope, description="facts_unavailable or revision_not_reached; retry"),
        },
    )
    async def explain(self, request: Request[Any, Any, State]) -> CheckExplanation | AuthorizeExplanation:
        """Explain a decision: the `/v1/check` or `/v1/authorize` answer plus its trace."""
        started = time.perf_counter()
        app_state, decider = begin_decision(request)
        raw = await request.body()
        explainer = explainer_of(request.app.state, app_state, decider)
        facts_wait = app_state.settings.min_revision_wait_ms
        if is_authorize_body(raw):
            authorize_body = decode_authorize_body(raw)
            return await _explain_request(request, explainer, authorize_body, facts_wait, started)
        body = decode_body(raw, CheckRequest)
        target, action = check_target(decider, body, "")
        facts = await RequestFacts.ready(app_state.index, body.min_revision, facts_wait)
        await facts.load([facts.organization_of(body.project_id)])
        record_revision(request.scope, facts.revision)
        subject = facts.subject(body.user, body.api_key)
        result, trace = explainer.check(subject, target, action, facts.view_of_project(body.project_id))
        count_decisions(request.app.state, "explain", (result.allowed,), started)
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
    app_state = AppState.of(request.app.state)
    facts = await RequestFacts.ready(app_state.index, body.min_revision, wait_ms)
    resolved = await resolve_authorize(explainer.decider, facts, body)
    if isinstance(resolved, RequestDecision):
        decision, trace = resolved, explainer.unmatched(resolved)
    else:
        decision, trace = explainer.request(*resolved)
    record_revision(request.scope, facts.revision)
    count_decisions(request.app.state, "explain", (decision.allowed,), started)
    answer = authorize_response(decision, facts.revision)
    return AuthorizeExplanation(**msgspec.structs.asdict(answer), trace=trace)
