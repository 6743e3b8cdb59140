"""SPEC §5.3.9: the access-control actions of projects, dashboards and generic resources.

Each action reads or writes the rows of one *target*: an object's rows, a project's project rows,
all of a project's resource-wide rows (`resource_access_controls`), or the resource-wide `dashboard`
rows (a dashboard's `global_access_controls`, SPEC §7.9). Levels lists, defaults, minima and maxima
come from the policy (`PolicyEngine.resource_info`); the route checks and MODIFY run in the
pipeline, MODIFY only after the validations (1)-(5) of §5.3.9.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any, Final
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, put
from litestar.datastructures import State
from litestar.openapi import ResponseSpec
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from acl_service.api import examples
from acl_service.api.admin.context import AdminRequest, admin_request
from acl_service.api.openapi import api_doc
from acl_service.authz.evaluator import SubjectAccess
from acl_service.domain import SCOPE_OBJECTS
from acl_service.errors import InvalidInput, PermissionDenied
from acl_service.store import access_controls as store

UNSET = msgspec.UNSET
Unset = msgspec.UnsetType

PROJECT: Final = "project"
DASHBOARD: Final = "dashboard"
# "Resource levels" and their default (§5.3.9 table) are those of any plain resource type.
PLAIN_RESOURCE: Final = DASHBOARD

PROJECT_PREFIXES: Final = ("/api/environments/{project_id:str}", "/api/projects/{project_id:str}")


def paths(suffix: str) -> list[str]:
    return [prefix + suffix for prefix in PROJECT_PREFIXES]


class AccessControl(msgspec.Struct, frozen=True):
    """The row representation of §5.3.9 (exactly these fields)."""

    access_level: str
    resource: str
    resource_id: str | None
    organization_member: UUID | None
    role: UUID | None
    created_by: int | None
    created_at: datetime
    updated_at: datetime


# SPEC §5.2: access-control PUTs answer 200 with the row, or 204 when `access_level: null` deleted it.
ACCESS_CONTROL_PUT_RESPONSES: Final = {
    HTTP_200_OK: ResponseSpec(AccessControl, description="The row as stored", generate_examples=False),
    HTTP_204_NO_CONTENT: ResponseSpec(
        None, description="The row was deleted (or did not exist)", generate_examples=False
    ),
}


class AccessControls(msgspec.Struct, frozen=True):
    access_controls: list[AccessControl]
    available_access_levels: tuple[str, ...]
    default_access_level: str
    user_access_level: str | None
    user_can_edit_access_levels: bool | None


class UsersWithAccess(msgspec.Struct, frozen=True):
    users: list[SubjectAccess]
    total_count: int


class AccessControlBody(msgspec.Struct, forbid_unknown_fields=True):
    access_level: str | None
    organization_member: UUID | Unset | None = UNSET
    role: UUID | Unset | None = UNSET
    # The target comes from the URL; these and the row's read-only fields are accepted and ignored.
    resource: Any = UNSET
    resource_id: Any = UNSET
    created_by: Any = UNSET
    created_at: Any = UNSET
    updated_at: Any = UNSET


class ResourceAccessControlBody(msgspec.Struct, forbid_unknown_fields=True):
    resource: str
    access_level: str | None
    organization_member: UUID | Unset | None = UNSET
    role: UUID | Unset | None = UNSET
    resource_id: Any = UNSET  # must be absent or null (rule 5)
    created_by: Any = UNSET
    created_at: Any = UNSET
    updated_at: Any = UNSET


def access_control(record: Any) -> AccessControl:
    return AccessControl(
        access_level=record["access_level"],
        resource=record["resource"],
        resource_id=record["resource_id"],
        organization_member=record["organization_member_id"],
        role=record["role_id"],
        created_by=record["created_by_id"],
        created_at=record["created_at"],
        updated_at=record["updated_at"],
    )


def project_id_of(admin: AdminRequest) -> int:
    project_id: int = admin.param("project_id")
    return project_id


def object_target(admin: AdminRequest) -> tuple[str, str]:
    """(resource, resource_id) of the object in the path: a dashboard or a generic resource."""
    if "id" in admin.match.params:
        return DASHBOARD, str(admin.param("id"))
    return str(admin.param("resource")), str(admin.param("rid"))


def levels_listing(
    admin: AdminRequest,
    rows: list[Any],
    levels_of: str,
    user_access_level: Callable[[int], str | None],
    user_can_edit: Callable[[int], bool],
) -> AccessControls:
    """The GET shape; caller-dependent fields are computed only for acting users (§5.2)."""
    info = admin.state.engine.resource_info(levels_of)
    user = admin.user
    return AccessControls(
        access_controls=[access_control(row) for row in rows],
        available_access_levels=info.levels,
        default_access_level=info.default_level,
        user_access_level=user_access_level(user.id) if user is not None else None,
        user_can_edit_access_levels=user_can_edit(user.id) if user is not None else None,
    )


async def validate_and_write(
    admin: AdminRequest,
    body: AccessControlBody | ResourceAccessControlBody,
    resource: str,
    resource_id: str | None,
) -> Response[Any]:
    """Validations (1)-(5) of §5.3.9 in order, then MODIFY (6), then the upsert or delete."""
    project_id = project_id_of(admin)
    if resource not in SCOPE_OBJECTS:
        raise InvalidInput(f"Invalid resource. Must be one of: {SCOPE_OBJECTS}", attr="resource")
    if body.access_level is not None:
        validate_level(admin, resource, body.access_level)
    member = body.organization_member if isinstance(body.organization_member, UUID) else None
    role = body.role if isinstance(body.role, UUID) else None
    organization = admin.scope.project.organization_id if admin.scope.project is not None else None
    if member is not None:
        found = await store.membership_organization(admin.conn, member)
        validate_subject(found, organization, member, "organization_member")
    if role is not None:
        validate_subject(await store.role_organization(admin.conn, role), organization, role, "role")
    if member is not None and role is not None:
        raise InvalidInput("You can not scope an access control to both a member and a role.")
    if isinstance(body, ResourceAccessControlBody) and body.resource_id not in (UNSET, None):
        raise PermissionDenied("Cannot modify access controls for a resource different from the URL target.")
    admin.body_rules(body)
    if body.access_level is None:
        await store.delete_row(admin.conn, project_id, resource, resource_id, member, role)
        return Response(None, status_code=HTTP_204_NO_CONTENT)
    created_by = admin.user.id if admin.user is not None else None
    record = await store.upsert_row(
        admin.conn, project_id, resource, resource_id, member, role, body.access_level, created_by
    )
    return Response(access_control(record), status_code=HTTP_200_OK)


def validate_level(admin: AdminRequest, resource: str, level: str) -> None:
    engine = admin.state.engine
    info = engine.resource_info(resource)
    if level not in info.levels:
        raise InvalidInput(
            f"Invalid access level. Must be one of: {', '.join(info.levels)}", attr="access_level"
        )
    # The policy's max over a pair orders the two levels.
    if engine.max_level(frozenset({level, info.minimum})) != level:
        raise InvalidInput(
            f"Access level cannot be set below the minimum '{info.minimum}' for {resource}.",
            attr="access_level",
        )
    if engine.max_level(frozenset({level, info.highest})) != info.highest:
        raise InvalidInput(
            f"Access level cannot be set above the maximum '{info.highest}' for {resource}.",
            attr="access_level",
        )


def validate_subject(found: UUID | None, organization: UUID | None, subject: UUID, field: str) -> None:
    if found is None:
        raise InvalidInput(
            f'Invalid pk "{subject}" - object does not exist.', code="does_not_exist", attr=field
        )
    if found != organization:
        kind = "member" if field == "organization_member" else "role"
        raise InvalidInput(f"The {kind} must belong to the same organization as this project.", attr=field)


def users_with_access(admin: AdminRequest, resource: str, resource_id: str) -> UsersWithAccess:
    users = admin.evaluator().users_with_access(project_id_of(admin), resource, resource_id)
    return UsersWithAccess(users=users, total_count=len(users))


class ProjectAccessControlsController(Controller):
    """The project's own rows, all its resource-wide rows, and who can see it."""

    tags = ["access controls"]  # noqa: RUF012  (Litestar reads it as a class attribute)

    @get(paths("/access_controls/"))
    async def get_project_rows(self, request: Request[Any, Any, State]) -> AccessControls:
        """A project's access-control rows.

        The project rows (default, member and role) with the levels offered, the caller's project
        access level and whether they may change them (SPEC §5.3.9).
        """
        async with admin_request(request, write=False) as admin:
            project_id = project_id_of(admin)
            evaluator = admin.evaluator()
            rows = await store.object_rows(admin.conn, project_id, PROJECT, str(project_id))
            return levels_listing(
                admin,
                rows,
                PROJECT,
                lambda user_id: evaluator.project_access_level(user_id, project_id),
                lambda user_id: evaluator.can_modify(user_id, project_id, PROJECT, str(project_id)),
            )

    @put(
        paths("/access_controls/"),
        status_code=HTTP_200_OK,
        responses=ACCESS_CONTROL_PUT_RESPONSES,
        opt=api_doc(body=AccessControlBody, body_examples=examples.ACCESS_CONTROL_PUT),
    )
    async def put_project_row(self, request: Request[Any, Any, State]) -> Response[Any]:
        """Set or remove a project access-control row.

        Upserts the row keyed by member, role or neither (the default row); `access_level: null`
        deletes it (204). Validations (1)-(4) of SPEC §5.3.9, then only project admins may modify.
        """
        async with admin_request(request, write=True) as admin:
            body = admin.body(AccessControlBody, rules=False)
            project_id = project_id_of(admin)
            return await validate_and_write(admin, body, PROJECT, str(project_id))

    @get(paths("/resource_access_controls/") + paths("/global_access_controls/"))
    async def get_resource_wide_rows(self, request: Request[Any, Any, State]) -> AccessControls:
        """A project's resource-wide access-control rows.

        Every resource-wide row of the project (all resource types) with the resource levels offered
        (SPEC §5.3.9).
        """
        async with admin_request(request, write=False) as admin:
            project_id = project_id_of(admin)
            evaluator = admin.evaluator()
            rows = await store.resource_wide_rows(admin.conn, project_id)
            return levels_listing(
                admin,
                rows,
                PLAIN_RESOURCE,
                lambda user_id: evaluator.project_access_level(user_id, project_id),
                lambda user_id: evaluator.can_modify_project_wide(user_id, project_id),
            )

    @put(
        paths("/resource_access_controls/") + paths("/global_access_controls/"),
        status_code=HTTP_200_OK,
        responses=ACCESS_CONTROL_PUT_RESPONSES,
        opt=api_doc(body=ResourceAccessControlBody, body_examples=examples.RESOURCE_ACCESS_CONTROL_PUT),
    )
    async def put_resource_wide_row(self, request: Request[Any, Any, State]) -> Response[Any]:
        """Set or remove a resource-wide access-control row.

        The body names the resource type; a `resource_id` is refused (403). Only organization admins
        and project admins may modify project-wide permissions (SPEC §8.15).
        """
        async with admin_request(request, write=True) as admin:
            body = admin.body(ResourceAccessControlBody, rules=False)
            return await validate_and_write(admin, body, body.resource, None)

    @get(paths("/users_with_access/"))
    async def get_project_users(self, request: Request[Any, Any, State]) -> UsersWithAccess:
        """The users with access to a project.

        Each with their level and its source, ordered by level then uuid, descending (SPEC §3.8).
        """
        async with admin_request(request, write=False) as admin:
            return users_with_access(admin, PROJECT, str(project_id_of(admin)))


OBJECT_PATHS: Final = ("/dashboards/{id:str}", "/resources/{resource:str}/{rid:str}")


def object_paths(suffix: str) -> list[str]:
    return [path for base in OBJECT_PATHS for path in paths(base + suffix)]


class ObjectAccessControlsController(Controller):
    """An object's rows (dashboards and generic resources), and the dashboards' resource-wide rows."""

    tags = ["access controls"]  # noqa: RUF012  (Litestar reads it as a class attribute)

    @get(object_paths("/access_controls/"))
    async def get_object_rows(self, request: Request[Any, Any, State]) -> AccessControls:
        """An object's access-control rows.

        The rows on this dashboard or resource with the levels offered, the caller's access level on
        it and whether they may change them (SPEC §5.3.9).
        """
        async with admin_request(request, write=False) as admin:
            project_id = project_id_of(admin)
            resource, resource_id = object_target(admin)
            evaluator = admin.evaluator()
            rows = await store.object_rows(admin.conn, project_id, resource, resource_id)
            return levels_listing(
                admin,
                rows,
                resource,
                lambda user_id: evaluator.object_access_level(user_id, project_id, resource, resource_id),
                lambda user_id: evaluator.can_modify(user_id, project_id, resource, resource_id),
            )

    @put(
        object_paths("/access_controls/"),
        status_code=HTTP_200_OK,
        responses=ACCESS_CONTROL_PUT_RESPONSES,
        opt=api_doc(body=AccessControlBody, body_examples=examples.ACCESS_CONTROL_PUT),
    )
    async def put_object_row(self, request: Request[Any, Any, State]) -> Response[Any]:
        """Set or remove an object access-control row.

        Upserts the row keyed by member, role or neither; `access_level: null` deletes it (204). The
        creator, project admins and managers of the object may modify (SPEC §8.15).
        """
        async with admin_request(request, write=True) as admin:
            body = admin.body(AccessControlBody, rules=False)
            resource, resource_id = object_target(admin)
            return await validate_and_write(admin, body, resource, resource_id)

    @get(paths("/dashboards/{id:str}/global_access_controls/"))
    async def get_dashboard_wide_rows(self, request: Request[Any, Any, State]) -> AccessControls:
        """The project's resource-wide dashboard rows, seen from a dashboard.

        The resource-wide `dashboard` rows of the project and the caller's resource-wide dashboard
        level (SPEC §7.9).
        """
        async with admin_request(request, write=False) as admin:
            project_id = project_id_of(admin)
            evaluator = admin.evaluator()
            rows = await store.object_rows(admin.conn, project_id, DASHBOARD, None)
            return levels_listing(
                admin,
                rows,
                DASHBOARD,
                lambda user_id: evaluator.resource_access_level(user_id, project_id, DASHBOARD),
                lambda user_id: evaluator.can_modify_project_wide(user_id, project_id),
            )

    @put(
        paths("/dashboards/{id:str}/global_access_controls/"),
        status_code=HTTP_200_OK,
        responses=ACCESS_CONTROL_PUT_RESPONSES,
        opt=api_doc(body=AccessControlBody),
    )
    async def put_dashboard_wide_row(self, request: Request[Any, Any, State]) -> Response[Any]:
        """Set or remove a resource-wide dashboard row from a dashboard.

        As the resource-wide PUT with resource `dashboard`: only organization admins and project
        admins may modify project-wide permissions.
        """
        async with admin_request(request, write=True) as admin:
            body = admin.body(AccessControlBody, rules=False)
            return await validate_and_write(admin, body, DASHBOARD, None)

    @get(object_paths("/users_with_access/"))
    async def get_object_users(self, request: Request[Any, Any, State]) -> UsersWithAccess:
        """The users with access to an object.

        Each with their level and its source, ordered by level then uuid, descending (SPEC §3.8,
        §8.14).
        """
        async with admin_request(request, write=False) as admin:
            return users_with_access(admin, *object_target(admin))
