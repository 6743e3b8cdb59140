"""The served OpenAPI document describes every route the app serves, fully (issue 14).

Walks the app's route handlers and the route table (policies/routes.csv) against the document of
`/schema/openapi.json`, so that a new or changed endpoint without its description, parameters,
body, security or error responses fails here. How an endpoint satisfies it: see
acl_service/api/openapi.py (a docstring, `data: Struct` or `opt=api_doc(body=...)`, and
`api_doc(query=...)` for query parameters it reads by hand).
"""

import csv
import inspect
import re
import sys
from pathlib import Path
from typing import Any, Final

import jsonschema_rs
import pytest
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.testing import AsyncTestClient

from acl_service.api.openapi import BEARER, FAMILIES, contract_document, doc_of, documented_operations
from acl_service.app import create_app
from acl_service.settings import Settings
from tests.fixtures.app import settings_for

ROUTE_TABLE = Path(__file__).parent.parent / "policies" / "routes.csv"
PROJECT_PREFIXES = ("/api/environments/{project_id}", "/api/projects/{project_id}")
# Operations anyone may call (SPEC §5.5); every other one must require the bearer scheme.
UNAUTHENTICATED = {("/healthz", "get"), ("/readyz", "get"), ("/metrics", "get")}
BODY_METHODS = {"post", "put", "patch"}
# Litestar's own 400 body, which this service never sends.
LITESTAR_ERROR_FIELDS = {"status_code", "extra"}

Operation = dict[str, Any]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Litestar:
    # Building the document needs no database: the app is never started here.
    return create_app(settings_for("postgresql://127.0.0.1:1/unused", tmp_path_factory.mktemp("data")))


@pytest.fixture(scope="module")
def document(app: Litestar) -> dict[str, Any]:
    return contract_document(app, app.openapi_schema.to_schema())


async def test_the_served_document_is_the_contract(settings: Settings, document: dict[str, Any]) -> None:
    async with AsyncTestClient(app=create_app(settings)) as client:
        response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    assert response.json() == document


def operations(document: dict[str, Any]) -> dict[tuple[str, str], Operation]:
    return {
        (path, method): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in {"get", "put", "post", "patch", "delete"}
    }


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def normalized(path: str) -> str:
    """A path template with parameters (and `@me`/`@current`) as `{}`, without trailing slash."""
    segments = ["{}" if re.fullmatch(r"\{.*\}|@\w+", s) else s for s in path.strip("/").split("/")]
    return "/" + "/".join(segments)


def handler_source(handler: HTTPRouteHandler) -> str:
    """The handler's code and, for a controller method, its controller's (shared `_update`s)."""
    source = inspect.getsource(handler.fn)
    owner = getattr(handler.fn, "__qualname__", "").split(".")[0]
    module = inspect.getmodule(handler.fn)
    controller = getattr(module, owner, None)
    if inspect.isclass(controller):
        source += inspect.getsource(controller)
    return source


def test_every_route_handler_is_an_operation_and_nothing_else_is(
    app: Litestar, document: dict[str, Any]
) -> None:
    served = {(path, method) for path, method, _ in documented_operations(app)}
    assert served == set(operations(document))


def test_every_admin_route_of_the_route_table_is_documented(document: dict[str, Any]) -> None:
    with ROUTE_TABLE.open() as file:
        rows = [row for row in csv.DictReader(line for line in file if not line.startswith("#"))]
    expected = set()
    for row in rows:
        if row["serves"] != "admin":
            continue
        paths = (
            [prefix + row["path"] for prefix in PROJECT_PREFIXES]
            if row["context"] == "project"
            else [row["path"]]
        )
        if row["context"] == "project_detail" and row["path"].startswith("/api/projects/"):
            # SPEC §4: project-detail routes exist under /api/environments/ too.
            paths.append(row["path"].replace("/api/projects/", "/api/environments/", 1))
        for path in paths:
            expected.add((normalized(path), row["method"].lower()))
    documented = {
        (normalized(path), method) for path, method in operations(document) if path.startswith("/api/")
    }
    assert expected - documented == set(), "routes served but not documented"
    assert documented - expected == set(), "documented /api/ operations missing from the route table"


def test_every_operation_has_a_summary_and_a_description(app: Litestar, document: dict[str, Any]) -> None:
    for path, method, handler in documented_operations(app):
        operation = operations(document)[path, method]
        assert handler.fn.__doc__, f"{method} {path}: no docstring"
        assert operation.get("summary"), f"{method} {path}"
        assert operation.get("description"), f"{method} {path}: the docstring needs a paragraph"


def test_every_path_parameter_is_documented_with_its_type(document: dict[str, Any]) -> None:
    for (path, method), operation in operations(document).items():
        documented = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "path"}
        assert set(documented) == set(re.findall(r"\{(\w+)\}", path)), f"{method} {path}"
        for name, parameter in documented.items():
            assert parameter["required"] is True
            # A bare string is what Litestar infers from `{name:str}`: the SPEC §4 type is missing.
            assert parameter["schema"] != {"type": "string"}, f"{method} {path}: {name} untyped"
            assert parameter.get("description"), f"{method} {path}: {name}"


def test_query_parameters_read_by_a_handler_are_documented(app: Litestar, document: dict[str, Any]) -> None:
    for path, method, handler in documented_operations(app):
        operation = operations(document)[path, method]
        query = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        source = inspect.getsource(handler.fn)
        if "query_params" in source or "page_window" in source or "list_projects" in source:
            assert query, f"{method} {path} reads its query string but documents no query parameter"
        if "Page[" in str(handler.parsed_fn_signature.return_type.annotation):
            assert {"limit", "offset"} <= query, f"{method} {path}"


# How handlers read a query parameter by name: `bounded_int(query, "x"`, `query_int(request, "x"`,
# `query_flag(query, "x")`, `query_params.get("x")`, `"x" in request.query_params`.
QUERY_READS: Final = re.compile(
    r"""(?:bounded_int|query_int|query_flag)\(\s*[\w.]+,\s*"(\w+)"|query_params\.get\("(\w+)"\)"""
    r"""|"(\w+)" in request\.query_params"""
)


def test_every_query_parameter_a_module_reads_is_documented_on_its_operations(
    app: Litestar, document: dict[str, Any]
) -> None:
    """Names a handler's module reads from the query string (its helpers included) are documented
    on at least one of that module's operations; pagination's own names come with every Page."""
    documented: dict[str, set[str]] = {}
    for path, method, handler in documented_operations(app):
        module = inspect.getmodule(handler.fn)
        assert module is not None
        names = {p["name"] for p in operations(document)[path, method]["parameters"] if p["in"] == "query"}
        documented.setdefault(module.__name__, set()).update(names)
    for module_name, names in documented.items():
        source = inspect.getsource(sys.modules[module_name])
        read = {name for match in QUERY_READS.finditer(source) for name in match.groups() if name}
        assert read <= names, f"{module_name} reads {sorted(read - names)} undocumented"


def test_admin_operations_document_the_acting_user_header(document: dict[str, Any]) -> None:
    for (path, method), operation in operations(document).items():
        if path.startswith("/api/"):
            headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
            assert "X-Acting-User" in headers, f"{method} {path}"


def test_every_body_accepted_is_documented_with_the_type_decoded(
    app: Litestar, document: dict[str, Any]
) -> None:
    schemas = document["components"]["schemas"]
    for path, method, handler in documented_operations(app):
        operation = operations(document)[path, method]
        declared = doc_of(handler).bodies
        if method not in BODY_METHODS and not declared:
            continue
        body = operation.get("requestBody")
        assert body is not None, f"{method} {path}: no request body documented"
        (media,) = body["content"].values()
        schema = media["schema"]
        for one in schema.get("oneOf", [schema]):
            assert resolve(document, one).get("properties"), f"{method} {path}: {one}"
        for struct in declared:
            assert struct.__name__ in schemas
            # The documented Struct is one the handler decodes by hand.
            assert re.search(rf"\b{struct.__name__}\b", handler_source(handler)), f"{method} {path}"


def test_body_examples_match_their_schemas(document: dict[str, Any]) -> None:
    examples = 0
    for (path, method), operation in operations(document).items():
        for media in operation.get("requestBody", {}).get("content", {}).values():
            validator = jsonschema_rs.validator_for({**media["schema"], "components": document["components"]})
            for name, example in media.get("examples", {}).items():
                errors = [error.message for error in validator.iter_errors(example["value"])]
                assert errors == [], f"{method} {path} example {name}"
                examples += 1
    assert examples >= 20


def test_authenticated_operations_require_the_bearer_scheme(document: dict[str, Any]) -> None:
    scheme = document["components"]["securitySchemes"][BEARER]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for key, operation in operations(document).items():
        if key in UNAUTHENTICATED:
            assert "security" not in operation
        else:
            assert operation.get("security") == [{BEARER: []}], key


def test_error_responses_are_the_service_envelope(document: dict[str, Any]) -> None:
    envelope = document["components"]["schemas"]["ErrorEnvelope"]
    assert set(envelope["properties"]) == {"type", "code", "detail", "attr"}
    for (path, method), operation in operations(document).items():
        family = next((f for f in FAMILIES if path.startswith(f.prefix)), None)
        expected = {str(status) for status in family.errors} if family else set()
        responses = operation["responses"]
        assert expected <= set(responses), f"{method} {path}"
        for status, response in responses.items():
            if status.startswith(("2", "3")) or (path, method) in UNAUTHENTICATED:
                continue
            schema = resolve(document, response)["content"]["application/json"]["schema"]
            assert schema["allOf"][0] == {"$ref": "#/components/schemas/ErrorEnvelope"}, f"{method} {path}"
        for response in responses.values():
            for media in resolve(document, response).get("content", {}).values():
                fields = set(resolve(document, media["schema"]).get("properties", {}))
                assert not fields & LITESTAR_ERROR_FIELDS, f"{method} {path}: Litestar's error body"


def test_service_unavailable_documents_retry_after(document: dict[str, Any]) -> None:
    unavailable = document["components"]["responses"]["ServiceUnavailable"]
    assert "Retry-After" in unavailable["headers"]


def test_every_response_documents_the_request_id_and_api_responses_the_revision(
    document: dict[str, Any],
) -> None:
    for (path, method), operation in operations(document).items():
        for status, response in operation["responses"].items():
            headers = resolve(document, response).get("headers", {})
            assert "X-Request-Id" in headers, f"{method} {path} {status}"
            if path.startswith(("/api/", "/v1/")):
                assert "X-Acl-Revision" in headers, f"{method} {path} {status}"


USER = {
    "id": 1,
    "uuid": "8bb62eb2-331a-5e8d-8718-0ba4c3df123c",
    "distinct_id": None,
    "first_name": "Alice",
    "last_name": "",
    "email": "alice@example.com",
    "is_email_verified": False,
    "hedgehog_config": None,
}
RESOURCE = {
    "resource": "notebook",
    "resource_id": "n-17",
    "name": None,
    "created_by": USER,
    "created_at": "2026-12-03T13:09:48.200048Z",
    "user_access_level": None,
    "access_source": None,
}


@pytest.mark.parametrize(
    "representation",
    [
        RESOURCE,
        {**RESOURCE, "resource": "dashboard", "resource_id": "7", "restriction_level": 21},
        {
            **RESOURCE,
            "resource": "insight",
            "resource_id": "42",
            "dashboards": [7],
            "effective_restriction_level": 21,
            "effective_privilege_level": None,
        },
    ],
)
def test_each_resource_representation_matches_exactly_one_documented_schema(
    document: dict[str, Any], representation: dict[str, Any]
) -> None:
    # Found by the fuzz test: a dashboard was valid under both Resource and DashboardResource.
    response = document["paths"]["/api/projects/{project_id}/resources/{resource}/{rid}"]["get"]["responses"]
    schema = response["200"]["content"]["application/json"]["schema"]
    validator = jsonschema_rs.validator_for({**schema, "components": document["components"]})
    assert [error.message for error in validator.iter_errors(representation)] == []


LEVELS = {
    "type": "notebook",
    "id": "n-1",
    "exists": True,
    "user_access_level": "editor",
    "access_source": "default",
}
INSIGHT_LEVELS = {
    **LEVELS,
    "type": "insight",
    "effective_restriction_level": 21,
    "effective_privilege_level": 37,
}
DASHBOARD_LEVELS = {
    **INSIGHT_LEVELS,
    "type": "dashboard",
    "restriction_level": 21,
    "can_edit": True,
    "can_restrict": False,
}


@pytest.mark.parametrize(
    ("entry", "valid"),
    [
        (LEVELS, True),
        (INSIGHT_LEVELS, True),
        (DASHBOARD_LEVELS, True),
        ({**LEVELS, "can_edit": True}, False),  # no shape has that field alone
        ({key: value for key, value in DASHBOARD_LEVELS.items() if key != "can_restrict"}, False),
    ],
)
def test_levels_of_insights_and_dashboards_match_their_own_documented_shape(
    document: dict[str, Any], entry: dict[str, Any], valid: bool
) -> None:
    # Found by the fuzz test: /v1/levels lists an insight's and a dashboard's levels with more
    # fields than the ResourceLevels its Struct declares.
    response = document["paths"]["/v1/levels"]["post"]["responses"]["200"]
    schema = response["content"]["application/json"]["schema"]
    validator = jsonschema_rs.validator_for({**schema, "components": document["components"]})
    answer = {
        "project": {
            "org_level": 8,
            "effective_level": 8,
            "user_access_level": "admin",
            "access_source": None,
        },
        "dashboards": [],
        "resources": [entry],
        "resource_types": [],
        "revision": 1,
    }
    errors = [error.message for error in validator.iter_errors(answer)]
    assert (errors == []) == valid, errors
