"""SPEC §5.3.6 dashboards and §5.3.7 collaborators.

The route checks (ACP, ACO, CED, CEDC) and the body rules RESTRICT and MOVE run in the pipeline;
what is left here are the business rules of the two sections, in their order. A dashboard's
levels (§3.11) come from the evaluator; those that depend on the caller are null in system calls.
"""

from datetime import datetime
from typing import Any, Final, TypeVar
from uuid import UUID

import msgspec
from litestar import Controller, HttpMethod, Request, delete, get, patch, post, route
from litestar.datastructures import State
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from acl_service.api import examples
from acl_service.api.admin.context import AdminRequest, admin_request
from acl_service.api.admin.representations import UserBasic
from acl_service.api.admin.resources import (
    DASHBOARD,
    NOBODY,
    caller_id,
    creator,
    creator_id,
    project_paths,
    refuse_system_fields,
    visible_objects,
)
from acl_service.api.bodies import PositiveId
from acl_service.api.columns import DEFAULT_RESTRICTION, ObjectName, RestrictionLevel
from acl_service.api.openapi import ADMIN_INCLUDE_ALL, api_doc
from acl_service.api.pagination import Page, page
from acl_service.authz.evaluator import AccessEvaluator
from acl_service.authz.facts import CollaboratorRuleFacts
from acl_service.errors import InvalidInput, NotFound
from acl_service.store import objects as store
from acl_service.store import users as user_store

UNSET = msgspec.UNSET
Unset = msgspec.UnsetType
T = TypeVar("T")

# SPEC §5.3.7: a collaborator's level when the body gives none (37, can edit).
DEFAULT_COLLABORATOR_LEVEL: Final = 37
TEMPLATE_NAME_FIELD: Final = "template_name"
MAX_NAME_LENGTH: Final = 400


class Dashboard(msgspec.Struct):
    id: int
    name: str | None
    created_by: UserBasic | None
    created_at: datetime
    restriction_level: int
    effective_restriction_level: int
    effective_privilege_level: int | None
    user_access_level: str | None


class Collaborator(msgspec.Struct):
    id: UUID
    dashboard_id: int
    user: UserBasic
    level: int
    added_at: datetime
    updated_at: datetime


class DashboardCreateBody(msgspec.Struct, forbid_unknown_fields=True):
    id: PositiveId | Unset = UNSET
    name: ObjectName | Unset | None = UNSET
    restriction_level: RestrictionLevel | Unset = UNSET
    created_by: UUID | Unset | None = UNSET
    # Read-only fields of the representation: accepted and ignored (SPEC §6).
    created_at: Any = UNSET
    effective_restriction_level: Any = UNSET
    effective_privilege_level: Any = UNSET
    user_access_level: Any = UNSET


class DashboardUpdateBody(msgspec.Struct, forbid_unknown_fields=True):
    name: ObjectName | Unset | None = UNSET
    restriction_level: RestrictionLevel | Unset = UNSET
    id: Any = UNSET
    created_by: Any = UNSET
    created_at: Any = UNSET
    effective_restriction_level: Any = UNSET
    effective_privilege_level: Any = UNSET
    user_access_level: Any = UNSET


class Tile(msgspec.Struct, forbid_unknown_fields=True):
    id: PositiveId


class MoveTileBody(msgspec.Struct, forbid_unknown_fields=True):
    toDashboard: PositiveId  # noqa: N815  (PostHog's field name)
    tile: Tile
    # The response is the source dashboard: its fields are accepted and ignored.
    id: Any = UNSET
    name: Any = UNSET
    created_by: Any = UNSET
    created_at: Any = UNSET
    restriction_level: Any = UNSET
    effective_restriction_level: Any = UNSET
    effective_privilege_level: Any = UNSET
    user_access_level: Any = UNSET


class TemplateBody(msgspec.Struct, forbid_unknown_fields=True):
    template: dict[str, Any]


class CollaboratorBody(msgspec.Struct, forbid_unknown_fields=True):
    user_uuid: UUID
    level: RestrictionLevel | Unset = UNSET
    id: Any = UNSET
    dashboard_id: Any = UNSET
    user: Any = UNSET
    added_at: Any = UNSET
    updated_at: Any = UNSET


def dashboard_view(
    evaluator: AccessEvaluator, user_id: int | None, project_id: int, record: Any
) -> Dashboard:
    dashboard_id = record["resource_id"]
    decision = evaluator.dashboard(NOBODY if user_id is None else user_id, project_id, dashboard_id)
    return Dashboard(
        id=int(dashboard_id),
        name=record["name"],
        created_by=creator(record),
        created_at=record["created_at"],
        restriction_level=record["restriction_level"],
        effective_restriction_level=decision.effective_restriction_level,
        effective_privilege_level=None if user_id is None else decision.effective_privilege_level,
        user_access_level=None
        if user_id is None
        else evaluator.object_access_level(user_id, project_id, DASHBOARD, dashboard_id),
    )


def unset_as_none(value: T | Unset) -> T | None:
    return None if value is UNSET else value


def collaborator_view(record: Any) -> Collaborator:
    return Collaborator(
        id=record["id"],
        dashboard_id=record["dashboard_id"],
        user=msgspec.convert(record["user"], UserBasic),
        level=record["level"],
        added_at=record["added_at"],
        updated_at=record["updated_at"],
    )


async def dashboard_response(admin: AdminRequest, project_id: int, dashboard_id: str) -> Dashboard:
    record = await store.get_object(admin.conn, project_id, DASHBOARD, dashboard_id)
    if record is None:
        raise NotFound()
    return dashboard_view(admin.evaluator(), caller_id(admin), project_id, record)


async def create_dashboard(
    admin: AdminRequest, project_id: int, dashboard_id: int | None, **fields: Any
) -> Dashboard:
    """Insert a dashboard (a new id unless given) and answer with it as the caller now sees it."""
    if dashboard_id is None:
        dashboard_id = await store.next_dashboard_id(admin.conn)
        if dashboard_id is None:
            raise InvalidInput("No dashboard id is left to assign.", attr="id")
    inserted = await store.insert_object(admin.conn, project_id, DASHBOARD, str(dashboard_id), **fields)
    if not inserted:
        raise InvalidInput("A dashboard with this id already exists.", code="unique", attr="id")
    await admin.reload_scope()
    return await dashboard_response(admin, project_id, str(dashboard_id))


def enforce_collaborator_rules(
    admin: AdminRequest,
    action: str,
    project_id: int,
    dashboard_id: str,
    *,
    requested_level: int = DEFAULT_COLLABORATOR_LEVEL,
    target: Any = None,
) -> None:
    """Rules (1)-(5) of SPEC §5.3.7 (create) or DELETE's restriction rule, as the policy states them."""
    evaluator = admin.evaluator()
    exists = target is not None and target["is_active"]
    target_dashboard = evaluator.dashboard(target["id"], project_id, dashboard_id) if exists else None
    # The effective restriction level does not depend on who asks.
    dashboard = evaluator.dashboard(NOBODY, project_id, dashboard_id)
    facts = CollaboratorRuleFacts(
        caller=admin.caller.kind,
        action=action,
        effective_restriction_level=dashboard.effective_restriction_level,
        requested_level=requested_level,
        user_exists=exists,
        target_effective_level=evaluator.effective_level(target["id"], project_id) if exists else None,
        target_can_restrict=target_dashboard is not None and target_dashboard.can_restrict,
    )
    outcome = admin.state.engine.step("collaborator.rule", facts)
    if not outcome.allowed:
        raise InvalidInput(outcome.detail, code=outcome.code)


class DashboardsController(Controller):
    tags = ["dashboards"]  # noqa: RUF012  (Litestar reads it as a class attribute)

    @get(project_paths("/dashboards/"), opt=api_doc(query=[ADMIN_INCLUDE_ALL]))
    async def list_dashboards(self, request: Request[Any, Any, State]) -> Page[Dashboard]:
        """List a project's dashboards the caller can see.

        Filtered by the list predicate of SPEC §3.10; organization admins see all with
        `admin_include_all`. Each dashboard carries the caller's levels on it.
        """
        async with admin_request(request, write=False) as admin:
            project_id: int = admin.param("project_id")
            window, count, records = await visible_objects(admin, request, project_id, DASHBOARD)
            evaluator, user_id = admin.evaluator(), caller_id(admin)
            results = [dashboard_view(evaluator, user_id, project_id, record) for record in records]
            return page(request, window, count, results)

    @post(project_paths("/dashboards/"), status_code=HTTP_201_CREATED, opt=api_doc(body=DashboardCreateBody))
    async def create(self, request: Request[Any, Any, State]) -> Dashboard:
        """Create a dashboard.

        An acting user becomes its creator; `id` and `created_by` can only be set by system calls,
        and an existing id is a 400 `unique` (SPEC §5.3.6).
        """
        async with admin_request(request, write=True) as admin:
            body = admin.body(DashboardCreateBody)
            refuse_system_fields(admin, body, ("id", "created_by"))
            if admin.is_system:
                created_by = await creator_id(admin.conn, unset_as_none(body.created_by))
            else:
                created_by = caller_id(admin)
            return await create_dashboard(
                admin,
                admin.param("project_id"),
                unset_as_none(body.id),
                name=unset_as_none(body.name),
                created_by_id=created_by,
                restriction_level=DEFAULT_RESTRICTION
                if body.restriction_level is UNSET
                else body.restriction_level,
            )

    @post(
        project_paths("/dashboards/create_from_template_json/"),
        status_code=HTTP_201_CREATED,
        opt=api_doc(body=TemplateBody, body_examples=examples.TEMPLATE),
    )
    async def create_from_template_json(self, request: Request[Any, Any, State]) -> Dashboard:
        """Create a dashboard from a template.

        Authorized as a dashboard create; the template's `template_name` names the new dashboard,
        created by the caller.
        """
        async with admin_request(request, write=True) as admin:
            body = admin.body(TemplateBody)
            # The template's name names the dashboard, as PostHog's create_from_template does.
            name = body.template.get(TEMPLATE_NAME_FIELD)
            return await create_dashboard(
                admin,
                admin.param("project_id"),
                None,
                name=name[:MAX_NAME_LENGTH] if isinstance(name, str) else None,
                created_by_id=caller_id(admin),
                restriction_level=DEFAULT_RESTRICTION,
            )

    @get(project_paths("/dashboards/{id:str}/"))
    async def retrieve(self, request: Request[Any, Any, State]) -> Dashboard:
        """A dashboard, with the caller's levels on it.

        Needs viewer access to the dashboard (SPEC §8.7: a specific `none` row refuses it).
        """
        async with admin_request(request, write=False) as admin:
            return await dashboard_response(admin, admin.param("project_id"), str(admin.param("id")))

    @route(
        project_paths("/dashboards/{id:str}/"),
        http_method=[HttpMethod.PATCH, HttpMethod.PUT],
        opt=api_doc(body=DashboardUpdateBody, body_examples=examples.DASHBOARD_UPDATE),
    )
    async def update(self, request: Request[Any, Any, State]) -> Dashboard:
        """Change a dashboard's name or restriction level.

        Needs edit rights on the dashboard; changing `restriction_level` also needs restriction
        rights (owner or project admin, SPEC §8.5, §8.6). Read-only fields are accepted and ignored.
        """
        async with admin_request(request, write=True) as admin:
            body = admin.body(DashboardUpdateBody)
            project_id: int = admin.param("project_id")
            dashboard_id = str(admin.param("id"))
            fields: dict[str, Any] = {}
            if body.name is not UNSET:
                fields["name"] = body.name
            if body.restriction_level is not UNSET:
                fields["restriction_level"] = body.restriction_level
            if fields:
                await store.update_object(admin.conn, project_id, DASHBOARD, dashboard_id, fields)
                await admin.reload_scope()
            return await dashboard_response(admin, project_id, dashboard_id)

    @delete(project_paths("/dashboards/{id:str}/"), status_code=HTTP_204_NO_CONTENT)
    async def destroy(self, request: Request[Any, Any, State]) -> None:
        """Delete a dashboard.

        Needs edit rights on the dashboard; its access-control rows and collaborators go with it.
        """
        async with admin_request(request, write=True) as admin:
            deleted = await store.delete_object(
                admin.conn, admin.param("project_id"), DASHBOARD, str(admin.param("id"))
            )
            if not deleted:
                raise NotFound()

    @patch(
        project_paths("/dashboards/{id:str}/move_tile/"),
        status_code=HTTP_200_OK,
        opt=api_doc(body=MoveTileBody, body_examples=examples.MOVE_TILE),
    )
    async def move_tile(self, request: Request[Any, Any, State]) -> Dashboard:
        """Authorize moving a tile to another dashboard.

        Checks edit rights on both dashboards (MOVE) and answers the source dashboard; no tile is
        stored. Personal API keys cannot call it (SPEC §8.9).
        """
        async with admin_request(request, write=False) as admin:
            # MOVE ran in body(); no tile is stored, so the call only authorizes (SPEC §5.3.6).
            admin.body(MoveTileBody)
            return await dashboard_response(admin, admin.param("project_id"), str(admin.param("id")))


class CollaboratorsController(Controller):
    tags = ["dashboards"]  # noqa: RUF012  (Litestar reads it as a class attribute)

    @get(project_paths("/dashboards/{id:str}/collaborators/"))
    async def list_collaborators(self, request: Request[Any, Any, State]) -> list[Collaborator]:
        """List a dashboard's collaborators.

        Ordered by when they were added; 404 `Dashboard not found.` for an unknown dashboard.
        """
        async with admin_request(request, write=False) as admin:
            records = await store.list_collaborators(
                admin.conn, admin.param("project_id"), str(admin.param("id"))
            )
            return [collaborator_view(record) for record in records]

    @post(
        project_paths("/dashboards/{id:str}/collaborators/"),
        status_code=HTTP_201_CREATED,
        opt=api_doc(body=CollaboratorBody, body_examples=examples.COLLABORATOR_CREATE),
    )
    async def add_collaborator(self, request: Request[Any, Any, State]) -> Collaborator:
        """Give a user edit rights on a restricted dashboard.

        Rules (1)-(6) of SPEC §5.3.7 in order: the dashboard must be restricted (37), the level is
        37, and the user must exist, have access to the project and not already have inherent access
        (SPEC §8.6).
        """
        async with admin_request(request, write=True) as admin:
            body = admin.body(CollaboratorBody)
            project_id: int = admin.param("project_id")
            dashboard_id = str(admin.param("id"))
            level = DEFAULT_COLLABORATOR_LEVEL if body.level is UNSET else body.level
            target = await user_store.get_user(admin.conn, body.user_uuid)
            enforce_collaborator_rules(
                admin, "create", project_id, dashboard_id, requested_level=level, target=target
            )
            assert target is not None
            added = await store.insert_collaborator(admin.conn, project_id, dashboard_id, target["id"], level)
            if added is None:
                raise InvalidInput("User already is a collaborator.")
            record = await store.get_collaborator(admin.conn, project_id, dashboard_id, target["id"])
            assert record is not None
            return collaborator_view(record)

    @delete(
        project_paths("/dashboards/{id:str}/collaborators/{user_uuid:str}/"), status_code=HTTP_204_NO_CONTENT
    )
    async def remove_collaborator(self, request: Request[Any, Any, State]) -> None:
        """Remove a collaborator from a dashboard.

        404 when the user is not a collaborator; refused on a dashboard at the lowest restriction
        level.
        """
        async with admin_request(request, write=True) as admin:
            project_id: int = admin.param("project_id")
            dashboard_id = str(admin.param("id"))
            target = await user_store.get_user(admin.conn, admin.param("uuid"))
            collaborator = (
                await store.get_collaborator(admin.conn, project_id, dashboard_id, target["id"])
                if target is not None
                else None
            )
            if target is None or collaborator is None:
                raise NotFound()
            enforce_collaborator_rules(admin, "destroy", project_id, dashboard_id)
            await store.delete_collaborator(admin.conn, project_id, dashboard_id, target["id"])

    # Authentication comes before the 405 (SPEC §5.1): the route table answers these methods.
    @route(
        project_paths("/dashboards/{id:str}/collaborators/"),
        http_method=[HttpMethod.PATCH, HttpMethod.PUT, HttpMethod.DELETE],
        include_in_schema=False,
    )
    async def collaborators_other_methods(self, request: Request[Any, Any, State]) -> None:
        async with admin_request(request, write=False):
            pass

    @route(
        project_paths("/dashboards/{id:str}/collaborators/{user_uuid:str}/"),
        http_method=[HttpMethod.GET, HttpMethod.POST, HttpMethod.PATCH, HttpMethod.PUT],
        include_in_schema=False,
    )
    async def collaborator_other_methods(self, request: Request[Any, Any, State]) -> None:
        async with admin_request(request, write=False):
            pass
