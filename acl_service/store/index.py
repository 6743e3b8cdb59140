"""The in-memory fact index decisions read, kept fresh through `LISTEN acl_changes` (SPEC §2).

Global maps (projects, users, personal API keys) are loaded at start; organization views load
lazily, one query each, and are LRU-evicted once their rows exceed `max_rows`.

Freshness: the changelog is the truth and a notification only means "look now". Every wake-up (a
notification, a heartbeat finding a newer revision, a reconnect) runs one catch-up that, inside one
REPEATABLE READ snapshot, reads the committed revision T and the changelog rows in (applied, T],
and reloads what they name: loaded organizations whole, and projects, users and keys by row. The
results are installed in one synchronous step together with applied = T, so a reader never sees
half a revision. Since a catch-up always starts from the applied revision, a lost, late or
duplicated notification can only delay a change, never drop it; and LISTEN is in effect before the
first snapshot, so every commit that snapshot misses is announced to the listener.

If the listener connection drops, the index stops being current at once (decisions fail closed)
and a supervisor task reconnects with backoff, LISTENs again and catches up before it is current.
"""

import asyncio
import contextlib
import gc
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Final
from uuid import UUID

import asyncpg
import msgspec

from acl_service.domain import ApiKeyRef, OrganizationView, Project, UserRef
from acl_service.errors import ServiceUnavailable
from acl_service.store.changelog import pruned_through
from acl_service.store.facts import Connection, load_organization_view
from acl_service.store.writes import CHANGES_CHANNEL

logger = logging.getLogger(__name__)

LISTENER_APPLICATION_NAME: Final = "acl-service-listener"
CONNECT_TIMEOUT_SECONDS: Final = 5.0
HEARTBEAT_TIMEOUT_SECONDS: Final = 2.0
CATCH_UP_TIMEOUT_SECONDS: Final = 30.0
# Past this many changelog rows, reloading the global maps beats reloading them row by row.
REPLAY_ROW_LIMIT: Final = 50_000
# Loads at least this big are frozen out of the cyclic GC's reach (FACTS.md: ~100 ms per full pass
# per million resident objects otherwise).
GC_FREEZE_ROWS: Final = 10_000

FACTS_UNAVAILABLE: Final = "Access-control facts are not current on this instance."

_PROJECTS_QUERY: Final = "SELECT id, organization_id, access_control FROM projects"
_PROJECTS_BY_ID_QUERY: Final = (
    "SELECT id, organization_id, access_control FROM projects WHERE id = any($1::bigint[])"
)
_USERS_QUERY: Final = "SELECT id, uuid, is_active FROM users"
_USERS_BY_ID_QUERY: Final = "SELECT id, uuid, is_active FROM users WHERE id = any($1::bigint[])"
_KEYS_QUERY: Final = """
SELECT id, user_id, secure_value, scopes, scoped_teams, scoped_organizations FROM personal_api_keys
"""
_KEYS_BY_ID_QUERY: Final = """
SELECT id, user_id, secure_value, scopes, scoped_teams, scoped_organizations FROM personal_api_keys
WHERE id = any($1::uuid[])
"""
# Only the key's "id" is needed (users, projects and keys are all keyed by it); reading it as text
# keeps this independent of the connection's jsonb codec.
_CHANGES_QUERY: Final = """
SELECT organization_id, table_name, row_key ->> 'id' AS row_id
FROM changelog
WHERE revision > $1 AND revision <= $2
ORDER BY revision, id
LIMIT $3
"""

_DATABASE_ERRORS: Final = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class IndexStats(msgspec.Struct, frozen=True):
    applied_revision: int
    organizations_loaded: int
    rows: int  # rows of the loaded organization views, the quantity `max_rows` bounds
    listener_connected: bool


@dataclass(slots=True)
class _Loaded:
    view: OrganizationView
    revision: int  # the revision of the snapshot the view was read in


@dataclass(slots=True)
class _Globals:
    projects: dict[int, Project] = field(default_factory=dict)
    users_by_id: dict[int, UserRef] = field(default_factory=dict)
    users_by_uuid: dict[UUID, UserRef] = field(default_factory=dict)
    keys: dict[str, ApiKeyRef] = field(default_factory=dict)
    key_values: dict[UUID, str] = field(default_factory=dict)  # key id -> secure_value

    def put_user(self, user: UserRef) -> None:
        self.drop_user(user.id)
        self.users_by_id[user.id] = user
        self.users_by_uuid[user.uuid] = user

    def drop_user(self, user_id: int) -> None:
        previous = self.users_by_id.pop(user_id, None)
        if previous is not None:
            self.users_by_uuid.pop(previous.uuid, None)

    def put_key(self, secure_value: str, key: ApiKeyRef) -> None:
        self.drop_key(key.id)
        self.keys[secure_value] = key
        self.key_values[key.id] = secure_value

    def drop_key(self, key_id: UUID) -> None:
        previous = self.key_values.pop(key_id, None)
        if previous is not None:
            self.keys.pop(previous, None)


@dataclass(slots=True)
class _Changes:
    """What one catch-up read, to be installed in one synchronous step."""

    revision: int
    projects: dict[int, Project | None] = field(default_factory=dict)
    users: dict[int, UserRef | None] = field(default_factory=dict)
    keys: dict[UUID, tuple[str, ApiKeyRef] | None] = field(default_factory=dict)
    organizations: dict[UUID, OrganizationView | None] = field(default_factory=dict)


def _project(record: asyncpg.Record) -> Project:
    return Project(record["id"], record["organization_id"], record["access_control"])


def _user(record: asyncpg.Record) -> UserRef:
    return UserRef(record["id"], record["uuid"], record["is_active"])


def _api_key(record: asyncpg.Record) -> tuple[str, ApiKeyRef]:
    key = ApiKeyRef(
        id=record["id"],
        user_id=record["user_id"],
        scopes=tuple(record["scopes"]) if record["scopes"] else None,
        scoped_teams=tuple(record["scoped_teams"]),
        scoped_organizations=tuple(record["scoped_organizations"]),
    )
    return record["secure_value"], key


async def _read_globals(conn: Connection) -> _Globals:
    loaded = _Globals()
    for record in await conn.fetch(_PROJECTS_QUERY):
        loaded.projects[record["id"]] = _project(record)
    for record in await conn.fetch(_USERS_QUERY):
        loaded.put_user(_user(record))
    for record in await conn.fetch(_KEYS_QUERY):
        loaded.put_key(*_api_key(record))
    return loaded


class FactIndex:
    def __init__(
        self,
        pool: asyncpg.Pool,
        dsn: str,
        *,
        max_rows: int = 1_000_000,
        heartbeat_seconds: float = 5.0,
        reconnect_min_seconds: float = 0.1,
        reconnect_max_seconds: float = 5.0,
    ) -> None:
        self._pool = pool
        self._dsn = dsn
        self._max_rows = max_rows
        self._heartbeat_seconds = heartbeat_seconds
        self._reconnect_min_seconds = reconnect_min_seconds
        self._reconnect_max_seconds = reconnect_max_seconds

        self._globals = _Globals()
        self._organizations: OrderedDict[UUID, _Loaded] = OrderedDict()  # least recently used first
        self._rows = 0
        self._loads: dict[UUID, asyncio.Task[OrganizationView | None]] = {}
        self._unfrozen_rows = 0  # rows loaded since the last gc.freeze()
        # Per organization being loaded lazily: the latest revision a catch-up found changing it.
        self._invalidated: dict[UUID, int] = {}

        self._applied = 0
        self._loaded = False
        self._current = False
        self._connection: asyncpg.Connection | None = None
        self._wake = asyncio.Event()
        self._advanced = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """LISTEN, then load the global maps; retried in the background if the database is down."""
        try:
            await self._connect()
        except Exception as error:  # the supervisor retries; readiness reports it meanwhile
            logger.warning("fact index: initial load failed (%s); retrying in the background", error)
        self._supervisor = asyncio.create_task(self._supervise(), name="fact-index-listener")

    async def stop(self) -> None:
        tasks = [*self._loads.values()]
        if self._supervisor is not None:
            tasks.append(self._supervisor)
            self._supervisor = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        connection, self._connection = self._connection, None
        self._current = False
        if connection is not None and not connection.is_closed():
            try:
                await asyncio.wait_for(connection.close(), HEARTBEAT_TIMEOUT_SECONDS)
            except _DATABASE_ERRORS:
                connection.terminate()

    # -- freshness ---------------------------------------------------------------------------------

    @property
    def applied_revision(self) -> int:
        return self._applied

    @property
    def current(self) -> bool:
        return self._current

    def ensure_current(self) -> None:
        if not self._current:
            raise ServiceUnavailable(FACTS_UNAVAILABLE, code="facts_unavailable")

    async def wait_for_revision(self, revision: int, timeout_ms: int) -> None:
        if self._applied >= revision:
            return
        # The caller knows the revision committed: look now rather than wait for its announcement.
        self._wake.set()
        try:
            async with asyncio.timeout(max(timeout_ms, 0) / 1000):
                while self._applied < revision:
                    await self._advanced.wait()
        except TimeoutError:
            raise ServiceUnavailable(
                f"Revision {revision} has not been applied by this instance yet.",
                code="revision_not_reached",
                attr="min_revision",
            ) from None

    async def wait_past(self, revision: int) -> int:
        """Wait until this instance has applied a revision after `revision`; return the applied one.

        For followers of the applied revision (the change feed). Unlike `wait_for_revision` it does
        not hurry a catch-up: a follower waits for revisions nobody has said are committed.
        """
        while self._applied <= revision:
            await self._advanced.wait()
        return self._applied

    async def readiness_reasons(self) -> list[str]:
        """A readiness probe (`AppState.readiness_probes`): empty when decisions may be served."""
        reasons = []
        if self._connection is None or self._connection.is_closed() or (self._loaded and not self._current):
            reasons.append("listener_down")
        if not self._loaded:
            reasons.append("facts_not_loaded")
        return reasons

    # -- lookups -----------------------------------------------------------------------------------

    def project(self, project_id: int) -> Project | None:
        return self._globals.projects.get(project_id)

    def user_by_uuid(self, user_uuid: UUID) -> UserRef | None:
        return self._globals.users_by_uuid.get(user_uuid)

    def user_by_id(self, user_id: int) -> UserRef | None:
        return self._globals.users_by_id.get(user_id)

    def key_by_secure_value(self, secure_value: str) -> ApiKeyRef | None:
        return self._globals.keys.get(secure_value)

    async def organization(self, organization_id: UUID) -> OrganizationView | None:
        """The organization's view, loading it on first use; None if there is no such organization.

        Raises ServiceUnavailable (facts_unavailable) when the database cannot be read.
        """
        view = self.loaded_organization(organization_id)
        if view is not None:
            return view
        task = self._loads.get(organization_id)
        if task is None:
            task = asyncio.create_task(self._load_organization(organization_id))
            self._loads[organization_id] = task
            task.add_done_callback(self._forget_load)
        try:
            # Shielded: one caller giving up must not cancel the load others wait for.
            return await asyncio.shield(task)
        except _DATABASE_ERRORS as error:
            raise ServiceUnavailable(FACTS_UNAVAILABLE, code="facts_unavailable") from error

    def loaded_organization(self, organization_id: UUID) -> OrganizationView | None:
        """The organization's view if it is in memory (then it counts as used), else None: never loads."""
        loaded = self._organizations.get(organization_id)
        if loaded is None:
            return None
        self._organizations.move_to_end(organization_id)
        return loaded.view

    def stats(self) -> IndexStats:
        connection = self._connection
        return IndexStats(
            applied_revision=self._applied,
            organizations_loaded=len(self._organizations),
            rows=self._rows,
            listener_connected=connection is not None and not connection.is_closed(),
        )

    # -- organization views ------------------------------------------------------------------------

    async def _load_organization(self, organization_id: UUID) -> OrganizationView | None:
        while True:
            self._invalidated.pop(organization_id, None)
            async with self._snapshot() as (conn, revision):
                view = await load_organization_view(conn, organization_id)
            # A catch-up that changed this organization after our snapshot found it not loaded yet,
            # so nothing else will bring the view up to date: read it again.
            if self._invalidated.get(organization_id, 0) <= revision:
                break
        self._invalidated.pop(organization_id, None)
        if view is not None:
            loaded = self._organizations.get(organization_id)
            if loaded is None or loaded.revision <= revision:
                self._put_organization(organization_id, _Loaded(view, revision))
                self._evict()
            # Counted across loads: a hundred small organizations weigh on the collector like one big one.
            self._unfrozen_rows += view.row_count
            if self._unfrozen_rows >= GC_FREEZE_ROWS:
                gc.freeze()
                self._unfrozen_rows = 0
        return view

    def _forget_load(self, task: asyncio.Task[OrganizationView | None]) -> None:
        for organization_id, load in list(self._loads.items()):
            if load is task:
                del self._loads[organization_id]
                self._invalidated.pop(organization_id, None)
        if not task.cancelled():
            task.exception()  # retrieved here: every waiter may have given up

    def _put_organization(self, organization_id: UUID, loaded: _Loaded) -> None:
        self._drop_organization(organization_id)
        self._organizations[organization_id] = loaded
        self._rows += loaded.view.row_count

    def _drop_organization(self, organization_id: UUID) -> None:
        previous = self._organizations.pop(organization_id, None)
        if previous is not None:
            self._rows -= previous.view.row_count

    def _evict(self) -> None:
        # The most recently used view is kept even if it alone exceeds the bound.
        while self._rows > self._max_rows and len(self._organizations) > 1:
            organization_id = next(iter(self._organizations))
            self._drop_organization(organization_id)

    # -- listener ----------------------------------------------------------------------------------

    async def _supervise(self) -> None:
        failures = 0
        while True:
            connection = self._connection
            if connection is not None:
                failures = 0
                try:
                    await self._follow(connection)
                except Exception as error:
                    logger.warning("fact index: listener failed (%s); reconnecting", error)
                self._disconnect()
            delay = min(self._reconnect_min_seconds * 2**failures, self._reconnect_max_seconds)
            failures += 1
            await asyncio.sleep(delay)
            try:
                await self._connect()
            except Exception as error:
                logger.warning(
                    "fact index: reconnect attempt %d failed (%s); facts stay unavailable", failures, error
                )
            else:
                logger.info("fact index: listener reconnected; replayed to revision %d", self._applied)

    async def _connect(self) -> None:
        connection = await asyncpg.connect(
            self._dsn,
            timeout=CONNECT_TIMEOUT_SECONDS,
            server_settings={"application_name": LISTENER_APPLICATION_NAME},
        )
        self._connection = connection
        try:
            connection.add_termination_listener(self._on_termination)
            await connection.add_listener(CHANGES_CHANNEL, self._on_notification)
            # Read only now that LISTEN is in effect: whatever the read misses will be announced.
            if self._loaded:
                await self._catch_up()
            else:
                await self._load_everything()
            if connection.is_closed():
                raise ConnectionError("listener connection closed while catching up")
        except BaseException:
            self._disconnect()
            raise
        self._current = True

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        self._current = False
        if connection is not None and not connection.is_closed():
            connection.terminate()

    def _on_termination(self, connection: object) -> None:
        if connection is self._connection:
            self._current = False
            self._wake.set()
            logger.warning("fact index: listener connection lost; facts unavailable until replayed")

    def _on_notification(self, connection: object, pid: int, channel: str, payload: object) -> None:
        revision, _, _ = str(payload).partition(":")
        # Payloads only say which revision to look for; anything unreadable is reason to look too.
        if not revision.isdigit() or int(revision) > self._applied:
            self._wake.set()

    async def _follow(self, connection: asyncpg.Connection) -> None:
        """Catch up on every wake-up until the connection closes."""
        while not connection.is_closed():
            try:
                async with asyncio.timeout(self._heartbeat_seconds):
                    await self._wake.wait()
            except TimeoutError:
                # A heartbeat notices a connection that died silently, and a revision that was
                # committed without its announcement.
                async with asyncio.timeout(HEARTBEAT_TIMEOUT_SECONDS):
                    latest: int = await connection.fetchval("SELECT value FROM acl_revision")
                if latest <= self._applied:
                    continue
            self._wake.clear()
            if not connection.is_closed():
                await self._catch_up()

    # -- loading and replaying ---------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _snapshot(self) -> AsyncIterator[tuple[Connection, int]]:
        """A read-only REPEATABLE READ transaction and the revision its snapshot holds."""
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            revision: int = await conn.fetchval("SELECT value FROM acl_revision")
            yield conn, revision

    async def _load_everything(self) -> None:
        started = time.perf_counter()
        async with asyncio.timeout(CATCH_UP_TIMEOUT_SECONDS), self._snapshot() as (conn, revision):
            self._invalidate_loads(revision)
            loaded = await _read_globals(conn)
        self._globals = loaded
        for organization_id in list(self._organizations):
            self._drop_organization(organization_id)
        self._loaded = True
        self._advance(revision)
        gc.freeze()
        logger.info(
            "fact index: %d projects, %d users, %d keys loaded at revision %d in %.0f ms",
            len(loaded.projects),
            len(loaded.users_by_id),
            len(loaded.keys),
            revision,
            (time.perf_counter() - started) * 1000,
        )

    async def _catch_up(self) -> None:
        async with asyncio.timeout(CATCH_UP_TIMEOUT_SECONDS), self._snapshot() as (conn, target):
            if target <= self._applied:
                return
            if await pruned_through(conn) > self._applied:
                # What this instance missed is no longer in the changelog: it cannot replay, and
                # until it has reloaded it is unsure (decisions answer 503, never a stale allow).
                logger.warning(
                    "fact index: revisions after %d were pruned; reloading everything", self._applied
                )
                changes = None
                self._current = False
            else:
                changes = await self._read_changes_since_applied(conn, target)
        if changes is None:
            await self._load_everything()
            self._current = self._connection is not None and not self._connection.is_closed()
            return
        self._apply(changes)

    async def _read_changes_since_applied(self, conn: Connection, target: int) -> "_Changes | None":
        """The changes in (applied, target], or None when reloading everything is cheaper."""
        rows = await conn.fetch(_CHANGES_QUERY, self._applied, target, REPLAY_ROW_LIMIT + 1)
        if len(rows) > REPLAY_ROW_LIMIT:
            logger.info("fact index: %d+ changes to replay; reloading everything", REPLAY_ROW_LIMIT)
            return None
        return await self._read_changes(conn, target, rows)

    async def _read_changes(self, conn: Connection, target: int, rows: list[asyncpg.Record]) -> _Changes:
        organizations: set[UUID] = set()
        project_ids: set[int] = set()
        user_ids: set[int] = set()
        key_ids: set[UUID] = set()
        for row in rows:
            if row["organization_id"] is not None:
                organizations.add(row["organization_id"])
            table = row["table_name"]
            if table == "projects":
                project_ids.add(int(row["row_id"]))
            elif table == "users":
                user_ids.add(int(row["row_id"]))
            elif table == "personal_api_keys":
                key_ids.add(UUID(row["row_id"]))
        # A user's is_active is also part of the views of the organizations it belongs to.
        if user_ids:
            organizations.update(
                organization_id
                for organization_id, loaded in self._organizations.items()
                if not user_ids.isdisjoint(loaded.view.users)
            )
        # From here on, a lazy load of a changed organization that started before this snapshot
        # knows to read again; one that starts later sees these changes anyway. A changed user may
        # belong to any organization being loaded.
        self._invalidate_loads(target, None if user_ids else organizations)

        changes = _Changes(target)
        if project_ids:
            changes.projects = dict.fromkeys(project_ids)
            for record in await conn.fetch(_PROJECTS_BY_ID_QUERY, list(project_ids)):
                changes.projects[record["id"]] = _project(record)
        if user_ids:
            changes.users = dict.fromkeys(user_ids)
            for record in await conn.fetch(_USERS_BY_ID_QUERY, list(user_ids)):
                changes.users[record["id"]] = _user(record)
        if key_ids:
            changes.keys = dict.fromkeys(key_ids)
            for record in await conn.fetch(_KEYS_BY_ID_QUERY, list(key_ids)):
                changes.keys[record["id"]] = _api_key(record)
        for organization_id in organizations:
            # Views not loaded have nothing to refresh: they will be read whole on first use.
            if organization_id in self._organizations:
                changes.organizations[organization_id] = await load_organization_view(conn, organization_id)
        return changes

    def _invalidate_loads(self, revision: int, organizations: set[UUID] | None = None) -> None:
        for organization_id in self._loads:
            if organizations is None or organization_id in organizations:
                self._invalidated[organization_id] = max(self._invalidated.get(organization_id, 0), revision)

    def _apply(self, changes: _Changes) -> None:
        """Install one catch-up's reads; synchronous, so readers see all of it or none."""
        for project_id, project in changes.projects.items():
            if project is None:
                self._globals.projects.pop(project_id, None)
            else:
                self._globals.projects[project_id] = project
        for user_id, user in changes.users.items():
            if user is None:
                self._globals.drop_user(user_id)
            else:
                self._globals.put_user(user)
        for key_id, key in changes.keys.items():
            if key is None:
                self._globals.drop_key(key_id)
            else:
                self._globals.put_key(*key)
        for organization_id, view in changes.organizations.items():
            loaded = self._organizations.get(organization_id)
            # Evicted meanwhile, or reloaded lazily from a newer snapshot: leave it.
            if loaded is None or loaded.revision > changes.revision:
                continue
            if view is None:
                self._drop_organization(organization_id)
            else:
                self._organizations[organization_id] = _Loaded(view, changes.revision)
                self._rows += view.row_count - loaded.view.row_count
        self._evict()
        self._advance(changes.revision)

    def _advance(self, revision: int) -> None:
        if revision > self._applied:
            self._applied = revision
            advanced, self._advanced = self._advanced, asyncio.Event()
            advanced.set()
