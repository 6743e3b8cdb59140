"""The example's HTTP routes: its own data, with acl-service's answers folded in.

`AccessGuard` has already authorized every request that reaches a handler (denied ones never get
here). Handlers only read the guard's answer for the user and use acl-service for what a single
request decision cannot say: which dashboards a list may show (`/v1/filter`, pushed down into SQL)
and every dashboard's levels (`/v1/levels`, one call per list).
"""

from typing import Any, cast

import msgspec
from acl_client import AsyncClient, AuthorizeResult
from acl_client.asgi import AccessGuard, App, Scope
from acl_client.models import UserRef
from litestar import Litestar, Request, get, patch, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery

from examples.posthog_api.store import Store

PREFIX = "/api/environments/{project_id:int}"

# A stand-in for the example's session layer: a real server resolves its session cookie to the
# user's uuid here. Personal API keys arrive as `Authorization: Bearer phx_…` and acl-service
# resolves them itself.
SESSION_HEADER = "X-Demo-User"


def session_user(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == SESSION_HEADER.lower().encode():
            return bytes(value).decode("latin-1")
    return None


def authorized_user(request: Request[Any, Any, State]) -> UserRef:
    """The user `/v1/authorize` resolved (a key's owner for personal API keys)."""
    decision: AuthorizeResult = request.scope["state"]["acl"]
    # The guard lets only allowed requests through, and every allowed request has a user.
    assert decision.user is not None
    return decision.user


def _store(request: Request[Any, Any, State]) -> Store:
    store: Store = request.app.state.store
    return store


def _acl(request: Request[Any, Any, State]) -> AsyncClient:
    acl: AsyncClient = request.app.state.acl
    return acl


def _found(row: dict[str, Any] | None) -> dict[str, Any]:
    if row is None:
        raise NotFoundException("Not found.")
    return row


def dashboard_levels(entry: dict[str, Any]) -> dict[str, Any]:
    # Every dashboard of the page exists in acl-service (the filter named it), so `exists` says nothing.
    return {name: value for name, value in entry.items() if name not in ("id", "exists")}


@get(f"{PREFIX}/dashboards/")
async def list_dashboards(request: Request[Any, Any, State], project_id: FromPath[int]) -> dict[str, Any]:
    user = authorized_user(request).uuid
    acl = _acl(request)
    visible = await acl.filter(user=user, project_id=project_id, resource="dashboard")
    dashboards = _store(request).dashboards(project_id, visible)
    # One /v1/levels call for the whole page, never one per dashboard.
    levels = await acl.levels(user=user, project_id=project_id, dashboards=[row["id"] for row in dashboards])
    by_id = {entry.id: msgspec.to_builtins(entry) for entry in levels.dashboards}
    results = [{**row, **dashboard_levels(by_id[row["id"]])} for row in dashboards]
    return {"count": len(results), "project": msgspec.to_builtins(levels.project), "results": results}


@get(f"{PREFIX}/dashboards/{{dashboard_id:int}}/")
async def retrieve_dashboard(
    request: Request[Any, Any, State], project_id: FromPath[int], dashboard_id: FromPath[int]
) -> dict[str, Any]:
    return _found(_store(request).dashboard(project_id, dashboard_id))


@patch(f"{PREFIX}/dashboards/{{dashboard_id:int}}/move_tile/")
async def move_tile(
    request: Request[Any, Any, State], project_id: FromPath[int], dashboard_id: FromPath[int]
) -> dict[str, Any]:
    # The example stores no tiles: like acl-service's own route, the call answers the source dashboard.
    return _found(_store(request).dashboard(project_id, dashboard_id))


@post(f"{PREFIX}/dashboards/create_from_template_json/")
async def create_from_template_json(
    request: Request[Any, Any, State], project_id: FromPath[int]
) -> dict[str, Any]:
    body = await request.json()
    template = body.get("template") if isinstance(body, dict) else None
    name = template.get("template_name", "New dashboard") if isinstance(template, dict) else "New dashboard"
    store = _store(request)
    dashboard_id = store.add_dashboard(project_id, str(name), authorized_user(request).id)
    return _found(store.dashboard(project_id, dashboard_id))


@get(f"{PREFIX}/dashboards/{{dashboard_id:int}}/global_access_controls/")
async def global_access_controls(
    request: Request[Any, Any, State], project_id: FromPath[int], dashboard_id: FromPath[int]
) -> dict[str, Any]:
    _found(_store(request).dashboard(project_id, dashboard_id))
    levels = await _acl(request).levels(
        user=authorized_user(request).uuid, project_id=project_id, resource_types=["dashboard"]
    )
    access: dict[str, Any] = msgspec.to_builtins(levels.resource_types[0])
    return access


@get(f"{PREFIX}/events/")
async def list_events(request: Request[Any, Any, State], project_id: FromPath[int]) -> dict[str, Any]:
    events = _store(request).events(project_id)
    return {"count": len(events), "results": events}


@get(f"{PREFIX}/events/values/")
async def event_values(
    request: Request[Any, Any, State], project_id: FromPath[int], key: FromQuery[str] = "event"
) -> list[dict[str, str]]:
    if key not in ("event", "distinct_id"):
        return []
    return [{"name": value} for value in _store(request).event_values(project_id, key)]


@get(f"{PREFIX}/events/{{event_id:str}}/")
async def retrieve_event(
    request: Request[Any, Any, State], project_id: FromPath[int], event_id: FromPath[str]
) -> dict[str, Any]:
    return _found(_store(request).event(project_id, event_id))


@get(f"{PREFIX}/explicit_members/")
async def list_explicit_members(
    request: Request[Any, Any, State], project_id: FromPath[int]
) -> list[dict[str, Any]]:
    return _store(request).explicit_members(project_id)


@post(f"{PREFIX}/explicit_members/")
async def create_explicit_member(
    request: Request[Any, Any, State], project_id: FromPath[int]
) -> dict[str, Any]:
    body = await request.json()
    return _store(request).add_explicit_member(project_id, str(body["user_uuid"]), int(body.get("level", 1)))


def create_app(store: Store, acl: AsyncClient) -> AccessGuard:
    """The example server: its routes on `store`, guarded by acl-service behind `acl`."""
    app = Litestar(
        route_handlers=[
            list_dashboards,
            retrieve_dashboard,
            move_tile,
            create_from_template_json,
            global_access_controls,
            list_events,
            event_values,
            retrieve_event,
            list_explicit_members,
            create_explicit_member,
        ],
        state=State({"store": store, "acl": acl}),
    )
    # Litestar types its scope as TypedDicts; the guard takes any ASGI app as plain mappings.
    return AccessGuard(cast(App, app), acl, user_of=session_user)
