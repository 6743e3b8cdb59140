"""What every response's status line leaves with: `X-Acl-Revision` (SPEC §2), `X-Request-Id`, and
its count in /metrics under its route and status.

One `before_send` hook, not one per concern: Litestar awaits every hook for every message of every
response, and for a decision answered from memory three hooks, each wrapping the headers to set
one, took ~15% of the app's time (14 of 74 us in-process). The headers are appended as raw pairs:
no handler sets either of them, so there is nothing to replace. Hooks see errors raised anywhere,
with the status they were answered with.
"""

from typing import Any, Final

from litestar.types import Message, Scope

from acl_service.api.metrics import count_response
from acl_service.api.request_id import REQUEST_ID_HEADER, request_id_of
from acl_service.api.revision import REVISION_HEADER, revision_of

_REVISION_NAME: Final = REVISION_HEADER.lower().encode()
_REQUEST_ID_NAME: Final = REQUEST_ID_HEADER.lower().encode()


async def on_response_start(message: Message, scope: Scope) -> None:
    if message["type"] != "http.response.start":
        return
    headers: Any = message.setdefault("headers", [])
    if not isinstance(headers, list):
        headers = message["headers"] = list(headers)
    revision = revision_of(scope)
    if revision is not None:
        headers.append((_REVISION_NAME, str(revision).encode()))
    headers.append((_REQUEST_ID_NAME, request_id_of(scope).encode()))
    count_response(scope, message["status"])
