"""Directory sync at scale: `acl-service import`, a no-op re-import and `export`, timed from outside.

For each scale S (`--scales`, default 1,10: S=1 ~195k rows, S=10 ~1.95M rows of bench/dataset.py):
1. Writes the dataset as `<table>.ndjson` files in a temporary folder and creates a fresh migrated
   database on the PostgreSQL of `--dsn` (default: the local one on 127.0.0.1:5432).
2. Starts `acl-service serve` (1 worker) on it and, from a thread of this process, sends 50
   `/v1/check` requests a second for users of the dataset (401s until their rows exist).
3. Runs `acl-service import DIR` (wall seconds, peak RSS of the command, polled), then the same
   import again (a no-op: no new revision; every organization is loaded in the server first), then
   `acl-service export DIR2`; the decision latency p99 is reported separately for each import.
Drops the database at the end. The machine this runs on matters: run it on a quiet one.
"""

import argparse
import contextlib
import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
from dataset import Dataset, build_dataset, write_files  # bench/dataset.py
from decisions import LOCAL_DSN, free_port, fresh_database, percentile, wait_ready  # bench/decisions.py

BIN_DIR = Path(sys.executable).parent
ADMIN_TOKEN = "bench-admin-token"
CHECK_TOKEN = "bench-check-token"
CHECKS_PER_SECOND = 50
RSS_POLL_SECONDS = 0.1


def check_bodies(rng: random.Random, data: Dataset, count: int) -> list[bytes]:
    bodies = []
    for _ in range(count):
        organization = rng.choice(data.organizations)
        user = rng.choice(data.members[organization])
        project = rng.choice(data.projects[organization])
        body = {
            "user": str(data.user_uuids[user]),
            "project_id": project,
            "resource": {"type": "dashboard"},
            "action": "read",
        }
        bodies.append(json.dumps(body).encode())
    return bodies


def warm_up(port: int, data: Dataset) -> None:
    """One check per organization, so the re-import's window measures decisions, not first loads."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {CHECK_TOKEN}", "Content-Type": "application/json"}
    for organization in data.organizations:
        body = {
            "user": str(data.user_uuids[data.members[organization][0]]),
            "project_id": data.projects[organization][0],
            "action": "read",
        }
        connection.request("POST", "/v1/check", json.dumps(body).encode(), headers)
        connection.getresponse().read()
    connection.close()


class Checker(threading.Thread):
    """Sends paced checks (`CHECKS_PER_SECOND`, as an API server's steady traffic, not a load test
    that would take the CPU from the import); `window()` collects the latencies of a span of time."""

    def __init__(self, port: int, bodies: list[bytes]) -> None:
        super().__init__(daemon=True)
        self._port, self._bodies = port, bodies
        self._latencies: list[float] = []
        self._failures = 0
        self._stopping = threading.Event()

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self._port, timeout=30)
        headers = {"Authorization": f"Bearer {CHECK_TOKEN}", "Content-Type": "application/json"}
        index = 0
        while not self._stopping.is_set():
            started = time.perf_counter()
            connection.request("POST", "/v1/check", self._bodies[index % len(self._bodies)], headers)
            response = connection.getresponse()
            response.read()
            self._latencies.append(time.perf_counter() - started)
            if response.status not in (200, 401):
                self._failures += 1
            index += 1
            self._stopping.wait(max(0.0, 1 / CHECKS_PER_SECOND - (time.perf_counter() - started)))

    @contextlib.contextmanager
    def window(self) -> Iterator[dict[str, float]]:
        start = len(self._latencies)
        failures = self._failures
        result: dict[str, float] = {}
        yield result
        latencies = self._latencies[start:]
        result["checks"] = len(latencies)
        result["p99_ms"] = percentile(latencies, 0.99) * 1000 if latencies else float("nan")
        result["failures"] = self._failures - failures

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=30)


def run_command(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB, polled) and stdout of one acl-service command.

    Polled rather than wait4's ru_maxrss: a forked child starts with its parent's peak, and this
    process holds the whole dataset.
    """
    started = time.perf_counter()
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    watched = psutil.Process(process.pid)
    peak = 0
    output: list[bytes] = []
    reader = threading.Thread(target=lambda: output.append(process.stdout.read() if process.stdout else b""))
    reader.start()
    while process.poll() is None:
        with contextlib.suppress(psutil.Error):
            peak = max(peak, watched.memory_info().rss)
        time.sleep(RSS_POLL_SECONDS)
    reader.join()
    seconds = time.perf_counter() - started
    text = b"".join(output).decode()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited with {process.returncode}:\n{text}")
    return seconds, peak / 2**20, text


def measure(scale: float, server_url: str) -> dict[str, Any]:
    rng = random.Random(20_251_203)
    data, tables = build_dataset(rng, scale)
    report: dict[str, Any] = {"scale": scale}
    with (
        tempfile.TemporaryDirectory(prefix="acl-bench-sync-") as folder,
        fresh_database(server_url, "acl_bench_sync") as dsn,
    ):
        files, exported = Path(folder) / "files", Path(folder) / "exported"
        files.mkdir()
        report["rows"] = write_files(tables, files)
        del tables
        port = free_port()
        env = {
            **os.environ,
            "ACL_DATABASE_URL": dsn,
            "ACL_SERVICE_TOKENS": f"admin:{ADMIN_TOKEN},check:{CHECK_TOKEN}",
            "ACL_PORT": str(port),
            "ACL_LOG_LEVEL": "warning",
        }
        cli = str(BIN_DIR / "acl-service")
        server = subprocess.Popen([cli, "serve"], env=env, stdout=subprocess.DEVNULL)
        try:
            wait_ready(port)
            checker = Checker(port, check_bodies(rng, data, 2_000))
            checker.start()
            with checker.window() as during_import:
                report["import_s"], report["import_rss_mb"], _ = run_command([cli, "import", str(files)], env)
            warm_up(port, data)
            with checker.window() as during_reimport:
                report["reimport_s"], report["reimport_rss_mb"], output = run_command(
                    [cli, "import", str(files)], env
                )
            if "nothing changed" not in output:
                raise RuntimeError(f"the re-import changed something:\n{output}")
            report["export_s"], report["export_rss_mb"], _ = run_command([cli, "export", str(exported)], env)
            checker.stop()
        finally:
            server.terminate()
            server.wait(timeout=30)
        report["during_import"] = during_import
        report["during_reimport"] = during_reimport
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", default=LOCAL_DSN, help=f"PostgreSQL server (default {LOCAL_DSN})")
    parser.add_argument("--scales", default="1,10", help="comma-separated dataset scales (default 1,10)")
    args = parser.parse_args()
    for scale in (float(value) for value in args.scales.split(",")):
        report = measure(scale, args.dsn)
        print(f"S={scale:g}: {report['rows']:,} rows")
        for label, key in (("import", "import"), ("no-op re-import", "reimport"), ("export", "export")):
            print(f"  {label:<17} {report[f'{key}_s']:7.1f} s   peak RSS {report[f'{key}_rss_mb']:6.0f} MB")
        for label in ("during_import", "during_reimport"):
            window = report[label]
            print(
                f"  /v1/check {label.replace('_', ' ')}: {window['checks']:.0f} checks, "
                f"p99 {window['p99_ms']:.1f} ms, {window['failures']:.0f} non-200/401"
            )
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
