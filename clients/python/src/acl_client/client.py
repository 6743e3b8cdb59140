"""`Client` (sync) and `AsyncClient`: one typed method per acl-service endpoint a caller needs.

Both clients share everything but the send: `Call` builders describe a request (method, path, body,
how to decode the answer, whether it is a decision or a write), `Session` turns a Call into an
httpx request, an answer into a result or an `AclError`, and decides whether to retry. The clients
only loop `send` and `sleep`, one with httpx.Client and time.sleep, the other awaiting.

Session consistency: every successful write records its `X-Acl-Revision`; decisions then carry the
highest one as `min_revision`, so a check sent through another instance sees this client's writes.
"""

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final, Generic, Self, TypeVar
from uuid import UUID

import httpx
import msgspec

from acl_client.errors import ERRORS_BY_STATUS, AclError, TransportError
from acl_client.models import (
    AccessControl,
    AuthorizeResult,
    BatchResult,
    CheckResult,
    Collaborator,
    Dashboard,
    Envelope,
    ExplicitMember,
    FilterResult,
    LevelsResult,
    Member,
    Organization,
    Project,
    Resource,
    Role,
    RoleMembership,
    SubjectsResult,
    User,
)

T = TypeVar("T")
Json = dict[str, Any]
Id = int | str
Uuid = UUID | str

REVISION_HEADER: Final = "X-Acl-Revision"
# Only these 503s are transient by contract (SPEC §5.4); everything else is an answer.
RETRIED_CODES: Final = frozenset({"facts_unavailable", "revision_not_reached"})
PROJECTS: Final = "/api/projects"
ENCODER: Final = msgspec.json.Encoder()
ENVELOPE: Final = msgspec.json.Decoder(Envelope)


class ResourceRef(msgspec.Struct, frozen=True, omit_defaults=True):
    type: str
    id: Id | None = None


class CheckRequest(msgspec.Struct, frozen=True, omit_defaults=True):
    """One item of `check_batch`; the same fields as `check`."""

    project_id: int
    action: str
    user: Uuid | None = None
    api_key: str | None = None
    resource: ResourceRef | None = None


def check_request(
    project_id: int,
    action: str,
    user: Uuid | None,
    api_key: str | None,
    resource_type: str | None,
    resource_id: Id | None,
) -> CheckRequest:
    resource = None if resource_type is None else ResourceRef(resource_type, resource_id)
    return CheckRequest(project_id, action, None if user is None else str(user), api_key, resource)


def decoder(result: type[T]) -> Callable[[bytes], T]:
    return msgspec.json.Decoder(result).decode


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str
    decode: Callable[[bytes], T] | None  # None: the answer has no body (204)
    body: Any = None
    params: dict[str, str] | None = None
    decision: bool = False  # idempotent POST: retried, and carries min_revision
    write: bool = False  # records the revision it produced


CHECK: Final = decoder(CheckResult)
BATCH: Final = decoder(BatchResult)
LEVELS: Final = decoder(LevelsResult)
AUTHORIZE: Final = decoder(AuthorizeResult)
FILTER: Final = decoder(FilterResult)
SUBJECTS: Final = decoder(SubjectsResult)
USER: Final = decoder(User)
ORGANIZATION: Final = decoder(Organization)
PROJECT: Final = decoder(Project)
DASHBOARD: Final = decoder(Dashboard)
MEMBER: Final = decoder(Member)
EXPLICIT_MEMBER: Final = decoder(ExplicitMember)
COLLABORATOR: Final = decoder(Collaborator)
RESOURCE: Final = decoder(Resource)
ACCESS_CONTROL: Final = decoder(AccessControl)
ROLE: Final = decoder(Role)
ROLE_MEMBERSHIP: Final = decoder(RoleMembership)


def decision(path: str, result: Callable[[bytes], T], body: Json, min_revision: int | None) -> Call[T]:
    if min_revision is not None:
        body["min_revision"] = min_revision
    return Call("POST", path, result, body, decision=True)


def write(method: str, path: str, result: Callable[[bytes], T] | None, body: Any = None) -> Call[T]:
    return Call(method, path, result, body, write=True)


def deletion(path: str) -> Call[None]:
    return write("DELETE", path, None)


def fields(given: dict[str, Any]) -> Json:
    """The body of a write: the fields given, uuids as strings, None kept (it means null)."""
    return {name: str(value) if isinstance(value, UUID) else value for name, value in given.items()}


def access_controls_path(project_id: int, resource: str | None, resource_id: Id | None) -> str:
    base = f"{PROJECTS}/{project_id}"
    if resource is None:
        return f"{base}/access_controls/"
    if resource_id is None:
        return f"{base}/resource_access_controls/"
    if resource == "dashboard":
        return f"{base}/dashboards/{resource_id}/access_controls/"
    return f"{base}/resources/{resource}/{resource_id}/access_controls/"


@dataclass
class Session:
    """What both clients share: settings, the revision seen, request building and answer parsing."""

    token: str
    retries: int
    backoff: float
    session_consistency: bool
    revision: int = 0
    headers: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}

    def min_revision(self, given: int | None) -> int | None:
        if given is not None or not self.session_consistency or self.revision == 0:
            return given
        return self.revision

    def request(self, http: httpx.Client | httpx.AsyncClient, call: Call[Any]) -> httpx.Request:
        content = None if call.body is None else ENCODER.encode(call.body)
        return http.build_request(
            call.method, call.path, content=content, params=call.params, headers=self.headers
        )

    def result(self, call: Call[T], response: httpx.Response) -> T:
        if response.status_code >= 400:
            raise error_of(response)
        if call.write and (revision := response.headers.get(REVISION_HEADER)):
            self.revision = max(self.revision, int(revision))
        # 204: deletions, and an access-control PUT with a null level (SPEC §5.2).
        if call.decode is None or response.status_code == 204:
            return None  # type: ignore[return-value]  # Call[None] / Call[X | None]: no body
        return call.decode(response.content)

    def retry_delay(self, call: Call[Any], attempt: int, outcome: httpx.Response | Exception) -> float | None:
        """Seconds to wait before retrying `call`, or None to stop (never after a 4xx)."""
        if not call.decision or attempt >= self.retries:
            return None
        if isinstance(outcome, httpx.Response):
            if outcome.status_code != 503 or error_of(outcome).code not in RETRIED_CODES:
                return None
            retry_after = outcome.headers.get("Retry-After")
            if retry_after is not None:
                return float(retry_after)
        return float(self.backoff * 2**attempt)

    # -- the calls ------------------------------------------------------------------------------------

    def check(
        self,
        project_id: int,
        action: str,
        user: Uuid | None,
        api_key: str | None,
        resource_type: str | None,
        resource_id: Id | None,
        min_revision: int | None,
    ) -> Call[CheckResult]:
        item = check_request(project_id, action, user, api_key, resource_type, resource_id)
        return decision("/v1/check", CHECK, msgspec.to_builtins(item), self.min_revision(min_revision))

    def check_batch(self, checks: Sequence[CheckRequest], min_revision: int | None) -> Call[BatchResult]:
        body = {"checks": msgspec.to_builtins(list(checks))}
        return decision("/v1/check/batch", BATCH, body, self.min_revision(min_revision))

    def levels(
        self,
        user: Uuid,
        project_id: int,
        dashboards: Iterable[int],
        resources: Iterable[ResourceRef | tuple[str, Id]],
        resource_types: Iterable[str],
        min_revision: int | None,
    ) -> Call[LevelsResult]:
        refs = [ref if isinstance(ref, ResourceRef) else ResourceRef(*ref) for ref in resources]
        body = {
            "user": str(user),
            "project_id": project_id,
            "dashboards": list(dashboards),
            "resources": msgspec.to_builtins(refs),
            "resource_types": list(resource_types),
        }
        return decision("/v1/levels", LEVELS, body, self.min_revision(min_revision))

    def authorize(
        self, method: str, path: str, authorization: str | None, user: Uuid | None, body: Json | None
    ) -> Call[AuthorizeResult]:
        request: Json = {"method": method, "path": path}
        if authorization is not None:
            request["authorization"] = authorization
        if user is not None:
            request["user"] = str(user)
        if body is not None:
            request["body"] = body
        return decision("/v1/authorize", AUTHORIZE, request, self.min_revision(None))

    def filter(
        self,
        user: Uuid,
        resource: str,
        project_id: int | None,
        organization_id: Uuid | None,
        admin_include_all: bool,
    ) -> Call[FilterResult]:
        body: Json = {"user": str(user), "resource": resource, "admin_include_all": admin_include_all}
        if project_id is not None:
            body["project_id"] = project_id
        if organization_id is not None:
            body["organization_id"] = str(organization_id)
        return decision("/v1/filter", FILTER, body, self.min_revision(None))

    def subjects(self, project_id: int, resource: str, resource_id: Id) -> Call[SubjectsResult]:
        params = {"project_id": str(project_id), "resource": resource, "resource_id": str(resource_id)}
        return Call("GET", "/v1/subjects", SUBJECTS, params=params, decision=True)


def error_of(response: httpx.Response) -> AclError:
    error = ERRORS_BY_STATUS.get(response.status_code, AclError)
    try:
        envelope = ENVELOPE.decode(response.content)
    except msgspec.DecodeError:
        return error(response.status_code, "server_error", "unexpected_response", response.text[:200], None)
    return error(response.status_code, envelope.type, envelope.code, envelope.detail, envelope.attr)


def transport_error(error: httpx.TransportError) -> TransportError:
    return TransportError(f"acl-service unreachable: {type(error).__name__}: {error}")


# -- admin calls (system calls with the admin token, SPEC §5.3) ---------------------------------------


class Admin:
    """Call builders for the writes and reads a directory sync makes."""

    @staticmethod
    def put_user(user_uuid: Uuid, given: Json) -> Call[User]:
        return write("PUT", f"/api/users/{user_uuid}/", USER, fields(given))

    @staticmethod
    def get_user(user_uuid: Uuid) -> Call[User]:
        return Call("GET", f"/api/users/{user_uuid}/", USER)

    @staticmethod
    def delete_user(user_uuid: Uuid) -> Call[None]:
        return deletion(f"/api/users/{user_uuid}/")

    @staticmethod
    def create_organization(given: Json) -> Call[Organization]:
        return write("POST", "/api/organizations/", ORGANIZATION, fields(given))

    @staticmethod
    def update_organization(organization_id: Uuid, given: Json) -> Call[Organization]:
        return write("PATCH", f"/api/organizations/{organization_id}/", ORGANIZATION, fields(given))

    @staticmethod
    def delete_organization(organization_id: Uuid) -> Call[None]:
        return deletion(f"/api/organizations/{organization_id}/")

    @staticmethod
    def add_member(organization_id: Uuid, given: Json) -> Call[Member]:
        return write("POST", f"/api/organizations/{organization_id}/members/", MEMBER, fields(given))

    @staticmethod
    def update_member(organization_id: Uuid, user_uuid: Uuid, given: Json) -> Call[Member]:
        path = f"/api/organizations/{organization_id}/members/{user_uuid}/"
        return write("PATCH", path, MEMBER, fields(given))

    @staticmethod
    def remove_member(organization_id: Uuid, user_uuid: Uuid) -> Call[None]:
        return deletion(f"/api/organizations/{organization_id}/members/{user_uuid}/")

    @staticmethod
    def create_project(given: Json) -> Call[Project]:
        return write("POST", f"{PROJECTS}/", PROJECT, fields(given))

    @staticmethod
    def update_project(project_id: int, given: Json) -> Call[Project]:
        return write("PATCH", f"{PROJECTS}/{project_id}/", PROJECT, fields(given))

    @staticmethod
    def delete_project(project_id: int) -> Call[None]:
        return deletion(f"{PROJECTS}/{project_id}/")

    @staticmethod
    def add_explicit_member(project_id: int, given: Json) -> Call[ExplicitMember]:
        return write("POST", f"{PROJECTS}/{project_id}/explicit_members/", EXPLICIT_MEMBER, fields(given))

    @staticmethod
    def remove_explicit_member(project_id: int, user_uuid: Uuid) -> Call[None]:
        return deletion(f"{PROJECTS}/{project_id}/explicit_members/{user_uuid}/")

    @staticmethod
    def create_dashboard(project_id: int, given: Json) -> Call[Dashboard]:
        return write("POST", f"{PROJECTS}/{project_id}/dashboards/", DASHBOARD, fields(given))

    @staticmethod
    def update_dashboard(project_id: int, dashboard_id: int, given: Json) -> Call[Dashboard]:
        return write("PATCH", f"{PROJECTS}/{project_id}/dashboards/{dashboard_id}/", DASHBOARD, fields(given))

    @staticmethod
    def delete_dashboard(project_id: int, dashboard_id: int) -> Call[None]:
        return deletion(f"{PROJECTS}/{project_id}/dashboards/{dashboard_id}/")

    @staticmethod
    def add_collaborator(project_id: int, dashboard_id: int, given: Json) -> Call[Collaborator]:
        path = f"{PROJECTS}/{project_id}/dashboards/{dashboard_id}/collaborators/"
        return write("POST", path, COLLABORATOR, fields(given))

    @staticmethod
    def remove_collaborator(project_id: int, dashboard_id: int, user_uuid: Uuid) -> Call[None]:
        return deletion(f"{PROJECTS}/{project_id}/dashboards/{dashboard_id}/collaborators/{user_uuid}/")

    @staticmethod
    def upsert_resource(project_id: int, given: Json) -> Call[Resource]:
        return write("POST", f"{PROJECTS}/{project_id}/resources/", RESOURCE, fields(given))

    @staticmethod
    def delete_resource(project_id: int, resource: str, resource_id: Id) -> Call[None]:
        return deletion(f"{PROJECTS}/{project_id}/resources/{resource}/{resource_id}/")

    @staticmethod
    def set_access_control(
        project_id: int, resource: str | None, resource_id: Id | None, given: Json
    ) -> Call[AccessControl | None]:
        body = fields(given)
        if resource is not None and resource_id is None:
            body["resource"] = resource  # resource_access_controls names its type in the body
        return write("PUT", access_controls_path(project_id, resource, resource_id), ACCESS_CONTROL, body)

    @staticmethod
    def create_role(organization_id: Uuid, name: str) -> Call[Role]:
        return write("POST", f"/api/organizations/{organization_id}/roles/", ROLE, {"name": name})

    @staticmethod
    def delete_role(organization_id: Uuid, role_id: Uuid) -> Call[None]:
        return deletion(f"/api/organizations/{organization_id}/roles/{role_id}/")

    @staticmethod
    def add_role_member(organization_id: Uuid, role_id: Uuid, user_uuid: Uuid) -> Call[RoleMembership]:
        path = f"/api/organizations/{organization_id}/roles/{role_id}/role_memberships/"
        return write("POST", path, ROLE_MEMBERSHIP, {"user_uuid": str(user_uuid)})

    @staticmethod
    def remove_role_member(organization_id: Uuid, role_id: Uuid, membership_id: Uuid) -> Call[None]:
        return deletion(
            f"/api/organizations/{organization_id}/roles/{role_id}/role_memberships/{membership_id}/"
        )


# -- the clients ----------------------------------------------------------------------------------


class Client:
    """Synchronous client; one pooled httpx.Client per instance. Use as a context manager."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 5.0,
        retries: int = 3,
        backoff: float = 0.05,
        session_consistency: bool = True,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._session = Session(token, retries, backoff, session_consistency)
        self._http = httpx.Client(base_url=base_url, timeout=timeout, transport=transport)

    @property
    def revision(self) -> int:
        """The highest revision this client's own writes produced (0 before any)."""
        return self._session.revision

    def _run(self, call: Call[T]) -> T:
        request = self._session.request(self._http, call)
        attempt = 0
        while True:
            try:
                outcome: httpx.Response | Exception = self._http.send(request)
            except httpx.TransportError as error:
                outcome = error
            delay = self._session.retry_delay(call, attempt, outcome)
            if delay is None:
                break
            time.sleep(delay)
            attempt += 1
        if isinstance(outcome, httpx.TransportError):
            raise transport_error(outcome) from outcome
        assert isinstance(outcome, httpx.Response)
        return self._session.result(call, outcome)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def check(
        self,
        *,
        project_id: int,
        action: str,
        user: Uuid | None = None,
        api_key: str | None = None,
        resource_type: str | None = None,
        resource_id: Id | None = None,
        min_revision: int | None = None,
    ) -> CheckResult:
        return self._run(
            self._session.check(project_id, action, user, api_key, resource_type, resource_id, min_revision)
        )

    def check_batch(self, checks: Sequence[CheckRequest], *, min_revision: int | None = None) -> BatchResult:
        return self._run(self._session.check_batch(checks, min_revision))

    def levels(
        self,
        *,
        user: Uuid,
        project_id: int,
        dashboards: Iterable[int] = (),
        resources: Iterable[ResourceRef | tuple[str, Id]] = (),
        resource_types: Iterable[str] = (),
        min_revision: int | None = None,
    ) -> LevelsResult:
        return self._run(
            self._session.levels(user, project_id, dashboards, resources, resource_types, min_revision)
        )

    def authorize(
        self,
        *,
        method: str,
        path: str,
        authorization: str | None = None,
        user: Uuid | None = None,
        body: Json | None = None,
    ) -> AuthorizeResult:
        return self._run(self._session.authorize(method, path, authorization, user, body))

    def filter(
        self,
        *,
        user: Uuid,
        resource: str,
        project_id: int | None = None,
        organization_id: Uuid | None = None,
        admin_include_all: bool = False,
    ) -> FilterResult:
        return self._run(self._session.filter(user, resource, project_id, organization_id, admin_include_all))

    def subjects(self, *, project_id: int, resource: str, resource_id: Id) -> SubjectsResult:
        return self._run(self._session.subjects(project_id, resource, resource_id))

    def put_user(self, user_uuid: Uuid, *, email: str, **given: Any) -> User:
        return self._run(Admin.put_user(user_uuid, {"email": email, **given}))

    def get_user(self, user_uuid: Uuid) -> User:
        return self._run(Admin.get_user(user_uuid))

    def delete_user(self, user_uuid: Uuid) -> None:
        return self._run(Admin.delete_user(user_uuid))

    def create_organization(self, *, name: str, **given: Any) -> Organization:
        return self._run(Admin.create_organization({"name": name, **given}))

    def update_organization(self, organization_id: Uuid, **given: Any) -> Organization:
        return self._run(Admin.update_organization(organization_id, given))

    def delete_organization(self, organization_id: Uuid) -> None:
        return self._run(Admin.delete_organization(organization_id))

    def add_member(self, organization_id: Uuid, *, user_uuid: Uuid, **given: Any) -> Member:
        return self._run(Admin.add_member(organization_id, {"user_uuid": user_uuid, **given}))

    def update_member(self, organization_id: Uuid, user_uuid: Uuid, *, level: int) -> Member:
        return self._run(Admin.update_member(organization_id, user_uuid, {"level": level}))

    def remove_member(self, organization_id: Uuid, user_uuid: Uuid) -> None:
        return self._run(Admin.remove_member(organization_id, user_uuid))

    def create_project(self, *, organization: Uuid, name: str, **given: Any) -> Project:
        return self._run(Admin.create_project({"organization": organization, "name": name, **given}))

    def update_project(self, project_id: int, **given: Any) -> Project:
        return self._run(Admin.update_project(project_id, given))

    def delete_project(self, project_id: int) -> None:
        return self._run(Admin.delete_project(project_id))

    def add_explicit_member(self, project_id: int, *, user_uuid: Uuid, **given: Any) -> ExplicitMember:
        return self._run(Admin.add_explicit_member(project_id, {"user_uuid": user_uuid, **given}))

    def remove_explicit_member(self, project_id: int, user_uuid: Uuid) -> None:
        return self._run(Admin.remove_explicit_member(project_id, user_uuid))

    def create_dashboard(self, project_id: int, **given: Any) -> Dashboard:
        return self._run(Admin.create_dashboard(project_id, given))

    def update_dashboard(self, project_id: int, dashboard_id: int, **given: Any) -> Dashboard:
        return self._run(Admin.update_dashboard(project_id, dashboard_id, given))

    def delete_dashboard(self, project_id: int, dashboard_id: int) -> None:
        return self._run(Admin.delete_dashboard(project_id, dashboard_id))

    def add_collaborator(
        self, project_id: int, dashboard_id: int, *, user_uuid: Uuid, **given: Any
    ) -> Collaborator:
        return self._run(Admin.add_collaborator(project_id, dashboard_id, {"user_uuid": user_uuid, **given}))

    def remove_collaborator(self, project_id: int, dashboard_id: int, user_uuid: Uuid) -> None:
        return self._run(Admin.remove_collaborator(project_id, dashboard_id, user_uuid))

    def upsert_resource(self, project_id: int, *, resource: str, resource_id: Id, **given: Any) -> Resource:
        return self._run(
            Admin.upsert_resource(
                project_id, {"resource": resource, "resource_id": str(resource_id), **given}
            )
        )

    def delete_resource(self, project_id: int, resource: str, resource_id: Id) -> None:
        return self._run(Admin.delete_resource(project_id, resource, resource_id))

    def set_access_control(
        self, project_id: int, *, resource: str | None = None, resource_id: Id | None = None, **given: Any
    ) -> AccessControl | None:
        return self._run(Admin.set_access_control(project_id, resource, resource_id, given))

    def create_role(self, organization_id: Uuid, *, name: str) -> Role:
        return self._run(Admin.create_role(organization_id, name))

    def delete_role(self, organization_id: Uuid, role_id: Uuid) -> None:
        return self._run(Admin.delete_role(organization_id, role_id))

    def add_role_member(self, organization_id: Uuid, role_id: Uuid, *, user_uuid: Uuid) -> RoleMembership:
        return self._run(Admin.add_role_member(organization_id, role_id, user_uuid))

    def remove_role_member(self, organization_id: Uuid, role_id: Uuid, membership_id: Uuid) -> None:
        return self._run(Admin.remove_role_member(organization_id, role_id, membership_id))


class AsyncClient:
    """Asynchronous client; one pooled httpx.AsyncClient per instance. Use `async with`."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 5.0,
        retries: int = 3,
        backoff: float = 0.05,
        session_consistency: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._session = Session(token, retries, backoff, session_consistency)
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport)

    @property
    def revision(self) -> int:
        """The highest revision this client's own writes produced (0 before any)."""
        return self._session.revision

    async def _run(self, call: Call[T]) -> T:
        request = self._session.request(self._http, call)
        attempt = 0
        while True:
            try:
                outcome: httpx.Response | Exception = await self._http.send(request)
            except httpx.TransportError as error:
                outcome = error
            delay = self._session.retry_delay(call, attempt, outcome)
            if delay is None:
                break
            await asyncio.sleep(delay)
            attempt += 1
        if isinstance(outcome, httpx.TransportError):
            raise transport_error(outcome) from outcome
        assert isinstance(outcome, httpx.Response)
        return self._session.result(call, outcome)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def check(
        self,
        *,
        project_id: int,
        action: str,
        user: Uuid | None = None,
        api_key: str | None = None,
        resource_type: str | None = None,
        resource_id: Id | None = None,
        min_revision: int | None = None,
    ) -> CheckResult:
        return await self._run(
            self._session.check(project_id, action, user, api_key, resource_type, resource_id, min_revision)
        )

    async def check_batch(
        self, checks: Sequence[CheckRequest], *, min_revision: int | None = None
    ) -> BatchResult:
        return await self._run(self._session.check_batch(checks, min_revision))

    async def levels(
        self,
        *,
        user: Uuid,
        project_id: int,
        dashboards: Iterable[int] = (),
        resources: Iterable[ResourceRef | tuple[str, Id]] = (),
        resource_types: Iterable[str] = (),
        min_revision: int | None = None,
    ) -> LevelsResult:
        return await self._run(
            self._session.levels(user, project_id, dashboards, resources, resource_types, min_revision)
        )

    async def authorize(
        self,
        *,
        method: str,
        path: str,
        authorization: str | None = None,
        user: Uuid | None = None,
        body: Json | None = None,
    ) -> AuthorizeResult:
        return await self._run(self._session.authorize(method, path, authorization, user, body))

    async def filter(
        self,
        *,
        user: Uuid,
        resource: str,
        project_id: int | None = None,
        organization_id: Uuid | None = None,
        admin_include_all: bool = False,
    ) -> FilterResult:
        return await self._run(
            self._session.filter(user, resource, project_id, organization_id, admin_include_all)
        )

    async def subjects(self, *, project_id: int, resource: str, resource_id: Id) -> SubjectsResult:
        return await self._run(self._session.subjects(project_id, resource, resource_id))

    async def put_user(self, user_uuid: Uuid, *, email: str, **given: Any) -> User:
        return await self._run(Admin.put_user(user_uuid, {"email": email, **given}))

    async def get_user(self, user_uuid: Uuid) -> User:
        return await self._run(Admin.get_user(user_uuid))

    async def delete_user(self, user_uuid: Uuid) -> None:
        return await self._run(Admin.delete_user(user_uuid))

    async def create_organization(self, *, name: str, **given: Any) -> Organization:
        return await self._run(Admin.create_organization({"name": name, **given}))

    async def update_organization(self, organization_id: Uuid, **given: Any) -> Organization:
        return await self._run(Admin.update_organization(organization_id, given))

    async def delete_organization(self, organization_id: Uuid) -> None:
        return await self._run(Admin.delete_organization(organization_id))

    async def add_member(self, organization_id: Uuid, *, user_uuid: Uuid, **given: Any) -> Member:
        return await self._run(Admin.add_member(organization_id, {"user_uuid": user_uuid, **given}))

    async def update_member(self, organization_id: Uuid, user_uuid: Uuid, *, level: int) -> Member:
        return await self._run(Admin.update_member(organization_id, user_uuid, {"level": level}))

    async def remove_member(self, organization_id: Uuid, user_uuid: Uuid) -> None:
        return await self._run(Admin.remove_member(organization_id, user_uuid))

    async def create_project(self, *, organization: Uuid, name: str, **given: Any) -> Project:
        return await self._run(Admin.create_project({"organization": organization, "name": name, **given}))

    async def update_project(self, project_id: int, **given: Any) -> Project:
        return await self._run(Admin.update_project(project_id, given))

    async def delete_project(self, project_id: int) -> None:
        return await self._run(Admin.delete_project(project_id))

    async def add_explicit_member(self, project_id: int, *, user_uuid: Uuid, **given: Any) -> ExplicitMember:
        return await self._run(Admin.add_explicit_member(project_id, {"user_uuid": user_uuid, **given}))

    async def remove_explicit_member(self, project_id: int, user_uuid: Uuid) -> None:
        return await self._run(Admin.remove_explicit_member(project_id, user_uuid))

    async def create_dashboard(self, project_id: int, **given: Any) -> Dashboard:
        return await self._run(Admin.create_dashboard(project_id, given))

    async def update_dashboard(self, project_id: int, dashboard_id: int, **given: Any) -> Dashboard:
        return await self._run(Admin.update_dashboard(project_id, dashboard_id, given))

    async def delete_dashboard(self, project_id: int, dashboard_id: int) -> None:
        return await self._run(Admin.delete_dashboard(project_id, dashboard_id))

    async def add_collaborator(
        self, project_id: int, dashboard_id: int, *, user_uuid: Uuid, **given: Any
    ) -> Collaborator:
        return await self._run(
            Admin.add_collaborator(project_id, dashboard_id, {"user_uuid": user_uuid, **given})
        )

    async def remove_collaborator(self, project_id: int, dashboard_id: int, user_uuid: Uuid) -> None:
        return await self._run(Admin.remove_collaborator(project_id, dashboard_id, user_uuid))

    async def upsert_resource(
        self, project_id: int, *, resource: str, resource_id: Id, **given: Any
    ) -> Resource:
        return await self._run(
            Admin.upsert_resource(
                project_id, {"resource": resource, "resource_id": str(resource_id), **given}
            )
        )

    async def delete_resource(self, project_id: int, resource: str, resource_id: Id) -> None:
        return await self._run(Admin.delete_resource(project_id, resource, resource_id))

    async def set_access_control(
        self, project_id: int, *, resource: str | None = None, resource_id: Id | None = None, **given: Any
    ) -> AccessControl | None:
        return await self._run(Admin.set_access_control(project_id, resource, resource_id, given))

    async def create_role(self, organization_id: Uuid, *, name: str) -> Role:
        return await self._run(Admin.create_role(organization_id, name))

    async def delete_role(self, organization_id: Uuid, role_id: Uuid) -> None:
        return await self._run(Admin.delete_role(organization_id, role_id))

    async def add_role_member(
        self, organization_id: Uuid, role_id: Uuid, *, user_uuid: Uuid
    ) -> RoleMembership:
        return await self._run(Admin.add_role_member(organization_id, role_id, user_uuid))

    async def remove_role_member(self, organization_id: Uuid, role_id: Uuid, membership_id: Uuid) -> None:
        return await self._run(Admin.remove_role_member(organization_id, role_id, membership_id))
