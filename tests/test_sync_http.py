"""POST /api/sync: NDJSON upserts and deletes in one revision, all-or-nothing, system calls only."""

from typing import Any

import asyncpg
import msgspec
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.fixtures.app import admin_headers, check_headers
from tests.fixtures.sync import revision_of
from tests.test_sync_import import ALICE, BOB, NOTEBOOK_CHECKS, directory

Client = AsyncTestClient[Litestar]


def body(lines: list[Any]) -> bytes:
    return b"".join(
        (line.encode() if isinstance(line, str) else msgspec.json.encode(line)) + b"\n" for line in lines
    )


def upserts(tables: dict[str, list[Any]]) -> list[Any]:
    return [{"table": table, "op": "upsert", "row": row} for table, rows in tables.items() for row in rows]


async def sync(client: Client, lines: list[Any], headers: dict[str, str] | None = None) -> Any:
    return await client.post("/api/sync", content=body(lines), headers=headers or admin_headers())


async def test_a_sync_applies_every_line_in_one_revision_and_decisions_follow(
    client: Client, db_pool: asyncpg.Pool
) -> None:
    before = await revision_of(db_pool)

    response = await sync(client, upserts(directory()))

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["revision"] == before + 1 == int(response.headers["X-Acl-Revision"])
    assert {t["table"]: t["inserted"] for t in answer["tables"]} == {
        table: len(rows) for table, rows in directory().items()
    }
    checks = await client.post("/v1/check/batch", json={"checks": NOTEBOOK_CHECKS}, headers=check_headers())
    assert [r["allowed"] for r in checks.json()["results"]] == [False, False, True, False, True, True]


async def test_the_same_sync_again_takes_no_revision(client: Client, db_pool: asyncpg.Pool) -> None:
    await sync(client, upserts(directory()))
    before = await revision_of(db_pool)

    again = await sync(client, upserts(directory()))

    assert again.status_code == 200, again.text
    assert again.json()["revision"] is None
    assert {t["unchanged"] for t in again.json()["tables"]} != {0}
    assert await revision_of(db_pool) == before == int(again.headers["X-Acl-Revision"])


async def test_deletes_cascade_and_are_seen_by_decisions(client: Client, db_pool: asyncpg.Pool) -> None:
    await sync(client, upserts(directory()))
    role_membership = directory()["role_memberships"][0]

    response = await sync(
        client,
        [
            {"table": "role_memberships", "op": "delete", "row": {"id": role_membership["id"]}},
            {"table": "users", "op": "delete", "row": {"id": 1}},
        ],
    )

    assert response.status_code == 200, response.text
    deleted = {t["table"]: t["deleted"] for t in response.json()["tables"]}
    assert deleted == {"role_memberships": 1, "users": 1}
    checks = await client.post(
        "/v1/check/batch", json={"checks": NOTEBOOK_CHECKS[2:3]}, headers=check_headers()
    )
    assert checks.json()["results"][0]["allowed"] is False
    alice = await client.post(
        "/v1/check", json={**NOTEBOOK_CHECKS[0], "user": str(ALICE)}, headers=check_headers()
    )
    assert alice.json()["status"] == 401
    async with db_pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM organization_memberships WHERE user_id = 1") == 0


async def test_the_first_bad_line_is_the_400_and_nothing_is_written(
    client: Client, db_pool: asyncpg.Pool
) -> None:
    lines = upserts(directory())
    before = await revision_of(db_pool)
    cases = [
        (
            {"table": "users", "op": "upsert", "row": {"id": 5, "uuid": str(BOB)}},
            "Line 3: This field is required.",
            "required",
            "row__email",
        ),
        (
            {"table": "teams", "op": "upsert", "row": {}},
            'Line 3: "teams" is not a valid choice.',
            "invalid_choice",
            "table",
        ),
        ("{", "Line 3: JSON parse error - Input data was truncated", "parse_error", None),
        (
            {"table": "projects", "op": "upsert", "row": {"id": 9, "organization_id": str(BOB), "name": "x"}},
            'Line 3: Invalid pk "' + str(BOB) + '" - object does not exist.',
            "invalid_input",
            "row__organization_id",
        ),
    ]
    for bad, detail, code, attr in cases:
        response = await sync(client, [*lines[:2], bad, *lines[2:]])
        assert response.status_code == 400, response.text
        assert response.json() == {"type": "validation_error", "code": code, "detail": detail, "attr": attr}
    assert await revision_of(db_pool) == before


async def test_only_system_calls_may_sync(client: Client) -> None:
    lines = upserts({"users": directory()["users"]})
    assert (await sync(client, lines, check_headers())).status_code in (401, 403)
    await sync(client, lines)
    acting = await sync(client, lines, admin_headers(ALICE))
    assert acting.status_code == 403
    assert acting.json()["detail"] == "You do not have permission to perform this action."
