"""`X-Acl-Revision` on every response (SPEC §2): the revision a write produced, else the one applied.

Handlers record the revision in the ASGI scope's state as they learn it; the `before_send` hook
(`response_start`) writes the header, so error responses carry it too.
"""

from typing import Any, Final

from litestar.types import Scope

REVISION_HEADER: Final = "X-Acl-Revision"
_STATE_KEY: Final = "acl_revision"


def record_revision(scope: Any, revision: int) -> None:
    scope.setdefault("state", {})[_STATE_KEY] = revision


def revision_of(scope: Scope) -> int | None:
    """The revision recorded for the request, if any."""
    revision: int | None = scope.get("state", {}).get(_STATE_KEY)
    return revision
