"""What read-your-writes adds to a write: admin writes answered at once vs once applied here.

    python bench/write_latency.py [--dsn DSN] [--writes 200] [--rounds 3]

Loads the dataset of bench/decisions.py, builds the app with `create_app` and calls it in-process
(as bench/batch_profile.py does). The organization of one project is loaded into the fact index
first, so each write makes the index reload it, as in production. Then, in interleaved rounds,
system-call resource upserts into that project are timed with `ACL_MIN_REVISION_WAIT_MS=0` (the
write is answered without waiting: the behaviour before read-your-writes) and with the default
(answered once this instance has applied the write's revision). Prints p50/p99 of each and the
difference.
"""

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import time

from batch_profile import call  # bench/batch_profile.py
from decisions import TOKEN, Workload, benchmark_database, percentile, server_dsn  # bench/decisions.py

from acl_service.app import create_app
from acl_service.settings import load_settings


async def time_writes(
    dsn: str, workload: Workload, wait_ms: int, writes: int, round_number: int
) -> list[float]:
    settings = load_settings(
        {
            "ACL_DATABASE_URL": dsn,
            "ACL_SERVICE_TOKENS": f"admin:{TOKEN}",
            "ACL_LOG_LEVEL": "warning",
            "ACL_MIN_REVISION_WAIT_MS": str(wait_ms),
        }
    )
    first_check = json.loads(workload.checks[0])
    project_id = first_check["project_id"]
    app = create_app(settings)
    timings = []
    async with app.lifespan():
        await call(app, "/v1/check", workload.checks[0])  # loads the organization
        for number in range(writes):
            body = json.dumps(
                {"resource": "notebook", "resource_id": f"w{wait_ms}-{round_number}-{number}"}
            ).encode()
            started = time.perf_counter()
            await call(app, f"/api/environments/{project_id}/resources/", body, expect=201)
            timings.append((time.perf_counter() - started) * 1000)
    return timings


async def measure(dsn: str, workload: Workload, writes: int, rounds: int) -> None:
    measured: dict[str, list[float]] = {"answered at once": [], "read-your-writes": []}
    for round_number in range(rounds):
        measured["answered at once"] += await time_writes(dsn, workload, 0, writes, round_number)
        measured["read-your-writes"] += await time_writes(dsn, workload, 2000, writes, round_number)
    for label, timings in measured.items():
        print(
            f"{label:<18} {len(timings)} writes  p50 {statistics.median(timings):6.2f} ms"
            f"  p99 {percentile(timings, 0.99):6.2f} ms"
        )
    at_once, waited = measured["answered at once"], measured["read-your-writes"]
    print(
        f"added by read-your-writes: p50 {statistics.median(waited) - statistics.median(at_once):+.2f} ms,"
        f" p99 {percentile(waited, 0.99) - percentile(at_once, 0.99):+.2f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", help="PostgreSQL server for the benchmark database (as bench/decisions.py)")
    parser.add_argument("--writes", type=int, default=200, help="writes per round and setting")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of each setting")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        server_url = server_dsn(args.dsn, stack)
        with benchmark_database(server_url, keep=False) as (dsn, workload):
            asyncio.run(measure(dsn, workload, args.writes, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
