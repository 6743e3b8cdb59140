"""acl_client's overhead per `check` over the raw HTTP call, sync and async.

    python bench/client.py [--dsn DSN] [--checks 2000] [--rounds 5]

Creates a fresh migrated database (as bench/decisions.py does, on the local PostgreSQL or an
embedded one), starts `acl-service serve` on it, writes a user, an organization and a project with
the client's admin calls, then times `--checks` sequential keep-alive `POST /v1/check` calls of one
check four ways: raw httpx.Client posting prebuilt bytes and parsing the JSON, `Client.check`, raw
httpx.AsyncClient, `AsyncClient.check`. Prints µs per call (median of `--rounds`) and the client's
overhead (client − raw). The answers are memoized by the service, so the HTTP round trip is the
floor both sides share. Loopback on a shared machine is noisy: compare the overheads, not the totals.
"""

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable

import asyncpg
import httpx
from acl_client import AsyncClient, Client
from decisions import BIN_DIR, database_dsn, free_port, server_dsn, wait_ready  # bench/decisions.py

TOKEN = "bench-admin-" + secrets.token_hex(8)


def interleaved(runs: dict[str, Callable[[], None]], checks: int, rounds: int) -> dict[str, float]:
    """µs per check of each run, median over rounds that alternate the runs (noise hits both)."""
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            samples[name].append((time.perf_counter() - started) / checks * 1e6)
    return {name: statistics.median(values) for name, values in samples.items()}


def client_work_us(client: Client, user: str, checks: int) -> float:
    """What the client adds on its own: build the request, parse a canned answer (no network)."""
    session, http = client._session, client._http
    answer = httpx.Response(
        200,
        content=b'{"allowed":true,"status":200,"detail":null,"levels":{"org_level":1,"effective_level":1,'
        b'"project_access_level":"member","user_access_level":null,"access_source":null,'
        b'"restriction_level":null,"effective_restriction_level":null,"effective_privilege_level":null,'
        b'"can_edit":null,"can_restrict":null},"reason":["project_open","level_ok"],"revision":5}',
    )
    started = time.perf_counter()
    for _ in range(checks):
        call = session.check(1, "read", user, None, None, None, None)
        session.request(http, call)
        session.result(call, answer)
    return (time.perf_counter() - started) / checks * 1e6


def measure(url: str, checks: int, rounds: int) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    with Client(url, TOKEN, session_consistency=False) as client:
        user = client.put_user(uuid.uuid4(), email="bench@example.com")
        organization = client.create_organization(name="Bench")
        client.add_member(organization.id, user_uuid=user.uuid)
        client.create_project(id=1, organization=organization.id, name="Bench")
        body = json.dumps({"user": user.uuid, "project_id": 1, "action": "read"}).encode()
        # The writes may not be applied yet on this instance: wait for them once.
        assert client.check(user=user.uuid, project_id=1, action="read", min_revision=client.revision).allowed

        with httpx.Client(base_url=url) as raw:

            def raw_sync() -> None:
                for _ in range(checks):
                    assert raw.post("/v1/check", content=body, headers=headers).json()["allowed"]

            def client_sync() -> None:
                for _ in range(checks):
                    assert client.check(user=user.uuid, project_id=1, action="read").allowed

            raw_sync()  # warm-up: connection, memoized answer
            results = interleaved(
                {"sync raw httpx": raw_sync, "sync Client.check": client_sync}, checks, rounds
            )
            results["client work alone (no network)"] = client_work_us(client, user.uuid, checks)

    async def async_runs() -> dict[str, float]:
        async with httpx.AsyncClient(base_url=url) as raw, AsyncClient(url, TOKEN) as client:

            async def raw_async() -> None:
                for _ in range(checks):
                    response = await raw.post("/v1/check", content=body, headers=headers)
                    assert response.json()["allowed"]

            async def client_async() -> None:
                for _ in range(checks):
                    assert (await client.check(user=user.uuid, project_id=1, action="read")).allowed

            await raw_async()
            samples: dict[str, list[float]] = {"async raw httpx": [], "async AsyncClient.check": []}
            for _ in range(rounds):
                for name, run in zip(samples, (raw_async, client_async), strict=True):
                    started = time.perf_counter()
                    await run()
                    samples[name].append((time.perf_counter() - started) / checks * 1e6)
            return {name: statistics.median(values) for name, values in samples.items()}

    results.update(asyncio.run(async_runs()))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dsn", help="PostgreSQL server for the benchmark database (default as bench/decisions.py)"
    )
    parser.add_argument("--checks", type=int, default=2000, help="sequential checks per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per variant (the median is printed)")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        server = server_dsn(args.dsn, stack)
        database = f"acl_bench_client_{secrets.token_hex(4)}"
        asyncio.run(execute(server, f'CREATE DATABASE "{database}"'))
        stack.callback(
            lambda: asyncio.run(execute(server, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        )
        dsn = database_dsn(server, database)
        env = {**os.environ, "ACL_DATABASE_URL": dsn, "ACL_SERVICE_TOKENS": f"admin:{TOKEN}"}
        subprocess.run([str(BIN_DIR / "acl-service"), "migrate"], env=env, check=True, capture_output=True)
        port = free_port()
        env |= {"ACL_PORT": str(port), "ACL_LOG_LEVEL": "warning"}
        service = subprocess.Popen([str(BIN_DIR / "acl-service"), "serve"], env=env, stdin=subprocess.DEVNULL)
        stack.callback(service.wait, 30)
        stack.callback(service.terminate)
        wait_ready(port)
        results = measure(f"http://127.0.0.1:{port}", args.checks, args.rounds)
    print(f"{args.checks} sequential checks x {args.rounds} rounds, µs per check (median round):")
    for name, value in results.items():
        print(f"  {name:<32} {value:8.1f}")
    sync_overhead = results["sync Client.check"] - results["sync raw httpx"]
    async_overhead = results["async AsyncClient.check"] - results["async raw httpx"]
    print(f"  overhead sync  Client       {sync_overhead:+8.1f}")
    print(f"  overhead async AsyncClient  {async_overhead:+8.1f}")
    return 0


async def execute(server: str, statement: str) -> None:
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


if __name__ == "__main__":
    sys.exit(main())
