"""Compare ASGI servers on a trivial Litestar + msgspec endpoint.

    python bench/server.py [--duration 5] [--connections 1,16,64] [--rounds 3]

Each server runs as its own subprocess on 127.0.0.1 (1 and 2 workers) and is driven by `wrk` from
another process, so client and server compete for the same cores as they would in production on a
small machine. The host is shared and its load drifts, so servers take turns within each round and
the table shows, per server, worker count and concurrency, the median over rounds of req/s and of
p50/p99 latency, and the server's CPU time per request (Linux /proc), the steadiest of the four.
"""

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import msgspec
from litestar import Litestar, get


class Answer(msgspec.Struct):
    allowed: bool
    revision: int


@get("/check", sync_to_thread=False)
def check() -> Answer:
    return Answer(allowed=True, revision=1)


app = Litestar(route_handlers=[check], openapi_config=None)

BENCH_DIR = Path(__file__).resolve().parent
BIN_DIR = Path(sys.executable).parent


def server_command(server: str, workers: int, port: int) -> list[str]:
    if server == "uvicorn":
        return [
            str(BIN_DIR / "uvicorn"),
            "server:app",
            "--app-dir", str(BENCH_DIR),
            "--port", str(port),
            "--workers", str(workers),
            "--loop", "uvloop",
            "--http", "httptools",
            "--no-access-log",
            "--log-level", "warning",
        ]  # fmt: skip
    return [
        str(BIN_DIR / "granian"),
        "server:app",
        "--working-dir", str(BENCH_DIR),
        "--interface", "asgi",
        "--port", str(port),
        "--workers", str(workers),
        "--loop", "uvloop",
        "--log-level", "warning",
    ]  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_listening(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start within {timeout} s")


def to_ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


Sample = tuple[float, float, float, float]  # req/s, p50 ms, p99 ms, server CPU us per request
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU of a process and its live descendants (the workers), from /proc.

    Unlike req/s, CPU per request barely moves when other jobs load the shared host.
    """
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])
        ticks[pid] = int(fields[11]) + int(fields[12])
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        tree.update(children)
        frontier.extend(children)
    return sum(ticks.get(pid, 0) for pid in tree) / CLOCK_TICKS


def run_wrk(server_pid: int, port: int, connections: int, duration: int) -> Sample:
    cpu_before = tree_cpu_seconds(server_pid)
    output = subprocess.run(
        [
            "wrk",
            "--latency",
            f"-t{min(connections, 2)}",
            f"-c{connections}",
            f"-d{duration}s",
            f"http://127.0.0.1:{port}/check",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cpu = tree_cpu_seconds(server_pid) - cpu_before
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    percentiles = {
        pct: to_ms(value, unit) for pct, value, unit in re.findall(r"\s(50|99)%\s+([\d.]+)(us|ms|s)", output)
    }
    return rps, percentiles["50"], percentiles["99"], cpu / requests * 1e6


def measure(server: str, workers: int, connections: list[int], duration: int) -> dict[int, Sample]:
    port = free_port()
    process = subprocess.Popen(server_command(server, workers, port))
    try:
        wait_until_listening(port)
        run_wrk(process.pid, port, 16, 1)  # warm-up: imports, first connections
        return {conns: run_wrk(process.pid, port, conns, duration) for conns in connections}
    finally:
        process.terminate()
        process.wait(timeout=20)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per measurement")
    parser.add_argument("--connections", default="1,16,64", help="comma-separated concurrency levels")
    parser.add_argument("--servers", default="uvicorn,granian")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2

    connections = [int(value) for value in args.connections.split(",")]
    setups = [
        (server, int(workers)) for workers in args.workers.split(",") for server in args.servers.split(",")
    ]
    samples: dict[tuple[str, int, int], list[Sample]] = {}
    for _ in range(args.rounds):
        for server, workers in setups:
            for conns, sample in measure(server, workers, connections, args.duration).items():
                samples.setdefault((server, workers, conns), []).append(sample)

    print(f"medians of {args.rounds} rounds")
    header = ("server", "workers", "conns", "req/s", "p50 ms", "p99 ms", "CPU us/req")
    print("{:<8} {:>7} {:>5} {:>10} {:>8} {:>8} {:>10}".format(*header))
    for (server, workers, conns), runs in sorted(samples.items(), key=lambda item: (item[0][1], item[0][2])):
        rps, p50, p99, cpu = (statistics.median(values) for values in zip(*runs, strict=True))
        print(f"{server:<8} {workers:>7} {conns:>5} {rps:>10.0f} {p50:>8.2f} {p99:>8.2f} {cpu:>10.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
