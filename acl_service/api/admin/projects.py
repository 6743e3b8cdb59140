"""SPEC §5.3.4 projects and §5.3.5 their explicit members (the legacy private-project layer).

Projects answer under `/api/projects/` and `/api/environments/` alike. The pipeline has run the
route checks (OAW on the body's organization, LIGHT and ACO, ACFLAG in `admin.body()`, STRICT on
explicit members); the caller-dependent fields come from the evaluator, and the explicit-member
rules (1)-(7) of §5.3.5 run here in SPEC's order.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final
from uuid import UUID

import msgspec
from litestar import Controller, Request, delete, get, patch, post, put
from litestar.datastructures import State
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from acl_service.api import examples
from acl_service.api.admin.context import AdminRequest, admin_request
from acl_service.api.admin.organizations import rule_error
from acl_service.api.admin.representations import UserBasic, user_basic
from acl_service.api.bodies import Name, PositiveId, decode_body
from acl_service.api.columns import ExplicitLevel
from acl_service.api.openapi import UUID_SCHEMA, DocParameter, api_doc
from acl_service.api.pagination import Page, page, page_window
from acl_service.authz.evaluator import AccessEvaluator
from acl_service.authz.facts import ExplicitMemberRuleFacts
from acl_service.domain import Caller
from acl_service.errors import InvalidInput, NotFound, PermissionDenied
from acl_service.store import organizations as organizations_store
from acl_service.store import projects as store
from acl_service.store.facts import Connection, load_organization_view

UNSET = msgspec.UNSET
Unset = msgspec.UnsetType

PROJECT_PREFIXES = ("/api/projects", "/api/environments")
ORGANIZATION_QUERY: Final = DocParameter(
    "organization", UUID_SCHEMA, "Only the projects of this organization."
)


# -- projects ----------------------------------------------------------------------------------------


class ProjectCreate(msgspec.Struct, forbid_unknown_fields=True):
    organization: UUID
    name: Name
    id: PositiveId | Unset = UNSET
    access_control: bool | Unset = UNSET
    effective_membership_level: Any = UNSET
    user_access_level: Any = UNSET
    created_at: Any = UNSET
    updated_at: Any = UNSET


class ProjectUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """PATCH and PUT: `name` and `access_control`; the rest of the representation is ignored."""

    name: Name | Unset = UNSET
    access_control: bool | Unset = UNSET
    id: Any = UNSET
    organization: Any = UNSET
    effective_membership_level: Any = UNSET
    user_access_level: Any = UNSET
    created_at: Any = UNSET
    updated_at: Any = UNSET


class ProjectOut(msgspec.Struct):
    id: int
    organization: UUID
    name: str
    access_control: bool
    effective_membership_level: int | None
    user_access_level: str | None
    created_at: datetime
    updated_at: datetime


def project_out(record: Any, evaluator: AccessEvaluator | None, user_id: int | None) -> ProjectOut:
    """The representation; caller-dependent fields are null in system calls (user_id None)."""
    decision = (
        evaluator.project(user_id, record["id"]) if evaluator is not None and user_id is not None else None
    )
    return ProjectOut(
        id=record["id"],
        organization=record["organization_id"],
        name=record["name"],
        access_control=record["access_control"],
        effective_membership_level=decision.effective_level if decision is not None else None,
        user_access_level=decision.access_level if decision is not None else None,
        created_at=record["created_at"],
        updated_at=record["updated_at"],
    )


def acting_user_id(admin: AdminRequest) -> int | None:
    return None if admin.is_system or admin.user is None else admin.user.id


def project_id_taken() -> InvalidInput:
    return InvalidInput("A project with this id already exists.", code="unique", attr="id")


async def validate_new_project(conn: Connection, caller: Caller, raw_body: bytes) -> None:
    """SPEC §5.1: POST /api/projects/ validates its body before OAW runs on its organization."""
    body = decode_body(raw_body, ProjectCreate)
    if body.id is not UNSET and caller.kind != "system":
        raise InvalidInput("This field can only be set by a system call.", code="read_only", attr="id")
    if not await organizations_store.organization_exists(conn, body.organization):
        raise InvalidInput(
            f'Invalid pk "{body.organization}" - object does not exist.',
            code="does_not_exist",
            attr="organization",
        )
    if isinstance(body.id, int) and await store.project_id_taken(conn, body.id):
        raise project_id_taken()


def organization_filter(query: Any) -> UUID | None:
    raw = query.get("organization")
    if raw is None:
        return None
    try:
        return UUID(raw)
    except ValueError:
        raise InvalidInput("Must be a valid UUID.", code="invalid", attr="organization") from None


def key_allows(admin: AdminRequest, project_id: int, organization_id: UUID) -> bool:
    """Project lists are restricted to a key's non-empty scoping lists (SPEC §3.13)."""
    key = admin.caller.key
    if key is None:
        return True
    if key.scoped_teams and project_id not in key.scoped_teams:
        return False
    return not key.scoped_organizations or organization_id in key.scoped_organizations


async def list_projects(
    request: Request[Any, Any, State], admin: AdminRequest, organizations: Sequence[UUID] | None
) -> Page[ProjectOut]:
    """Visible projects of the given organizations (None: every organization, system calls only)."""
    window = page_window(request.query_params)
    wanted = organization_filter(request.query_params)
    user_id = acting_user_id(admin)
    evaluators: dict[UUID, AccessEvaluator] = {}
    ids: list[int] | None = None
    if organizations is not None:
        ids = []
        for organization_id in organizations:
            if wanted is not None and organization_id != wanted:
                continue
            view = await load_organization_view(admin.conn, organization_id)
            if view is None:
                continue
            evaluator = evaluators[organization_id] = AccessEvaluator(admin.state.engine, view, view.users)
            visible = evaluator.visible_project_ids(user_id) if user_id is not None else tuple(view.projects)
            ids.extend(pid for pid in visible if key_allows(admin, pid, organization_id))
    count, records = await store.list_projects(
        admin.conn, organization=wanted, ids=ids, limit=window.limit, offset=window.offset
    )
    results = [project_out(r, evaluators.get(r["organization_id"]), user_id) for r in records]
    return page(request, window, count, results)


async def current_project(admin: AdminRequest, project_id: int) -> ProjectOut:
    record = await store.get_project(admin.conn, project_id)
    if record is None:
        raise NotFound()
    user_id = acting_user_id(admin)
    return project_out(record, admin.evaluator() if user_id is not None else None, user_id)


class ProjectsController(Controller):
    tags = ["projects"]  # noqa: RUF012  (Litestar reads it as a class attribute)

    @get([f"{prefix}/" for prefix in PROJECT_PREFIXES], opt=api_doc(query=[ORGANIZATION_QUERY]))
    async def list_all(self, request: Request[Any, Any, State]) -> Page[ProjectOut]:
        """List the projects the caller can see.

        A system call lists every project; an acting user the projects of their organizations they
        are a member of (SPEC §3.4). `?organization=` narrows to one organization; a key with
        `scoped_teams` sees only those.
        """
        async with admin_request(request, write=False) as admin:
            user_id = acting_user_id(admin)
            organizations = (
                None
                if user_id is None
                else await organizations_store.organizations_of_user(admin.conn, user_id)
            )
            return await list_projects(request, admin, organizations)

    @get("/api/organizations/{org:str}/projects/")
    async def list_of_organization(self, request: Request[Any, Any, State]) -> Page[ProjectOut]:
        """List an organization's projects the caller can see.

        As the project list, for one organization; non-members get 403 (ORGN).
        """
        async with admin_request(request, write=False) as admin:
            return await list_projects(request, admin, [admin.param("org")])

    @post(
        [f"{prefix}/" for prefix in PROJECT_PREFIXES],
        status_code=HTTP_201_CREATED,
        opt=api_doc(body=ProjectCreate, body_examples=examples.PROJECT_CREATE),
    )
    async def create(self, request: Request[Any, Any, State]) -> ProjectOut:
        """Create a project.

        The body names the organization (400 `does_not_exist` when unknown); acting users need admin
        level in it (OAW); `id` can only be set by system calls (SPEC §5.3.4).
        """
        async with admin_request(request, write=True, body_first=validate_new_project) as admin:
            body = admin.body(ProjectCreate)
            project_id = body.id if isinstance(body.id, int) else await store.next_project_id(admin.conn)
            if project_id is None:
                raise InvalidInput("No project id is left to assign.", attr="id")
            created = await store.insert_project(
                admin.conn,
                project_id,
                body.organization,
                body.name,
                body.access_control if isinstance(body.access_control, bool) else False,
            )
            if created is None:
                raise project_id_taken()
            await admin.reload_scope({"organization": str(body.organization)})
            return await current_project(admin, created)

    @get(
        [
            *(f"{prefix}/{{project_id:str}}/" for prefix in PROJECT_PREFIXES),
            "/api/organizations/{org:str}/projects/{project_id:str}/",
        ]
    )
    async def retrieve(self, request: Request[Any, Any, State]) -> ProjectOut:
        """A project, with the caller's levels in it.

        Members without access to a private project get 403 `You don't have sufficient permissions
        in the project.`; users outside the organization 404 (SPEC §8.1).
        """
        async with admin_request(request, write=False) as admin:
            return await current_project(admin, admin.param("project_id"))

    @patch([f"{prefix}/{{project_id:str}}/" for prefix in PROJECT_PREFIXES], opt=api_doc(body=ProjectUpdate))
    async def partial_update(self, request: Request[Any, Any, State]) -> ProjectOut:
        """Change a project's name or private flag.

        Needs admin access to the project; setting `access_control` also needs organization admin
        level (ACFLAG).
        """
        return await self._update(request)

    @put([f"{prefix}/{{project_id:str}}/" for prefix in PROJECT_PREFIXES], opt=api_doc(body=ProjectUpdate))
    async def update(self, request: Request[Any, Any, State]) -> ProjectOut:
        """Change a project's name or private flag (as PATCH).

        The same partial update as PATCH, under the same checks.
        """
        return await self._update(request)

    async def _update(self, request: Request[Any, Any, State]) -> ProjectOut:
        async with admin_request(request, write=True) as admin:
            body = admin.body(ProjectUpdate)  # runs ACFLAG
            project_id = admin.param("project_id")
            fields = {
                name: value
                for name, value in (("name", body.name), ("access_control", body.access_control))
                if value is not UNSET
            }
            await store.update_project(admin.conn, project_id, fields)
            await admin.reload_scope()
            return await current_project(admin, project_id)

    @delete([f"{prefix}/{{project_id:str}}/" for prefix in PROJECT_PREFIXES], status_code=HTTP_204_NO_CONTENT)
    async def destroy(self, request: Request[Any, Any, State]) -> None:
        """Delete a project.

        Needs an effective level of 8 in the project; cascades to everything in it (SPEC §8.1:
        Alice, explicit admin, deletes project 1).
        """
        async with admin_request(request, write=True) as admin:
            await store.delete_project(admin.conn, admin.param("project_id"))


# -- explicit members --------------------------------------------------------------------------------

EXPLICIT_PATHS = [f"{prefix}/{{project_id:str}}/explicit_members" for prefix in PROJECT_PREFIXES]


class ExplicitMemberCreate(msgspec.Struct, forbid_unknown_fields=True):
    user_uuid: UUID
    level: ExplicitLevel | Unset = UNSET
    id: Any = UNSET
    parent_level: Any = UNSET
    parent_membership_id: Any = UNSET
    joined_at: Any = UNSET
    updated_at: Any = UNSET
    user: Any = UNSET
    effective_level: Any = UNSET


class ExplicitMemberUpdate(msgspec.Struct, forbid_unknown_fields=True):
    level: ExplicitLevel | Unset = UNSET
    id: Any = UNSET
    parent_level: Any = UNSET
    parent_membership_id: Any = UNSET
    joined_at: Any = UNSET
    updated_at: Any = UNSET
    user: Any = UNSET
    user_uuid: Any = UNSET
    effective_level: Any = UNSET


class ExplicitMember(msgspec.Struct):
    """The seed's field set (PostHog's API reference), `user_uuid` included (SPEC §7.17)."""

    id: UUID
    level: int
    parent_level: int
    parent_membership_id: UUID
    joined_at: datetime
    updated_at: datetime
    user: UserBasic
    user_uuid: UUID
    effective_level: int


def explicit_member(record: Any) -> ExplicitMember:
    return ExplicitMember(
        id=record["id"],
        level=record["level"],
        parent_level=record["parent_level"],
        parent_membership_id=record["parent_membership_id"],
        joined_at=record["joined_at"],
        updated_at=record["updated_at"],
        user=user_basic(record, id_column="user_id"),
        user_uuid=record["uuid"],
        effective_level=record["effective_level"],
    )


def enforce_explicit_member_rules(
    admin: AdminRequest, action: str, level: int | None, *, member: UUID, member_level: int = 0
) -> None:
    """§5.3.5 rules (1)-(5), in SPEC's order, as the policy states them (all (actor))."""
    project = admin.scope.project
    assert project is not None  # the pipeline resolved it
    caller = admin.user
    acting = caller is not None and not admin.is_system
    facts = ExplicitMemberRuleFacts(
        caller=admin.caller.kind,
        action=action,
        access_control=project.access_control,
        effective_level=admin.evaluator().effective_level(caller.id, project.id)
        if acting and caller is not None
        else None,
        is_self=acting and caller is not None and member == caller.uuid,
        member_level=member_level,
        new_level=level,
    )
    outcome = admin.state.engine.step("explicit_member.rule", facts)
    if not outcome.allowed:
        raise rule_error(outcome)


async def target_explicit_member(admin: AdminRequest) -> Any:
    record = await store.get_explicit_member(admin.conn, admin.param("project_id"), admin.param("uuid"))
    if record is None:
        raise NotFound()
    return record


class ExplicitMembersController(Controller):
    tags = ["projects"]  # noqa: RUF012  (Litestar reads it as a class attribute)

    @get([f"{path}/" for path in EXPLICIT_PATHS])
    async def list_explicit_members(self, request: Request[Any, Any, State]) -> list[ExplicitMember]:
        """List a project's explicit members.

        Active users only, ordered by level, then newest first: the legacy project membership of
        flag-private projects (STRICT).
        """
        async with admin_request(request, write=False) as admin:
            records = await store.list_explicit_members(admin.conn, admin.param("project_id"))
            return [explicit_member(record) for record in records]

    @post(
        [f"{path}/" for path in EXPLICIT_PATHS],
        status_code=HTTP_201_CREATED,
        opt=api_doc(body=ExplicitMemberCreate, body_examples=examples.EXPLICIT_MEMBER_CREATE),
    )
    async def add_explicit_member(self, request: Request[Any, Any, State]) -> ExplicitMember:
        """Add an explicit member to a project.

        Rules (1)-(7) of SPEC §5.3.5 in order: the project must be flag-private, nobody adds
        themselves or grants above their own effective level, and the user must belong to the
        project's organization.
        """
        async with admin_request(request, write=True) as admin:
            body = admin.body(ExplicitMemberCreate)
            level = body.level if isinstance(body.level, int) else None
            enforce_explicit_member_rules(admin, "create", level, member=body.user_uuid)
            project = admin.scope.project
            assert project is not None
            # (6) every caller: the member must be an active member of the project's organization.
            membership = await store.active_membership(admin.conn, project.organization_id, body.user_uuid)
            if membership is None:
                raise PermissionDenied("You both need to belong to the same organization.")
            created = await store.insert_explicit_member(admin.conn, project.id, membership, level or 1)
            if created is None:
                raise InvalidInput("This user likely already is an explicit member of the project.")
            return explicit_member(await store.get_explicit_member_by_id(admin.conn, created))

    @get([f"{path}/{{user_uuid:str}}/" for path in EXPLICIT_PATHS])
    async def get_explicit_member(self, request: Request[Any, Any, State]) -> ExplicitMember:
        """One explicit member of a project.

        By the member's user uuid; 404 when they are not an explicit member.
        """
        async with admin_request(request, write=False) as admin:
            return explicit_member(await target_explicit_member(admin))

    @patch([f"{path}/{{user_uuid:str}}/" for path in EXPLICIT_PATHS], opt=api_doc(body=ExplicitMemberUpdate))
    async def patch_explicit_member(self, request: Request[Any, Any, State]) -> ExplicitMember:
        """Change an explicit member's level.

        Rules (1)-(5) of SPEC §5.3.5: nobody sets their own level or edits someone above their
        effective level.
        """
        return await self._update(request)

    @put([f"{path}/{{user_uuid:str}}/" for path in EXPLICIT_PATHS], opt=api_doc(body=ExplicitMemberUpdate))
    async def put_explicit_member(self, request: Request[Any, Any, State]) -> ExplicitMember:
        """Change an explicit member's level (as PATCH).

        The same update as PATCH, under the same rules.
        """
        return await self._update(request)

    async def _update(self, request: Request[Any, Any, State]) -> ExplicitMember:
        async with admin_request(request, write=True) as admin:
            target = await target_explicit_member(admin)
            body = admin.body(ExplicitMemberUpdate)
            level = body.level if isinstance(body.level, int) else None
            enforce_explicit_member_rules(
                admin, "update", level, member=target["uuid"], member_level=target["level"]
            )
            if level is not None:
                await store.update_explicit_level(admin.conn, target["id"], level)
            return explicit_member(await store.get_explicit_member_by_id(admin.conn, target["id"]))

    @delete([f"{path}/{{user_uuid:str}}/" for path in EXPLICIT_PATHS], status_code=HTTP_204_NO_CONTENT)
    async def remove_explicit_member(self, request: Request[Any, Any, State]) -> None:
        """Remove an explicit member from a project.

        Needs an effective level of 8, except that anyone may leave (SPEC §8.13).
        """
        async with admin_request(request, write=True) as admin:
            target = await target_explicit_member(admin)
            await store.delete_explicit_member(admin.conn, target["id"])
