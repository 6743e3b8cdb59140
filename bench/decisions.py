"""Decision API benchmark: a realistic dataset at a scale S, the service started as a user starts it,
wrk on loopback.

    python bench/decisions.py [--scale 0.1,1,10] [--dsn DSN] [--duration 10] [--workers 1,2]
                              [--connections 1,16,64] [--rate 5000] [--paced-connections 16,64]
                              [--max-rows N] [--keep]

Needs wrk (apt-get install -y wrk). For each scale S (default 1):
1. Creates a fresh database on the server of `--dsn` (default: the local PostgreSQL on 127.0.0.1:5432
   if it answers, else an embedded one in a temporary folder) and runs `acl-service migrate` on it.
2. Loads bench/dataset.py's directory at S with `acl-service import` (COPY into staging tables,
   one revision, ANALYZE after). S = 1 is 100 organizations, 10,000 users, 1,000 projects and
   100,000 dashboards and resources (about 190,000 rows); S = 10 is ten times that, with one
   organization of 100,000 objects and 2,000 members.
3. For each worker count: starts `acl-service serve` (ACL_DATABASE_URL, ACL_SERVICE_TOKENS), waits
   for /readyz, and times the first check in the largest organization and in 20 ordinary ones (each
   loads its organization into the index). Then warms up fully (every organization loaded in every
   worker), drives `POST /v1/check` with `wrk` (a Lua script cycling through 20,000 pre-generated
   checks: users and keys, projects, types and objects, every action) at each concurrency, and
   `POST /v1/check/batch` with 1,000 checks per request from this process (sequential,
   keep-alive): first with checks never asked before ("cold": every answer computed), then the same
   batches again ("repeated": answers memoized), and batches of one user's objects never asked
   before ("1 user cold": what enriching a list costs). wrk cycles through its 20,000 checks, so
   after the warm-up most single checks are memoized. The all-out runs show saturation (latency
   there is mostly queueing); the paced runs offer about `--rate` checks/s from 16 and 64
   connections with random gaps, as API servers do. Last, the RSS of each worker.
4. Prints p50/p99 latency and decisions/s per scale, and with several scales the ratio of the
   largest scale's p99 to the smallest's; drops each database (unless --keep).

Targets (issue 12, 2 cores, at S=1): a cold random-mix batch of 1,000 p50 <= 20 ms, p99 <= 40 ms;
a one-user cold batch p50 <= 10 ms; a single check paced at 5,000/s from 16 connections on 2
workers p50 <= 0.5 ms, p99 <= 2 ms. Flat with data: p99 at S=10 <= 1.25 x p99 at S=0.1; a
1,000-object organization loads in <= 10 ms at S=10, the largest (100,000 objects) in <= 1 s; RSS
per fully warmed worker at S=10 <= 1.5 GB.
"""

import argparse
import asyncio
import concurrent.futures
import contextlib
import functools
import http.client
import json
import os
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import psutil
from dataset import Dataset, build_dataset, load_dataset  # bench/dataset.py

from acl_service.store.embedded import EmbeddedPostgres

BIN_DIR = Path(sys.executable).parent
TOKEN = "bench-check-token"
CHECK_BODIES = 20_000
BATCH_SIZE = 1_000
BATCH_REQUESTS = 40
FIRST_LOADS = 20  # ordinary organizations whose first check is timed
PACING_SECONDS = 3  # the short run that measures a paced check's own latency

LUA_SCRIPT = """
local bodies = {}
for line in io.lines(os.getenv("BENCH_BODIES")) do bodies[#bodies + 1] = line end
local counter = 0
local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer %s"}
request = function()
  counter = counter + 1
  return wrk.format("POST", "/v1/check", headers, bodies[(counter %% #bodies) + 1])
end
-- Paced runs: each connection waits an exponential gap (mean BENCH_DELAY_MS) before its next request,
-- so arrivals are random, not synchronized. wrk takes whole milliseconds: adding a uniform [0, 1)
-- before flooring keeps the mean.
local mean_delay = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
if mean_delay > 0 then
  math.randomseed(20251126)
  delay = function()
    return math.floor(-math.log(1 - math.random()) * mean_delay + math.random())
  end
end
"""


# -- workload --------------------------------------------------------------------------------------


def check_body(rng: random.Random, data: Dataset) -> dict[str, Any]:
    if rng.random() < 0.25:
        value, owner = rng.choice(data.keys)
        subject: dict[str, Any] = {"api_key": value}
        organization = data.user_organization.get(owner) or rng.choice(data.organizations)
    else:
        organization = rng.choice(data.organizations)
        user_id = (
            rng.choice(data.members[organization])
            if rng.random() < 0.9
            else rng.randint(1, len(data.user_uuids))
        )
        subject = {"user": str(data.user_uuids[user_id])}
    projects = (
        data.projects[organization] if rng.random() < 0.95 else data.projects[rng.choice(data.organizations)]
    )
    project_id = rng.choice(projects)
    body: dict[str, Any] = {**subject, "project_id": project_id}
    kind = rng.random()
    if kind < 0.3:
        body["action"] = rng.choice(("read", "write", "delete", "manage_access"))
    elif kind < 0.5:
        body["resource"] = {"type": rng.choice(("dashboard", "notebook", "insight", "feature_flag"))}
        body["action"] = rng.choice(("read", "write", "create", "manage_access"))
    else:
        resource = rng.choice(("dashboard", "dashboard", "notebook", "insight", "feature_flag"))
        resource_id: str | int = rng.choice(data.objects[project_id][resource])
        if resource == "dashboard":
            resource_id = int(resource_id)
        body["resource"] = {"type": resource, "id": resource_id}
        actions = ["read", "read", "write", "delete", "manage_access"] + (
            ["restrict"] if resource == "dashboard" else []
        )
        body["action"] = rng.choice(actions)
    return body


def one_user_batch(rng: random.Random, data: Dataset) -> dict[str, Any]:
    """What an API server sends to enrich a list: one user, the objects of their organization's projects."""
    organization = rng.choice(data.organizations)
    user = str(data.user_uuids[rng.choice(data.members[organization])])
    checks: list[dict[str, Any]] = []
    while len(checks) < BATCH_SIZE:
        project_id = rng.choice(data.projects[organization])
        for resource, ids in data.objects[project_id].items():
            for resource_id in ids:
                target = {
                    "type": resource,
                    "id": int(resource_id) if resource == "dashboard" else resource_id,
                }
                checks.append({"user": user, "project_id": project_id, "resource": target, "action": "read"})
    return {"checks": checks[:BATCH_SIZE]}


# -- measuring -----------------------------------------------------------------------------------------


def wait_ready(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/readyz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"acl-service on port {port} not ready within {timeout} s")


def to_ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(
    port: int, connections: int, duration: int, script: Path, bodies: Path, delay_ms: float = 0.0
) -> tuple[float, float, float]:
    """req/s, p50 and p99 ms of /v1/check, each connection waiting about `delay_ms` between checks."""
    output = subprocess.run(
        ["wrk", "--latency", "-t1", f"-c{connections}", f"-d{duration}s", "-s", str(script),
         f"http://127.0.0.1:{port}/v1/check"],
        capture_output=True, text=True, check=True,
        env={**os.environ, "BENCH_BODIES": str(bodies), "BENCH_DELAY_MS": str(delay_ms)},
    ).stdout  # fmt: skip
    if "Non-2xx" in output:
        raise RuntimeError(f"wrk saw error responses:\n{output}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    percentiles = {
        pct: to_ms(value, unit) for pct, value, unit in re.findall(r"\s(50|99)%\s+([\d.]+)(us|ms|s)", output)
    }
    return rps, percentiles["50"], percentiles["99"]


class RateNotReachedError(Exception):
    """The service answers fewer checks per second than the paced run is to offer."""


def run_wrk_paced(
    port: int, connections: int, duration: int, script: Path, bodies: Path, rate: int
) -> tuple[float, float, float]:
    """/v1/check offered about `rate` checks/s: a connection's cycle is its wait plus the check's own
    latency, so a short first run measures that latency and the wait is set from it."""
    cycle_ms = connections * 1000 / rate
    rps, _, _ = run_wrk(port, connections, PACING_SECONDS, script, bodies, cycle_ms)
    latency_ms = connections * 1000 / rps - cycle_ms if rps else cycle_ms
    if latency_ms >= cycle_ms:
        raise RateNotReachedError(
            f"cannot offer {rate} checks/s from {connections} connections: a check takes longer "
            f"({rps:,.0f} checks/s answered)"
        )
    return run_wrk(port, connections, duration, script, bodies, cycle_ms - max(0.0, latency_ms))


def timed_posts(port: int, path: str, bodies: list[bytes]) -> list[float]:
    """ms per POST of each body to `path`, one after another on one keep-alive connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    timings = []
    for body in bodies:
        started = time.perf_counter()
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        timings.append((time.perf_counter() - started) * 1000)
        if response.status != 200:
            raise RuntimeError(f"{path} answered {response.status}: {payload[:300]!r}")
    connection.close()
    return timings


def run_batches(port: int, batches: list[bytes]) -> list[float]:
    return timed_posts(port, "/v1/check/batch", batches)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


LOCAL_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


def database_dsn(server_dsn: str, database: str) -> str:
    return urlunsplit(urlsplit(server_dsn)._replace(path=f"/{database}"))


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dsn",
        help=f"PostgreSQL server to create the benchmark database on (default: {LOCAL_DSN} if it answers, "
        "else an embedded PostgreSQL in a temporary folder)",
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk measurement")
    parser.add_argument("--warmup", type=int, default=10, help="seconds of warm-up per server start")
    parser.add_argument("--workers", default="1,2", help="comma-separated ACL_WORKERS values")
    parser.add_argument("--connections", default="1,16,64", help="concurrency of the all-out runs")
    parser.add_argument(
        "--rate", type=int, default=5000, help="checks/s the paced runs offer (the target's load)"
    )
    parser.add_argument(
        "--max-rows", type=int, help="ACL_FACT_INDEX_MAX_ROWS of the service (default: the service's own)"
    )
    parser.add_argument(
        "--paced-connections", default="16,64", help="concurrency of the paced runs ('' for none)"
    )
    parser.add_argument(
        "--scale",
        default="1",
        help="comma-separated dataset scales (bench/dataset.py: 1 = 190k rows, 10 = 1.9M), e.g. 0.1,1,10",
    )
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()

    if shutil.which("wrk") is None:
        print("bench/decisions.py drives the service with wrk: apt-get install -y wrk", file=sys.stderr)
        return 2
    with contextlib.ExitStack() as stack:
        return run(args, server_dsn(args.dsn, stack))


def server_dsn(requested: str | None, stack: contextlib.ExitStack) -> str:
    """--dsn, else the local PostgreSQL if it answers, else an embedded one stopped at exit."""
    if requested is not None:
        return requested

    async def local_answers() -> bool:
        try:
            conn = await asyncpg.connect(LOCAL_DSN, timeout=2)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return False
        await conn.close()
        return True

    if asyncio.run(local_answers()):
        return LOCAL_DSN
    data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="acl-bench-")))
    embedded = stack.enter_context(EmbeddedPostgres(data_dir))
    print(f"no PostgreSQL at {LOCAL_DSN}: using an embedded one in {data_dir}")
    return embedded.dsn


@dataclass
class Workload:
    """What every measurement sends: single checks, cold batches and one-user batches, as JSON; and
    the first checks of a fresh instance: one in the largest organization, then one in each of
    `FIRST_LOADS` ordinary ones, then one per organization (what warms an instance fully)."""

    checks: list[bytes]
    batches: list[bytes]
    user_batches: list[bytes]
    largest_first: bytes
    ordinary_firsts: list[bytes]
    every_organization: list[bytes]


def first_check(rng: random.Random, data: Dataset, organization: uuid.UUID) -> bytes:
    """A dashboard read of a member in one of the organization's projects: it loads the organization."""
    project_id = rng.choice(data.projects[organization])
    body = {
        "user": str(data.user_uuids[rng.choice(data.members[organization])]),
        "project_id": project_id,
        "resource": {"type": "dashboard", "id": int(rng.choice(data.objects[project_id]["dashboard"]))},
        "action": "read",
    }
    return json.dumps(body).encode()


@contextlib.contextmanager
def benchmark_database(server_url: str, keep: bool, scale: float = 1.0) -> Iterator[tuple[str, Workload]]:
    """A fresh database on `server_url`, migrated and loaded with the dataset at `scale`, and the
    workload drawn from it (the same seed, so the same numbers, every run); dropped at exit unless
    `keep`."""
    rng = random.Random(20_251_126)
    with fresh_database(server_url, "acl_bench", keep) as dsn:
        started = time.perf_counter()
        data, tables = build_dataset(rng, scale)
        built = time.perf_counter()
        load_dataset(dsn, tables)
        loaded = time.perf_counter()
        del tables
        largest = data.organizations[0]
        print(
            f"S={scale:g}: built in {built - started:.1f} s, loaded in "
            f"{loaded - built:.1f} s; largest organization: {data.object_count(largest):,} objects, "
            f"{len(data.members[largest]):,} members"
        )
        print("rows: " + ", ".join(f"{name} {count:,}" for name, count in data.rows.items()))
        ordinary = rng.sample(data.organizations[1:], min(FIRST_LOADS, len(data.organizations) - 1))
        yield (
            dsn,
            Workload(
                checks=[json.dumps(check_body(rng, data)).encode() for _ in range(CHECK_BODIES)],
                batches=[
                    json.dumps({"checks": [check_body(rng, data) for _ in range(BATCH_SIZE)]}).encode()
                    for _ in range(BATCH_REQUESTS)
                ],
                user_batches=[json.dumps(one_user_batch(rng, data)).encode() for _ in range(BATCH_REQUESTS)],
                largest_first=first_check(rng, data, largest),
                ordinary_firsts=[first_check(rng, data, organization) for organization in ordinary],
                every_organization=[
                    first_check(rng, data, organization) for organization in data.organizations
                ],
            ),
        )


@contextlib.contextmanager
def fresh_database(server_url: str, prefix: str, keep: bool = False) -> Iterator[str]:
    """The DSN of a new database on `server_url`, migrated by `acl-service migrate` as a user would;
    dropped at exit unless `keep`."""
    database = f"{prefix}_{secrets.token_hex(4)}"
    dsn = database_dsn(server_url, database)

    async def execute(statement: str) -> None:
        conn = await asyncpg.connect(server_url)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(execute(f'CREATE DATABASE "{database}"'))
    try:
        env = {**os.environ, "ACL_DATABASE_URL": dsn}
        subprocess.run([str(BIN_DIR / "acl-service"), "migrate"], env=env, check=True, capture_output=True)
        print(f"database {database}")
        yield dsn
    finally:
        if not keep:
            asyncio.run(execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


def timed_checks(port: int, bodies: list[bytes]) -> list[float]:
    return timed_posts(port, "/v1/check", bodies)


def warm_every_worker(port: int, bodies: list[bytes], workers: int) -> None:
    """Loads every organization into every worker: each check goes out on fresh connections, which the
    workers accept in turn, until every worker has answered it many times over."""
    for _ in range(4 * workers if workers > 1 else 1):
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            chunks = [bodies[start::8] for start in range(8)]
            list(pool.map(lambda chunk: timed_checks(port, chunk), chunks))


def worker_rss_mb(server: subprocess.Popen[bytes]) -> list[float]:
    """Resident MB of each process that serves requests (the workers, or the server itself)."""
    process = psutil.Process(server.pid)
    # multiprocessing's resource tracker is a child too, and serves nothing.
    workers = [
        child
        for child in process.children(recursive=True)
        if not any("resource_tracker" in part for part in child.cmdline())
    ]
    workers = workers or [process]
    return [worker.memory_info().rss / 2**20 for worker in workers]


@dataclass
class Row:
    scale: float
    workers: int
    load: str
    rps: float
    p50: float
    p99: float


@dataclass
class ScaleReport:
    """Every figure, printed as it is measured (a long run stopped early keeps what it had) and
    again as one table at the end."""

    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        print(f"measured: {format_row(row)}", flush=True)

    def note(self, note: str) -> None:
        self.notes.append(note)
        print(note, flush=True)


def format_row(row: Row) -> str:
    return (
        f"{row.scale:>5g} {row.workers:>7}  {row.load:<28} {row.rps:>12,.0f} {row.p50:>8.2f} {row.p99:>8.2f}"
    )


def measure_scale(args: argparse.Namespace, server_url: str, scale: float, report: ScaleReport) -> None:
    with (
        benchmark_database(server_url, args.keep, scale) as (dsn, workload),
        tempfile.TemporaryDirectory() as scratch,
    ):
        env = {
            **os.environ,
            "ACL_DATABASE_URL": dsn,
            "ACL_SERVICE_TOKENS": f"check:{TOKEN}",
            "ACL_LOG_LEVEL": "warning",
        }
        if args.max_rows is not None:
            env["ACL_FACT_INDEX_MAX_ROWS"] = str(args.max_rows)
        bodies = Path(scratch) / "checks.jsonl"
        bodies.write_bytes(b"\n".join(workload.checks) + b"\n")
        script = Path(scratch) / "check.lua"
        script.write_text(LUA_SCRIPT % TOKEN)
        batches, user_batches = workload.batches, workload.user_batches
        for workers in [int(w) for w in args.workers.split(",")]:
            port = free_port()
            server = subprocess.Popen(
                [str(BIN_DIR / "acl-service"), "serve"],
                env={**env, "ACL_PORT": str(port), "ACL_WORKERS": str(workers)},
            )
            add = functools.partial(Row, scale, workers)
            try:
                wait_ready(port, timeout=600)
                # A fresh instance: each first check below loads its organization (a load dominates it).
                (largest_ms,) = timed_checks(port, [workload.largest_first])
                ordinary_ms = timed_checks(port, workload.ordinary_firsts)
                report.add(add("first check, largest org", 1000 / largest_ms, largest_ms, largest_ms))
                report.add(
                    add(
                        "first check, 1k-object org",
                        1000 / statistics.median(ordinary_ms),
                        statistics.median(ordinary_ms),
                        percentile(ordinary_ms, 0.99),
                    )
                )
                warm_every_worker(port, workload.every_organization, workers)
                run_wrk(port, 16, args.warmup, script, bodies)  # fills the memo
                run_batches(port, batches[:5])
                for connections in [int(c) for c in args.connections.split(",") if c]:
                    rps, p50, p99 = run_wrk(port, connections, args.duration, script, bodies)
                    report.add(add(f"check c{connections}", rps, p50, p99))
                for connections in [int(c) for c in args.paced_connections.split(",") if c]:
                    try:
                        rps, p50, p99 = run_wrk_paced(
                            port, connections, args.duration, script, bodies, args.rate
                        )
                    except RateNotReachedError as error:
                        report.note(f"S={scale:g}, {workers} worker(s), c{connections} paced: {error}")
                        continue
                    report.add(add(f"check c{connections} paced", rps, p50, p99))
                # First sight of each check (answers computed), then the same batches again (memoized),
                # on one connection: with two workers a new connection may reach the one that has
                # not seen them, and "repeated" would be cold again.
                cold = batches[5:]
                both = run_batches(port, cold + cold)
                for label, timings in (
                    ("batch cold", both[: len(cold)]),
                    ("batch repeated", both[len(cold) :]),
                    ("batch 1 user cold", run_batches(port, user_batches)),
                ):
                    p50 = statistics.median(timings)
                    report.add(add(label, BATCH_SIZE * 1000 / p50, p50, percentile(timings, 0.99)))
                rss = ", ".join(f"{mb:,.0f}" for mb in worker_rss_mb(server))
                report.note(f"S={scale:g}, {workers} worker(s), fully warmed: RSS per worker {rss} MB")
            finally:
                server.terminate()
                server.wait(timeout=60)


def run(args: argparse.Namespace, server_url: str) -> int:
    started = time.perf_counter()
    report = ScaleReport()
    scales = [float(scale) for scale in args.scale.split(",")]
    for scale in scales:
        measure_scale(args, server_url, scale, report)
    print()
    print(f"{'S':>5} {'workers':>7}  {'load':<28} {'decisions/s':>12} {'p50 ms':>8} {'p99 ms':>8}")
    for row in report.rows:
        print(format_row(row))
    print()
    for note in report.notes:
        print(note)
    if len(scales) > 1:
        smallest, largest = min(scales), max(scales)
        p99 = {(row.scale, row.workers, row.load): row.p99 for row in report.rows}
        for (scale, workers, load), value in p99.items():
            base = p99.get((smallest, workers, load))
            if scale == largest and base and "first check" not in load:
                print(f"flat with data: {workers} worker(s) {load}: p99 S={largest:g} / S={smallest:g} = "
                      f"{value / base:.2f}")  # fmt: skip
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
