"""Hostile requests from issue 14 get a 400 or 404 envelope over HTTP, never a 500."""

import uuid
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from acl_service.api.bodies import MAX_STORED_JSON_BYTES, MAX_STORED_JSON_DEPTH
from tests.fixtures.app import admin_headers, check_headers
from tests.fixtures.seed import Seed

USER = "0b5a3f9e-2c4d-4f6a-8b1c-9d8e7f6a5b4c"


def validation_error(code: str, detail: str, attr: str | None = None) -> dict[str, object]:
    return {"type": "validation_error", "code": code, "detail": detail, "attr": attr}


def parse_error(detail: str) -> dict[str, object]:
    return validation_error("parse_error", detail)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/projects/%3F/"),
        ("GET", "/api/projects/%3F%C2%B5/dashboards"),
        ("POST", "/api/projects/%3F%C2%B5/dashboards"),
        ("GET", "/api/environments/%3F/dashboards/x/users_with_access"),
    ],
)
async def test_an_encoded_question_mark_is_part_of_the_path_parameter(
    client: AsyncTestClient[Litestar], method: str, path: str
) -> None:
    response = await client.request(method, path, headers=admin_headers(), json={})
    assert response.status_code == 400
    assert response.json() == validation_error("invalid", "A valid integer is required.", "project_id")


async def test_a_number_past_float_range_is_not_a_valid_integer(client: AsyncTestClient[Litestar]) -> None:
    body = f'{{"user": "{USER}", "project_id": 1e400, "action": "read"}}'.encode()
    response = await client.post("/v1/check", content=body, headers=check_headers())
    assert response.status_code == 400
    assert response.json() == validation_error("invalid", "A valid integer is required.", "project_id")


@pytest.mark.parametrize(
    ("path", "headers", "field"),
    [("/v1/check", check_headers(), b"user"), ("/api/projects/", admin_headers(), b"name")],
)
async def test_invalid_utf8_is_a_parse_error(
    client: AsyncTestClient[Litestar], path: str, headers: dict[str, str], field: bytes
) -> None:
    body = b'{"' + field + b'": "\xff"}'
    response = await client.post(path, content=body, headers=headers)
    assert response.status_code == 400
    assert response.json() == parse_error("JSON parse error - invalid UTF-8")


@pytest.mark.parametrize("escape", [rb"\ud800", rb"\ud800x", rb"\udc00", rb"\ud800\u0041"])
async def test_an_unpaired_surrogate_escape_is_named(
    client: AsyncTestClient[Litestar], escape: bytes
) -> None:
    body = b'{"user": "' + escape + b'", "project_id": 1, "action": "read"}'
    response = await client.post("/v1/check", content=body, headers=check_headers())
    assert response.status_code == 400
    assert response.json() == parse_error("JSON parse error - invalid unicode escape")


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


@pytest.mark.parametrize(
    ("method", "path", "headers", "body"),
    [
        (
            "POST",
            "/v1/check",
            check_headers(),
            f'{{"user": "{USER}", "project_id": 1, "action": "read", "resource": '.encode()
            + b"[" * 10_000
            + b"]" * 10_000
            + b"}",
        ),
        (
            "PUT",
            f"/api/users/{uuid.uuid4()}/",
            admin_headers(),
            b'{"hedgehog_config": ' + nested(3_000) + b"}",
        ),
        (
            "POST",
            "/api/projects/1/dashboards/create_from_template_json/",
            admin_headers(),
            b'{"template": ' + nested(5_000) + b"}",
        ),
    ],
)
async def test_deep_nesting_is_a_parse_error(
    client: AsyncTestClient[Litestar],
    seed: Seed,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
) -> None:
    await seed.spec_world()
    response = await client.request(method, path, content=body, headers=headers)
    assert response.status_code == 400
    assert response.json() == parse_error("JSON parse error - nested too deeply")


MAX_ID = 2**63 - 1


async def test_a_project_with_the_largest_id_leaves_no_id_to_assign(
    client: AsyncTestClient[Litestar], seed: Seed
) -> None:
    world = await seed.spec_world()
    organization = str(world.organization)
    taken = await client.post(
        "/api/projects/",
        json={"organization": organization, "name": "Last", "id": MAX_ID},
        headers=admin_headers(),
    )
    assert (taken.status_code, taken.json()["id"]) == (201, MAX_ID)
    response = await client.post(
        "/api/projects/", json={"organization": organization, "name": "Next"}, headers=admin_headers()
    )
    assert response.status_code == 400
    assert response.json() == validation_error("invalid_input", "No project id is left to assign.", "id")


async def test_a_user_with_the_largest_id_leaves_no_id_to_assign(client: AsyncTestClient[Litestar]) -> None:
    taken = await client.put(
        f"/api/users/{uuid.uuid4()}/", json={"email": "a@x", "id": MAX_ID}, headers=admin_headers()
    )
    assert taken.status_code == 201
    response = await client.put(f"/api/users/{uuid.uuid4()}/", json={"email": "b@x"}, headers=admin_headers())
    assert response.status_code == 400
    assert response.json() == validation_error("invalid_input", "No user id is left to assign.", "id")


def config_nested(depth: int) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for _ in range(depth - 1):
        config = {"a": config}
    return config


@pytest.mark.parametrize(
    ("at_bound", "past_bound", "code", "detail"),
    [
        (
            # {"k":"…"} is 8 bytes around the string.
            {"k": "x" * (MAX_STORED_JSON_BYTES - 8)},
            {"k": "x" * 15_000_000},
            "max_length",
            f"Ensure this field has no more than {MAX_STORED_JSON_BYTES} bytes of JSON.",
        ),
        (
            config_nested(MAX_STORED_JSON_DEPTH),
            config_nested(MAX_STORED_JSON_DEPTH + 1),
            "max_depth",
            f"Ensure this field is nested no more than {MAX_STORED_JSON_DEPTH} levels deep.",
        ),
    ],
    ids=["size", "depth"],
)
async def test_hedgehog_config_is_bounded(
    client: AsyncTestClient[Litestar],
    at_bound: dict[str, Any],
    past_bound: dict[str, Any],
    code: str,
    detail: str,
) -> None:
    accepted = await client.put(
        f"/api/users/{uuid.uuid4()}/",
        json={"email": "a@x", "hedgehog_config": at_bound},
        headers=admin_headers(),
    )
    refused = await client.put(
        f"/api/users/{uuid.uuid4()}/",
        json={"email": "b@x", "hedgehog_config": past_bound},
        headers=admin_headers(),
    )
    assert (accepted.status_code, accepted.json()["hedgehog_config"]) == (201, at_bound)
    assert refused.status_code == 400
    assert refused.json() == {
        "type": "validation_error",
        "code": code,
        "detail": detail,
        "attr": "hedgehog_config",
    }
