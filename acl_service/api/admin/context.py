"""One admin-API request: its transaction, caller, route and the permission steps of SPEC §3.14.

Every admin handler opens `admin_request(...)` first. In order (SPEC §5.1): a transaction (a write
takes the next revision, so writers serialize and a failure consumes none), authentication, the
route of the request in the route table (path parameters validated), the facts of the project or
organization it touches read inside that transaction, then pipeline steps 2-6. `AdminRequest.body()`
validates the body and runs step 7. The revision the response reports is kept on the request state
for the `X-Acl-Revision` header. A write's changelog rows name the request id and the actor: the one
the headers announce is named with the revision, and corrected once authentication has said who
the caller is (`audit_actor`).
"""

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar
from uuid import UUID

import msgspec
from litestar import Request
from litestar.datastructures import Headers, State

from acl_service.api.auth import authenticate_admin, bearer_token, parse_acting_user
from acl_service.api.bodies import decode_body, decode_untyped
from acl_service.api.request_id import request_id_of
from acl_service.api.revision import record_revision
from acl_service.api.state import AppState
from acl_service.authz.evaluator import AccessEvaluator
from acl_service.authz.pipeline import Authorization, RequestScope, authorize, authorize_body, targets
from acl_service.authz.routes import RouteMatch
from acl_service.domain import Caller, UserRef
from acl_service.errors import (
    AuthenticationFailed,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    ServiceError,
    ServiceUnavailable,
)
from acl_service.settings import PERSONAL_API_KEY_PREFIX
from acl_service.store.facts import Connection, load_organization_view, load_project, touch_key
from acl_service.store.writes import Audit, WriteTransaction, current_revision, write_transaction

T = TypeVar("T")

# Validates a body before the permission steps, for routes whose target is named in the body
# (SPEC §5.1: POST /api/projects/ and POST …/resources/ validate their body first).
BodyFirst = Callable[[Connection, Caller, bytes], Awaitable[None]]


def authorization_error(authorization: Authorization) -> ServiceError:
    """The domain error of a failed pipeline step (the policy gives status, code and detail)."""
    detail, code = authorization.detail, authorization.code
    if authorization.status == 400:
        return InvalidInput(detail, code=code)
    if authorization.status == 401:
        return AuthenticationFailed(detail) if code == "authentication_failed" else NotAuthenticated(detail)
    if authorization.status == 404:
        return NotFound(detail)
    return PermissionDenied(detail)


class AdminRequest:
    """What an admin handler works with once the request may proceed."""

    def __init__(
        self,
        state: AppState,
        conn: Connection,
        caller: Caller,
        match: RouteMatch,
        scope: RequestScope,
        raw_body: bytes,
        revision: int,
    ) -> None:
        self.state = state
        self.conn = conn
        self.caller = caller
        self.match = match
        self.scope = scope
        self.raw_body = raw_body
        self.revision = revision

    @property
    def is_system(self) -> bool:
        return self.caller.kind == "system"

    @property
    def user(self) -> UserRef | None:
        return self.caller.user

    def param(self, name: str) -> Any:
        return self.match.params[name]

    def evaluator(self) -> AccessEvaluator:
        view = self.scope.view
        if view is None:
            raise NotFound()
        return AccessEvaluator(self.state.engine, view, view.users)

    def body(self, body_type: type[T], *, rules: bool = True) -> T:
        """The validated body; then the route's body rules (RESTRICT, ACFLAG, MOVE, MODIFY).

        With `rules=False` the handler validates further first and then calls `body_rules` itself
        (access-control PUTs: validations (1)-(5) of SPEC §5.3.9 come before MODIFY).
        """
        body = decode_body(self.raw_body, body_type)
        if rules:
            self.body_rules(body)
        return body

    def body_rules(self, body: object) -> None:
        """Step 7 of §3.14 over a validated body."""
        if self.match.route.body_rules:
            present: Mapping[str, Any] = msgspec.to_builtins(body) if isinstance(body, msgspec.Struct) else {}
            outcome = authorize_body(self.state.engine, self.match, self.caller, self.scope, present)
            if not outcome.allowed:
                raise authorization_error(outcome)

    async def reload_scope(self, body: Mapping[str, Any] | None = None) -> RequestScope:
        """Re-read the facts after this request changed them (for caller-dependent response fields)."""
        self.scope = await load_scope(self.conn, self.match, body)
        return self.scope


async def load_scope(conn: Connection, match: RouteMatch, body: Mapping[str, Any] | None) -> RequestScope:
    project_id, organization_id = targets(match, body)
    project = await load_project(conn, project_id) if project_id is not None else None
    organization = project.organization_id if project is not None else organization_id
    view = await load_organization_view(conn, organization) if organization is not None else None
    return RequestScope(project=project, view=view)


def _body_for_targets(raw: bytes) -> Mapping[str, Any] | None:
    """An untyped read of the body, for routes whose target is named in it (POST /api/projects/)."""
    try:
        value = decode_untyped(raw) if raw.strip() else None
    except InvalidInput:
        return None
    return value if isinstance(value, dict) else None


@asynccontextmanager
async def admin_request(
    request: Request[Any, Any, State], *, write: bool, body_first: BodyFirst | None = None
) -> AsyncIterator[AdminRequest]:
    state = AppState.of(request.app.state)
    raw_body = await request.body()
    if write:
        audit = Audit(actor=expected_actor(request.headers), request_id=request_id_of(request.scope))
        async with write_transaction(state.pool, audit) as tx:
            # Until the write commits, the response reports the revision still current.
            record_revision(request.scope, tx.revision - 1)
            yield await _admitted(request, state, tx.conn, raw_body, tx.revision, body_first, tx)
        record_revision(request.scope, tx.revision)
        await _applied_here(state, tx.revision)
        return
    async with state.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        revision = await current_revision(conn)
        record_revision(request.scope, revision)
        yield await _admitted(request, state, conn, raw_body, revision, body_first)


async def _applied_here(state: AppState, revision: int) -> None:
    """Read-your-writes (SPEC §2): answer a write once this instance's fact index has applied it.

    The write is committed either way; past `ACL_MIN_REVISION_WAIT_MS` it is still answered.
    """
    with contextlib.suppress(ServiceUnavailable):
        await state.index.wait_for_revision(revision, state.settings.min_revision_wait_ms)


async def _admitted(
    request: Request[Any, Any, State],
    state: AppState,
    conn: Connection,
    raw_body: bytes,
    revision: int,
    body_first: BodyFirst | None = None,
    write: WriteTransaction | None = None,
) -> AdminRequest:
    """Authentication, route, facts and pipeline steps 2-6, in SPEC §5.1's order."""
    caller = await authenticate_admin(request.headers, state.settings.service_tokens, conn)
    if write is not None:
        await write.attribute_to(audit_actor(caller))
    if caller.key is not None:
        await touch_key(state.pool, caller.key.id)
    match = state.routes.match(request.method, request.url.path, request.query_params)
    if body_first is not None:
        await body_first(conn, caller, raw_body)
    untyped_body = _body_for_targets(raw_body)
    scope = await load_scope(conn, match, untyped_body)
    # The body names the scope object of POST …/resources/ (its `resource`), so ACP and the key
    # scopes need it; for every other route the path or query already named it.
    outcome = authorize(state.engine, match, caller, scope, body=untyped_body)
    if not outcome.allowed:
        raise authorization_error(outcome)
    return AdminRequest(state, conn, caller, match, scope, raw_body, revision)


def expected_actor(headers: Headers) -> str:
    """The `audit_actor` the headers announce, named before authentication decides.

    Named in the revision's own round trip; authentication then corrects it if needed
    (`WriteTransaction.attribute_to`), so a wrong guess costs a statement, never a wrong record. A
    key's id needs a lookup: key writes always take that statement.
    """
    try:
        token = bearer_token(headers)
        acting_user = parse_acting_user(headers)
    except ServiceError:
        return "system"
    if token is None or token.startswith(PERSONAL_API_KEY_PREFIX):
        return "system"
    return "token:admin" if acting_user is None else f"user:{acting_user}"


def audit_actor(caller: Caller) -> str:
    """The changelog's `actor` for a caller (SPEC §5.1: only admin tokens make system calls)."""
    if caller.key is not None:
        return f"key:{caller.key.id}"
    if caller.user is not None:
        return f"user:{caller.user.uuid}"
    return "token:admin"


def acting_user_uuid(admin: AdminRequest) -> UUID | None:
    return admin.user.uuid if admin.user is not None else None
