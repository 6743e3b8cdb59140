"""The access inspector page at `/ui/`: static files of this package, no build step, nothing from
elsewhere (the Content-Security-Policy makes the browser refuse anything not served here)."""

from pathlib import Path
from typing import Final

from litestar import Response, Router
from litestar.static_files import create_static_files_router

UI_PATH: Final = "/ui"
UI_DIRECTORY: Final = Path(__file__).resolve().parent.parent / "ui"
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def _secure(response: Response[bytes]) -> Response[bytes]:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def inspector_router() -> Router:
    return create_static_files_router(
        path=UI_PATH,
        directories=[UI_DIRECTORY],
        html_mode=True,
        name="inspector",
        after_request=_secure,
        include_in_schema=False,
    )
