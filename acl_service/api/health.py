"""Operational endpoints without authentication (SPEC §5.5): liveness and readiness."""

import asyncio
from typing import Final

import asyncpg
import msgspec
from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.openapi import ResponseSpec
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from acl_service.api.state import AppState
from acl_service.migrate import migration_status
from acl_service.store.writes import current_revision

# A readiness probe must answer within the orchestrator's own timeout, even when the database hangs.
DATABASE_CHECK_TIMEOUT_SECONDS: Final = 2.0


class Health(msgspec.Struct, frozen=True):
    status: str


class Ready(msgspec.Struct, frozen=True):
    status: str
    revision: int


class NotReady(msgspec.Struct, frozen=True):
    status: str
    reasons: list[str]


async def check_database(state: AppState) -> tuple[list[str], int]:
    try:
        async with asyncio.timeout(DATABASE_CHECK_TIMEOUT_SECONDS), state.pool.acquire() as conn:
            status = await migration_status(conn)
            if status.pending:
                return ["migrations_pending"], 0
            return [], await current_revision(conn)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return ["database_unreachable"], 0


class HealthController(Controller):
    tags = ["operations"]  # noqa: RUF012  (Litestar reads it as a class attribute)

    @get("/healthz", sync_to_thread=False)
    def healthz(self) -> Health:
        """Liveness.

        200 while the process serves requests; it does not look at the database.
        """
        return Health(status="ok")

    @get(
        "/readyz",
        responses={
            HTTP_503_SERVICE_UNAVAILABLE: ResponseSpec(
                NotReady, description="Not ready; retry later", generate_examples=False
            )
        },
    )
    async def readyz(self, state: State) -> Response[Ready | NotReady]:
        """Readiness.

        200 with the current revision once migrations are current, the database answers and the
        change listener runs; otherwise 503 with the reasons, and decisions would fail closed (SPEC
        §5.5).
        """
        app_state = AppState.of(state)
        reasons, revision = await check_database(app_state)
        for probe in app_state.readiness_probes:
            reasons.extend(await probe())
        if reasons:
            return Response(
                NotReady(status="not_ready", reasons=reasons),
                status_code=HTTP_503_SERVICE_UNAVAILABLE,
                headers={"Retry-After": "1"},
            )
        return Response(Ready(status="ready", revision=revision), status_code=HTTP_200_OK)
