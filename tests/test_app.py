import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from litestar import Litestar, Request, get, post
from litestar.testing import AsyncTestClient

from acl_service.api.errors import MAX_BODY_BYTES
from acl_service.app import create_app
from acl_service.errors import ServiceUnavailable
from acl_service.settings import Settings
from tests.fixtures.app import settings_for


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@asynccontextmanager
async def client_for(settings: Settings) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=create_app(settings)) as client:
        yield client


async def test_healthz_answers_ok(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_ready_on_a_migrated_database(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/readyz")
    assert (response.status_code, response.json()) == (200, {"status": "ready", "revision": 0})


# Other components (change listener, fact index) add reasons of their own: each test looks for its own.


async def test_not_ready_while_migrations_are_pending(empty_database_url: str, tmp_path: Path) -> None:
    async with client_for(settings_for(empty_database_url, tmp_path)) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "not_ready"
    assert "migrations_pending" in response.json()["reasons"]
    assert response.headers["Retry-After"] == "1"


async def test_not_ready_while_the_database_is_unreachable(tmp_path: Path) -> None:
    unreachable = f"postgresql://postgres@127.0.0.1:{closed_port()}/postgres"
    async with client_for(settings_for(unreachable, tmp_path)) as client:
        response = await client.get("/readyz")
        liveness = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "not_ready"
    assert "database_unreachable" in response.json()["reasons"]
    assert response.headers["Retry-After"] == "1"
    assert liveness.status_code == 200


async def test_readiness_probes_add_their_reasons(settings: Settings) -> None:
    async def probe() -> list[str]:
        return ["probe_reason"]

    app = create_app(settings)
    async with AsyncTestClient(app=app) as client:
        app.state.acl.readiness_probes.append(probe)
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "not_ready"
    assert "probe_reason" in response.json()["reasons"]


async def test_unknown_path_is_a_json_404(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/no/such/path")
    assert response.status_code == 404
    assert response.json() == {
        "type": "invalid_request",
        "code": "not_found",
        "detail": "Not found.",
        "attr": None,
    }


async def test_wrong_method_is_a_json_405(client: AsyncTestClient[Litestar]) -> None:
    response = await client.patch("/healthz")
    assert response.status_code == 405
    assert response.json() == {
        "type": "invalid_request",
        "code": "method_not_allowed",
        "detail": 'Method "PATCH" not allowed.',
        "attr": None,
    }


async def test_unexpected_error_is_a_json_500_without_details(settings: Settings) -> None:
    @get("/explode", sync_to_thread=False)
    def explode() -> None:
        raise RuntimeError("secret internals")

    app = create_app(settings)
    app.register(explode)
    async with AsyncTestClient(app=app) as client:
        response = await client.get("/explode")
    assert response.status_code == 500
    assert response.json() == {
        "type": "server_error",
        "code": "error",
        "detail": "A server error occurred.",
        "attr": None,
    }
    assert "secret internals" not in response.text


async def test_domain_unavailable_is_a_503_with_retry_after(settings: Settings) -> None:
    @get("/unsure", sync_to_thread=False)
    def unsure() -> None:
        raise ServiceUnavailable("Facts are not available.", code="facts_unavailable")

    app = create_app(settings)
    app.register(unsure)
    async with AsyncTestClient(app=app) as client:
        response = await client.get("/unsure")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.json() == {
        "type": "server_error",
        "code": "facts_unavailable",
        "detail": "Facts are not available.",
        "attr": None,
    }


async def test_body_over_16_mib_is_rejected_as_bad_input(settings: Settings) -> None:
    @post("/echo-size")
    async def echo_size(request: Request[Any, Any, Any]) -> int:
        return len(await request.body())

    app = create_app(settings)
    app.register(echo_size)
    async with AsyncTestClient(app=app) as client:
        accepted = await client.post("/echo-size", content=b"x" * MAX_BODY_BYTES)
        rejected = await client.post("/echo-size", content=b"x" * (MAX_BODY_BYTES + 1))
    assert (accepted.status_code, accepted.json()) == (201, MAX_BODY_BYTES)
    assert rejected.status_code == 400
    assert rejected.json() == {
        "type": "validation_error",
        "code": "too_large",
        "detail": "Request body exceeds 16777216 bytes.",
        "attr": None,
    }


async def test_openapi_document_and_docs_page_are_served(client: AsyncTestClient[Litestar]) -> None:
    document = await client.get("/schema/openapi.json")
    assert document.status_code == 200
    assert document.json()["openapi"].startswith("3.1")
    assert "/readyz" in document.json()["paths"]
    page = await client.get("/schema")
    assert page.status_code == 200
    assert "/schema/assets/swagger-ui-bundle.js" in page.text
    assert "https://" not in page.text
    script = await client.get("/schema/assets/swagger-ui-bundle.js")
    assert script.status_code == 200
