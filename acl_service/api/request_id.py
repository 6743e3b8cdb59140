"""`X-Request-Id` on every response: the caller's id when it sent a usable one, else a new one.

Written by the `before_send` hook (`response_start`), like `X-Acl-Revision`, so error responses
carry it too. Callers' ids are echoed only when short and made of URL-safe characters: the id ends
up in logs and headers.
"""

import re
import secrets
from typing import Final

from litestar.types import Scope

REQUEST_ID_HEADER: Final = "X-Request-Id"
USABLE_REQUEST_ID: Final = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_of(scope: Scope) -> str:
    """The request's id, chosen once per request and kept in the scope's state."""
    state = scope.setdefault("state", {})
    found: str | None = state.get("acl_request_id")
    if found is None:
        sent = next((value for name, value in scope.get("headers", ()) if name == b"x-request-id"), b"")
        text = sent.decode("latin-1")
        # 32 random hex digits: uuid4().hex's shape at about a quarter of its cost (0.46 against 1.6 us).
        found = text if USABLE_REQUEST_ID.fullmatch(text) else secrets.token_hex(16)
        state["acl_request_id"] = found
    return found
