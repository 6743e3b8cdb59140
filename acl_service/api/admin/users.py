"""SPEC §5.3.1: the users directory, synced by system calls, and `/api/users/@me/`."""

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, delete, get, put
from litestar.datastructures import State
from litestar.openapi import ResponseSpec
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from acl_service.api import examples
from acl_service.api.admin.context import admin_request
from acl_service.api.admin.representations import UserBasic
from acl_service.api.bodies import Email, PersonName, PositiveId, check_stored_json, text
from acl_service.api.openapi import UUID_SCHEMA, api_doc
from acl_service.errors import InvalidInput, NotFound
from acl_service.store import users as store

UNSET = msgspec.UNSET
Unset = msgspec.UnsetType


class UserBody(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    id: PositiveId | Unset = UNSET
    distinct_id: Annotated[str, text(200)] | Unset | None = UNSET
    first_name: PersonName | Unset = UNSET
    last_name: PersonName | Unset = UNSET
    is_email_verified: bool | Unset = UNSET
    hedgehog_config: dict[str, Any] | Unset | None = UNSET
    is_active: bool | Unset = UNSET
    uuid: Any = UNSET  # read-only: accepted and ignored (SPEC §6)


class User(UserBasic, frozen=True):
    is_active: bool


def user(record: Any) -> User:
    return msgspec.convert(dict(record), User)


class UsersController(Controller):
    path = "/api/users"
    tags = ["users"]  # noqa: RUF012  (Litestar reads it as a class attribute)

    @put(
        "/{user_uuid:str}/",
        status_code=HTTP_200_OK,
        responses={HTTP_201_CREATED: ResponseSpec(User, description="Created", generate_examples=False)},
        opt=api_doc(body=UserBody, body_examples=examples.USER_PUT),
    )
    async def put_user(self, request: Request[Any, Any, State]) -> Response[User]:
        """Create or update a user (system calls).

        Upserts the user with this uuid as the main application's directory sync sends it: 201 when
        it was created, 200 when it was updated. An absent `id` is assigned on creation; an id
        cannot change afterwards, and `id` and `distinct_id` are unique. `hedgehog_config` is stored
        as sent, within bounds (SPEC §5.3.1).
        """
        async with admin_request(request, write=True) as admin:
            body = admin.body(UserBody)
            if isinstance(body.hedgehog_config, dict):
                check_stored_json(body.hedgehog_config, "hedgehog_config")
            target = admin.param("uuid")
            fields = {k: v for k, v in msgspec.structs.asdict(body).items() if v is not UNSET and k != "uuid"}
            existing = await store.get_user(admin.conn, target)
            if existing is not None and "id" in fields and fields["id"] != existing["id"]:
                raise InvalidInput("id cannot be changed.", attr="id")
            if existing is None and "id" in fields and await store.user_id_taken(admin.conn, fields["id"]):
                raise InvalidInput("A user with this id already exists.", code="unique", attr="id")
            distinct_id = fields.get("distinct_id")
            if distinct_id is not None and await store.distinct_id_owner(admin.conn, distinct_id) not in (
                None,
                target,
            ):
                raise InvalidInput(
                    "A user with this distinct_id already exists.", code="unique", attr="distinct_id"
                )
            if existing is None:
                user_id = fields.pop("id", None) or await store.next_user_id(admin.conn)
                if user_id is None:
                    raise InvalidInput("No user id is left to assign.", attr="id")
                record = await store.insert_user(admin.conn, target, user_id, fields)
                return Response(user(record), status_code=HTTP_201_CREATED)
            return Response(user(await store.update_user(admin.conn, target, fields)))

    @get("/{user_uuid:str}/", opt=api_doc(path={"user_uuid": {"anyOf": [UUID_SCHEMA, {"const": "@me"}]}}))
    async def get_user(self, request: Request[Any, Any, State]) -> User:
        """A user, or the acting user at `/api/users/@me/`.

        A system call reads any user by uuid. `/api/users/@me/` answers the acting user (X-Acting-
        User or a personal API key's owner) and is refused to system calls with
        `acting_user_required`.
        """
        async with admin_request(request, write=False) as admin:
            # /api/users/@me/ matches the ME route, which has no uuid: it is the acting user.
            target = admin.match.params.get("uuid") or (admin.user.uuid if admin.user else None)
            record = await store.get_user(admin.conn, target) if isinstance(target, UUID) else None
            if record is None:
                raise NotFound()
            return user(record)

    @delete("/{user_uuid:str}/", status_code=HTTP_204_NO_CONTENT)
    async def delete_user(self, request: Request[Any, Any, State]) -> None:
        """Delete a user (system calls).

        Removes the user with their memberships, explicit and role memberships, collaborator rows
        and personal API keys; objects they created keep existing with `created_by` null (SPEC
        §5.3.1).
        """
        async with admin_request(request, write=True) as admin:
            if not await store.delete_user(admin.conn, admin.param("uuid")):
                raise NotFound()
