"""`create_app(settings)`: the one place that wires resources, controllers and error handling.

The lifespan owns the asyncpg pool and publishes an `AppState` on `app.state.acl`; components added
later (policy engine, fact index, change listener) open in the same lifespan and register readiness
probes there.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Any, Final

import asyncpg
import swagger_ui_bundle
from litestar import Litestar
from litestar.datastructures import State
from litestar.logging import LoggingConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router

from acl_service.api.access_log import AccessLog
from acl_service.api.admin.access_controls import (
    ObjectAccessControlsController,
    ProjectAccessControlsController,
)
from acl_service.api.admin.activity import ActivityController
from acl_service.api.admin.dashboards import CollaboratorsController, DashboardsController
from acl_service.api.admin.fallback import unknown_admin_path
from acl_service.api.admin.keys import PersonalApiKeysController
from acl_service.api.admin.organizations import MembersController, OrganizationsController
from acl_service.api.admin.projects import ExplicitMembersController, ProjectsController
from acl_service.api.admin.resources import ResourcesController
from acl_service.api.admin.roles import RolesController
from acl_service.api.admin.sync import sync_rows
from acl_service.api.admin.users import UsersController
from acl_service.api.changes import ChangeFeedController
from acl_service.api.check_fast_path import CheckFastPath
from acl_service.api.decisions import DecisionController
from acl_service.api.errors import EXCEPTION_HANDLERS, MAX_BODY_BYTES
from acl_service.api.explain import ExplainController
from acl_service.api.health import HealthController
from acl_service.api.metrics import STATE_KEY as METRICS_KEY
from acl_service.api.metrics import Metrics, MetricsController, publish_periodically
from acl_service.api.openapi import ContractJsonRenderPlugin
from acl_service.api.response_start import on_response_start
from acl_service.api.state import AppState
from acl_service.api.ui import inspector_router
from acl_service.authz.engine import PolicyEngine
from acl_service.authz.routes import RouteTable
from acl_service.logs import TEXT_FORMAT, JsonFormatter
from acl_service.settings import Settings
from acl_service.store.activity import ChangeFeedReader
from acl_service.store.changelog import prune_periodically
from acl_service.store.index import FactIndex
from acl_service.store.pool import create_pool

logger = logging.getLogger(__name__)

# Bounds startup when the database host silently drops packets; refused connections fail at once.
CONNECT_TIMEOUT_SECONDS: Final = 5.0
DOCS_ASSETS_PATH: Final = "/schema/assets"
# Every worker prunes; the advisory lock in store.changelog lets one of them do it per round.
CHANGELOG_PRUNE_INTERVAL_SECONDS: Final = 600.0


def logging_config(settings: Settings) -> LoggingConfig:
    """A worker's logging: every logger (uvicorn's too) through Litestar's queue handler, so a slow
    stderr never blocks the event loop."""
    formatter: dict[str, Any] = (
        {"()": JsonFormatter} if settings.log_format == "json" else {"format": TEXT_FORMAT}
    )
    return LoggingConfig(
        root={"level": settings.log_level.upper(), "handlers": ["queue_listener"]},
        formatters={"standard": formatter},
        log_exceptions="never",  # the 500 handler in api/errors.py logs them once
    )


def create_app(settings: Settings) -> Litestar:
    if settings.database_url is None:
        raise ValueError("create_app needs settings.database_url (the CLI sets it for the embedded database)")
    database_url = settings.database_url
    # Loaded before serving: a broken policy or route table stops startup, not the first request.
    engine = PolicyEngine.load(settings.policy_dir, cache_size=settings.decision_cache_size)
    routes = RouteTable.load(settings.policy_dir)
    metrics = Metrics(settings.metrics_dir)

    @asynccontextmanager
    async def database_lifespan(app: Litestar) -> AsyncIterator[None]:
        pool = await open_pool(database_url)
        index = FactIndex(pool, database_url, max_rows=settings.fact_index_max_rows)
        await index.start()
        app.state.acl = AppState(
            settings=settings,
            pool=pool,
            engine=engine,
            routes=routes,
            index=index,
            change_feed=ChangeFeedReader(pool),
        )
        app.state.acl.readiness_probes.append(index.readiness_reasons)
        pruner = asyncio.create_task(
            prune_periodically(pool, settings.changelog_retention, CHANGELOG_PRUNE_INTERVAL_SECONDS),
            name="changelog-pruner",
        )
        tasks = [pruner]
        if settings.metrics_dir is not None:
            tasks.append(asyncio.create_task(publish_periodically(app.state), name="metrics-publisher"))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await index.stop()
            await pool.close()
            metrics.close()

    app = Litestar(
        route_handlers=[
            HealthController,
            MetricsController,
            DecisionController,
            ExplainController,
            ChangeFeedController,
            UsersController,
            OrganizationsController,
            MembersController,
            ProjectsController,
            ExplicitMembersController,
            ProjectAccessControlsController,
            ObjectAccessControlsController,
            RolesController,
            PersonalApiKeysController,
            DashboardsController,
            CollaboratorsController,
            ResourcesController,
            ActivityController,
            sync_rows,
            unknown_admin_path,
            inspector_router(),
            # The docs UI loads its scripts from this package, not a CDN: the service may run offline.
            create_static_files_router(
                path=DOCS_ASSETS_PATH,
                directories=[swagger_ui_bundle.swagger_ui_path],
                include_in_schema=False,
            ),
        ],
        lifespan=[database_lifespan],
        state=State({METRICS_KEY: metrics}),
        before_send=[on_response_start],
        exception_handlers=EXCEPTION_HANDLERS,
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=OpenAPIConfig(
            title="acl-service",
            version=version("acl-service"),
            path="/schema",
            render_plugins=[
                ContractJsonRenderPlugin(),
                SwaggerRenderPlugin(
                    path="/",
                    js_url=f"{DOCS_ASSETS_PATH}/swagger-ui-bundle.js",
                    css_url=f"{DOCS_ASSETS_PATH}/swagger-ui.css",
                    standalone_preset_js_url=f"{DOCS_ASSETS_PATH}/swagger-ui-standalone-preset.js",
                    favicon=f"<link rel='icon' type='image/png' href='{DOCS_ASSETS_PATH}/favicon-32x32.png'>",
                ),
            ],
        ),
        logging_config=logging_config(settings),
        debug=False,
    )
    app.asgi_handler = AccessLog(CheckFastPath(app.asgi_handler), settings.access_log)
    return app


async def open_pool(database_url: str) -> asyncpg.Pool:
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS):
            return await create_pool(database_url)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        # Start anyway and connect lazily: /readyz reports the outage and the instance recovers
        # without a restart once the database is back.
        logger.warning("database unreachable at startup (%s); connecting on first use", error)
        return await create_pool(database_url, min_size=0)
