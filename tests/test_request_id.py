"""`X-Request-Id` (issue 14): honoured when the caller sends a usable one, generated otherwise,
echoed on every response, errors included."""

import re

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.fixtures.app import admin_headers

Client = AsyncTestClient[Litestar]


async def test_a_usable_request_id_is_echoed_on_success_and_error(client: Client) -> None:
    ok = await client.get("/healthz", headers={"X-Request-Id": "sync-job:42.a_b"})
    assert ok.headers["X-Request-Id"] == "sync-job:42.a_b"
    missing = await client.get("/api/projects/999/", headers={**admin_headers(), "X-Request-Id": "r-404"})
    assert missing.status_code == 404
    assert missing.headers["X-Request-Id"] == "r-404"


@pytest.mark.parametrize("sent", [None, "", "has space", "x" * 129, "a/b"])
async def test_a_missing_or_unusable_request_id_is_replaced_by_a_new_one(
    client: Client, sent: str | None
) -> None:
    headers = {} if sent is None else {"X-Request-Id": sent}
    first = (await client.get("/healthz", headers=headers)).headers["X-Request-Id"]
    second = (await client.get("/healthz", headers=headers)).headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second
