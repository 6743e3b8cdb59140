"""Embedded PostgreSQL: the server bundled in the pgserver wheel, run and stopped by this process.

EmbeddedPostgresError   the server could not be prepared, started or stopped
 +- DataFolderInUseError  another process owns the data folder (a running `serve`)

Only pgserver's bundled binaries (initdb, pg_ctl, postgres 16) are used; its Python API is not.
Importing `pgserver` reads XDG_RUNTIME_DIR at import time (a warning when unset, and the variable
cannot be passed to it as anything but process-wide environment), and its handles stop the server
from atexit hooks keyed by a pid list in the data folder: once a process holding a handle is
SIGKILLed its pid stays in the list and no later process ever stops that server. Here ownership is
an advisory file lock instead, which the kernel releases whatever way the owner dies: a server
found running while nobody holds the lock is a leftover, and is stopped before starting afresh.

Layout of the data folder: `postgres/` (the cluster, owned by the server account), `postgres.lock`
(held while this process owns the server). PostgreSQL listens on a Unix socket only.
"""

import fcntl
import hashlib
import importlib.util
import os
import pwd
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO, Self
from urllib.parse import quote

# PostgreSQL refuses to run as root; as root we run it as the account pgserver itself creates.
_SERVER_ACCOUNT = "pgserver"
_PORT = 5432
# sockaddr_un.sun_path is 108 bytes on Linux (104 on macOS), terminating NUL included.
_MAX_SOCKET_PATH = 100
_TIMEOUT_SECONDS = 60


class EmbeddedPostgresError(Exception):
    pass


class DataFolderInUseError(EmbeddedPostgresError):
    pass


class EmbeddedPostgres:
    """A PostgreSQL server for one data folder, owned by this object between start() and stop()."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self.pgdata = self.data_dir / "postgres"
        self._bin = _bundled_binaries()
        self._account: pwd.struct_passwd | None = None
        self._lock: IO[bytes] | None = None
        self._dsn: str | None = None

    @property
    def dsn(self) -> str:
        if self._dsn is None:
            raise EmbeddedPostgresError("the embedded PostgreSQL server is not started")
        return self._dsn

    def start(self) -> str:
        """Initialize the cluster if new, start the server and return an asyncpg-ready DSN."""
        if self._dsn is not None:
            raise EmbeddedPostgresError(f"the embedded PostgreSQL server in {self.pgdata} is already started")
        self._account = _server_account()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock = _acquire_lock(self.data_dir / "postgres.lock")
        try:
            self._reach_cluster()
            self._prepare_cluster()
            self._stop_leftover_server()
            socket_dir = self._socket_dir()
            options = f"-h '' -p {_PORT} -k {shlex.quote(str(socket_dir))}"
            log = str(self.pgdata / "server.log")
            wait = ["-w", "-t", str(_TIMEOUT_SECONDS)]
            self._run("pg_ctl", "start", *wait, "-D", str(self.pgdata), "-l", log, "-o", options)
        except BaseException:
            self._release_lock()
            raise
        self._dsn = _dsn(socket_dir)
        return self._dsn

    def running_dsn(self) -> str:
        """The DSN of the server another process owns (after start() raised DataFolderInUseError).

        The caller does not own that server: the owner may stop it at any time, and then the
        caller's connections fail like any lost database connection.
        """
        self._account = _server_account()
        running = (self.pgdata / "PG_VERSION").exists() and (
            self._run("pg_ctl", "status", "-D", str(self.pgdata), check=False).returncode == 0
        )
        if not running:
            raise DataFolderInUseError(
                f"{self.data_dir} is in use by another acl-service process, whose database is not "
                "running (yet); try again once it has started"
            )
        return _dsn(self._socket_dir())

    def remove(self) -> bool:
        """Delete the cluster and everything in it, so that the next start() creates an empty one.

        False when there was none. Refused (DataFolderInUseError) while another process owns it.
        """
        if not self.pgdata.exists():
            return False
        self._account = _server_account()
        self._lock = _acquire_lock(self.data_dir / "postgres.lock")
        try:
            if (self.pgdata / "PG_VERSION").exists():
                self._reach_cluster()
                # A server left by a SIGKILLed owner would keep the deleted files open.
                self._stop_leftover_server()
            shutil.rmtree(self.pgdata)
        finally:
            self._release_lock()
        return True

    def stop(self) -> None:
        """Stop the server (fast shutdown: open sessions are ended, committed data is kept)."""
        if self._dsn is None:
            return
        try:
            self._reach_cluster()
            self._run(
                "pg_ctl", "stop", "-w", "-t", str(_TIMEOUT_SECONDS), "-m", "fast", "-D", str(self.pgdata)
            )
        finally:
            self._dsn = None
            self._release_lock()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _reach_cluster(self) -> None:
        # On every start and stop, not just at creation: something else (a tmp cleaner, pytest's
        # tmp_path reset) may have closed a parent folder again since.
        if self._account is not None:
            _make_traversable(self.pgdata.parent)

    def _prepare_cluster(self) -> None:
        if (self.pgdata / "PG_VERSION").exists():
            return
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        if self._account is not None:
            os.chown(self.pgdata, self._account.pw_uid, self._account.pw_gid)
        # Byte-order collation (ids sort as the API sorts them) with a UTF-8 ctype, so lower() in
        # the case-insensitive role-name index folds non-ASCII letters too.
        ctype = "C.UTF-8" if sys.platform == "linux" else "en_US.UTF-8"
        self._run(
            "initdb",
            "-D",
            str(self.pgdata),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--lc-collate=C",
            f"--lc-ctype={ctype}",
        )

    def _stop_leftover_server(self) -> None:
        # pg_ctl status: 0 = a live postmaster owns this data folder; it cannot be ours, we hold
        # the lock and have not started one.
        if not (self.pgdata / "postmaster.pid").exists():
            return
        status = self._run("pg_ctl", "status", "-D", str(self.pgdata), check=False)
        if status.returncode != 0:
            return
        stopped = self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.pgdata), check=False)
        if stopped.returncode != 0:
            # A leftover server that ignores a fast shutdown is killed; crash recovery replays WAL.
            self._run("pg_ctl", "stop", "-w", "-m", "immediate", "-D", str(self.pgdata))

    def _socket_dir(self) -> Path:
        if len(str(self.pgdata / f".s.PGSQL.{_PORT}")) <= _MAX_SOCKET_PATH:
            return self.pgdata
        digest = hashlib.sha256(str(self.pgdata).encode()).hexdigest()[:16]
        short = Path(tempfile.gettempdir()) / f"acl-service-{digest}"
        short.mkdir(mode=0o700, exist_ok=True)
        if self._account is not None:
            os.chown(short, self._account.pw_uid, self._account.pw_gid)
        return short

    def _run(self, program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        # PG* variables (PGPORT, PGDATA, ...) of the caller would redirect the server; the new
        # session keeps a terminal's Ctrl-C away from the server, which stop() shuts down itself.
        env = {name: value for name, value in os.environ.items() if not name.startswith("PG")}
        account = self._account
        try:
            result = subprocess.run(
                [str(self._bin / program), *args],
                env=env,
                cwd=self.pgdata,
                capture_output=True,
                text=True,
                timeout=_TIMEOUT_SECONDS + 10,
                start_new_session=True,
                user=None if account is None else account.pw_uid,
                group=None if account is None else account.pw_gid,
                extra_groups=None if account is None else [],
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise EmbeddedPostgresError(f"{program} {args[0]} failed: {error}") from error
        if check and result.returncode != 0:
            raise EmbeddedPostgresError(
                f"{program} {args[0]} failed (exit {result.returncode}): "
                f"{(result.stderr or result.stdout).strip()}{self._log_tail()}"
            )
        return result

    def _log_tail(self) -> str:
        log = self.pgdata / "server.log"
        if not log.exists():
            return ""
        lines = log.read_text(errors="replace").splitlines()[-10:]
        return f"\n{log}:\n" + "\n".join(lines)

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def _dsn(socket_dir: Path) -> str:
    return f"postgresql://postgres@/postgres?host={quote(str(socket_dir))}&port={_PORT}"


def _bundled_binaries() -> Path:
    # find_spec locates the package without importing it, and so without its import-time effects.
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError("the embedded database needs the pgserver package (pip install pgserver)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _server_account() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(_SERVER_ACCOUNT)
    except KeyError:
        pass
    try:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", _SERVER_ACCOUNT],
            check=True,
            capture_output=True,
            text=True,
        )
    except (OSError, subprocess.CalledProcessError) as error:
        raise EmbeddedPostgresError(
            f"running as root, the embedded database needs a system account {_SERVER_ACCOUNT!r}: {error}"
        ) from error
    return pwd.getpwnam(_SERVER_ACCOUNT)


def _make_traversable(folder: Path) -> None:
    """Let the server account reach the cluster: add search (x, not read) for others on each parent.

    Only needed as root, where the cluster belongs to another account; a data folder inside a
    private home (e.g. /root) is the case this changes.
    """
    for parent in (folder, *folder.parents):
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)


def _acquire_lock(path: Path) -> IO[bytes]:
    lock = path.open("ab")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise DataFolderInUseError(
            f"{path.parent} is in use by another acl-service process (it holds {path.name})"
        ) from None
    return lock
