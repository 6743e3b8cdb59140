"""Unknown admin paths: authentication comes before routing (SPEC §5.1), so 401 precedes 404."""

from typing import Any

from litestar import HttpMethod, Request, route
from litestar.datastructures import State

from acl_service.api.admin.context import admin_request

ALL_METHODS = [HttpMethod.GET, HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH, HttpMethod.DELETE]


@route("/api/{rest:path}", http_method=ALL_METHODS, include_in_schema=False)
async def unknown_admin_path(request: Request[Any, Any, State]) -> None:
    async with admin_request(request, write=False):
        pass  # the route table answers 404 or 405 for a path no handler serves
