"""The OpenAPI document served at `/schema/openapi.json`: the HTTP contract of SPEC §5.

Litestar generates the operations from the route handlers: paths, tags and success responses from
the return types (and `responses=` for other statuses). What a handler's signature cannot say is
completed here, once, by `contract_document`:

* bodies: handlers read their bodies by hand (`decode_body`), so that authentication precedes
  validation (SPEC §5.1) and every failure is worded as SPEC §6 requires; each declares the msgspec
  Struct it decodes with `opt=api_doc(body=...)`, and the schema is msgspec's own for that type;
* parameters: path parameters get their SPEC §4 types by name (`PATH_PARAMETERS`); query
  parameters are declared with `api_doc(query=...)`, pagination follows from a `Page` return type;
* the API family of a path (`FAMILIES`): the bearer security scheme, the `X-Acting-User` header of
  the admin API and the error statuses every operation of the family can answer, all with the
  `{type, code, detail, attr}` envelope of `acl_service.api.errors` instead of Litestar's own;
* summary and description: the first line and the rest of the handler's docstring.

A handler that Litestar decodes itself (`data: SomeStruct`) needs no body declaration.
tests/test_openapi_contract.py fails when an operation lacks any of this.
"""

import inspect
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import msgspec
from litestar import Litestar, Request
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.routes import HTTPRoute

from acl_service.api.auth import ACTING_USER_HEADER
from acl_service.api.bodies import NonNegativeInt, PositiveId, ResourceId
from acl_service.api.errors import ErrorEnvelope
from acl_service.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from acl_service.api.request_id import REQUEST_ID_HEADER, USABLE_REQUEST_ID
from acl_service.api.revision import REVISION_HEADER
from acl_service.authz.decisions import DashboardResourceLevels, InsightLevels, ResourceLevels
from acl_service.domain import SCOPE_OBJECTS

API_DOC_KEY: Final = "api_doc"
BEARER: Final = "bearer"
SCHEMAS_REF: Final = "#/components/schemas/{name}"
JSON: Final = "application/json"

JsonSchema = dict[str, Any]


def schema_of(annotation: Any) -> JsonSchema:
    """msgspec's JSON schema of a (constrained) scalar type, inline."""
    return msgspec.json.schema(annotation)


UUID_SCHEMA: Final[JsonSchema] = {"type": "string", "format": "uuid"}
RESOURCE_TYPE_SCHEMA: Final[JsonSchema] = {"type": "string", "enum": list(SCOPE_OBJECTS)}

# SPEC §4 parameters, by the names the handlers' paths give them.
PATH_PARAMETERS: Final[Mapping[str, tuple[JsonSchema, str]]] = {
    "project_id": (schema_of(PositiveId), "Project (environment) id."),
    "id": (schema_of(PositiveId), "Dashboard id."),
    "user_uuid": (UUID_SCHEMA, "The user's uuid."),
    "org": (UUID_SCHEMA, "Organization id."),
    "role_id": (UUID_SCHEMA, "Role id."),
    "membership_id": (UUID_SCHEMA, "Role membership id."),
    "resource": (RESOURCE_TYPE_SCHEMA, "Resource type (SPEC §3.1 SCOPE_OBJECTS)."),
    "rid": (schema_of(ResourceId), "Resource id within its type."),
    "key": (
        {"anyOf": [UUID_SCHEMA, {"const": "@current"}]},
        "Key id, or `@current` for the key authenticating the call.",
    ),
}


@dataclass(frozen=True)
class DocParameter:
    """A parameter a handler reads by hand: from the query string, or from a header."""

    name: str
    schema: JsonSchema
    description: str
    required: bool = False
    location: Literal["query", "header"] = "query"

    def document(self) -> JsonSchema:
        return {
            "name": self.name,
            "in": self.location,
            "required": self.required,
            "description": self.description,
            "schema": self.schema,
        }


PAGINATION: Final = (
    DocParameter(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        "Page size.",
    ),
    DocParameter("offset", {**schema_of(NonNegativeInt), "default": 0}, "Items to skip."),
)
ADMIN_INCLUDE_ALL: Final = DocParameter(
    "admin_include_all",
    {"type": "boolean", "default": False},
    "Organization admins see every object, not only those the list filter (SPEC §3.10) lets through.",
)


@dataclass(frozen=True)
class ApiDoc:
    """What a handler's signature does not tell Litestar; see `api_doc`."""

    # Several Structs: the body is one of them (/v1/explain takes a check or an authorize body).
    bodies: tuple[type[msgspec.Struct], ...] = ()
    body_media_type: str = JSON
    query: tuple[DocParameter, ...] = ()
    headers: tuple[DocParameter, ...] = ()
    path: Mapping[str, JsonSchema] = field(default_factory=dict)
    errors: tuple[int, ...] = ()
    body_examples: Mapping[str, Any] = field(default_factory=dict)
    response_examples: Mapping[str, Any] = field(default_factory=dict)


def api_doc(
    *,
    body: type[msgspec.Struct] | tuple[type[msgspec.Struct], ...] | None = None,
    body_media_type: str = JSON,
    query: Sequence[DocParameter] = (),
    headers: Sequence[DocParameter] = (),
    path: Mapping[str, JsonSchema] | None = None,
    errors: Sequence[int] = (),
    body_examples: Mapping[str, Any] | None = None,
    response_examples: Mapping[str, Any] | None = None,
) -> dict[str, ApiDoc]:
    """A handler's `opt`: the body Struct it decodes by hand (for a line-delimited body such as
    `application/x-ndjson`, the Struct of one line), its query and header parameters, path parameter schemas
    other than `PATH_PARAMETERS`', error statuses beyond its family's, and examples
    (`{name: {"summary", "value"}}`, taken from SPEC §8 where it has one)."""
    return {
        API_DOC_KEY: ApiDoc(
            bodies=() if body is None else body if isinstance(body, tuple) else (body,),
            body_media_type=body_media_type,
            query=tuple(query),
            headers=tuple(headers),
            path=dict(path or {}),
            errors=tuple(errors),
            body_examples=dict(body_examples or {}),
            response_examples=dict(response_examples or {}),
        )
    }


def example(summary: str, value: Any) -> dict[str, Any]:
    return {"summary": summary, "value": value}


@dataclass(frozen=True)
class ApiFamily:
    """Paths under one prefix: authenticated alike, failing alike (SPEC §5.1, §5.2)."""

    prefix: str
    errors: tuple[int, ...]
    headers: tuple[JsonSchema, ...] = ()


ACTING_USER: Final[JsonSchema] = {
    "name": ACTING_USER_HEADER,
    "in": "header",
    "required": False,
    "description": "With the admin token: act as this user (their PostHog permissions apply); "
    "without it the call is a system call. Ignored with a personal API key.",
    "schema": UUID_SCHEMA,
}
FAMILIES: Final = (
    ApiFamily("/api/", errors=(400, 401, 403, 404, 503), headers=(ACTING_USER,)),
    ApiFamily("/v1/", errors=(400, 401, 503)),
)


@dataclass(frozen=True)
class ErrorResponse:
    name: str
    envelope_type: str
    description: str
    example: ErrorEnvelope


ERROR_RESPONSES: Final[Mapping[int, ErrorResponse]] = {
    400: ErrorResponse(
        "ValidationError",
        "validation_error",
        "Malformed request (SPEC §6) or a business rule refused it; `attr` names the field.",
        ErrorEnvelope("validation_error", "required", "This field is required.", "name"),
    ),
    401: ErrorResponse(
        "NotAuthenticated",
        "authentication_error",
        "No usable credentials: no token, an unknown token or key, or an unknown acting user.",
        ErrorEnvelope(
            "authentication_error", "not_authenticated", "Authentication credentials were not provided."
        ),
    ),
    403: ErrorResponse(
        "PermissionDenied",
        "authentication_error",
        "The caller may not do this (SPEC §3.14 names every message).",
        ErrorEnvelope(
            "authentication_error",
            "permission_denied",
            "You don't have sufficient permissions in the project.",
        ),
    ),
    404: ErrorResponse(
        "NotFound",
        "invalid_request",
        "The target does not exist or is not visible to the caller.",
        ErrorEnvelope("invalid_request", "not_found", "Not found."),
    ),
    410: ErrorResponse(
        "Gone",
        "invalid_request",
        "What was asked for is no longer kept (a revision older than the changelog's retention).",
        ErrorEnvelope(
            "invalid_request",
            "revision_pruned",
            "Changes after revision 3 are no longer kept (pruned through revision 90): drop what you "
            "cached and follow from the current revision.",
            "after_revision",
        ),
    ),
    503: ErrorResponse(
        "ServiceUnavailable",
        "server_error",
        "The database is unreachable, or this instance's facts are not current: retry after `Retry-After`.",
        ErrorEnvelope(
            "server_error", "facts_unavailable", "Access-control facts are not current on this instance."
        ),
    ),
}
API_DESCRIPTION: Final = """\
Access-control policy service with PostHog's semantics (SPEC §5).

* **Authentication**: `Authorization: Bearer <token>`; use *Authorize* with a service token. On the
  admin API (`/api/`) the admin token makes a system call, or acts for the user named in
  `X-Acting-User`; a personal API key (`phx_…`) acts for its owner. The decision API (`/v1/`) takes
  the admin or the check token.
* **Errors** are `{"type", "code", "detail", "attr"}`; a known path with another method answers
  405 `method_not_allowed`, an unknown path 404; both after authentication.
* **Revisions**: every response of `/api/` and `/v1/` carries `X-Acl-Revision`; a write is answered
  once this instance applied it; other instances take `min_revision`.
"""
REQUEST_ID: Final[JsonSchema] = {
    "name": REQUEST_ID_HEADER,
    "in": "header",
    "required": False,
    "description": "An id for the logs, echoed in the response; generated when absent or unusable.",
    "schema": {"type": "string", "pattern": f"^{USABLE_REQUEST_ID.pattern}$"},
}
RESPONSE_HEADERS: Final[Mapping[str, JsonSchema]] = {
    REQUEST_ID_HEADER: {"description": "The request's id.", "schema": {"type": "string"}},
}
FAMILY_RESPONSE_HEADERS: Final[Mapping[str, JsonSchema]] = {
    REVISION_HEADER: {
        "description": "The revision this answer reflects: the one a write produced, else the one applied.",
        "schema": {"type": "integer", "minimum": 0},
    },
}
RETRY_AFTER: Final[JsonSchema] = {
    "description": "Seconds to wait before retrying.",
    "schema": {"type": "integer", "const": 1},
}


def family_of(path: str) -> ApiFamily | None:
    return next((family for family in FAMILIES if path.startswith(family.prefix)), None)


def doc_of(handler: HTTPRouteHandler) -> ApiDoc:
    found = handler.opt.get(API_DOC_KEY)
    return found if isinstance(found, ApiDoc) else ApiDoc()


def documented_operations(app: Litestar) -> list[tuple[str, str, HTTPRouteHandler]]:
    """(path template, lower-case method, handler) of every operation in the document."""
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for method, (handler, _) in route.route_handler_map.items():
            if handler.resolve_include_in_schema():
                found.append((route.path_format or "/", method.lower(), handler))
    return found


# Response fields declared as a Struct that hold one of its subclasses when there is more to say
# (msgspec unions of Structs need tags, which these shapes do not have): documented as `oneOf`.
ENCODED_SUBCLASSES: Final[Mapping[type[msgspec.Struct], tuple[type[msgspec.Struct], ...]]] = {
    ResourceLevels: (InsightLevels, DashboardResourceLevels),
}


def widen_to_subclasses(node: Any, refs: Mapping[str, list[JsonSchema]]) -> Any:
    """`node` with each `$ref` to a Struct of ENCODED_SUBCLASSES replaced by a `oneOf` of it and its
    subclasses (an existing `oneOf` that lists them already is left as it is)."""
    if isinstance(node, dict):
        if node.get("$ref") in refs and len(node) == 1:
            return {"oneOf": refs[node["$ref"]]}
        if "oneOf" in node:
            return node
        return {key: widen_to_subclasses(value, refs) for key, value in node.items()}
    if isinstance(node, list):
        return [widen_to_subclasses(item, refs) for item in node]
    return node


def contract_document(app: Litestar, generated: Mapping[str, Any]) -> dict[str, Any]:
    """Litestar's generated document completed from the declarations above (a new dict)."""
    document: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(generated))
    document["info"]["description"] = API_DESCRIPTION
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    components["securitySchemes"] = {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "description": "A service token from ACL_SERVICE_TOKENS (`admin` for /api/, `admin` or "
            "`check` for /v1/), or on /api/ a personal API key (`phx_…`).",
        }
    }
    operations = documented_operations(app)
    body_types = {body for _, _, handler in operations for body in doc_of(handler).bodies}
    _, body_schemas = msgspec.json.schema_components(
        [*sorted(body_types, key=lambda t: t.__name__), ErrorEnvelope], ref_template=SCHEMAS_REF
    )
    subclasses = [sub for subs in ENCODED_SUBCLASSES.values() for sub in subs]
    _, subclass_schemas = msgspec.json.schema_components(subclasses, ref_template=SCHEMAS_REF)
    for name, schema in subclass_schemas.items():
        schemas.setdefault(name, schema)
    refs = {
        SCHEMAS_REF.format(name=base.__name__): [
            {"$ref": SCHEMAS_REF.format(name=struct.__name__)} for struct in (base, *subs)
        ]
        for base, subs in ENCODED_SUBCLASSES.items()
    }
    for name in list(schemas):
        schemas[name] = widen_to_subclasses(schemas[name], refs)
    for name, schema in schemas.items():
        # Responses are encoded Structs: exactly their fields, every one of them always present.
        # Saying so also keeps a `oneOf` of a Struct and its subclasses (Resource, DashboardResource)
        # exclusive. Structs that bodies share with responses keep the body's optional fields.
        if schema.get("type") == "object" and "properties" in schema:
            schema.setdefault("additionalProperties", False)
            if name not in body_schemas:
                schema["required"] = sorted(schema["properties"])
    for name, schema in body_schemas.items():
        # Litestar already described the Structs that responses share with bodies (e.g. Feature).
        schemas.setdefault(name, schema)
    components["responses"] = {
        spec.name: error_response(spec, {"default": example(spec.description, spec.example)})
        for spec in ERROR_RESPONSES.values()
    }
    for path, method, handler in operations:
        complete_operation(document["paths"][path][method], path, handler)
    return document


def error_response(spec: ErrorResponse, examples: Mapping[str, Any]) -> JsonSchema:
    envelope = {
        "allOf": [
            {"$ref": SCHEMAS_REF.format(name=ErrorEnvelope.__name__)},
            {"properties": {"type": {"const": spec.envelope_type}}},
        ]
    }
    response: JsonSchema = {
        "description": spec.description,
        "content": {JSON: {"schema": envelope, "examples": msgspec.to_builtins(examples)}},
    }
    response["headers"] = {**RESPONSE_HEADERS, **FAMILY_RESPONSE_HEADERS}
    if spec.envelope_type == "server_error":
        response["headers"]["Retry-After"] = RETRY_AFTER
    return response


def complete_operation(operation: dict[str, Any], path: str, handler: HTTPRouteHandler) -> None:
    doc, family = doc_of(handler), family_of(path)
    summary, _, description = inspect.cleandoc(handler.fn.__doc__ or "").partition("\n")
    if summary:
        operation["summary"] = summary.strip().rstrip(".")
    if description.strip():
        # Docstring lines are wrapped for the source; the paragraphs are what the reader needs.
        operation["description"] = re.sub(r"(?<!\n)\n(?!\n)", " ", description.strip())
    operation["parameters"] = parameters(operation.get("parameters", []), handler, doc, family)
    if doc.bodies:
        refs = [{"$ref": SCHEMAS_REF.format(name=body.__name__)} for body in doc.bodies]
        media: JsonSchema = {"schema": refs[0] if len(refs) == 1 else {"oneOf": refs}}
        if doc.body_examples:
            media["examples"] = dict(doc.body_examples)
        # Not required: an empty body reads as `{}` (SPEC §6 then names the missing fields).
        operation["requestBody"] = {"required": False, "content": {doc.body_media_type: media}}
    complete_responses(operation.setdefault("responses", {}), doc, family)
    if family is not None:
        operation["security"] = [{BEARER: []}]


def parameters(
    generated: list[JsonSchema], handler: HTTPRouteHandler, doc: ApiDoc, family: ApiFamily | None
) -> list[JsonSchema]:
    """Path parameters with their SPEC §4 types, then query parameters, then headers."""
    found: list[JsonSchema] = []
    for parameter in generated:
        if parameter["in"] == "path":
            schema, text = PATH_PARAMETERS.get(parameter["name"], (parameter["schema"], ""))
            parameter = {**parameter, "schema": doc.path.get(parameter["name"], schema)}
            if text:
                parameter["description"] = text
        found.append(parameter)
    query = (*PAGINATION, *doc.query) if _returns_page(handler) else doc.query
    found.extend(parameter.document() for parameter in (*query, *doc.headers))
    if family is not None:
        found.extend(family.headers)
    found.append(REQUEST_ID)
    return found


def complete_responses(responses: dict[str, Any], doc: ApiDoc, family: ApiFamily | None) -> None:
    # Litestar's default 400 describes its own `{status_code, detail, extra}`, never sent here.
    responses.pop("400", None)
    if doc.response_examples:
        for code, response in responses.items():
            if code.startswith("2") and JSON in response.get("content", {}):
                response["content"][JSON]["examples"] = dict(doc.response_examples)
                break
    for response in responses.values():
        if "$ref" not in response:
            headers = response.setdefault("headers", {})
            headers.update(RESPONSE_HEADERS)
            if family is not None:
                headers.update(FAMILY_RESPONSE_HEADERS)
    for status in sorted({*(family.errors if family else ()), *doc.errors}):
        responses[str(status)] = {"$ref": f"#/components/responses/{ERROR_RESPONSES[status].name}"}


def _returns_page(handler: HTTPRouteHandler) -> bool:
    return_type = handler.parsed_fn_signature.return_type
    return return_type.origin is Page or return_type.annotation is Page


class ContractJsonRenderPlugin(JsonRenderPlugin):
    """Serves `contract_document`: built on the first request, then kept for the app's lifetime."""

    def __init__(self) -> None:
        super().__init__()
        self._rendered: bytes | None = None

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        if self._rendered is None:
            self._rendered = self.render_json(request, contract_document(request.app, openapi_schema))
        return self._rendered
