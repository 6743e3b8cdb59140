"""Where a `/v1/check/batch` of 1,000 spends its time: the app in-process, no HTTP server, no client.

    python bench/batch_profile.py [--dsn DSN] [--top 15] [--scale 1]

Loads the dataset and draws the workload of bench/decisions.py (same seed), builds the app with
`create_app`, runs its lifespan and calls it as an ASGI application directly. After a warm-up like
bench/decisions.py's (each single check once where that runs wrk for 10 s, then five batches),
prints the median time of the cold, repeated and one-user batches (wall clock, and the process's
CPU time, which a busy host disturbs less), then profiles other cold batches
with cProfile: the share of each stage of a check in the batch handler's time, and the functions
that take the most time of their own. cProfile slows Python calls several times over: read its
shares, not its milliseconds.
"""

import argparse
import asyncio
import contextlib
import cProfile
import pstats
import statistics
import sys
import time
from typing import Any

from decisions import TOKEN, Workload, benchmark_database, server_dsn  # bench/decisions.py

from acl_service.app import create_app
from acl_service.settings import load_settings

# (label, file, function) as cProfile reports them: the stages of one check, outermost first.
STAGES = (
    ("the batch handler, in all", "acl_service/api/decisions.py", "check_batch"),
    ("one check (Decider.check)", "acl_service/authz/decisions.py", "check"),
    (
        "  decision signature: gathering the fact vectors",
        "acl_service/authz/evaluator.py",
        "decision_signature",
    ),
    ("  API key credential steps (K1, RESOLVE, K2-K4)", "acl_service/authz/decisions.py", "_credentials"),
    ("  answers no earlier check shares (computed)", "acl_service/authz/decisions.py", "_check"),
    ("validating each check's target", "acl_service/api/decisions.py", "check_target"),
    ("finding each check's subject", "acl_service/api/decisions.py", "subject"),
)


async def call(app: Any, path: str, body: bytes, *, method: str = "POST", expect: int = 200) -> None:
    """One request through the ASGI interface, as a server would make it."""
    received = False

    async def receive() -> dict[str, Any]:
        nonlocal received
        if received:
            await asyncio.Event().wait()  # the client never disconnects
        received = True
        return {"type": "http.request", "body": body, "more_body": False}

    status = 0

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"authorization", f"Bearer {TOKEN}".encode()), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {},
    }  # fmt: skip
    await app(scope, receive, send)
    if status != expect:
        raise RuntimeError(f"{path} answered {status}")


async def measure(dsn: str, workload: Workload, top: int) -> None:
    # Every organization stays loaded, as in bench/decisions.py's S=10 runs (--max-rows 2500000).
    settings = load_settings(
        {
            "ACL_DATABASE_URL": dsn,
            "ACL_SERVICE_TOKENS": f"check:{TOKEN}",
            "ACL_LOG_LEVEL": "warning",
            "ACL_FACT_INDEX_MAX_ROWS": "2500000",
        }
    )
    app = create_app(settings)
    async with app.lifespan():
        for body in workload.checks:
            await call(app, "/v1/check", body)
        for body in workload.batches[:5]:
            await call(app, "/v1/check/batch", body)
        # Half the cold batches are timed (then timed again, repeated), the other half profiled.
        cold = workload.batches[5:]
        timed, profiled = cold[: len(cold) // 2], cold[len(cold) // 2 :]
        for label, bodies in (("cold", timed), ("repeated", timed), ("1 user cold", workload.user_batches)):
            timings, cpu = [], []
            for body in bodies:
                started, started_cpu = time.perf_counter(), time.process_time()
                await call(app, "/v1/check/batch", body)
                timings.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - started_cpu) * 1000)
            print(
                f"batch {label:<12} p50 {statistics.median(timings):6.1f} ms  max {max(timings):6.1f} ms  "
                f"CPU p50 {statistics.median(cpu):6.1f} ms"
            )

        profiler = cProfile.Profile()
        profiler.enable()
        for body in profiled:
            await call(app, "/v1/check/batch", body)
        profiler.disable()
    stats = pstats.Stats(profiler)
    by_function = {
        (filename, name): (primitive_calls, cumulative)
        for (filename, _, name), (_, primitive_calls, _, cumulative, _) in stats.stats.items()  # type: ignore[attr-defined]
    }

    def stage(path: str, name: str) -> tuple[int, float]:
        for (filename, function), measured in by_function.items():
            if function == name and filename.endswith(path):
                return measured
        return 0, 0.0

    whole = stage(STAGES[0][1], STAGES[0][2])[1] or 1.0
    print(f"\ncold batches, profiled: share of the batch handler's time ({len(profiled)} batches)")
    for label, path, name in STAGES:
        calls, total = stage(path, name)
        print(f"  {label:<52} {total / whole:6.1%}  ({calls:,} calls)")
    print()
    stats.sort_stats("tottime").print_stats(top)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", help="PostgreSQL server for the benchmark database (as bench/decisions.py)")
    parser.add_argument("--top", type=int, default=15, help="functions listed by their own time")
    parser.add_argument("--scale", type=float, default=1.0, help="dataset scale, as bench/decisions.py's")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        server_url = server_dsn(args.dsn, stack)
        with benchmark_database(server_url, keep=False, scale=args.scale) as (dsn, workload):
            asyncio.run(measure(dsn, workload, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
