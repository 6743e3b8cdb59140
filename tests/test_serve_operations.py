"""Operating `acl-service serve`: metrics over several workers, JSON and access logs, and the
one-off commands (`migrate --status`, `reset`) beside a running or stopped service."""

import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.test_cli import acl_service, free_port, serving

CONNECTIONS = 6
# Bounds on the rounds it takes for both workers to have answered (the kernel picks the worker a
# new connection goes to, and the second worker may still be starting).
MAX_ROUNDS = 100
# reset refuses an external database before contacting it.
NEVER_CONTACTED = "postgresql://nobody@127.0.0.1:1/none"


def json_lines(path: Path) -> list[dict[str, Any]]:
    """Every complete line of `path` (the service may be writing one), each one JSON object."""
    lines = []
    for line in path.read_text().splitlines(keepends=True):
        if line.endswith("\n"):
            parsed = json.loads(line)
            assert isinstance(parsed, dict), line
            lines.append(parsed)
    return lines


def answering_workers(errors: Path, request_ids: set[str]) -> set[int]:
    """The processes whose access log shows one of `request_ids`."""
    return {line["process"] for line in json_lines(errors) if line.get("request_id") in request_ids}


def request(url: str, method: str, path: str, request_id: str) -> httpx.Response:
    # A new connection for each: one kept alive would stay with the worker that accepted it.
    headers = {"X-Request-Id": request_id, "Connection": "close"}
    return httpx.request(method, f"{url}{path}", headers=headers)


def samples_of(exposition: str) -> dict[str, str]:
    return dict(line.rsplit(" ", 1) for line in exposition.splitlines() if not line.startswith("#"))


def test_metrics_sum_every_workers_counts_whichever_worker_answers(database_url: str, tmp_path: Path) -> None:
    errors = tmp_path / "serve.err"
    with (
        serving(
            tmp_path / "data",
            tmp_path / "serve.log",
            errors=errors,
            ACL_DATABASE_URL=database_url,
            ACL_WORKERS="2",
            ACL_LOG_FORMAT="json",
        ) as url,
        ThreadPoolExecutor(CONNECTIONS) as pool,
    ):
        # Unauthenticated checks (401), several connections at once, until both workers answered some.
        checks: set[str] = set()
        for round_number in range(MAX_ROUNDS):
            ids = [f"check-{round_number}-{n}" for n in range(CONNECTIONS)]
            answers = pool.map(lambda request_id: request(url, "POST", "/v1/check", request_id), ids)
            assert {answer.status_code for answer in answers} == {401}
            checks.update(ids)
            if len(answering_workers(errors, checks)) == 2:
                break
        assert len(answering_workers(errors, checks)) == 2, "one worker answered every check"

        # Scrapes until both workers have answered one: each one counts every check.
        scrapes: set[str] = set()
        for round_number in range(MAX_ROUNDS):
            scrape_id = f"scrape-{round_number}"
            samples = samples_of(request(url, "GET", "/metrics", scrape_id).text)
            assert samples['acl_requests_total{endpoint="/v1/check",status="401"}'] == str(len(checks))
            assert samples["acl_listener_connected"] == "1"
            assert samples["acl_organizations_loaded"] == "0"
            scrapes.add(scrape_id)
            if len(answering_workers(errors, scrapes)) == 2:
                break
        assert len(answering_workers(errors, scrapes)) == 2, "one worker answered every scrape"


def test_json_logs_carry_the_access_line_with_the_callers_request_id(
    database_url: str, tmp_path: Path
) -> None:
    errors = tmp_path / "serve.err"
    with serving(
        tmp_path / "data",
        tmp_path / "serve.log",
        errors=errors,
        ACL_DATABASE_URL=database_url,
        ACL_LOG_FORMAT="json",
    ) as url:
        answered = httpx.get(f"{url}/api/organizations/", headers={"X-Request-Id": "trace-42.a"})
        unrouted = httpx.get(f"{url}/nowhere")
    assert answered.status_code == 401
    assert answered.headers["X-Request-Id"] == "trace-42.a"
    lines = json_lines(errors)
    for line in lines:
        assert {"timestamp", "level", "logger", "message"} <= line.keys(), line
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["timestamp"])
    assert any(line["logger"].startswith("uvicorn") for line in lines)
    [access] = [line for line in lines if line.get("request_id") == "trace-42.a"]
    assert access["logger"] == "acl_service.access"
    assert access["level"] == "info"
    assert (access["method"], access["path"], access["status"]) == ("GET", "/api/organizations/", 401)
    assert isinstance(access["duration_ms"], float)
    assert access["duration_ms"] > 0
    # A request no route matches is logged too, under the id the service generated for it.
    [missing] = [line for line in lines if line.get("path") == "/nowhere"]
    assert (missing["status"], missing["request_id"]) == (404, unrouted.headers["X-Request-Id"])


def test_text_logs_write_the_access_line_for_people(database_url: str, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with serving(tmp_path / "data", log, ACL_DATABASE_URL=database_url) as url:
        httpx.get(f"{url}/healthz", headers={"X-Request-Id": "plain-1"})
    [line] = [line for line in log.read_text().splitlines() if "request_id=plain-1" in line]
    assert re.fullmatch(
        r"INFO - .* - acl_service\.access - GET /healthz 200 \d+\.\d{3} ms request_id=plain-1", line
    )


@pytest.mark.parametrize(("mode", "decisions_logged"), [("admin", False), ("all", True)])
def test_the_access_log_leaves_out_successful_decisions_unless_asked(
    database_url: str, tmp_path: Path, mode: str, decisions_logged: bool
) -> None:
    """Decisions come by the thousand a second: by default only their errors are logged."""
    errors = tmp_path / "serve.err"
    with serving(
        tmp_path / "data",
        tmp_path / "serve.log",
        errors=errors,
        ACL_DATABASE_URL=database_url,
        ACL_LOG_FORMAT="json",
        ACL_SERVICE_TOKENS="check:check-token",
        ACL_ACCESS_LOG=mode,
    ) as url:
        body = {"user": "00000000-0000-4000-8000-000000000001", "project_id": 1, "action": "read"}
        headers = {"Authorization": "Bearer check-token", "X-Request-Id": "decided"}
        assert httpx.post(f"{url}/v1/check", json=body, headers=headers).status_code == 200
        refused = httpx.post(f"{url}/v1/check", json=body, headers={"X-Request-Id": "refused"})
        assert refused.status_code == 401
        assert httpx.get(f"{url}/healthz", headers={"X-Request-Id": "probe"}).status_code == 200
    logged = {line["request_id"] for line in json_lines(errors) if line["logger"] == "acl_service.access"}
    assert {"refused", "probe"} <= logged
    assert ("decided" in logged) == decisions_logged


def test_migrate_status_reaches_the_embedded_database_serve_runs(
    embedded_data_dir: Path, tmp_path: Path
) -> None:
    with serving(embedded_data_dir, tmp_path / "serve.log"):
        status = acl_service("migrate", "--status", ACL_DATA_DIR=str(embedded_data_dir))
        assert status.returncode == 0, status.stderr
        assert status.stdout.splitlines()[-1].endswith(" applied, 0 pending")
        assert status.stdout.startswith("applied  0001_")
        # serve still owns its database: a second serve on the folder is refused.
        second = acl_service("serve", ACL_DATA_DIR=str(embedded_data_dir), ACL_PORT=str(free_port()))
        assert second.returncode == 1
        assert "is in use by another acl-service process" in second.stderr


def test_reset_needs_yes_refuses_while_serving_and_then_starts_from_empty(
    embedded_data_dir: Path, tmp_path: Path
) -> None:
    data = {"ACL_DATA_DIR": str(embedded_data_dir)}
    pgdata = embedded_data_dir.resolve() / "postgres"
    log = tmp_path / "first.log"
    with serving(embedded_data_dir, log) as url:
        token = (embedded_data_dir / "admin-token").read_text().strip()
        auth = {"Authorization": f"Bearer {token}"}
        created = httpx.post(f"{url}/api/organizations/", json={"name": "Hogs"}, headers=auth)
        assert created.status_code == 201, created.text
        running = acl_service("reset", "--yes", **data)
        assert (running.returncode, running.stderr) == (
            1,
            f"acl-service: {embedded_data_dir} is in use by a running acl-service: stop it first\n",
        )

    unconfirmed = acl_service("reset", **data)
    assert unconfirmed.returncode == 1
    assert "acl-service reset --yes" in unconfirmed.stderr
    assert (embedded_data_dir / "postgres" / "PG_VERSION").exists()

    external = acl_service("reset", "--yes", ACL_DATABASE_URL=NEVER_CONTACTED, **data)
    assert external.returncode == 1
    assert "ACL_DATABASE_URL is set" in external.stderr

    reset = acl_service("reset", "--yes", **data)
    assert reset.returncode == 0, reset.stderr
    assert reset.stdout.startswith("deleted the embedded database in ")
    assert not (embedded_data_dir / "postgres").exists()
    again = acl_service("reset", "--yes", **data)
    assert (again.returncode, again.stdout.split(";")[0]) == (0, f"no embedded database in {pgdata}")

    with serving(embedded_data_dir, tmp_path / "second.log") as url:
        assert httpx.get(f"{url}/readyz").json() == {"status": "ready", "revision": 0}
        listed = httpx.get(f"{url}/api/organizations/", headers=auth)
        assert (listed.status_code, listed.json()["count"]) == (200, 0)
