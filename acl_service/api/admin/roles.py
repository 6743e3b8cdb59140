"""SPEC §5.3.10: roles of an organization and who holds them.

ORGN (the caller is a member) and ROLEP (writes need an org admin) run in the pipeline; what is
left here is the representation, the case-insensitive unique name and the membership rules.
Role rows of access controls take effect only under `role_based_access` (§3.3); holding a role is
stored regardless.
"""

from datetime import datetime
from typing import Any, Final
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.datastructures import State
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from acl_service.api import examples
from acl_service.api.admin.context import AdminRequest, admin_request
from acl_service.api.admin.representations import Member, UserBasic, user_basic
from acl_service.api.bodies import Name
from acl_service.api.openapi import api_doc
from acl_service.api.pagination import Page, page, page_window
from acl_service.errors import InvalidInput, NotFound
from acl_service.store import roles as store

UNSET = msgspec.UNSET
Unset = msgspec.UnsetType

DUPLICATE_NAME: Final = "There is already a role with this name."


class RoleMembership(msgspec.Struct, frozen=True):
    id: UUID
    role_id: UUID
    organization_member: Member
    user: UserBasic
    joined_at: datetime
    updated_at: datetime


class Role(msgspec.Struct, frozen=True):
    id: UUID
    name: str
    created_at: datetime
    created_by: UserBasic | None
    members: list[RoleMembership]


class RoleCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    # Read-only fields of the representation: accepted and ignored (SPEC §6).
    id: Any = UNSET
    created_at: Any = UNSET
    created_by: Any = UNSET
    members: Any = UNSET


class RoleUpdate(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | Unset = UNSET
    id: Any = UNSET
    created_at: Any = UNSET
    created_by: Any = UNSET
    members: Any = UNSET


class RoleMembershipCreate(msgspec.Struct, forbid_unknown_fields=True):
    user_uuid: UUID
    id: Any = UNSET
    role_id: Any = UNSET
    organization_member: Any = UNSET
    user: Any = UNSET
    joined_at: Any = UNSET
    updated_at: Any = UNSET


def role_membership(record: asyncpg.Record) -> RoleMembership:
    user = user_basic(record, id_column="user_id")
    return RoleMembership(
        id=record["id"],
        role_id=record["role_id"],
        organization_member=Member(
            id=record["member_id"],
            user=user,
            level=record["member_level"],
            joined_at=record["member_joined_at"],
            updated_at=record["member_updated_at"],
        ),
        user=user,
        joined_at=record["joined_at"],
        updated_at=record["updated_at"],
    )


def role(record: asyncpg.Record, members: list[RoleMembership]) -> Role:
    creator = None
    if record["creator_id"] is not None:
        creator = user_basic(record, prefix="creator_")
    return Role(
        id=record["id"],
        name=record["name"],
        created_at=record["created_at"],
        created_by=creator,
        members=members,
    )


async def roles_with_members(admin: AdminRequest, records: list[asyncpg.Record]) -> list[Role]:
    memberships = await store.memberships_of_roles(admin.conn, [record["id"] for record in records])
    by_role: dict[UUID, list[RoleMembership]] = {}
    for membership in memberships:
        by_role.setdefault(membership["role_id"], []).append(role_membership(membership))
    return [role(record, by_role.get(record["id"], [])) for record in records]


async def role_by_id(admin: AdminRequest, role_id: UUID) -> Role:
    """A role of the URL's organization; another organization's role is not found."""
    record = await store.get_role(admin.conn, admin.param("org"), role_id)
    if record is None:
        raise NotFound()
    return (await roles_with_members(admin, [record]))[0]


async def role_of_path(admin: AdminRequest) -> Role:
    return await role_by_id(admin, admin.param("role_id"))


async def refuse_duplicate_name(admin: AdminRequest, name: str, except_role: UUID | None = None) -> None:
    if await store.role_name_taken(admin.conn, admin.param("org"), name, except_role):
        raise InvalidInput(DUPLICATE_NAME, code="unique", attr="name")


class RolesController(Controller):
    path = "/api/organizations/{org:str}/roles"
    tags = ["roles"]  # noqa: RUF012  (Litestar reads it as a class attribute)

    @get("/")
    async def list_roles(self, request: Request[Any, Any, State]) -> Page[Role]:
        """List an organization's roles.

        Each with its members; callers who are not members get 403 (ORGN).
        """
        async with admin_request(request, write=False) as admin:
            query = request.query_params
            window = page_window(query)
            total, records = await store.list_roles(
                admin.conn, admin.param("org"), limit=window.limit, offset=window.offset
            )
            return page(request, window, total, await roles_with_members(admin, records))

    @post("/", status_code=HTTP_201_CREATED, opt=api_doc(body=RoleCreate, body_examples=examples.ROLE_CREATE))
    async def create_role(self, request: Request[Any, Any, State]) -> Role:
        """Create a role.

        Admins and owners only (ROLEP); names are unique per organization, case-insensitively (SPEC
        §5.3.10).
        """
        async with admin_request(request, write=True) as admin:
            body = admin.body(RoleCreate)
            await refuse_duplicate_name(admin, body.name)
            creator = admin.user.id if admin.user is not None else None
            try:
                role_id = await store.insert_role(admin.conn, admin.param("org"), body.name, creator)
            except asyncpg.UniqueViolationError:
                raise InvalidInput(DUPLICATE_NAME, code="unique", attr="name") from None
            return await role_by_id(admin, role_id)

    @get("/{role_id:str}/")
    async def get_role(self, request: Request[Any, Any, State]) -> Role:
        """A role with its members.

        404 for a role of another organization.
        """
        async with admin_request(request, write=False) as admin:
            return await role_of_path(admin)

    @patch("/{role_id:str}/", opt=api_doc(body=RoleUpdate))
    async def patch_role(self, request: Request[Any, Any, State]) -> Role:
        """Rename a role.

        Admins and owners only; the new name must be unique in the organization.
        """
        return await self._update(request)

    @put("/{role_id:str}/", opt=api_doc(body=RoleCreate))
    async def put_role(self, request: Request[Any, Any, State]) -> Role:
        """Rename a role (name required).

        As PATCH, with `name` required.
        """
        return await self._update(request, require_name=True)

    async def _update(self, request: Request[Any, Any, State], *, require_name: bool = False) -> Role:
        async with admin_request(request, write=True) as admin:
            await role_of_path(admin)  # 404 before the body is looked at
            name = admin.body(RoleCreate).name if require_name else admin.body(RoleUpdate).name
            role_id: UUID = admin.param("role_id")
            if isinstance(name, str):
                await refuse_duplicate_name(admin, name, role_id)
                await store.rename_role(admin.conn, role_id, name)
            return await role_of_path(admin)

    @delete("/{role_id:str}/", status_code=HTTP_204_NO_CONTENT)
    async def delete_role(self, request: Request[Any, Any, State]) -> None:
        """Delete a role.

        Admins and owners only; its memberships and access-control rows go with it.
        """
        async with admin_request(request, write=True) as admin:
            if not await store.delete_role(admin.conn, admin.param("org"), admin.param("role_id")):
                raise NotFound()

    @get("/{role_id:str}/role_memberships/")
    async def list_memberships(self, request: Request[Any, Any, State]) -> Page[RoleMembership]:
        """List a role's members.

        Paginated; callers who are not members of the organization get 403 (ORGN).
        """
        async with admin_request(request, write=False) as admin:
            query = request.query_params
            window = page_window(query)
            total, records = await store.list_role_memberships(
                admin.conn,
                admin.param("org"),
                admin.param("role_id"),
                limit=window.limit,
                offset=window.offset,
            )
            return page(request, window, total, [role_membership(r) for r in records])

    @post(
        "/{role_id:str}/role_memberships/",
        status_code=HTTP_201_CREATED,
        opt=api_doc(body=RoleMembershipCreate, body_examples=examples.ROLE_MEMBERSHIP_CREATE),
    )
    async def add_membership(self, request: Request[Any, Any, State]) -> Response[RoleMembership]:
        """Add a member to a role.

        The user must be an active member of the role's organization and not hold the role yet;
        admins and owners only (SPEC §5.3.10).
        """
        async with admin_request(request, write=True) as admin:
            body = admin.body(RoleMembershipCreate)
            organization: UUID = admin.param("org")
            role_id: UUID = admin.param("role_id")
            if await store.get_role(admin.conn, organization, role_id) is None:
                raise InvalidInput("Role does not exist.")
            member = await store.active_membership(admin.conn, organization, body.user_uuid)
            if member is None:
                raise InvalidInput("User does not exist.")
            if await store.holds_role(admin.conn, role_id, member["user_id"]):
                raise InvalidInput("User is already part of the role.")
            try:
                created = await store.insert_role_membership(
                    admin.conn, role_id, member["user_id"], member["id"]
                )
            except asyncpg.UniqueViolationError:
                raise InvalidInput("User is already part of the role.") from None
            record = await store.get_role_membership(admin.conn, created)
            return Response(role_membership(record), status_code=HTTP_201_CREATED)

    @delete("/{role_id:str}/role_memberships/{membership_id:str}/", status_code=HTTP_204_NO_CONTENT)
    async def remove_membership(self, request: Request[Any, Any, State]) -> None:
        """Remove a member from a role.

        404 when the membership does not exist; admins and owners only.
        """
        async with admin_request(request, write=True) as admin:
            removed = await store.delete_role_membership(
                admin.conn, admin.param("org"), admin.param("role_id"), admin.param("membership_id")
            )
            if not removed:
                raise NotFound()
