"""`GET /api/activity`: who changed which fact, when, in which request (system calls only).

The changelog is the audit trail, so its retention (`ACL_CHANGELOG_RETENTION`) bounds how far back
activity goes: rows of pruned revisions are gone.
"""

from typing import Any, Final

from litestar import Controller, Request, get
from litestar.datastructures import State

from acl_service.api.admin.context import admin_request
from acl_service.api.admin.projects import organization_filter
from acl_service.api.bodies import NonNegativeInt
from acl_service.api.openapi import DocParameter, api_doc, schema_of
from acl_service.api.pagination import Page, bounded_int, page, page_window
from acl_service.store.activity import ActivityEntry, list_activity

MAX_REVISION: Final = 2**63 - 1


class ActivityController(Controller):
    path = "/api/activity"
    tags = ["activity"]  # noqa: RUF012  (Litestar reads it as a class attribute)

    @get(
        "/",
        opt=api_doc(
            query=[
                DocParameter(
                    "organization",
                    {"type": "string", "format": "uuid"},
                    "Only this organization's rows (users and personal API keys belong to none).",
                ),
                DocParameter(
                    "after_revision",
                    {**schema_of(NonNegativeInt), "default": 0},
                    "Only rows of later revisions.",
                ),
            ]
        ),
    )
    async def list_activity(self, request: Request[Any, Any, State]) -> Page[ActivityEntry]:
        """List changed rows with their revision, time, actor and request id, oldest first.

        Query: `organization` (a uuid: only that organization's rows; users and personal API keys
        belong to none), `after_revision` (only later revisions; default 0), `limit`, `offset`.
        Only system calls (an admin token without `X-Acting-User`) may read it. Statuses: 200; 400
        for a bad parameter; 401; 403 for acting users and keys.
        """
        async with admin_request(request, write=False) as admin:
            query = request.query_params
            window = page_window(query)
            count, entries = await list_activity(
                admin.conn,
                organization=organization_filter(query),
                after_revision=bounded_int(query, "after_revision", 0, 0, MAX_REVISION),
                limit=window.limit,
                offset=window.offset,
            )
            return page(request, window, count, entries)
