"""SPEC §5.3.8: the generic resources registry, and the object representations dashboards share.

System calls sync objects (upsert: the fields given are set, absent ones kept); acting users create
them. The body of `POST …/resources/` is validated before the permission steps, because its
`resource` is the route's scope object (SPEC §5.1). Caller-dependent fields come from the
evaluator over the facts read inside the request's transaction, and are null for system calls.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Final
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import State
from litestar.openapi import ResponseSpec
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from acl_service.api import examples
from acl_service.api.admin.context import AdminRequest, admin_request
from acl_service.api.admin.representations import UserBasic
from acl_service.api.bodies import MAX_BATCH, PositiveId, ResourceId, decode_body
from acl_service.api.columns import DEFAULT_RESTRICTION, ObjectName, RestrictionLevel, valid_dashboard_id
from acl_service.api.openapi import ADMIN_INCLUDE_ALL, RESOURCE_TYPE_SCHEMA, DocParameter, api_doc
from acl_service.api.pagination import Page, PageWindow, page, page_window
from acl_service.authz.evaluator import AccessEvaluator
from acl_service.domain import SCOPE_OBJECTS, Caller
from acl_service.errors import InvalidInput, NotFound
from acl_service.store import objects as store
from acl_service.store import users as user_store
from acl_service.store.facts import Connection

UNSET = msgspec.UNSET
Unset = msgspec.UnsetType

DASHBOARD: Final = "dashboard"
INSIGHT: Final = "insight"
NOT_OBJECT_TYPES: Final = frozenset({"project", "organization"})
RESOURCE_QUERY: Final = DocParameter(
    "resource",
    {**RESOURCE_TYPE_SCHEMA, "not": {"enum": sorted(NOT_OBJECT_TYPES)}},
    "The resource type to list.",
    required=True,
)
# No user has id 0: evaluating for it gives the caller-independent parts of a decision (a
# dashboard's effective restriction level) in system calls, which have no caller.
NOBODY: Final = 0

PROJECT_PREFIXES: Final = ("/api/environments/{project_id:str}", "/api/projects/{project_id:str}")


def project_paths(suffix: str) -> list[str]:
    """A project-nested path under both of its prefixes (SPEC §4)."""
    return [prefix + suffix for prefix in PROJECT_PREFIXES]


def caller_id(admin: AdminRequest) -> int | None:
    return admin.user.id if admin.user is not None else None


def query_flag(query: Mapping[str, str], name: str) -> bool:
    """A boolean query parameter, read as DRF's BooleanField reads one."""
    raw = query.get(name)
    if raw is None:
        return False
    value = raw.strip().lower()
    if value in ("true", "t", "yes", "y", "on", "1"):
        return True
    if value in ("false", "f", "no", "n", "off", "0", ""):
        return False
    raise InvalidInput("Must be a valid boolean.", code="invalid", attr=name)


async def creator_id(conn: Connection, created_by: UUID | None) -> int | None:
    """The user a (system) `created_by` names; it must be a user (SPEC §2)."""
    if created_by is None:
        return None
    found = await user_store.get_user(conn, created_by)
    if found is None:
        raise InvalidInput(
            f'Invalid pk "{created_by}" - object does not exist.', code="does_not_exist", attr="created_by"
        )
    user_id: int = found["id"]
    return user_id


def refuse_system_fields(admin: AdminRequest, body: msgspec.Struct, fields: Sequence[str]) -> None:
    if admin.is_system:
        return
    for field in fields:
        if getattr(body, field) is not UNSET:
            raise InvalidInput("This field can only be set by a system call.", code="read_only", attr=field)


# -- representations ---------------------------------------------------------------------------


class Resource(msgspec.Struct):
    resource: str
    resource_id: str
    name: str | None
    created_by: UserBasic | None
    created_at: datetime
    user_access_level: str | None
    access_source: str | None


class DashboardResource(Resource):
    restriction_level: int


class InsightResource(Resource):
    dashboards: list[int]
    effective_restriction_level: int
    effective_privilege_level: int | None


AnyResource = Resource | DashboardResource | InsightResource


def creator(record: Any) -> UserBasic | None:
    value = record["created_by"]
    return msgspec.convert(value, UserBasic) if value is not None else None


def resource_view(
    evaluator: AccessEvaluator, user_id: int | None, project_id: int, record: Any
) -> AnyResource:
    resource, resource_id = record["resource"], record["resource_id"]
    fields: dict[str, Any] = {
        "resource": resource,
        "resource_id": resource_id,
        "name": record["name"],
        "created_by": creator(record),
        "created_at": record["created_at"],
        "user_access_level": None,
        "access_source": None,
    }
    if user_id is not None:
        decision = evaluator.object(user_id, project_id, resource, resource_id)
        fields["user_access_level"] = decision.access_level
        fields["access_source"] = decision.access_source
    if resource == DASHBOARD:
        return DashboardResource(**fields, restriction_level=record["restriction_level"])
    if resource == INSIGHT:
        insight = evaluator.insight(NOBODY if user_id is None else user_id, project_id, resource_id)
        return InsightResource(
            **fields,
            dashboards=list(record["dashboards"]),
            effective_restriction_level=insight.restriction_level,
            effective_privilege_level=None if user_id is None else insight.privilege_level,
        )
    return Resource(**fields)


async def visible_objects(
    admin: AdminRequest, request: Request[Any, Any, State], project_id: int, resource: str
) -> tuple[PageWindow, int, list[asyncpg.Record]]:
    """One page of a type's objects the caller may list (SPEC §3.10; system calls list all)."""
    window = page_window(request.query_params)
    include_all = query_flag(request.query_params, "admin_include_all")
    user_id = caller_id(admin)
    mode: str = "all"
    ids: tuple[str, ...] = ()
    created_by_id: int | None = None
    if user_id is not None:
        found = admin.evaluator().list_filter(user_id, project_id, resource, include_all)
        mode, ids = found.mode, found.ids
        created_by_id = user_id if found.include_created_by else None
    count, records = await store.list_objects(
        admin.conn,
        project_id,
        resource,
        mode=mode,
        ids=ids,
        created_by_id=created_by_id,
        limit=window.limit,
        offset=window.offset,
    )
    return window, count, records


# -- bodies --------------------------------------------------------------------------------------


class ResourceBody(msgspec.Struct, forbid_unknown_fields=True):
    resource: str
    resource_id: ResourceId
    name: ObjectName | Unset | None = UNSET
    created_by: UUID | Unset | None = UNSET
    restriction_level: RestrictionLevel | Unset = UNSET
    dashboards: Annotated[list[PositiveId], msgspec.Meta(max_length=MAX_BATCH)] | Unset = UNSET
    # Read-only fields of the representation: accepted and ignored (SPEC §6).
    created_at: Any = UNSET
    user_access_level: Any = UNSET
    access_source: Any = UNSET
    effective_restriction_level: Any = UNSET
    effective_privilege_level: Any = UNSET

    def __post_init__(self) -> None:
        # Checks across fields, in the order of SPEC §5.3.8's list.
        if self.resource not in SCOPE_OBJECTS or self.resource in NOT_OBJECT_TYPES:
            raise InvalidInput(
                f'"{self.resource}" is not a valid choice.', code="invalid_choice", attr="resource"
            )
        if self.resource == DASHBOARD and not valid_dashboard_id(self.resource_id):
            raise InvalidInput("Enter a valid resource id.", code="invalid", attr="resource_id")
        if self.restriction_level is not UNSET and self.resource != DASHBOARD:
            raise InvalidInput("Only dashboards have a restriction level.", attr="restriction_level")
        if self.dashboards is not UNSET and self.resource != INSIGHT:
            raise InvalidInput("Only insights can be placed on dashboards.", attr="dashboards")


async def validate_resource_body(_conn: Connection, _caller: Caller, raw_body: bytes) -> None:
    decode_body(raw_body, ResourceBody)


# -- endpoints -----------------------------------------------------------------------------------


async def resource_response(
    admin: AdminRequest, project_id: int, resource: str, resource_id: str
) -> AnyResource:
    record = await store.get_object(admin.conn, project_id, resource, resource_id)
    if record is None:
        raise NotFound()
    return resource_view(admin.evaluator(), caller_id(admin), project_id, record)


class ResourcesController(Controller):
    tags = ["resources"]  # noqa: RUF012  (Litestar reads it as a class attribute)

    @get(project_paths("/resources/"), opt=api_doc(query=[RESOURCE_QUERY, ADMIN_INCLUDE_ALL]))
    async def list_resources(self, request: Request[Any, Any, State]) -> Page[AnyResource]:
        """List a project's objects of one type the caller can see.

        `?resource=` names the type (required); the list is filtered by SPEC §3.10, with
        `admin_include_all` for organization admins.
        """
        async with admin_request(request, write=False) as admin:
            project_id: int = admin.param("project_id")
            resource = admin.match.scope_object
            assert resource is not None  # the route table required and validated ?resource=
            window, count, records = await visible_objects(admin, request, project_id, resource)
            evaluator, user_id = admin.evaluator(), caller_id(admin)
            results = [resource_view(evaluator, user_id, project_id, record) for record in records]
            return page(request, window, count, results)

    @post(
        project_paths("/resources/"),
        status_code=HTTP_201_CREATED,
        responses={
            HTTP_200_OK: ResponseSpec(
                AnyResource, description="Updated (system calls)", generate_examples=False
            )
        },
        opt=api_doc(body=ResourceBody, body_examples=examples.RESOURCE_CREATE),
    )
    async def create_resource(self, request: Request[Any, Any, State]) -> Response[AnyResource]:
        """Register an object (system calls upsert).

        System calls upsert: 201 when created, 200 when updated (absent fields are kept;
        `dashboards` replaces an insight's dashboards). Acting users create, and an existing key is
        a 400 `unique` (SPEC §5.3.8).
        """
        async with admin_request(request, write=True, body_first=validate_resource_body) as admin:
            body = admin.body(ResourceBody)
            project_id: int = admin.param("project_id")
            refuse_system_fields(admin, body, ("created_by",))
            fields: dict[str, Any] = {}
            if body.name is not UNSET:
                fields["name"] = body.name
            if body.restriction_level is not UNSET:
                fields["restriction_level"] = body.restriction_level
            if body.created_by is not UNSET:
                fields["created_by_id"] = await creator_id(admin.conn, body.created_by)
            if body.dashboards is not UNSET:
                missing = await store.missing_dashboards(admin.conn, project_id, body.dashboards)
                if missing:
                    raise InvalidInput(
                        f'Invalid pk "{missing[0]}" - object does not exist.',
                        code="does_not_exist",
                        attr="dashboards",
                    )
            if admin.is_system:
                created = await store.upsert_object(
                    admin.conn, project_id, body.resource, body.resource_id, fields
                )
            else:
                created = await store.insert_object(
                    admin.conn,
                    project_id,
                    body.resource,
                    body.resource_id,
                    name=fields.get("name"),
                    created_by_id=caller_id(admin),
                    restriction_level=fields.get(
                        "restriction_level", DEFAULT_RESTRICTION if body.resource == DASHBOARD else None
                    ),
                )
                if not created:
                    raise InvalidInput(
                        "A resource with this type and id already exists.", code="unique", attr="resource_id"
                    )
            if body.dashboards is not UNSET:
                await store.set_insight_dashboards(admin.conn, project_id, body.resource_id, body.dashboards)
            await admin.reload_scope()
            view = await resource_response(admin, project_id, body.resource, body.resource_id)
            return Response(view, status_code=HTTP_201_CREATED if created else HTTP_200_OK)

    @get(project_paths("/resources/{resource:str}/{rid:str}/"))
    async def get_resource(self, request: Request[Any, Any, State]) -> AnyResource:
        """An object, with the caller's level on it and its source.

        Needs viewer access to the object (SPEC §3.7).
        """
        async with admin_request(request, write=False) as admin:
            return await resource_response(
                admin, admin.param("project_id"), admin.param("resource"), admin.param("rid")
            )

    @delete(project_paths("/resources/{resource:str}/{rid:str}/"), status_code=HTTP_204_NO_CONTENT)
    async def delete_resource(self, request: Request[Any, Any, State]) -> None:
        """Delete an object.

        Needs editor access to the object (and edit rights on a dashboard); its access-control rows
        go with it.
        """
        async with admin_request(request, write=True) as admin:
            project_id: int = admin.param("project_id")
            if not await store.delete_object(
                admin.conn, project_id, admin.param("resource"), admin.param("rid")
            ):
                raise NotFound()
