"""The guard's added latency per request on the example server.

Times N sequential `GET /api/environments/{p}/dashboards/{id}/` requests in process (httpx's
ASGITransport), once through `AccessGuard` (one real `/v1/authorize` round trip to acl-service
each) and once against the bare app, and prints the median and p99 of each in µs and their
difference. Retrieve is the route whose handler makes no other acl-service call, so the
difference is the guard alone. It also times the raw `/v1/authorize` round trip with plain httpx,
the part of the guard's cost that is acl-service and the network rather than the client.

    ACL_URL=http://127.0.0.1:8000 ACL_ADMIN_TOKEN=... python -m examples.posthog_api.bench [N]

It creates a user, an organization, a project and a dashboard in that acl-service (system calls
with the admin token; fresh random ids, so it can run against a shared instance).
"""

import asyncio
import logging
import os
import random
import statistics
import sys
import time
import uuid

import httpx
from acl_client import AsyncClient
from acl_client.asgi import App

from examples.posthog_api.app import SESSION_HEADER, create_app
from examples.posthog_api.store import Store


async def timings(app: App, path: str, headers: dict[str, str], count: int) -> list[float]:
    """Seconds per request, after a warm-up of a tenth of `count`."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://example") as http:
        spent = []
        for number in range(count + count // 10):
            started = time.perf_counter()
            response = await http.get(path, headers=headers)
            finished = time.perf_counter()
            assert response.status_code == 200, response.text
            if number >= count // 10:
                spent.append(finished - started)
    return spent


async def authorize_timings(acl_url: str, token: str, body: dict[str, str], count: int) -> list[float]:
    """Seconds per raw `POST /v1/authorize` (plain httpx, no client), the floor under the guard."""
    async with httpx.AsyncClient(base_url=acl_url, headers={"Authorization": f"Bearer {token}"}) as http:
        spent = []
        for number in range(count + count // 10):
            started = time.perf_counter()
            response = await http.post("/v1/authorize", json=body)
            finished = time.perf_counter()
            assert response.status_code == 200, response.text
            assert response.json()["allowed"], response.text
            if number >= count // 10:
                spent.append(finished - started)
    return spent


def summary(label: str, spent: list[float]) -> float:
    median = statistics.median(spent) * 1e6
    p99 = statistics.quantiles(spent, n=100)[98] * 1e6
    print(f"{label:<14} median {median:8.1f} µs   p99 {p99:8.1f} µs   ({len(spent)} requests)")
    return median


async def main(count: int) -> None:
    acl_url, admin_token = os.environ["ACL_URL"], os.environ["ACL_ADMIN_TOKEN"]
    user, project_id, dashboard_id = (
        uuid.uuid4(),
        random.randrange(10**6, 10**9),
        random.randrange(10**6, 10**9),
    )
    async with AsyncClient(acl_url, token=admin_token) as acl:
        await acl.put_user(user, email=f"bench-{user}@example.com")
        organization = await acl.create_organization(name="Guard bench")
        await acl.add_member(organization.id, user_uuid=user, level=1)
        await acl.create_project(id=project_id, organization=organization.id, name="Guard bench")
        await acl.create_dashboard(project_id, id=dashboard_id, name="Bench", created_by=str(user))
        store = Store()
        store.add_dashboard(project_id, "Bench", None, dashboard_id)
        guarded = create_app(store, acl)
        path, headers = (
            f"/api/environments/{project_id}/dashboards/{dashboard_id}/",
            {SESSION_HEADER: str(user)},
        )
        with_guard = summary("with guard", await timings(guarded, path, headers, count))
        without_guard = summary("without guard", await timings(guarded.app, path, headers, count))
        print(f"guard adds     median {with_guard - without_guard:8.1f} µs per request")
        raw = {"method": "GET", "path": path, "user": str(user)}
        summary("raw authorize", await authorize_timings(acl_url, admin_token, raw, count))
        await acl.delete_organization(organization.id)
        await acl.delete_user(user)
        store.close()


if __name__ == "__main__":
    # Litestar's default logging config would print one line per request through httpx.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000))
