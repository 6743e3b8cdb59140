"""The route table of SPEC §4, loaded from `policies/routes.csv` and matched against request paths.

Matching follows §4: project-nested rows exist under both `/api/environments/{project_id}` and
`/api/projects/{project_id}`; a trailing slash is optional; literal segments win over parameters; a
known path with another method is 405. Path parameters are validated here (§6: before
authorization), so every later step can trust their types.
"""

import csv
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Final
from uuid import UUID

import msgspec

from acl_service.domain import SCOPE_OBJECTS
from acl_service.errors import InvalidInput, MethodNotAllowed, NotFound

INTERNAL: Final = "INTERNAL"
PROJECT_PREFIXES: Final = ("/api/environments/{project_id}", "/api/projects/{project_id}")
MAX_BIGINT: Final = 2**63 - 1
RESOURCE_ID: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*\Z")  # \Z: no final newline
INTEGER: Final = re.compile(r"^-?[0-9]+$")
SCOPE_PLACEHOLDER: Final = "<scope>"


class Route(msgspec.Struct, frozen=True):
    context: str  # project | project_detail | org_nested | org_detail | none
    method: str
    template: str  # the full path template, prefix included
    action: str
    scope: str  # a type, INTERNAL, {resource}, {coll}, ?resource or body.resource
    scopes: tuple[str, ...] | None  # required scopes; None = the route defines none
    route_checks: tuple[str, ...]
    object_checks: tuple[str, ...]
    body_rules: tuple[str, ...]
    flags: frozenset[str]
    serves: str  # admin | check | authorize

    @property
    def create(self) -> bool:
        return "C" in self.flags

    @property
    def key_checks(self) -> bool:
        return "nokey" not in self.flags


class RouteMatch(msgspec.Struct, frozen=True):
    route: Route
    params: Mapping[str, object]  # validated: ints, UUIDs, strings
    scope_object: str | None  # None when it comes from a body not yet read

    def required_scopes(self, scope_object: str | None = None) -> tuple[str, ...] | None:
        scopes = self.route.scopes
        target = scope_object or self.scope_object
        if scopes is None or target is None:
            return scopes
        return tuple(scope.replace(SCOPE_PLACEHOLDER, target) for scope in scopes)

    @property
    def project_id(self) -> int | None:
        value = self.params.get("project_id")
        return value if isinstance(value, int) else None


class _Node:
    """A trie over path segments: literal children first, then one parameter child."""

    __slots__ = ("literals", "param", "param_name", "routes")

    def __init__(self) -> None:
        self.literals: dict[str, _Node] = {}
        self.param: _Node | None = None
        self.param_name = ""
        self.routes: dict[str, Route] = {}


def _split(path: str) -> list[str]:
    return [segment for segment in path.split("/") if segment]


class RouteTable:
    def __init__(self, routes: list[Route], collections: Mapping[str, str]) -> None:
        self.routes = tuple(routes)
        self.collections = dict(collections)
        self._root = _Node()
        for route in routes:
            self._insert(route)

    @classmethod
    def load(cls, policy_dir: Path) -> "RouteTable":
        collections = {row["coll"]: row["type"] for row in _read_csv(policy_dir / "collections.csv")}
        routes: list[Route] = []
        for row in _read_csv(policy_dir / "routes.csv"):
            route = _route_from_row(row, collections)
            templates = _templates(route)
            routes.extend(msgspec.structs.replace(route, template=template) for template in templates)
        return cls(routes, collections)

    def _insert(self, route: Route) -> None:
        node = self._root
        for segment in _split(route.template):
            if segment.startswith("{"):
                name = segment[1:-1]
                if node.param is None:
                    node.param, node.param_name = _Node(), name
                elif node.param_name != name:
                    raise ValueError(
                        f"{route.template}: parameter {{{name}}} clashes with {{{node.param_name}}}"
                    )
                node = node.param
            else:
                node = node.literals.setdefault(segment, _Node())
        if route.method in node.routes:
            raise ValueError(f"duplicate route {route.method} {route.template}")
        node.routes[route.method] = route

    def match(self, method: str, path: str, query: Mapping[str, str] | None = None) -> RouteMatch:
        """The route of a request, its validated parameters, and its scope object when known."""
        raw: dict[str, str] = {}
        # `path` is already decoded and without its query: a `?` in it came from a `%3F`.
        node = self._find(self._root, _split(path), raw)
        if node is None or not node.routes:
            raise NotFound()
        route = node.routes.get(method.upper())
        if route is None:
            raise MethodNotAllowed(method.upper())
        params = {name: _validate_param(name, value, self.collections) for name, value in raw.items()}
        return RouteMatch(route, params, self._scope_object(route, params, query or {}))

    def _find(self, node: _Node, segments: list[str], params: dict[str, str]) -> _Node | None:
        if not segments:
            return node
        head, rest = segments[0], segments[1:]
        literal = node.literals.get(head)
        if literal is not None:
            found = self._find(literal, rest, params)
            if found is not None and found.routes:
                return found
        if node.param is not None and not (node.param_name == "coll" and head not in self.collections):
            params[node.param_name] = head
            found = self._find(node.param, rest, params)
            if found is not None and found.routes:
                return found
            del params[node.param_name]
        return None

    def _scope_object(
        self, route: Route, params: Mapping[str, object], query: Mapping[str, str]
    ) -> str | None:
        scope = route.scope
        if scope == "{resource}":
            return str(params["resource"])
        if scope == "{coll}":
            return self.collections[str(params["coll"])]
        if scope == "?resource":
            resource = query.get("resource")
            if resource is None:
                raise InvalidInput("This field is required.", code="required", attr="resource")
            if resource not in SCOPE_OBJECTS or resource in ("project", "organization"):
                raise InvalidInput(
                    f'"{resource}" is not a valid choice.', code="invalid_choice", attr="resource"
                )
            return resource
        if scope == "body.resource":
            return None
        return scope

    def admin_routes(self) -> Iterator[Route]:
        return (route for route in self.routes if route.serves == "admin")


def _templates(route: Route) -> list[str]:
    """Project routes are served under both prefixes: /api/environments/{id} and /api/projects/{id}."""
    if route.context == "project":
        return [prefix + route.template for prefix in PROJECT_PREFIXES]
    detail_prefix = PROJECT_PREFIXES[1]
    if route.context == "project_detail" and route.template.startswith(detail_prefix):
        rest = route.template.removeprefix(detail_prefix)
        return [prefix + rest for prefix in PROJECT_PREFIXES]
    return [route.template]


def _read_csv(path: Path) -> list[dict[str, str]]:
    lines = [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return [{key: (value or "").strip() for key, value in row.items()} for row in csv.DictReader(lines)]


def _words(value: str) -> tuple[str, ...]:
    return tuple(value.split())


def _route_from_row(row: dict[str, str], collections: Mapping[str, str]) -> Route:
    scopes = None if row["scopes"] == "-" else _words(row["scopes"])
    route = Route(
        context=row["context"],
        method=row["method"],
        template=row["path"],
        action=row["action"],
        scope=row["scope"],
        scopes=scopes,
        route_checks=_words(row["route_checks"]),
        object_checks=_words(row["object_checks"]),
        body_rules=_words(row["body_rules"]),
        flags=frozenset(_words(row["flags"])),
        serves=row["serves"],
    )
    dynamic = ("{resource}", "{coll}", "?resource", "body.resource")
    if (
        route.scope not in SCOPE_OBJECTS
        and route.scope not in dynamic
        and route.scope
        not in (
            INTERNAL,
            "personal_api_key",
        )
    ):
        raise ValueError(f"{route.template}: unknown scope object {route.scope}")
    if "{coll}" in route.template and not collections:
        raise ValueError("collections.csv is empty")
    return route


def _validate_param(name: str, value: str, collections: Mapping[str, str]) -> object:
    """§4 parameter types and §6 messages; the attr is the parameter's name."""
    if name in ("project_id", "id"):
        if not INTEGER.match(value):
            raise InvalidInput("A valid integer is required.", code="invalid", attr=name)
        number = int(value)
        if number < 1:
            raise InvalidInput(
                "Ensure this value is greater than or equal to 1.", code="min_value", attr=name
            )
        if number > MAX_BIGINT:
            raise InvalidInput(
                f"Ensure this value is less than or equal to {MAX_BIGINT}.", code="max_value", attr=name
            )
        return number
    if name in ("uuid", "org", "role_id", "membership_id") or (name == "key" and value != "@current"):
        try:
            return UUID(value)
        except ValueError:
            raise InvalidInput("Must be a valid UUID.", code="invalid", attr=name) from None
    if name == "resource":
        if value not in SCOPE_OBJECTS:
            raise InvalidInput(f'"{value}" is not a valid choice.', code="invalid_choice", attr=name)
        return value
    if name == "rid":
        if len(value) > 36 or not RESOURCE_ID.match(value):
            raise InvalidInput("Enter a valid resource id.", code="invalid", attr=name)
        return value
    return value  # key = @current, coll (checked while matching)
