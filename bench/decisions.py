"""Decision API benchmark: a realistic dataset, the service started as a user starts it, wrk on loopback.

    python bench/decisions.py [--dsn DSN] [--duration 10] [--workers 1,2] [--connections 1,16,64]
                              [--rate 3000] [--paced-connections 16,64] [--keep]

Needs wrk (apt-get install -y wrk).
1. Creates a fresh database on the server of `--dsn` (default: the local PostgreSQL on 127.0.0.1:5432
   if it answers, else an embedded one in a temporary folder) and runs `acl-service migrate` on it.
2. Bulk-loads (COPY inside write transactions, so triggers and the changelog run as for any write)
   100 organizations with mixed feature sets, 10,000 users (about 11,000 memberships), 1,000
   projects (a fifth of them private), 100,000 dashboards and resources (a fifth of the dashboards
   restricted), collaborators, insights on dashboards, explicit members, roles, access-control rows
   of every kind and 1,000 personal API keys of every kind.
3. For each worker count: starts `acl-service serve` (ACL_DATABASE_URL, ACL_SERVICE_TOKENS), waits
   for /readyz, warms up (every organization gets loaded), then drives `POST /v1/check` with `wrk`
   (a Lua script cycling through 20,000 pre-generated checks: users and keys, projects, types and
   objects, every action) at each concurrency, and `POST /v1/check/batch` with 1,000 checks per
   request from this process (sequential, keep-alive): first with checks never asked before
   ("cold": every answer computed), then the same batches again ("repeated": answers memoized), and
   batches of one user's objects never asked before ("1 user cold": what enriching a list costs).
   wrk cycles through its 20,000 checks, so after the warm-up most single checks are memoized.
   The all-out runs show saturation (each connection sends its next check as soon as an answer
   arrives, so latency there is mostly queueing); the paced runs offer about `--rate` checks/s from
   16 and 64 connections with random gaps, as API servers do, which is the load the target names.
4. Prints p50/p99 latency and decisions/s, then drops the database (unless --keep).

Targets (SPEC issue 6, 2 cores): single check p50 <= 1 ms and p99 <= 3 ms at >= 3,000 checks/s;
a 1,000-check batch <= 20 ms.
"""

import argparse
import asyncio
import contextlib
import hashlib
import http.client
import json
import os
import random
import re
import secrets
import shutil
import statistics
import string
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

from acl_service.store.embedded import EmbeddedPostgres
from acl_service.store.pool import create_pool
from acl_service.store.writes import write_transaction

BIN_DIR = Path(sys.executable).parent
TOKEN = "bench-check-token"
ORGANIZATIONS = 100
USERS = 10_000
PROJECTS_PER_ORGANIZATION = 10
DASHBOARDS_PER_PROJECT = 50
RESOURCES_PER_PROJECT = {"insight": 20, "notebook": 20, "feature_flag": 10}
KEYS = 1_000
CHECK_BODIES = 20_000
BATCH_SIZE = 1_000
BATCH_REQUESTS = 40
PACING_SECONDS = 3  # the short run that measures a paced check's own latency
FEATURE_SETS = [
    [],
    ["project_based_permissioning", "dashboard_permissioning"],
    ["advanced_permissions"],
    ["advanced_permissions", "role_based_access", "organization_security_settings"],
]
KEY_SCOPES: list[list[str] | None] = [
    None,
    ["*"],
    ["dashboard:read", "notebook:read", "insight:read"],
    ["dashboard:write", "insight:write", "notebook:write", "feature_flag:read", "access_control:write"],
]
KEY_ALPHABET = string.ascii_letters + string.digits

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


# -- dataset ---------------------------------------------------------------------------------------


@dataclass
class Dataset:
    organizations: list[uuid.UUID] = field(default_factory=list)
    members: dict[uuid.UUID, list[int]] = field(default_factory=dict)  # organization -> user ids
    user_uuids: dict[int, uuid.UUID] = field(default_factory=dict)
    projects: dict[uuid.UUID, list[int]] = field(default_factory=dict)  # organization -> project ids
    objects: dict[int, dict[str, list[str]]] = field(default_factory=dict)  # project -> type -> ids
    keys: list[tuple[str, int]] = field(default_factory=list)  # (value, owner user id)
    user_organization: dict[int, uuid.UUID] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)


def build_dataset(rng: random.Random) -> tuple[Dataset, dict[str, list[tuple[Any, ...]]]]:
    data = Dataset()
    tables: dict[str, list[tuple[Any, ...]]] = {
        name: []
        for name in (
            "organizations", "users", "organization_memberships", "projects", "explicit_memberships",
            "resources", "insight_dashboards", "dashboard_privileges", "roles", "role_memberships",
            "access_controls", "personal_api_keys",
        )
    }  # fmt: skip
    membership_ids: dict[tuple[uuid.UUID, int], uuid.UUID] = {}
    for user_id in range(1, USERS + 1):
        user_uuid = uuid.UUID(int=rng.getrandbits(128), version=4)
        data.user_uuids[user_id] = user_uuid
        tables["users"].append((user_id, user_uuid, f"user{user_id}@example.com", rng.random() > 0.01))
    users_per_organization = USERS // ORGANIZATIONS
    for index in range(ORGANIZATIONS):
        organization = uuid.UUID(int=rng.getrandbits(128), version=4)
        data.organizations.append(organization)
        features = [{"key": key, "name": key} for key in FEATURE_SETS[index % len(FEATURE_SETS)]]
        tables["organizations"].append((organization, f"org-{index}", json.dumps(features)))
        own = list(range(index * users_per_organization + 1, (index + 1) * users_per_organization + 1))
        guests = rng.sample(range(1, USERS + 1), users_per_organization // 10)
        members = own + [user for user in guests if user not in own]
        data.members[organization] = members
        for position, user_id in enumerate(members):
            level = 15 if position == 0 else 8 if position < 5 else 1
            membership = uuid.UUID(int=rng.getrandbits(128), version=4)
            membership_ids[(organization, user_id)] = membership
            tables["organization_memberships"].append((membership, organization, user_id, level))
            data.user_organization.setdefault(user_id, organization)
        ac_on = "advanced_permissions" in FEATURE_SETS[index % len(FEATURE_SETS)]
        roles = []
        if ac_on:
            for number in range(3):
                role = uuid.UUID(int=rng.getrandbits(128), version=4)
                roles.append(role)
                tables["roles"].append((role, organization, f"role-{number}"))
                for user_id in rng.sample(members, 10):
                    tables["role_memberships"].append(
                        (uuid.uuid4(), role, user_id, membership_ids[(organization, user_id)])
                    )
        data.projects[organization] = []
        for number in range(PROJECTS_PER_ORGANIZATION):
            project_id = index * PROJECTS_PER_ORGANIZATION + number + 1
            data.projects[organization].append(project_id)
            private = project_id % 5 == 0
            tables["projects"].append((project_id, organization, f"project-{project_id}", private))
            if private:
                for user_id in rng.sample(members[5:], 20):
                    tables["explicit_memberships"].append(
                        (
                            uuid.uuid4(),
                            project_id,
                            membership_ids[(organization, user_id)],
                            rng.choice((1, 8)),
                        )
                    )
            objects: dict[str, list[str]] = {}
            data.objects[project_id] = objects
            objects["dashboard"] = []
            for number_in_project in range(DASHBOARDS_PER_PROJECT):
                dashboard = str((project_id - 1) * DASHBOARDS_PER_PROJECT + number_in_project + 1)
                objects["dashboard"].append(dashboard)
                creator = rng.choice(members) if rng.random() < 0.8 else None
                restricted = rng.random() < 0.2
                tables["resources"].append(
                    (project_id, "dashboard", dashboard, f"d{dashboard}", creator, 37 if restricted else 21)
                )
                if restricted:
                    for user_id in rng.sample(members, 2):
                        tables["dashboard_privileges"].append(
                            (uuid.uuid4(), project_id, dashboard, user_id, 37)
                        )
            for resource, count in RESOURCES_PER_PROJECT.items():
                objects[resource] = []
                for number_in_project in range(count):
                    resource_id = f"{resource[0]}-{project_id}-{number_in_project}"
                    objects[resource].append(resource_id)
                    creator = rng.choice(members) if rng.random() < 0.8 else None
                    tables["resources"].append((project_id, resource, resource_id, None, creator, None))
                    if resource == "insight":
                        tables["insight_dashboards"].append(
                            (project_id, resource_id, rng.choice(objects["dashboard"]))
                        )
            if ac_on:
                tables["access_controls"] += access_rows(
                    rng, project_id, objects, [membership_ids[(organization, u)] for u in members], roles
                )
    for _ in range(KEYS):
        owner = rng.randint(1, USERS)
        value = "phx_" + "".join(rng.choice(KEY_ALPHABET) for _ in range(43))
        scopes = rng.choice(KEY_SCOPES)
        home = data.user_organization.get(owner)
        teams = [rng.choice(data.projects[home])] if home and rng.random() < 0.1 else []
        data.keys.append((value, owner))
        tables["personal_api_keys"].append(
            (uuid.uuid4(), owner, "bench", "sha256$" + hashlib.sha256(value.encode()).hexdigest(),
             f"{value[:4]}...{value[-4:]}", scopes, teams)
        )  # fmt: skip
    data.rows = {name: len(rows) for name, rows in tables.items()}
    return data, tables


def access_rows(
    rng: random.Random,
    project_id: int,
    objects: dict[str, list[str]],
    memberships: list[uuid.UUID],
    roles: list[uuid.UUID],
) -> list[tuple[Any, ...]]:
    rows: dict[tuple[Any, ...], str] = {}
    if project_id % 3 == 0:
        rows[("project", str(project_id), None, None)] = "none"
    for membership in rng.sample(memberships, 10):
        rows[("project", str(project_id), membership, None)] = rng.choice(("member", "admin", "none"))
    rows[("dashboard", None, None, None)] = rng.choice(("editor", "viewer"))
    rows[("notebook", None, None, None)] = "none"
    for membership in rng.sample(memberships, 20):
        rows[("notebook", None, membership, None)] = rng.choice(("viewer", "editor"))
    for role in roles:
        rows[("feature_flag", None, None, role)] = "viewer"
    for _ in range(10):
        resource = rng.choice(("dashboard", "notebook", "insight"))
        resource_id = rng.choice(objects[resource])
        if rng.random() < 0.3:
            rows[(resource, resource_id, None, None)] = "none"
        rows[(resource, resource_id, rng.choice(memberships), None)] = rng.choice(
            ("none", "viewer", "editor", "manager")
        )
    return [
        (uuid.uuid4(), project_id, resource, resource_id, member, role, level)
        for (resource, resource_id, member, role), level in rows.items()
    ]


COLUMNS = {
    "organizations": ["id", "name", "available_product_features"],
    "users": ["id", "uuid", "email", "is_active"],
    "organization_memberships": ["id", "organization_id", "user_id", "level"],
    "projects": ["id", "organization_id", "name", "access_control"],
    "explicit_memberships": ["id", "project_id", "parent_membership_id", "level"],
    "resources": ["project_id", "resource", "resource_id", "name", "created_by_id", "restriction_level"],
    "insight_dashboards": ["project_id", "insight_id", "dashboard_id"],
    "dashboard_privileges": ["id", "project_id", "dashboard_id", "user_id", "level"],
    "roles": ["id", "organization_id", "name"],
    "role_memberships": ["id", "role_id", "user_id", "organization_member_id"],
    "access_controls": [
        "id", "project_id", "resource", "resource_id", "organization_member_id", "role_id", "access_level",
    ],
    "personal_api_keys": ["id", "user_id", "label", "secure_value", "mask_value", "scopes", "scoped_teams"],
}  # fmt: skip


async def load_dataset(dsn: str, tables: dict[str, list[tuple[Any, ...]]]) -> None:
    pool = await create_pool(dsn)
    try:
        for table, columns in COLUMNS.items():
            rows = tables[table]
            if table == "organizations":
                # jsonb through the pool's codec: executemany, not COPY's binary format.
                async with write_transaction(pool) as tx:
                    await tx.conn.executemany(
                        """INSERT INTO organizations (id, name, available_product_features)
                           VALUES ($1, $2, $3)""",
                        [(row[0], row[1], json.loads(row[2])) for row in rows],
                    )
                continue
            async with write_transaction(pool) as tx:
                await tx.conn.copy_records_to_table(table, records=rows, columns=columns)
    finally:
        await pool.close()


# -- workload --------------------------------------------------------------------------------------


def check_body(rng: random.Random, data: Dataset) -> dict[str, Any]:
    if rng.random() < 0.25:
        value, owner = rng.choice(data.keys)
        subject: dict[str, Any] = {"api_key": value}
        organization = data.user_organization.get(owner) or rng.choice(data.organizations)
    else:
        organization = rng.choice(data.organizations)
        user_id = rng.choice(data.members[organization]) if rng.random() < 0.9 else rng.randint(1, USERS)
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


def run_wrk_paced(
    port: int, connections: int, duration: int, script: Path, bodies: Path, rate: int
) -> tuple[float, float, float]:
    """/v1/check offered about `rate` checks/s: a connection's cycle is its wait plus the check's own
    latency, so a short first run measures that latency and the wait is set from it."""
    cycle_ms = connections * 1000 / rate
    rps, _, _ = run_wrk(port, connections, PACING_SECONDS, script, bodies, cycle_ms)
    latency_ms = connections * 1000 / rps - cycle_ms if rps else cycle_ms
    if latency_ms >= cycle_ms:
        raise RuntimeError(
            f"cannot offer {rate} checks/s from {connections} connections: a check takes longer"
        )
    return run_wrk(port, connections, duration, script, bodies, cycle_ms - max(0.0, latency_ms))


def run_batches(port: int, batches: list[bytes]) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    timings = []
    for body in batches:
        started = time.perf_counter()
        connection.request("POST", "/v1/check/batch", body=body, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        timings.append((time.perf_counter() - started) * 1000)
        if response.status != 200:
            raise RuntimeError(f"batch answered {response.status}: {payload[:300]!r}")
    connection.close()
    return timings


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
        "--rate", type=int, default=3000, help="checks/s the paced runs offer (the target's load)"
    )
    parser.add_argument(
        "--paced-connections", default="16,64", help="concurrency of the paced runs ('' for none)"
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
    """What every measurement sends: single checks, cold batches and one-user batches, as JSON."""

    checks: list[bytes]
    batches: list[bytes]
    user_batches: list[bytes]


@contextlib.contextmanager
def benchmark_database(server_url: str, keep: bool) -> Iterator[tuple[str, Workload]]:
    """A fresh database on `server_url`, migrated and loaded with the dataset, and the workload drawn
    from it (the same seed, so the same numbers, every run); dropped at exit unless `keep`."""
    rng = random.Random(20_251_126)
    database = f"acl_bench_{secrets.token_hex(4)}"
    dsn = database_dsn(server_url, database)

    async def execute(statement: str) -> None:
        conn = await asyncpg.connect(server_url)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    started = time.perf_counter()
    asyncio.run(execute(f'CREATE DATABASE "{database}"'))
    try:
        env = {**os.environ, "ACL_DATABASE_URL": dsn}
        subprocess.run([str(BIN_DIR / "acl-service"), "migrate"], env=env, check=True, capture_output=True)
        data, tables = build_dataset(rng)
        built = time.perf_counter()
        asyncio.run(load_dataset(dsn, tables))
        loaded = time.perf_counter()
        print(f"database {database}: built in {built - started:.1f} s, loaded in {loaded - built:.1f} s")
        print("rows: " + ", ".join(f"{name} {count:,}" for name, count in data.rows.items()))
        yield (
            dsn,
            Workload(
                checks=[json.dumps(check_body(rng, data)).encode() for _ in range(CHECK_BODIES)],
                batches=[
                    json.dumps({"checks": [check_body(rng, data) for _ in range(BATCH_SIZE)]}).encode()
                    for _ in range(BATCH_REQUESTS)
                ],
                user_batches=[json.dumps(one_user_batch(rng, data)).encode() for _ in range(BATCH_REQUESTS)],
            ),
        )
    finally:
        if not keep:
            asyncio.run(execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


def run(args: argparse.Namespace, server_url: str) -> int:
    started = time.perf_counter()
    with (
        benchmark_database(server_url, args.keep) as (dsn, workload),
        tempfile.TemporaryDirectory() as scratch,
    ):
        env = {
            **os.environ,
            "ACL_DATABASE_URL": dsn,
            "ACL_SERVICE_TOKENS": f"check:{TOKEN}",
            "ACL_LOG_LEVEL": "warning",
        }
        bodies = Path(scratch) / "checks.jsonl"
        bodies.write_bytes(b"\n".join(workload.checks) + b"\n")
        script = Path(scratch) / "check.lua"
        script.write_text(LUA_SCRIPT % TOKEN)
        batches, user_batches = workload.batches, workload.user_batches
        results = []
        for workers in [int(w) for w in args.workers.split(",")]:
            port = free_port()
            server = subprocess.Popen(
                [str(BIN_DIR / "acl-service"), "serve"],
                env={**env, "ACL_PORT": str(port), "ACL_WORKERS": str(workers)},
            )
            try:
                wait_ready(port)
                run_wrk(port, 16, args.warmup, script, bodies)  # loads every organization, fills the memo
                run_batches(port, batches[:5])
                for connections in [int(c) for c in args.connections.split(",")]:
                    rps, p50, p99 = run_wrk(port, connections, args.duration, script, bodies)
                    results.append((workers, f"check c{connections}", rps, p50, p99))
                for connections in [int(c) for c in args.paced_connections.split(",") if c]:
                    rps, p50, p99 = run_wrk_paced(port, connections, args.duration, script, bodies, args.rate)
                    results.append((workers, f"check c{connections} paced", rps, p50, p99))
                # First sight of each check (answers computed), then the same batches again (memoized).
                for label, timings in (
                    ("batch cold", run_batches(port, batches[5:])),
                    ("batch repeated", run_batches(port, batches[5:])),
                    ("batch 1 user cold", run_batches(port, user_batches)),
                ):
                    p50 = statistics.median(timings)
                    results.append((workers, label, BATCH_SIZE * 1000 / p50, p50, percentile(timings, 0.99)))
            finally:
                server.terminate()
                server.wait(timeout=30)
    print()
    print(f"{'workers':>7}  {'load':<18} {'decisions/s':>12} {'p50 ms':>8} {'p99 ms':>8}")
    for workers, load, rps, p50, p99 in results:
        print(f"{workers:>7}  {load:<18} {rps:>12,.0f} {p50:>8.2f} {p99:>8.2f}")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
