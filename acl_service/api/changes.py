"""`GET /v1/changes`: a server-sent-event stream of the revisions this instance has applied.

An API server that caches decisions follows it to know what to drop: each event names one revision
and the organizations and users whose facts it changed. The stream first replays the changelog
after the client's revision (`after_revision`, or `Last-Event-ID` when an EventSource reconnects),
then follows the fact index: a revision is sent once this instance has applied it, so a decision
asked of this instance after the event already reflects it. Revisions that changed no fact (none
are written today) are skipped.

A client whose revision is older than the changelog keeps (`store.changelog` retention) cannot be
told what it missed: it gets 410 `revision_pruned`, or mid-stream an `event: resync`, and must drop
everything and start again from the current revision.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any, Final

import asyncpg
import msgspec
from litestar import Controller, Request, get
from litestar.datastructures import State
from litestar.response import ServerSentEvent, ServerSentEventMessage

from acl_service.api.auth import authenticate_decision
from acl_service.api.bodies import NonNegativeInt
from acl_service.api.openapi import DocParameter, api_doc, schema_of
from acl_service.api.pagination import bounded_int
from acl_service.api.revision import record_revision
from acl_service.api.state import AppState
from acl_service.errors import Gone
from acl_service.store.activity import ChangeFeedReader
from acl_service.store.changelog import pruned_through
from acl_service.store.index import FactIndex

logger = logging.getLogger(__name__)

MAX_REVISION: Final = 2**63 - 1
LAST_EVENT_ID: Final = "Last-Event-ID"
# Well under the idle timeouts of common proxies (nginx: 60 s).
HEARTBEAT_SECONDS: Final = 15.0
REVISIONS_PER_READ: Final = 1000
_DATABASE_ERRORS: Final = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class Resync(msgspec.Struct, frozen=True):
    """The data of `event: resync`: the changes after `after_revision` are no longer kept."""

    after_revision: int
    pruned_through: int
    detail: str


def pruned_detail(after_revision: int, horizon: int) -> str:
    return (
        f"Changes after revision {after_revision} are no longer kept (pruned through revision {horizon}): "
        "drop what you cached and follow from the current revision."
    )


def start_revision(request: Request[Any, Any, State], index: FactIndex) -> tuple[int, str]:
    """Where the stream starts, and the parameter that said so (for error messages)."""
    if LAST_EVENT_ID in request.headers:
        return bounded_int(request.headers, LAST_EVENT_ID, 0, 0, MAX_REVISION), LAST_EVENT_ID
    if "after_revision" in request.query_params:
        return bounded_int(request.query_params, "after_revision", 0, 0, MAX_REVISION), "after_revision"
    return index.applied_revision, "after_revision"


async def change_events(
    reader: ChangeFeedReader, index: FactIndex, cursor: int
) -> AsyncIterator[ServerSentEventMessage]:
    """The events after revision `cursor`: the changelog's backlog, then each revision as applied."""
    while True:
        applied = index.applied_revision
        if applied <= cursor:
            try:
                async with asyncio.timeout(HEARTBEAT_SECONDS):
                    await index.wait_past(cursor)
            except TimeoutError:
                yield ServerSentEventMessage(comment="heartbeat", data=None)
            continue
        # Revisions are consecutive integers, so this bounds one read to that many revisions.
        through = min(applied, cursor + REVISIONS_PER_READ)
        try:
            read = await reader.read(cursor, through)
        except _DATABASE_ERRORS as error:
            # Ending the stream is the honest answer: the client reconnects with Last-Event-ID.
            logger.warning("change feed: changelog unreadable (%s); closing the stream", error)
            return
        if read.pruned_through > cursor:
            resync = Resync(cursor, read.pruned_through, pruned_detail(cursor, read.pruned_through))
            yield ServerSentEventMessage(event="resync", data=msgspec.json.encode(resync).decode())
            return
        for changes in read.revisions:
            yield ServerSentEventMessage(id=changes.revision, data=msgspec.json.encode(changes).decode())
        cursor = through


class ChangeFeedController(Controller):
    path = "/v1"
    tags = ["changes"]  # noqa: RUF012  (Litestar reads it as a class attribute)

    @get(
        "/changes",
        media_type="text/event-stream",
        response_description="A server-sent-event stream: `id: <revision>` and JSON `data` per revision, "
        "`event: resync` when the changes asked for are no longer kept, `: heartbeat` comments.",
        opt=api_doc(
            query=[
                DocParameter(
                    "after_revision",
                    schema_of(NonNegativeInt),
                    "Start after this revision (default: the revision this instance has applied).",
                )
            ],
            headers=[
                DocParameter(
                    "Last-Event-ID",
                    schema_of(NonNegativeInt),
                    "The id of the last event received: resume after it (wins over after_revision).",
                    location="header",
                )
            ],
            errors=[410],
        ),
    )
    async def changes(self, request: Request[Any, Any, State]) -> ServerSentEvent:
        """Stream the revisions this instance applies and the organizations and users they changed.

        Server-sent events, one per revision: `id: <revision>` and JSON data `{revision, changed_at,
        organizations, users, tables}`; `: heartbeat` comments every 15 s. Starts after
        `after_revision` (or the `Last-Event-ID` header; default: the applied revision). A check or
        admin token. Statuses: 200 (the stream); 400 for a bad revision; 401; 410 `revision_pruned`
        when that revision is older than the changelog keeps; 503 while the database is unreachable.
        """
        state = AppState.of(request.app.state)
        authenticate_decision(request.headers, state.settings.service_tokens)
        cursor, attr = start_revision(request, state.index)
        async with state.pool.acquire() as conn:
            horizon = await pruned_through(conn)
        if horizon > cursor:
            raise Gone(pruned_detail(cursor, horizon), code="revision_pruned", attr=attr)
        record_revision(request.scope, state.index.applied_revision)
        return ServerSentEvent(change_events(state.change_feed, state.index, cursor))
