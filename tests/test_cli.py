"""The acl-service command, run as a subprocess the way users and containers run it."""

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx

from acl_service.authz.engine import DEFAULT_POLICY_DIR

# Bounds for the embedded database: first start runs initdb (about a second here); CI is slower.
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 30.0


def command_env(**settings: str) -> dict[str, str]:
    # The developer's own ACL_* variables must not leak into the command under test.
    env = {name: value for name, value in os.environ.items() if not name.startswith("ACL_")}
    env.update(settings)
    return env


def acl_service(*args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "acl_service", *args],
        env=command_env(**settings),
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_SECONDS,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_version_prints_the_installed_version() -> None:
    result = acl_service("version")
    assert result.returncode == 0
    assert re.fullmatch(r"acl-service \d+\.\d+\.\d+\S*\n", result.stdout)


def test_migrate_status_lists_pending_then_none_after_migrate(empty_database_url: str) -> None:
    migrations = sorted(path.name for path in (Path(__file__).parents[1] / "migrations").glob("*.sql"))

    before = acl_service("migrate", "--status", ACL_DATABASE_URL=empty_database_url)
    assert before.returncode == 0, before.stderr
    assert before.stdout.splitlines() == [
        *(f"pending  {name}" for name in migrations),
        f"0 applied, {len(migrations)} pending",
    ]

    migrate = acl_service("migrate", ACL_DATABASE_URL=empty_database_url)
    assert migrate.returncode == 0, migrate.stderr
    assert migrate.stdout.splitlines()[-1] == f"{len(migrations)} applied, database is up to date"

    after = acl_service("migrate", "--status", ACL_DATABASE_URL=empty_database_url)
    assert after.stdout.splitlines() == [
        *(f"applied  {name}" for name in migrations),
        f"{len(migrations)} applied, 0 pending",
    ]


def test_serve_refuses_an_external_database_with_pending_migrations(empty_database_url: str) -> None:
    result = acl_service("serve", ACL_DATABASE_URL=empty_database_url, ACL_PORT=str(free_port()))
    assert result.returncode == 1
    assert "pending" in result.stderr
    assert "acl-service migrate" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_setting_stops_startup_with_one_line(tmp_path: Path) -> None:
    result = acl_service("serve", ACL_PORT="eighty", ACL_DATA_DIR=str(tmp_path))
    assert result.returncode == 2
    assert result.stderr == "acl-service: ACL_PORT: expected an integer, got 'eighty'\n"
    assert not (tmp_path / "postgres").exists()


def test_a_broken_policy_stops_serve_with_one_line_before_any_database(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(DEFAULT_POLICY_DIR, policies)
    with (policies / "check_actions.csv").open("a") as rows:
        rows.write("object,notebook,read,GET,/api/projects/{project_id}/nowhere/,,\n")
    result = acl_service(
        "serve", ACL_POLICY_DIR=str(policies), ACL_DATA_DIR=str(tmp_path / "data"), ACL_PORT=str(free_port())
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"acl-service: policies in {policies}: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "data").exists()


@contextmanager
def serving(
    data_dir: Path, log: Path, stop_signal: int = signal.SIGINT, errors: Path | None = None, **settings: str
) -> Iterator[str]:
    """Run `acl-service serve` on the embedded database (unless `settings` name ACL_DATABASE_URL);
    yield its URL; stop it with `stop_signal`. Its stderr goes to `errors` if given, else to `log`."""
    port = free_port()
    with log.open("w") as output, (errors or log).open("a") as error_output:
        process = subprocess.Popen(
            [sys.executable, "-m", "acl_service", "serve"],
            env=command_env(ACL_DATA_DIR=str(data_dir), ACL_PORT=str(port), **settings),
            stdout=output,
            stderr=subprocess.STDOUT if errors is None else error_output,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process, log)
        yield url
    finally:
        process.send_signal(stop_signal)
        try:
            returncode = process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert returncode == 0, log.read_text()
    assert log.read_text().rstrip().endswith("acl-service stopped")
    # pg_ctl removes postmaster.pid once the server has shut down.
    assert not (data_dir / "postgres" / "postmaster.pid").exists()


def wait_until_healthy(url: str, process: "subprocess.Popen[bytes]", log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).json() == {"status": "ok"}:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"serve did not answer within {START_TIMEOUT_SECONDS} s:\n{log.read_text()}")


def banner_value(log: Path, label: str) -> str:
    match = re.search(rf"^  {label}:\s+(\S+)", log.read_text(), re.MULTILINE)
    assert match, log.read_text()
    return match.group(1)


async def bump_revision(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("UPDATE acl_revision SET value = value + 1")
    finally:
        await conn.close()


def test_embedded_serve_keeps_data_and_token_across_restarts(embedded_data_dir: Path, tmp_path: Path) -> None:
    data_dir = embedded_data_dir
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"

    with serving(data_dir, first_log) as url:
        assert httpx.get(f"{url}/readyz").json() == {"status": "ready", "revision": 0}
        token = (data_dir / "admin-token").read_text().strip()
        assert token in first_log.read_text()
        assert f'curl -s -H "Authorization: Bearer {token}" {url}/' in first_log.read_text()
        asyncio.run(bump_revision(banner_value(first_log, "database")))
    assert (data_dir / "admin-token").stat().st_mode & 0o777 == 0o600

    # Several workers share the one embedded server the parent started; SIGTERM (as sent by
    # container runtimes) stops everything as cleanly as Ctrl-C.
    with serving(data_dir, second_log, signal.SIGTERM, ACL_WORKERS="2") as url:
        assert httpx.get(f"{url}/readyz").json() == {"status": "ready", "revision": 1}
        # The token was printed when it was generated; later starts say where it is kept.
        banner = second_log.read_text()
        assert token not in banner
        assert f"  token:     admin, kept in {data_dir / 'admin-token'}\n" in banner
        assert f'curl -s -H "Authorization: Bearer $(cat {data_dir / "admin-token"})" {url}/' in banner
        organizations = httpx.get(f"{url}/api/organizations/", headers={"Authorization": f"Bearer {token}"})
        assert organizations.status_code == 200
    assert (data_dir / "admin-token").read_text().strip() == token


def test_policy_test_passes_the_shipped_suite_and_fails_a_wrong_expectation(tmp_path: Path) -> None:
    shipped = acl_service("policy", "test")
    assert shipped.returncode == 0, shipped.stdout + shipped.stderr
    assert shipped.stdout.splitlines()[-1].endswith(" passed, 0 failed")
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(
        "cases:\n"
        "  - name: an org admin is not denied\n"
        "    decide: project\n"
        "    facts: {org_level: 8, legacy_private: false, ac_on: false, access_control: false,\n"
        "            default_row: null, specific: [], explicit_level: 0}\n"
        "    expect: {effective_level: 1}\n"
    )
    failed = acl_service("policy", "test", str(wrong))
    assert failed.returncode == 1
    assert "expected 1, got 8" in failed.stdout
    assert failed.stdout.splitlines()[-1] == "0 passed, 1 failed"
