"""SPEC §5.3.11: the acting user's personal API keys.

ME (an acting user is required) and SELFKEY (a key may only read itself) run in the pipeline. A
key's value is made here, returned once in the create response, and stored only as its SHA-256
digest (`secure_value`) and its mask.
"""

import secrets
import string
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final
from uuid import UUID

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.datastructures import State
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from acl_service.api import examples
from acl_service.api.admin.context import AdminRequest, admin_request
from acl_service.api.bodies import Label
from acl_service.api.columns import ALL_SCOPES, validate_scopes
from acl_service.api.openapi import api_doc
from acl_service.authz.evaluator import AccessEvaluator
from acl_service.domain import UserRef, secure_value
from acl_service.errors import InvalidInput, NotFound
from acl_service.settings import PERSONAL_API_KEY_PREFIX
from acl_service.store import keys as store
from acl_service.store.facts import load_organization_view

UNSET = msgspec.UNSET
Unset = msgspec.UnsetType

KEY_ALPHABET: Final = string.ascii_letters + string.digits
KEY_LENGTH: Final = 43  # characters after the prefix
MAX_API_KEYS_PER_USER: Final = 10
CURRENT: Final = "@current"


class PersonalApiKey(msgspec.Struct, frozen=True):
    id: UUID
    label: str
    value: str | None
    mask_value: str
    created_at: datetime
    last_used_at: datetime | None
    user_id: int
    scopes: list[str]
    scoped_teams: list[int]
    scoped_organizations: list[UUID]


class KeyFields(msgspec.Struct, forbid_unknown_fields=True):
    """PATCH: every field optional; POST requires label and scopes (`KeyCreate`)."""

    label: Label | Unset = UNSET
    scopes: list[str] | Unset = UNSET
    scoped_teams: list[int] | Unset = UNSET
    scoped_organizations: list[str] | Unset = UNSET
    # Read-only fields of the representation: accepted and ignored (SPEC §6).
    id: Any = UNSET
    value: Any = UNSET
    mask_value: Any = UNSET
    created_at: Any = UNSET
    last_used_at: Any = UNSET
    user_id: Any = UNSET


class KeyCreate(KeyFields, forbid_unknown_fields=True, kw_only=True):
    label: Label
    scopes: list[str]


def personal_api_key(record: Any, value: str | None = None) -> PersonalApiKey:
    return PersonalApiKey(
        id=record["id"],
        label=record["label"],
        value=value,
        mask_value=record["mask_value"],
        created_at=record["created_at"],
        last_used_at=record["last_used_at"],
        user_id=record["user_id"],
        # A legacy key (no scopes) may do everything a key may: shown as "*" (SPEC §3.13).
        scopes=list(record["scopes"] or [ALL_SCOPES]),
        scoped_teams=list(record["scoped_teams"]),
        scoped_organizations=list(record["scoped_organizations"]),
    )


def new_key_value() -> str:
    return PERSONAL_API_KEY_PREFIX + "".join(secrets.choice(KEY_ALPHABET) for _ in range(KEY_LENGTH))


def mask(value: str) -> str:
    return f"{value[:4]}...{value[-4:]}"


def acting_user(admin: AdminRequest) -> UserRef:
    user = admin.user
    assert user is not None  # ME refused system calls
    return user


def requested_key_id(admin: AdminRequest) -> UUID:
    """The key of the path; `@current` is the key the request authenticated with, if any."""
    wanted = admin.param("key")
    if wanted == CURRENT:
        if admin.caller.key is None:
            raise NotFound()
        return admin.caller.key.id
    key_id: UUID = wanted
    return key_id


async def validate_scoped_teams(admin: AdminRequest, user_id: int, teams: Sequence[int]) -> None:
    """Every team must be a project the user can see (SPEC §3.4 visibility)."""
    visible: set[int] = set()
    for organization in await store.organizations_of_user(admin.conn, user_id):
        view = await load_organization_view(admin.conn, organization)
        if view is not None:
            evaluator = AccessEvaluator(admin.state.engine, view, view.users)
            visible.update(evaluator.visible_project_ids(user_id))
    if not set(teams) <= visible:
        raise InvalidInput(
            "You must be a member of all teams that you are scoping the key to.", attr="scoped_teams"
        )


async def validate_scoped_organizations(
    admin: AdminRequest, user_id: int, organizations: Sequence[str]
) -> list[UUID]:
    parsed: list[UUID] = []
    for raw in organizations:
        try:
            parsed.append(UUID(raw))
        except ValueError:
            raise InvalidInput("Invalid organization UUID", attr="scoped_organizations") from None
    if not set(parsed) <= set(await store.organizations_of_user(admin.conn, user_id)):
        raise InvalidInput(
            "You must be a member of all organizations that you are scoping the key to.",
            attr="scoped_organizations",
        )
    return parsed


async def validated_fields(admin: AdminRequest, body: KeyFields, user_id: int) -> dict[str, Any]:
    """The fields given, checked in SPEC §5.3.11's order."""
    fields: dict[str, Any] = {}
    if not isinstance(body.label, Unset):
        fields["label"] = body.label
    if not isinstance(body.scopes, Unset):
        validate_scopes(body.scopes)
        fields["scopes"] = body.scopes
    if not isinstance(body.scoped_teams, Unset):
        await validate_scoped_teams(admin, user_id, body.scoped_teams)
        fields["scoped_teams"] = body.scoped_teams
    if not isinstance(body.scoped_organizations, Unset):
        fields["scoped_organizations"] = await validate_scoped_organizations(
            admin, user_id, body.scoped_organizations
        )
    return fields


TOO_MANY_KEYS: Final = (
    f"You can only have {MAX_API_KEYS_PER_USER} personal API keys. "
    "Remove an existing key before creating a new one."
)


class PersonalApiKeysController(Controller):
    path = "/api/personal_api_keys"
    tags = ["personal API keys"]  # noqa: RUF012  (Litestar reads it as a class attribute)

    @get("/")
    async def list_keys(self, request: Request[Any, Any, State]) -> list[PersonalApiKey]:
        """List the acting user's personal API keys.

        Newest first, masked: a key's value is shown only when it is created (SPEC §5.3.11).
        """
        async with admin_request(request, write=False) as admin:
            records = await store.list_keys(admin.conn, acting_user(admin).id)
            return [personal_api_key(record) for record in records]

    @post("/", status_code=HTTP_201_CREATED, opt=api_doc(body=KeyCreate, body_examples=examples.KEY_CREATE))
    async def create_key(self, request: Request[Any, Any, State]) -> PersonalApiKey:
        """Create a personal API key for the acting user.

        Answers the key's value once. Scopes are `*` or `<object>:<action>`; scoped projects and
        organizations must be the user's; at most 10 keys per user (SPEC §5.3.11). Keys cannot
        create keys.
        """
        async with admin_request(request, write=True) as admin:
            body = admin.body(KeyCreate)
            user_id = acting_user(admin).id
            fields = await validated_fields(admin, body, user_id)
            if await store.count_keys(admin.conn, user_id) >= MAX_API_KEYS_PER_USER:
                raise InvalidInput(TOO_MANY_KEYS)
            value = new_key_value()
            try:
                record = await store.insert_key(
                    admin.conn,
                    user_id,
                    fields["label"],
                    secure_value(value),
                    mask(value),
                    fields["scopes"],
                    fields.get("scoped_teams", []),
                    fields.get("scoped_organizations", []),
                )
            except store.KeyLimitError:
                raise InvalidInput(TOO_MANY_KEYS) from None
            return personal_api_key(record, value)

    @get("/{key:str}/")
    async def get_key(self, request: Request[Any, Any, State]) -> PersonalApiKey:
        """One of the acting user's keys.

        `@current` is the key authenticating the call (404 without one).
        """
        async with admin_request(request, write=False) as admin:
            record = await store.get_key(admin.conn, acting_user(admin).id, requested_key_id(admin))
            if record is None:
                raise NotFound()
            return personal_api_key(record)

    @patch("/{key:str}/", opt=api_doc(body=KeyFields))
    async def update_key(self, request: Request[Any, Any, State]) -> PersonalApiKey:
        """Change a key's label, scopes or scoping lists.

        The same validation as on creation; the value never changes.
        """
        async with admin_request(request, write=True) as admin:
            user_id = acting_user(admin).id
            key_id = requested_key_id(admin)
            if await store.get_key(admin.conn, user_id, key_id) is None:
                raise NotFound()
            body = admin.body(KeyFields)
            fields = await validated_fields(admin, body, user_id)
            return personal_api_key(await store.update_key(admin.conn, key_id, fields))

    @delete("/{key:str}/", status_code=HTTP_204_NO_CONTENT)
    async def delete_key(self, request: Request[Any, Any, State]) -> None:
        """Delete one of the acting user's keys.

        A key cannot delete itself or others: only the acting user (X-Acting-User) may.
        """
        async with admin_request(request, write=True) as admin:
            if not await store.delete_key(admin.conn, acting_user(admin).id, requested_key_id(admin)):
                raise NotFound()
