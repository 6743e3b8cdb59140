"""The decision API (SPEC §5.4): `/v1/check`, `/v1/check/batch`, `/v1/levels`, `/v1/authorize`,
`/v1/filter` and `/v1/subjects`, answered from the in-memory fact index.

Every handler runs in the same order: caller authentication (check or admin token), body validation
(§6 envelopes), `ensure_current` (503 when the instance is unsure), the bounded `min_revision` wait,
then the facts it needs are loaded (organizations lazily, all before any decision) and the decisions
are made synchronously, so every answer of one request is of one applied revision. No database
round trip happens once an organization is loaded.
"""

import gc
import time
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final, Literal, NamedTuple
from uuid import UUID

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import State
from msgspec import Meta

from acl_service.api import examples
from acl_service.api.auth import authenticate_decision
from acl_service.api.bodies import MAX_BATCH, NonNegativeInt, PositiveId, ResourceId, decode_body, text
from acl_service.api.metrics import metrics_of
from acl_service.api.openapi import RESOURCE_TYPE_SCHEMA, DocParameter, api_doc, schema_of
from acl_service.api.revision import record_revision
from acl_service.api.state import AppState
from acl_service.authz.decisions import (
    CHECK_TYPES,
    PROJECT,
    PROJECT_NOT_FOUND,
    Action,
    CheckAction,
    CheckResult,
    CheckTarget,
    DashboardLevels,
    Decider,
    Levels,
    ProjectLevels,
    RequestDecision,
    ResourceLevels,
    ResourceTypeLevels,
    Subject,
    dashboard_levels,
    list_filter,
    project_levels,
    resource_levels,
    resource_type_levels,
    subjects,
)
from acl_service.authz.evaluator import AccessEvaluator, SubjectAccess
from acl_service.authz.pipeline import targets
from acl_service.authz.request_facts import USER_NOT_FOUND, RequestFacts
from acl_service.authz.routes import RESOURCE_ID, RouteMatch
from acl_service.domain import SCOPE_OBJECTS, OrganizationView, Project
from acl_service.errors import InvalidInput, NotFound

DECIDER_KEY: Final = "acl_decider"
FROZEN_AT_KEY: Final = "acl_answers_frozen_at"
# The decision memos' entries live until evicted and hold no reference cycles, but every full pass
# of the cyclic collector scans those not frozen: with 40,000 of them a pass took 10-22 ms, landing
# on one batch in ten (`python bench/batch_profile.py`: slowest cold batch 38-40 ms, 31-32 frozen).
# So, as the fact index does with its views, they are frozen every so many.
FREEZE_EVERY_ANSWERS: Final = 20_000
MAX_BIGINT: Final = 2**63 - 1
ORGANIZATION_NOT_FOUND: Final = "Organization not found."

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
ApiKeyValue = Annotated[str, text(256)]
RequestPath = Annotated[str, text(8192)]
ResourceType = Annotated[str, Meta(max_length=64)]
SUBJECTS_QUERY: Final = (
    DocParameter("project_id", schema_of(PositiveId), "The project.", required=True),
    DocParameter("resource", RESOURCE_TYPE_SCHEMA, "The resource type.", required=True),
    DocParameter("resource_id", schema_of(ResourceId), "The object; absent for `resource=project`."),
    DocParameter("min_revision", schema_of(NonNegativeInt), "Wait until this revision is applied."),
)


# -- request bodies ---------------------------------------------------------------------------------


class ResourceRef(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    type: ResourceType
    id: str | int | None = None


class CheckItem(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    project_id: PositiveId
    action: Action
    user: UUID | None = None
    api_key: ApiKeyValue | None = None
    resource: ResourceRef | None = None


class CheckRequest(CheckItem, forbid_unknown_fields=True, frozen=True):
    min_revision: NonNegativeInt | None = None


class BatchRequest(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    checks: Annotated[list[CheckItem], Meta(max_length=MAX_BATCH)]
    min_revision: NonNegativeInt | None = None


class LevelsRequest(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    user: UUID
    project_id: PositiveId
    dashboards: Annotated[list[PositiveId], Meta(max_length=MAX_BATCH)] = []
    resources: Annotated[list[ResourceRef], Meta(max_length=MAX_BATCH)] = []
    resource_types: Annotated[list[ResourceType], Meta(max_length=MAX_BATCH)] = []
    min_revision: NonNegativeInt | None = None


class AuthorizeRequest(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    method: Method
    path: RequestPath
    authorization: str | None = None
    user: UUID | None = None
    body: dict[str, Any] | None = None
    min_revision: NonNegativeInt | None = None


class FilterRequest(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    user: UUID
    resource: ResourceType
    project_id: PositiveId | None = None
    organization_id: UUID | None = None
    admin_include_all: bool = False
    min_revision: NonNegativeInt | None = None


# -- responses ------------------------------------------------------------------------------------


class CheckResponse(msgspec.Struct):
    allowed: bool
    status: int
    detail: str | None
    levels: Levels
    reason: tuple[str, ...]
    revision: int


class BatchResponse(msgspec.Struct):
    results: list[CheckResult]
    revision: int


class LevelsResponse(msgspec.Struct):
    project: ProjectLevels
    dashboards: list[DashboardLevels]
    resources: list[ResourceLevels]  # or a subclass: openapi.ENCODED_SUBCLASSES
    resource_types: list[ResourceTypeLevels]
    revision: int


class Envelope(msgspec.Struct):
    type: str
    code: str | None
    detail: str | None
    attr: str | None


class UserIdentity(msgspec.Struct):
    id: int
    uuid: UUID


class AuthorizeResponse(msgspec.Struct):
    allowed: bool
    status: int
    body: Envelope | None
    user: UserIdentity | None
    project_id: int | None
    action: str | None
    scope_object: str | None
    required_scopes: tuple[str, ...] | None
    levels: Levels | None
    revision: int


class FilterResponse(msgspec.Struct):
    mode: str
    ids: list[str]
    include_created_by: bool
    created_by: int | None
    revision: int


class SubjectsResponse(msgspec.Struct):
    users: list[SubjectAccess]
    total_count: int
    revision: int


ENVELOPE_TYPES: Final = {400: "validation_error", 401: "authentication_error", 403: "authentication_error"}


# -- validation beyond the types ------------------------------------------------------------------------


def check_target(decider: Decider, item: CheckItem, prefix: str) -> tuple[CheckTarget, CheckAction]:
    """§5.4/§6 rules a type cannot say: one subject, a check type, a valid id, an available action."""
    if (item.user is None) == (item.api_key is None):
        raise InvalidInput("Provide exactly one of user, api_key.", code="invalid", attr=f"{prefix}user")
    resource = resource_id = None
    if item.resource is not None:
        resource = valid_type(item.resource.type, f"{prefix}resource__type")
        if item.resource.id is not None:
            resource_id = valid_id(item.resource.id, f"{prefix}resource__id")
    target = CheckTarget(item.project_id, resource, resource_id, item.action)
    return target, decider.require_action(target, f"{prefix}action")


def valid_type(resource: str, attr: str, allowed: Iterable[str] = CHECK_TYPES) -> str:
    if resource not in allowed:
        raise InvalidInput(f'"{resource}" is not a valid choice.', code="invalid_choice", attr=attr)
    return resource


def valid_id(value: str | int, attr: str) -> str:
    resource_id = str(value)
    if len(resource_id) > 36 or not RESOURCE_ID.match(resource_id):
        raise InvalidInput("Enter a valid resource id.", code="invalid", attr=attr)
    return resource_id


def query_int(request: Request[Any, Any, State], name: str, minimum: int, required: bool) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        if required:
            raise InvalidInput("This field is required.", code="required", attr=name)
        return None
    try:
        value = int(raw.strip(), 10)
    except ValueError:
        raise InvalidInput("A valid integer is required.", code="invalid", attr=name) from None
    if value < minimum:
        raise InvalidInput(
            f"Ensure this value is greater than or equal to {minimum}.", code="min_value", attr=name
        )
    if value > MAX_BIGINT:
        raise InvalidInput(
            f"Ensure this value is less than or equal to {MAX_BIGINT}.", code="max_value", attr=name
        )
    return value


# -- facts -------------------------------------------------------------------------------------------


def decider_of(state: State, app_state: AppState) -> Decider:
    found = state.get(DECIDER_KEY)
    if found is None:
        settings = app_state.settings
        found = Decider(
            app_state.engine, app_state.routes, settings.policy_dir, memo_size=settings.decision_cache_size
        )
        state[DECIDER_KEY] = found
    assert isinstance(found, Decider)
    return found


# -- controllers ----------------------------------------------------------------------------------------


class DecisionController(Controller):
    path = "/v1"
    tags = ["decisions"]  # noqa: RUF012  (Litestar reads it as a class attribute)

    @post(
        "/check",
        status_code=200,
        opt=api_doc(body=CheckRequest, body_examples=examples.CHECK, response_examples=examples.CHECK_ANSWER),
    )
    async def check(self, request: Request[Any, Any, State]) -> CheckResponse:
        """Decide one action of a user or a personal API key.

        Evaluates the action exactly as the equivalent admin request (SPEC §5.4 table), key checks
        included for keys, and answers HTTP 200 with `allowed`, the refused request's `status` and
        `detail`, the levels that decided and the revision used. Malformed bodies and unavailable
        actions are 400s; `min_revision` waits for that revision (503 past
        `ACL_MIN_REVISION_WAIT_MS`).
        """
        started = time.perf_counter()
        app_state, decider = begin_decision(request)
        body = decode_body(await request.body(), CheckRequest)
        target, action = check_target(decider, body, "")
        facts = await RequestFacts.ready(
            app_state.index, body.min_revision, app_state.settings.min_revision_wait_ms
        )
        await facts.load([facts.organization_of(body.project_id)])
        record_revision(request.scope, facts.revision)
        return answer_check(request.app.state, decider, facts, body, target, action, started)

    @post("/check/batch", status_code=200, opt=api_doc(body=BatchRequest, body_examples=examples.CHECK_BATCH))
    async def check_batch(self, request: Request[Any, Any, State]) -> BatchResponse:
        """Decide up to 10,000 checks on one revision.

        Each item is a `/v1/check` body without `min_revision`; results come in request order, all
        of one applied revision. A malformed item is a 400 whose `attr` starts with `checks__<i>__`.
        """
        started = time.perf_counter()
        app_state, decider = begin_decision(request)
        body = decode_body(await request.body(), BatchRequest)
        planned = [check_target(decider, item, f"checks__{i}__") for i, item in enumerate(body.checks)]
        facts = await RequestFacts.ready(
            app_state.index, body.min_revision, app_state.settings.min_revision_wait_ms
        )
        await facts.load({facts.organization_of(item.project_id) for item in body.checks})
        record_revision(request.scope, facts.revision)
        # From here on nothing awaits: every item is decided on the same facts.
        subjects_seen: dict[tuple[UUID | None, str | None], Subject] = {}
        results = []
        for item, (target, action) in zip(body.checks, planned, strict=True):
            subject_key = (item.user, item.api_key)
            subject = subjects_seen.get(subject_key)
            if subject is None:
                subject = subjects_seen[subject_key] = facts.subject(item.user, item.api_key)
            view = facts.view_of_project(item.project_id)
            results.append(decider.check(subject, target, action, view))
        count_decisions(request.app.state, "check_batch", (result.allowed for result in results), started)
        freeze_new_answers(request.app.state, decider)
        return BatchResponse(results, facts.revision)

    @post(
        "/levels",
        status_code=200,
        opt=api_doc(body=LevelsRequest, errors=[404], body_examples=examples.LEVELS),
    )
    async def levels(self, request: Request[Any, Any, State]) -> LevelsResponse:
        """A user's levels on a project, its dashboards, objects and resource types.

        The project levels plus, for each dashboard, object and resource type asked for, the levels
        of SPEC §3.5-3.11; unknown ids answer `exists: false`. An unknown or inactive user, or an
        unknown project, is a 404.
        """
        started = time.perf_counter()
        app_state, decider = begin_decision(request)
        body = decode_body(await request.body(), LevelsRequest)
        wanted = [
            (valid_type(ref.type, f"resources__{i}__type"), _required_id(ref, f"resources__{i}__id"))
            for i, ref in enumerate(body.resources)
        ]
        # §3.6 defines resource-wide levels for every type, `project` and `organization` included.
        for i, resource in enumerate(body.resource_types):
            valid_type(resource, f"resource_types__{i}", SCOPE_OBJECTS)
        facts = await RequestFacts.ready(
            app_state.index, body.min_revision, app_state.settings.min_revision_wait_ms
        )
        await facts.load([facts.organization_of(body.project_id)])
        record_revision(request.scope, facts.revision)
        evaluator, user_id = facts.evaluator_for_user(body.user, body.project_id, decider)
        project_id = body.project_id
        response = LevelsResponse(
            project=project_levels(evaluator, user_id, project_id),
            dashboards=[dashboard_levels(evaluator, user_id, project_id, d) for d in body.dashboards],
            resources=[resource_levels(evaluator, user_id, project_id, t, rid) for t, rid in wanted],
            resource_types=[
                resource_type_levels(evaluator, user_id, project_id, t) for t in body.resource_types
            ],
            revision=facts.revision,
        )
        count_decisions(request.app.state, "levels", (), started)
        return response

    @post("/authorize", status_code=200, opt=api_doc(body=AuthorizeRequest, body_examples=examples.AUTHORIZE))
    async def authorize(self, request: Request[Any, Any, State]) -> AuthorizeResponse:
        """Authorize an admin-API request of the main application.

        Runs the request pipeline (SPEC §3.14) on the route table for `method` and `path`, as the
        bearer key in `authorization` or the `user`, with `body` for the body rules; the answer
        carries the error envelope the API server should send when refused.
        """
        started = time.perf_counter()
        app_state, decider = begin_decision(request)
        body = decode_authorize_body(await request.body())
        facts = await _ready_facts(app_state, body.min_revision)
        resolved = await resolve_authorize(decider, facts, body)
        decision = resolved if isinstance(resolved, RequestDecision) else decider.authorize_request(*resolved)
        record_revision(request.scope, facts.revision)
        count_decisions(request.app.state, "authorize", (decision.allowed,), started)
        return authorize_response(decision, facts.revision)

    @post(
        "/filter",
        status_code=200,
        opt=api_doc(
            body=FilterRequest,
            errors=[404],
            body_examples=examples.FILTER,
            response_examples=examples.FILTER_ANSWER,
        ),
    )
    async def filter(self, request: Request[Any, Any, State]) -> FilterResponse:
        """The list filter of one resource type for a user.

        SPEC §3.10: `all`, `only` or `except` a set of ids, and whether the user's own objects stay
        visible. For `resource: project`, the projects the user can see in the organization. An
        unknown user, project or organization is a 404.
        """
        started = time.perf_counter()
        app_state, decider = begin_decision(request)
        body = decode_body(await request.body(), FilterRequest)
        resource = valid_type(body.resource, "resource", SCOPE_OBJECTS)
        if resource != PROJECT and body.project_id is None:
            raise InvalidInput("This field is required.", code="required", attr="project_id")
        if resource == PROJECT and body.project_id is None and body.organization_id is None:
            raise InvalidInput("This field is required.", code="required", attr="organization_id")
        facts = await RequestFacts.ready(
            app_state.index, body.min_revision, app_state.settings.min_revision_wait_ms
        )
        organization = body.organization_id
        if body.project_id is not None:
            # The project decides the organization; one named besides it must be the same.
            organization = facts.organization_of(body.project_id)
            if body.organization_id not in (None, organization):
                organization = None
        await facts.load([organization])
        record_revision(request.scope, facts.revision)
        found = facts.index.user_by_uuid(body.user)
        if found is None or not found.is_active:
            raise NotFound(USER_NOT_FOUND, attr="user")
        view = facts.views.get(organization) if organization is not None else None
        if body.project_id is not None and (view is None or body.project_id not in view.projects):
            raise NotFound(PROJECT_NOT_FOUND)
        if view is None:
            raise NotFound(ORGANIZATION_NOT_FOUND)
        evaluator = AccessEvaluator(decider.engine, view, view.users)
        answer = list_filter(evaluator, found.id, body.project_id or 0, resource, body.admin_include_all)
        count_decisions(request.app.state, "filter", (), started)
        return FilterResponse(
            mode=answer.mode,
            ids=list(answer.ids),
            include_created_by=answer.include_created_by,
            created_by=found.id if answer.include_created_by else None,
            revision=facts.revision,
        )

    @get("/subjects", opt=api_doc(query=SUBJECTS_QUERY, errors=[404]))
    async def subjects(self, request: Request[Any, Any, State]) -> SubjectsResponse:
        """The users with access to a project or an object.

        SPEC §3.8 for the object (`resource_id`, required except for `resource=project`), ordered by
        level then uuid, descending; an unknown project or object is a 404.
        """
        started = time.perf_counter()
        app_state, decider = begin_decision(request)
        project_id = query_int(request, "project_id", 1, required=True)
        assert project_id is not None
        resource = request.query_params.get("resource")
        if not resource:
            raise InvalidInput("This field is required.", code="required", attr="resource")
        valid_type(resource, "resource", SCOPE_OBJECTS)
        resource_id = request.query_params.get("resource_id") or None
        if resource_id is None and resource != PROJECT:
            raise InvalidInput("This field is required.", code="required", attr="resource_id")
        if resource_id is not None:
            valid_id(resource_id, "resource_id")
        min_revision = query_int(request, "min_revision", 0, required=False)
        facts = await RequestFacts.ready(
            app_state.index, min_revision, app_state.settings.min_revision_wait_ms
        )
        await facts.load([facts.organization_of(project_id)])
        record_revision(request.scope, facts.revision)
        view = facts.view_of_project(project_id)
        if view is None:
            raise NotFound(PROJECT_NOT_FOUND)
        evaluator = AccessEvaluator(decider.engine, view, view.users)
        found = subjects(evaluator, project_id, resource, resource_id or str(project_id))
        if found is None:
            raise NotFound()
        count_decisions(request.app.state, "subjects", (), started)
        return SubjectsResponse(found, len(found), facts.revision)


async def _ready_facts(app_state: AppState, min_revision: int | None) -> RequestFacts:
    return await RequestFacts.ready(app_state.index, min_revision, app_state.settings.min_revision_wait_ms)


def answer_check(
    state: State,
    decider: Decider,
    facts: RequestFacts,
    body: CheckRequest,
    target: CheckTarget,
    action: CheckAction,
    started: float,
) -> CheckResponse:
    """A validated check decided on facts already loaded, and counted: `/v1/check`'s answer, on
    either of its paths (`api.check_fast_path`)."""
    result = decider.check(
        facts.subject(body.user, body.api_key), target, action, facts.view_of_project(body.project_id)
    )
    count_decisions(state, "check", (result.allowed,), started)
    freeze_new_answers(state, decider)
    return CheckResponse(
        result.allowed, result.status, result.detail, result.levels, result.reason, facts.revision
    )


def freeze_new_answers(state: State, decider: Decider) -> None:
    added = decider.answers_added
    if added - state.get(FROZEN_AT_KEY, 0) >= FREEZE_EVERY_ANSWERS:
        gc.freeze()
        state[FROZEN_AT_KEY] = added


def begin_decision(request: Request[Any, Any, State]) -> tuple[AppState, Decider]:
    state = request.app.state
    app_state = AppState.of(state)
    # Errors before any decision still report the revision this instance has applied.
    record_revision(request.scope, app_state.index.applied_revision)
    authenticate_decision(request.headers, app_state.settings.service_tokens)
    return app_state, decider_of(state, app_state)


def count_decisions(state: State, endpoint: str, allowed: Iterable[bool], started: float) -> None:
    metrics = metrics_of(state)
    verdicts = list(allowed)
    granted = sum(verdicts)
    metrics.count_decisions(endpoint, granted, len(verdicts) - granted)
    metrics.observe_seconds(time.perf_counter() - started)


def _required_id(ref: Any, attr: str) -> str:
    if ref.id is None:
        raise InvalidInput("This field is required.", code="required", attr=attr)
    return valid_id(ref.id, attr)


def _bearer_key(authorization: str | None) -> str | None:
    """The personal API key of an `Authorization` value; None for a non-Bearer value (no caller)."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


class AuthorizeInputs(NamedTuple):
    """What an authorize body names, ready for `Decider.authorize_request` (or an explanation)."""

    subject: Subject
    match: RouteMatch
    body: Mapping[str, Any] | None
    project: Project | None
    view: OrganizationView | None


def decode_authorize_body(raw: bytes) -> AuthorizeRequest:
    body = decode_body(raw, AuthorizeRequest)
    if body.authorization is not None and body.user is not None:
        raise InvalidInput(
            "Provide at most one of authorization, user.", code="invalid", attr="authorization"
        )
    return body


async def resolve_authorize(
    decider: Decider, facts: RequestFacts, body: AuthorizeRequest
) -> AuthorizeInputs | RequestDecision:
    """The route, caller, project and organization view of an authorize body, loaded; or the 404,
    405 or 400 of a request no route matches, as its decision."""
    matched = decider.match_request(body.method, body.path)
    if not isinstance(matched, RouteMatch):
        await facts.load(())
        return matched
    project_id, organization_id = targets(matched, body.body)
    organization = facts.organization_of(project_id) or organization_id
    await facts.load([organization])
    # A non-Bearer value counts as no credentials; any Bearer value is a personal API key (§5.4).
    key = _bearer_key(body.authorization)
    subject = facts.subject(body.user, None) if body.user is not None else facts.subject(None, key)
    view = facts.views.get(organization) if organization is not None else None
    return AuthorizeInputs(subject, matched, body.body, _project_in(view, project_id), view)


def _project_in(view: OrganizationView | None, project_id: int | None) -> Project | None:
    if view is None or project_id is None:
        return None
    return view.projects.get(project_id)


def authorize_response(decision: RequestDecision, revision: int) -> AuthorizeResponse:
    envelope = None
    if not decision.allowed:
        envelope = Envelope(
            ENVELOPE_TYPES.get(decision.status, "invalid_request"),
            decision.code,
            decision.detail,
            decision.attr,
        )
    user = decision.user
    return AuthorizeResponse(
        allowed=decision.allowed,
        status=decision.status,
        body=envelope,
        user=UserIdentity(user.id, user.uuid) if user is not None else None,
        project_id=decision.project_id,
        action=decision.action,
        scope_object=decision.scope_object,
        required_scopes=decision.required_scopes,
        levels=decision.levels,
        revision=revision,
    )
