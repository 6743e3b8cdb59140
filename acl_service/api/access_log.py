"""The access log: one `acl_service.access` line at info level per HTTP response it covers.

`ACL_ACCESS_LOG` says which: `all`, `admin` (every response but the decision API's successful
ones) or `off`. A line costs about as much as answering a decision from memory (20-35% of a
trivial endpoint's throughput), and sidecar traffic is thousands of decisions a second that
/metrics already counts, so by default only the admin API, the operational endpoints and every
error answer are logged. ACL_LOG_LEVEL=warning turns the access log off too.

`AccessLog` wraps the app's routing (`Litestar.asgi_handler`) rather than being a Litestar
middleware: those run per route, so requests no route matches (404, 405) would go unlogged. The
duration runs from the request reaching the app to the last byte of its response being handed to
the server.
"""

import logging
import time
from typing import Final

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from acl_service.api.request_id import request_id_of
from acl_service.logs import FIELDS
from acl_service.settings import AccessLogMode

logger: Final = logging.getLogger("acl_service.access")


DECISION_PATHS: Final = "/v1/"


class AccessLog:
    def __init__(self, app: ASGIApp, mode: AccessLogMode) -> None:
        self.app = app
        self.mode = mode

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.mode == "off" or scope["type"] != ScopeType.HTTP or not logger.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # Read now: routing rewrites scope["path"] (it drops a trailing slash).
        method, path = scope["method"], scope["path"]
        successes_too = self.mode == "all" or not path.startswith(DECISION_PATHS)
        status = 0

        async def send_and_log(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)
            if (
                message["type"] == "http.response.body"
                and not message.get("more_body", False)
                and (successes_too or status >= 400)
            ):
                duration_ms = round((time.perf_counter() - started) * 1000, 3)
                log_response(method, path, status, duration_ms, request_id_of(scope))

        await self.app(scope, receive, send_and_log)


def log_response(method: str, path: str, status: int, duration_ms: float, request_id: str) -> None:
    fields = {
        "method": method,
        "path": path,
        "status": status,
        "duration_ms": duration_ms,
        "request_id": request_id,
    }
    message = "%s %s %d %.3f ms request_id=%s"
    logger.info(message, method, path, status, duration_ms, request_id, extra={FIELDS: fields})
