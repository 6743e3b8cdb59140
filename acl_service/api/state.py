"""What a running app holds: built by the lifespan in `acl_service.app`, read by controllers."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg
from litestar.datastructures import State

from acl_service.authz.engine import PolicyEngine
from acl_service.authz.routes import RouteTable
from acl_service.settings import Settings
from acl_service.store.activity import ChangeFeedReader
from acl_service.store.index import FactIndex

# Returns the reasons the instance is not ready (e.g. "listener_down"), empty when it is.
ReadinessProbe = Callable[[], Awaitable[list[str]]]


@dataclass
class AppState:
    settings: Settings
    pool: asyncpg.Pool
    engine: PolicyEngine
    routes: RouteTable
    index: FactIndex
    change_feed: ChangeFeedReader
    readiness_probes: list[ReadinessProbe] = field(default_factory=list)

    @staticmethod
    def of(state: State) -> "AppState":
        app_state: AppState = state.acl
        return app_state
