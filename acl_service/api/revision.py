"""`X-Acl-Revision` on every response (SPEC §2): the revision a write produced, else the one applied.

Handlers record the revision in the ASGI scope's state as they learn it; one `before_send` hook
writes the header, so error responses carry it too.
"""

from typing import Any, Final

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

REVISION_HEADER: Final = "X-Acl-Revision"
_STATE_KEY: Final = "acl_revision"


def record_revision(scope: Any, revision: int) -> None:
    scope.setdefault("state", {})[_STATE_KEY] = revision


async def add_revision_header(message: Message, scope: Scope) -> None:
    if message["type"] != "http.response.start":
        return
    revision = scope.get("state", {}).get(_STATE_KEY)
    if revision is not None:
        MutableScopeHeaders.from_message(message)[REVISION_HEADER] = str(revision)
