"""`acl-service import | export | diff` as commands: exit statuses, problems on stderr, summaries."""

from pathlib import Path

from tests.fixtures.sync import write_files
from tests.test_cli import acl_service
from tests.test_sync_import import directory


def test_import_reports_bad_rows_on_stderr_and_exits_1(database_url: str, tmp_path: Path) -> None:
    files = directory()
    files["users"].append({"id": 9, "uuid": "00000000-0000-4000-8000-000000000009"})

    result = acl_service("import", str(write_files(tmp_path, files)), ACL_DATABASE_URL=database_url)

    assert result.returncode == 1
    assert result.stderr.splitlines()[-2:] == [
        "users.ndjson:4: email: This field is required.",
        "acl-service: 1 problem(s); nothing was written",
    ]
    assert result.stdout == ""


def test_import_export_and_diff_agree(database_url: str, tmp_path: Path) -> None:
    folder = write_files(tmp_path / "files", directory())

    first = acl_service("import", str(folder), ACL_DATABASE_URL=database_url)
    again = acl_service("import", str(folder), "--mode", "replace", ACL_DATABASE_URL=database_url)
    exported = acl_service("export", str(tmp_path / "exported"), ACL_DATABASE_URL=database_url)
    same = acl_service("diff", str(tmp_path / "exported"), ACL_DATABASE_URL=database_url)

    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[-1] == "18 rows changed in revision 1"
    assert again.stdout.splitlines()[-1] == "nothing changed: no new revision"
    assert exported.stdout == f"exported revision 1 to {tmp_path / 'exported'}\n"
    assert (same.returncode, same.stdout.splitlines()[-1]) == (0, "no drift")

    files = directory()
    files["access_controls"].pop()
    files["resources"][0]["name"] = "renamed"
    drift = acl_service("diff", str(write_files(tmp_path / "changed", files)), ACL_DATABASE_URL=database_url)
    assert drift.returncode == 1
    assert drift.stdout.splitlines()[-3:] == [
        'different resources {"resource":"notebook","project_id":1,"resource_id":"n-1"}',
        'extra     access_controls {"id":"00000000-0000-4000-8000-000000000502"}',
        "drift: 2 rows differ",
    ]
