"""The example server's own data: dashboards, events and explicit members in SQLite.

acl-service holds the access facts; this store holds the product data. The two share dashboard
ids, so that a `/v1/filter` answer can be pushed down into a WHERE clause here.
"""

import sqlite3
import uuid
from typing import Any

from acl_client import FilterResult

SCHEMA = """
CREATE TABLE IF NOT EXISTS dashboards (
    id INTEGER PRIMARY KEY,
    project_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    created_by INTEGER
);
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    project_id INTEGER NOT NULL,
    event TEXT NOT NULL,
    distinct_id TEXT NOT NULL,
    timestamp TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS explicit_members (
    project_id INTEGER NOT NULL,
    user_uuid TEXT NOT NULL,
    level INTEGER NOT NULL,
    PRIMARY KEY (project_id, user_uuid)
);
"""


def visibility_clause(visibility: FilterResult) -> tuple[str, list[Any]]:
    """The SQL condition (and its parameters) that keeps only the dashboards `visibility` allows."""
    if visibility.mode == "all":
        return "1", []
    ids = [int(dashboard_id) for dashboard_id in visibility.ids]
    placeholders = ", ".join("?" * len(ids))
    listed = f"id IN ({placeholders})" if visibility.mode == "only" else f"id NOT IN ({placeholders})"
    if not ids:
        # `id IN ()` matches nothing and `id NOT IN ()` everything; SQLite accepts neither spelling.
        listed = "0" if visibility.mode == "only" else "1"
    if visibility.include_created_by:
        return f"({listed} OR created_by = ?)", [*ids, visibility.created_by]
    return f"({listed})", ids


class Store:
    def __init__(self, path: str = ":memory:") -> None:
        # One connection used from the event loop's thread only; queries are short.
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def add_dashboard(
        self, project_id: int, name: str, created_by: int | None, dashboard_id: int | None = None
    ) -> int:
        with self._db:
            cursor = self._db.execute(
                "INSERT INTO dashboards (id, project_id, name, created_by) VALUES (?, ?, ?, ?)",
                (dashboard_id, project_id, name, created_by),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def dashboards(self, project_id: int, visibility: FilterResult) -> list[dict[str, Any]]:
        condition, parameters = visibility_clause(visibility)
        rows = self._db.execute(
            "SELECT id, project_id, name, created_by FROM dashboards"
            f" WHERE project_id = ? AND {condition} ORDER BY id",
            (project_id, *parameters),
        )
        return [dict(row) for row in rows]

    def dashboard(self, project_id: int, dashboard_id: int) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT id, project_id, name, created_by FROM dashboards WHERE project_id = ? AND id = ?",
            (project_id, dashboard_id),
        ).fetchone()
        return dict(row) if row else None

    def add_event(self, project_id: int, event: str, distinct_id: str, timestamp: str) -> str:
        event_id = str(uuid.uuid4())
        with self._db:
            self._db.execute(
                "INSERT INTO events (id, project_id, event, distinct_id, timestamp) VALUES (?, ?, ?, ?, ?)",
                (event_id, project_id, event, distinct_id, timestamp),
            )
        return event_id

    def events(self, project_id: int) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT id, event, distinct_id, timestamp FROM events"
            " WHERE project_id = ? ORDER BY timestamp DESC, id",
            (project_id,),
        )
        return [dict(row) for row in rows]

    def event(self, project_id: int, event_id: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT id, event, distinct_id, timestamp FROM events WHERE project_id = ? AND id = ?",
            (project_id, event_id),
        ).fetchone()
        return dict(row) if row else None

    def event_values(self, project_id: int, key: str) -> list[str]:
        # Only two columns may be asked for; the name is never interpolated from the request.
        column = {"event": "event", "distinct_id": "distinct_id"}[key]
        rows = self._db.execute(
            f"SELECT DISTINCT {column} FROM events WHERE project_id = ? ORDER BY 1", (project_id,)
        )
        return [row[0] for row in rows]

    def explicit_members(self, project_id: int) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT user_uuid, level FROM explicit_members WHERE project_id = ? ORDER BY level, user_uuid",
            (project_id,),
        )
        return [dict(row) for row in rows]

    def add_explicit_member(self, project_id: int, user_uuid: str, level: int) -> dict[str, Any]:
        with self._db:
            self._db.execute(
                "INSERT INTO explicit_members (project_id, user_uuid, level) VALUES (?, ?, ?)",
                (project_id, user_uuid, level),
            )
        return {"user_uuid": user_uuid, "level": level}
