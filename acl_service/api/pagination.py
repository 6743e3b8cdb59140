"""Paginated lists (SPEC §5.2): `limit` 1..1000 (default 100), `offset` >= 0, links as request paths."""

from collections.abc import Mapping, Sequence
from typing import Any, Final, Generic, TypeVar
from urllib.parse import urlencode

import msgspec
from litestar import Request

from acl_service.errors import InvalidInput

T = TypeVar("T")

DEFAULT_LIMIT: Final = 100
MAX_LIMIT: Final = 1000


class Page(msgspec.Struct, Generic[T]):
    count: int
    next: str | None
    previous: str | None
    results: Sequence[T]


class PageWindow(msgspec.Struct, frozen=True):
    limit: int
    offset: int


def bounded_int(query: Mapping[str, str], name: str, default: int, minimum: int, maximum: int | None) -> int:
    """The integer parameter `name` of a query (or headers), within bounds; `default` when absent."""
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput("A valid integer is required.", code="invalid", attr=name) from None
    if value < minimum:
        raise InvalidInput(
            f"Ensure this value is greater than or equal to {minimum}.", code="min_value", attr=name
        )
    if maximum is not None and value > maximum:
        raise InvalidInput(
            f"Ensure this value is less than or equal to {maximum}.", code="max_value", attr=name
        )
    return value


def page_window(query: Mapping[str, str]) -> PageWindow:
    return PageWindow(
        limit=bounded_int(query, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
        offset=bounded_int(query, "offset", 0, 0, 2**63 - 1),
    )


def request_path(request: Request[Any, Any, Any]) -> str:
    """The path as the client sent it: Litestar's `url.path` drops a trailing slash."""
    raw: bytes = request.scope.get("raw_path") or request.url.path.encode()
    return raw.split(b"?", 1)[0].decode("latin-1")


def page(request: Request[Any, Any, Any], window: PageWindow, count: int, results: Sequence[T]) -> Page[T]:
    path, query = request_path(request), request.query_params

    def link(offset: int) -> str:
        params = {**query, "limit": str(window.limit), "offset": str(offset)}
        return f"{path}?{urlencode(params)}"

    following = window.offset + window.limit
    next_link = link(following) if following < count else None
    previous_link = link(max(window.offset - window.limit, 0)) if window.offset > 0 else None
    return Page(count=count, next=next_link, previous=previous_link, results=results)
