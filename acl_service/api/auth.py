"""Who is calling (SPEC §5.1): service tokens, acting users and personal API keys.

Service tokens are compared in constant time against every configured token, so neither the
match nor its position leaks through timing. A personal API key is looked up by its SHA-256
digest; the value itself is never stored.
"""

import hmac
from collections.abc import Mapping
from typing import Final
from uuid import UUID

from litestar.datastructures import Headers

from acl_service.domain import SYSTEM_CALLER, Caller, UserRef, secure_value
from acl_service.errors import AuthenticationFailed, InvalidInput, NotAuthenticated, PermissionDenied
from acl_service.settings import PERSONAL_API_KEY_PREFIX, ServiceToken
from acl_service.store.facts import Connection, load_key, load_user_by_id, load_user_by_uuid

ACTING_USER_HEADER: Final = "X-Acting-User"
INVALID_KEY: Final = "Personal API key found in request Authorization header is invalid."


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None when absent. `headers` is
    Litestar's (case-insensitive) or any mapping with the name in lowercase."""
    value = headers.get("authorization")
    if value is None:
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("Invalid token.")
    return token.strip()


def token_role(tokens: tuple[ServiceToken, ...], presented: str) -> str | None:
    role = None
    presented_bytes = presented.encode()
    for token in tokens:
        # Every token is compared, so the time taken does not depend on which one matched.
        if hmac.compare_digest(token.token.encode(), presented_bytes):
            role = token.role
    return role


def parse_acting_user(headers: Headers) -> UUID | None:
    raw = headers.get(ACTING_USER_HEADER.lower())
    if raw is None:
        return None
    try:
        return UUID(raw.strip())
    except ValueError:
        raise InvalidInput("Must be a valid UUID.", code="invalid", attr=ACTING_USER_HEADER) from None


async def key_caller(conn: Connection, key_value: str) -> Caller:
    """The caller a personal API key acts for; 401 for an unknown key or an inactive owner."""
    key = await load_key(conn, secure_value(key_value))
    if key is None:
        raise AuthenticationFailed(INVALID_KEY)
    owner = await load_user_by_id(conn, key.user_id)
    if owner is None or not owner.is_active:
        raise AuthenticationFailed(INVALID_KEY)
    return Caller("key", owner, key)


async def authenticate_admin(headers: Headers, tokens: tuple[ServiceToken, ...], conn: Connection) -> Caller:
    """§5.1 for `/api/…`: a system call, an acting user, or a personal API key's user."""
    token = bearer_token(headers)
    if token is None:
        raise NotAuthenticated()
    if token.startswith(PERSONAL_API_KEY_PREFIX):
        return await key_caller(conn, token)
    role = token_role(tokens, token)
    if role is None:
        raise AuthenticationFailed("Invalid token.")
    if role != "admin":
        raise PermissionDenied()
    acting_user = parse_acting_user(headers)
    if acting_user is None:
        return SYSTEM_CALLER
    user = await load_user_by_uuid(conn, acting_user)
    return Caller("user", active_or_raise(user))


def active_or_raise(user: UserRef | None) -> UserRef:
    if user is None or not user.is_active:
        raise NotAuthenticated()
    return user


def authenticate_decision(headers: Mapping[str, str], tokens: tuple[ServiceToken, ...]) -> str:
    """§5.1 for `/v1/…`: admin and check tokens may ask; personal API keys may not. Returns the role."""
    token = bearer_token(headers)
    if token is None:
        raise NotAuthenticated()
    role = None if token.startswith(PERSONAL_API_KEY_PREFIX) else token_role(tokens, token)
    if role is None:
        raise AuthenticationFailed("Invalid token.")
    return role
