"""`AccessGuard`: ASGI middleware that asks acl-service `POST /v1/authorize` about every request.

Allowed requests reach the app with the AuthorizeResult in `scope["state"]["acl"]` (user, project,
action, levels); denied ones are answered with the status and envelope the service returned, keys
in PostHog's order. When the sidecar is unreachable or unavailable the guard fails closed with 503
(or lets the request through with `fail_open=True`, without a result in the scope).
"""

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final
from uuid import UUID

import msgspec

from acl_client.client import AsyncClient
from acl_client.errors import AclError
from acl_client.models import AuthorizeResult, Envelope

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

UNAVAILABLE: Final = Envelope("server_error", "service_unavailable", "Access control is unavailable.", None)
ENCODER: Final = msgspec.json.Encoder()


def authorization_of(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"authorization":
            return bytes(value).decode("latin-1")
    return None


async def answer(send: Send, status: int, envelope: Envelope, headers: list[tuple[bytes, bytes]]) -> None:
    body = ENCODER.encode(envelope)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class AccessGuard:
    def __init__(
        self,
        app: App,
        client: AsyncClient,
        *,
        user_of: Callable[[Scope], UUID | str | None] | None = None,
        fail_open: bool = False,
        unavailable_status: int = 503,
        skip: Callable[[Scope], bool] | None = None,
    ) -> None:
        self.app = app
        self.client = client
        self.user_of = user_of
        self.fail_open = fail_open
        self.unavailable_status = unavailable_status
        self.skip = skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (self.skip is not None and self.skip(scope)):
            await self.app(scope, receive, send)
            return
        try:
            result = await self.authorize(scope)
        except AclError:
            if self.fail_open:
                await self.app(scope, receive, send)
            else:
                await answer(send, self.unavailable_status, UNAVAILABLE, [(b"retry-after", b"1")])
            return
        if not result.allowed:
            await answer(send, result.status, result.body or UNAVAILABLE, [])
            return
        scope.setdefault("state", {})["acl"] = result
        await self.app(scope, receive, send)

    async def authorize(self, scope: Scope) -> AuthorizeResult:
        user = None if self.user_of is None else self.user_of(scope)
        # The service reads `resource` and `admin_include_all` from the query string (SPEC §5.4).
        query = bytes(scope.get("query_string", b"")).decode("latin-1")
        method, path = scope["method"], f"{scope['path']}?{query}" if query else scope["path"]
        if user is not None:
            return await self.client.authorize(method=method, path=path, user=user)
        return await self.client.authorize(method=method, path=path, authorization=authorization_of(scope))
