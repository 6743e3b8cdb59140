"""Serve the example: `python -m examples.posthog_api` from the repository root.

Settings (environment): `ACL_URL` (acl-service, default http://127.0.0.1:8000), `ACL_TOKEN` (an
admin or check token of that acl-service; required), `EXAMPLE_DATABASE` (SQLite file, default
posthog_api.sqlite3), `EXAMPLE_PORT` (default 8100).
"""

import asyncio
import os

import uvicorn
from acl_client import AsyncClient

from examples.posthog_api.app import create_app
from examples.posthog_api.store import Store


async def main() -> None:
    store = Store(os.environ.get("EXAMPLE_DATABASE", "posthog_api.sqlite3"))
    try:
        async with AsyncClient(
            os.environ.get("ACL_URL", "http://127.0.0.1:8000"), os.environ["ACL_TOKEN"]
        ) as acl:
            config = uvicorn.Config(
                create_app(store, acl), host="127.0.0.1", port=int(os.environ.get("EXAMPLE_PORT", "8100"))
            )
            await uvicorn.Server(config).serve()
    finally:
        store.close()


if __name__ == "__main__":
    asyncio.run(main())
