"""SPEC §5.3.2 organizations and §5.3.3 their members.

The pipeline has already run the route checks of §4 (OAW, OOD, ORGN and the resolution 404s);
what is left here are the body rules: the **(actor)** read-only fields of an organization and the
member rules of §5.3.3, in SPEC's order.
"""

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, delete, get, patch, post, put
from litestar.datastructures import State
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from acl_service.api import examples
from acl_service.api.admin.context import AdminRequest, admin_request
from acl_service.api.admin.representations import Member, user_basic
from acl_service.api.bodies import text
from acl_service.api.columns import Feature, MemberLevel
from acl_service.api.openapi import api_doc
from acl_service.api.pagination import Page, page, page_window
from acl_service.authz.engine import CheckOutcome
from acl_service.authz.facts import MemberRuleFacts
from acl_service.errors import InvalidInput, NotFound, PermissionDenied, ServiceError
from acl_service.store import organizations as store
from acl_service.store import users as users_store

UNSET = msgspec.UNSET
Unset = msgspec.UnsetType

OWNER = 15
SYSTEM_ONLY = "This field can only be set by a system call."


def organization_id_taken() -> InvalidInput:
    return InvalidInput("An organization with this id already exists.", code="unique", attr="id")


def already_member() -> InvalidInput:
    return InvalidInput("User is already a member of the organization.", code="unique", attr="user_uuid")


# -- organizations -----------------------------------------------------------------------------------


class OrganizationFields(msgspec.Struct, forbid_unknown_fields=True):
    """PATCH and PUT: every field optional; response-only fields are accepted and ignored."""

    name: Annotated[str, text(64)] | Unset = UNSET
    available_product_features: list[Feature] | Unset = UNSET
    members_can_use_personal_api_keys: bool | Unset = UNSET
    id: Any = UNSET
    membership_level: Any = UNSET
    created_at: Any = UNSET
    updated_at: Any = UNSET


class OrganizationCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, text(64)]
    id: UUID | Unset = UNSET
    available_product_features: list[Feature] | Unset = UNSET
    members_can_use_personal_api_keys: bool | Unset = UNSET
    membership_level: Any = UNSET
    created_at: Any = UNSET
    updated_at: Any = UNSET


class Organization(msgspec.Struct):
    id: UUID
    name: str
    available_product_features: list[Feature]
    members_can_use_personal_api_keys: bool
    membership_level: int | None
    created_at: datetime
    updated_at: datetime


def organization(record: Any) -> Organization:
    return msgspec.convert(dict(record), Organization)


def caller_id(admin: AdminRequest) -> int | None:
    return admin.user.id if admin.user is not None and not admin.is_system else None


def refuse_system_fields(admin: AdminRequest, body: OrganizationCreate | OrganizationFields) -> None:
    """(actor) `id` and `available_product_features` are set by the directory sync only."""
    if admin.is_system:
        return
    for field in ("id", "available_product_features"):
        if getattr(body, field) is not UNSET:
            raise InvalidInput(SYSTEM_ONLY, code="read_only", attr=field)


def changed_fields(body: OrganizationCreate | OrganizationFields) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in ("name", "available_product_features", "members_can_use_personal_api_keys"):
        value = getattr(body, name)
        if value is not UNSET:
            fields[name] = msgspec.to_builtins(value)
    return fields


async def organization_for(admin: AdminRequest, organization_id: UUID) -> Organization:
    record = await store.get_organization(admin.conn, organization_id, caller_id(admin))
    if record is None:
        raise NotFound()
    return organization(record)


class OrganizationsController(Controller):
    path = "/api/organizations"
    tags = ["organizations"]  # noqa: RUF012  (Litestar reads it as a class attribute)

    @get("/")
    async def list_organizations(self, request: Request[Any, Any, State]) -> Page[Organization]:
        """List organizations.

        A system call lists every organization; an acting user only those they are a member of, each
        with their `membership_level` (SPEC §5.3.2).
        """
        async with admin_request(request, write=False) as admin:
            window = page_window(request.query_params)
            key = admin.caller.key
            count, records = await store.list_organizations(
                admin.conn,
                caller_id(admin),
                member_only=not admin.is_system,
                within=key.scoped_organizations if key is not None and key.scoped_organizations else None,
                limit=window.limit,
                offset=window.offset,
            )
            results = [organization(record) for record in records]
            return page(request, window, count, results)

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        opt=api_doc(body=OrganizationCreate, body_examples=examples.ORGANIZATION_CREATE),
    )
    async def create_organization(self, request: Request[Any, Any, State]) -> Organization:
        """Create an organization.

        An acting user becomes its owner (15). `id` and `available_product_features` can only be set
        by system calls; an existing id is a 400 `unique` (SPEC §5.3.2).
        """
        async with admin_request(request, write=True) as admin:
            body = admin.body(OrganizationCreate)
            refuse_system_fields(admin, body)
            wanted = body.id if isinstance(body.id, UUID) else None
            if wanted is not None and await store.organization_exists(admin.conn, wanted):
                raise organization_id_taken()
            fields = changed_fields(body)
            created = await store.insert_organization(
                admin.conn,
                wanted,
                fields["name"],
                fields.get("available_product_features", []),
                fields.get("members_can_use_personal_api_keys", True),
            )
            if created is None:
                raise organization_id_taken()
            if admin.user is not None and not admin.is_system:
                await store.insert_member(admin.conn, created, admin.user.id, OWNER)
            return await organization_for(admin, created)

    @get("/{org:str}/")
    async def get_organization(self, request: Request[Any, Any, State]) -> Organization:
        """An organization.

        Visible to its members and to system calls; to anyone else it does not exist (404).
        """
        async with admin_request(request, write=False) as admin:
            return await organization_for(admin, admin.param("org"))

    @patch("/{org:str}/", opt=api_doc(body=OrganizationFields))
    async def patch_organization(self, request: Request[Any, Any, State]) -> Organization:
        """Change an organization's fields.

        Sets the fields given of `name`, `members_can_use_personal_api_keys` and (system calls only)
        `available_product_features`; admins and owners only (OAW).
        """
        return await self._update(request)

    @put("/{org:str}/", opt=api_doc(body=OrganizationFields))
    async def put_organization(self, request: Request[Any, Any, State]) -> Organization:
        """Change an organization's fields (as PATCH).

        The same partial update as PATCH, for clients that send PUT: admins and owners only (OAW).
        """
        return await self._update(request)

    async def _update(self, request: Request[Any, Any, State]) -> Organization:
        async with admin_request(request, write=True) as admin:
            body = admin.body(OrganizationFields)
            refuse_system_fields(admin, body)
            organization_id = admin.param("org")
            await store.update_organization(admin.conn, organization_id, changed_fields(body))
            return await organization_for(admin, organization_id)

    @delete("/{org:str}/", status_code=HTTP_204_NO_CONTENT)
    async def delete_organization(self, request: Request[Any, Any, State]) -> None:
        """Delete an organization.

        Owners only (OOD). Cascades to its memberships, projects and everything in them.
        """
        async with admin_request(request, write=True) as admin:
            if not await store.delete_organization(admin.conn, admin.param("org")):
                raise NotFound()


# -- members -----------------------------------------------------------------------------------------


class MemberCreate(msgspec.Struct, forbid_unknown_fields=True):
    user_uuid: UUID
    level: MemberLevel = 1
    id: Any = UNSET
    user: Any = UNSET
    joined_at: Any = UNSET
    updated_at: Any = UNSET


class MemberUpdate(msgspec.Struct, forbid_unknown_fields=True):
    level: MemberLevel | Unset = UNSET
    id: Any = UNSET
    user: Any = UNSET
    user_uuid: Any = UNSET
    joined_at: Any = UNSET
    updated_at: Any = UNSET


def member(record: Any) -> Member:
    return Member(
        id=record["id"],
        user=user_basic(record, id_column="user_id"),
        level=record["level"],
        joined_at=record["joined_at"],
        updated_at=record["updated_at"],
    )


def rule_error(outcome: CheckOutcome) -> ServiceError:
    """The error of a failed §5.3 level rule (the policy gives status, code and detail)."""
    if outcome.status == 400:
        return InvalidInput(outcome.detail, code=outcome.code)
    return PermissionDenied(outcome.detail)


def enforce_member_rules(
    admin: AdminRequest, action: str, *, member_user_id: int | None, member_level: int, new_level: int | None
) -> None:
    """The (actor) rules of §5.3.3, in SPEC's order, as the policy states them."""
    caller = admin.user
    acting = caller is not None and not admin.is_system
    facts = MemberRuleFacts(
        caller=admin.caller.kind,
        action=action,
        is_self=acting and caller is not None and member_user_id == caller.id,
        caller_level=admin.evaluator().org_level(caller.id) if acting and caller is not None else 0,
        member_level=member_level,
        new_level=new_level,
    )
    outcome = admin.state.engine.step("member.rule", facts)
    if not outcome.allowed:
        raise rule_error(outcome)


async def target_member(admin: AdminRequest) -> Any:
    record = await store.get_member(admin.conn, admin.param("org"), admin.param("uuid"))
    if record is None:
        raise NotFound()
    return record


class MembersController(Controller):
    path = "/api/organizations/{org:str}/members"
    tags = ["organizations"]  # noqa: RUF012  (Litestar reads it as a class attribute)

    @get("/")
    async def list_members(self, request: Request[Any, Any, State]) -> Page[Member]:
        """List an organization's members.

        Ordered by level ascending, then newest first; callers who are not members get 403 (ORGN).
        """
        async with admin_request(request, write=False) as admin:
            window = page_window(request.query_params)
            count, records = await store.list_members(
                admin.conn, admin.param("org"), limit=window.limit, offset=window.offset
            )
            results = [member(record) for record in records]
            return page(request, window, count, results)

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        opt=api_doc(body=MemberCreate, body_examples=examples.MEMBER_CREATE),
    )
    async def add_member(self, request: Request[Any, Any, State]) -> Member:
        """Add a user to an organization.

        The user must exist and be active (400 `User does not exist.`) and not already be a member
        (400 `unique`); only an owner may add an owner.
        """
        async with admin_request(request, write=True) as admin:
            body = admin.body(MemberCreate)
            organization_id = admin.param("org")
            user = await users_store.get_user(admin.conn, body.user_uuid)
            if user is None or not user["is_active"]:
                raise InvalidInput("User does not exist.", attr="user_uuid")
            if await store.is_member(admin.conn, organization_id, user["id"]):
                raise already_member()
            enforce_member_rules(admin, "create", member_user_id=None, member_level=0, new_level=body.level)
            if await store.insert_member(admin.conn, organization_id, user["id"], body.level) is None:
                raise already_member()
            record = await store.get_member(admin.conn, organization_id, body.user_uuid)
            return member(record)

    @patch("/{user_uuid:str}/", opt=api_doc(body=MemberUpdate))
    async def patch_member(self, request: Request[Any, Any, State]) -> Member:
        """Change a member's level.

        The member rules of SPEC §5.3.3 apply to acting users in order: only admins edit others,
        never above their own level, nobody changes their own level, only owners make owners.
        """
        return await self._update(request)

    @put("/{user_uuid:str}/", opt=api_doc(body=MemberUpdate))
    async def put_member(self, request: Request[Any, Any, State]) -> Member:
        """Change a member's level (as PATCH).

        The same update as PATCH, under the same member rules (SPEC §5.3.3).
        """
        return await self._update(request)

    async def _update(self, request: Request[Any, Any, State]) -> Member:
        async with admin_request(request, write=True) as admin:
            target = await target_member(admin)
            body = admin.body(MemberUpdate)
            new_level = body.level if isinstance(body.level, int) else None
            enforce_member_rules(
                admin,
                "update",
                member_user_id=target["user_id"],
                member_level=target["level"],
                new_level=new_level,
            )
            if new_level is not None:
                await store.update_member_level(admin.conn, target["id"], new_level)
            return member(await target_member(admin))

    @delete("/{user_uuid:str}/", status_code=HTTP_204_NO_CONTENT)
    async def remove_member(self, request: Request[Any, Any, State]) -> None:
        """Remove a member from an organization.

        Anyone may leave; removing someone else needs admin level and a level at least theirs. Their
        explicit and role memberships in the organization go with it.
        """
        async with admin_request(request, write=True) as admin:
            target = await target_member(admin)
            enforce_member_rules(
                admin,
                "destroy",
                member_user_id=target["user_id"],
                member_level=target["level"],
                new_level=None,
            )
            await store.delete_member(admin.conn, target["id"])
