"""`acl-service serve | migrate | changelog prune | reset | policy test | explain | import | export |
diff | version`.

Each subcommand is one `register_*` function (its arguments, `run=` its implementation) listed in
`SUBCOMMANDS`. Settings are read from the environment once, by the subcommands that need them.
"""

import argparse
import asyncio
import functools
import os
import secrets
import shlex
import signal
import socket
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from types import FrameType
from typing import Final, get_args

import asyncpg
import msgspec
import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from acl_service.authz.decisions import CHECK_TYPES, INVALID_USER, Action, CheckTarget, Decider, Subject
from acl_service.authz.engine import PolicyEngine, PolicyError
from acl_service.authz.explain import Explainer, format_trace
from acl_service.authz.routes import RESOURCE_ID, RouteTable
from acl_service.domain import Caller, OrganizationView, UserRef
from acl_service.errors import InvalidInput
from acl_service.logs import configure_supervisor_logging, drain_log_queues
from acl_service.migrate import MigrationError, MigrationStatus, apply_migrations, migration_status
from acl_service.policytest import run_policy_tests
from acl_service.settings import (
    PERSONAL_API_KEY_PREFIX,
    ChangelogRetention,
    ServiceToken,
    Settings,
    SettingsError,
    load_settings,
)
from acl_service.store.changelog import PruneResult, prune_changelog
from acl_service.store.embedded import DataFolderInUseError, EmbeddedPostgres, EmbeddedPostgresError
from acl_service.store.facts import load_organization_view, load_project, load_user_by_uuid
from acl_service.store.pool import create_pool
from acl_service.sync.diff import drift_lines, summary_lines
from acl_service.sync.exporter import export_files
from acl_service.sync.files import SourceError, TableFile, table_files
from acl_service.sync.importer import ImportRejectedError, ImportSummary, Mode, import_files
from acl_service.sync.posthog import read_posthog
from acl_service.sync.progress import Progress

TOKEN_FILE_NAME: Final = "admin-token"
EXIT_FAILURE: Final = 1
EXIT_USAGE: Final = 2
# Requests still running this long after a stop signal are cancelled (see serve_http).
GRACEFUL_SHUTDOWN_SECONDS: Final = 5


class CommandError(Exception):
    """A reason to stop, printed as one line; the process exits non-zero."""


class ShutdownRequestedError(Exception):
    """SIGTERM received: unwind like Ctrl-C so the embedded database is stopped too."""


# --- version ---------------------------------------------------------------------------------


def run_version(_: argparse.Namespace) -> int:
    print(f"acl-service {version('acl-service')}")
    return 0


def register_version(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser("version", help="print the installed version")
    parser.set_defaults(run=run_version)


# --- migrate ---------------------------------------------------------------------------------


async def read_status(dsn: str) -> MigrationStatus:
    conn = await asyncpg.connect(dsn)
    try:
        return await migration_status(conn)
    finally:
        await conn.close()


async def migrate_database(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return await apply_migrations(conn)
    finally:
        await conn.close()


def run_migrate(args: argparse.Namespace) -> int:
    settings = load_settings(os.environ)
    with database(settings, share=True) as dsn:
        if args.status:
            status = asyncio.run(read_status(dsn))
            for name in status.applied:
                print(f"applied  {name}")
            for name in status.pending:
                print(f"pending  {name}")
            print(f"{len(status.applied)} applied, {len(status.pending)} pending")
            return 0
        applied = asyncio.run(migrate_database(dsn))
        for name in applied:
            print(f"applied  {name}")
        print(f"{len(applied)} applied, database is up to date")
    return 0


def register_migrate(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser("migrate", help="apply pending database migrations")
    parser.add_argument(
        "--status", action="store_true", help="list applied and pending migrations, change nothing"
    )
    parser.set_defaults(run=run_migrate)


# --- changelog -------------------------------------------------------------------------------


async def prune_database(dsn: str, retention: ChangelogRetention) -> PruneResult:
    conn = await asyncpg.connect(dsn)
    try:
        return await prune_changelog(conn, retention)
    finally:
        await conn.close()


def run_changelog_prune(_: argparse.Namespace) -> int:
    settings = load_settings(os.environ)
    with database(settings, share=True) as dsn:
        result = asyncio.run(prune_database(dsn, settings.changelog_retention))
    if result.skipped:
        print("another prune is running; nothing done")
        return 0
    print(
        f"pruned {result.deleted_rows} changelog rows; history kept after revision {result.pruned_through}"
        f" (ACL_CHANGELOG_RETENTION: {settings.changelog_retention.describe()})"
    )
    return 0


def register_changelog(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser("changelog", help="maintain the changelog decisions replay")
    commands = parser.add_subparsers(dest="changelog_command", required=True)
    prune = commands.add_parser(
        "prune", help="delete changelog rows older than ACL_CHANGELOG_RETENTION (serve also does it)"
    )
    prune.set_defaults(run=run_changelog_prune)


# --- serve -----------------------------------------------------------------------------------


@contextmanager
def database(settings: Settings, *, share: bool = False) -> Iterator[str]:
    """The DSN to use: ACL_DATABASE_URL, or an embedded PostgreSQL running for the duration.

    With `share`, an embedded database that a running `serve` owns is used as it is, so that
    `migrate --status` (and the other one-off commands) work beside the service.
    """
    if settings.database_url is not None:
        yield settings.database_url
        return
    embedded = EmbeddedPostgres(settings.data_dir)
    try:
        dsn = embedded.start()
    except DataFolderInUseError:
        if not share:
            raise
        yield embedded.running_dsn()
        return
    try:
        yield dsn
    finally:
        embedded.stop()


class AdminToken(msgspec.Struct, frozen=True):
    value: str
    path: Path
    generated: bool  # by this start: the one time it is printed


def read_or_create_admin_token(data_dir: Path) -> AdminToken:
    path = data_dir / TOKEN_FILE_NAME
    if path.exists():
        return AdminToken(path.read_text().strip(), path, generated=False)
    token = secrets.token_urlsafe(32)
    while token.startswith(PERSONAL_API_KEY_PREFIX):
        token = secrets.token_urlsafe(32)
    data_dir.mkdir(parents=True, exist_ok=True)
    # O_EXCL + 0600 at creation: the token is never readable by others, not even briefly.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(token + "\n")
    return AdminToken(token, path, generated=True)


def prepare_schema(dsn: str, *, migrate: bool) -> None:
    if migrate:
        asyncio.run(migrate_database(dsn))
        return
    pending = asyncio.run(read_status(dsn)).pending
    if pending:
        raise CommandError(
            f"{len(pending)} migration(s) pending ({', '.join(pending)}): "
            "run `acl-service migrate` first, or `acl-service serve --migrate`"
        )


def print_banner(settings: Settings, dsn: str, admin_token: AdminToken | None) -> None:
    url = f"http://{settings.host}:{settings.port}"
    lines = [f"acl-service {version('acl-service')} ({settings.workers} worker(s))"]
    if settings.database_url is None:
        lines += [f"  data:      embedded PostgreSQL under {settings.data_dir}", f"  database:  {dsn}"]
    else:
        # An external DSN may carry a password: name it, never print it.
        lines.append("  database:  ACL_DATABASE_URL")
    lines += [f"  API:       {url}", f"  docs:      {url}/schema"]
    if admin_token is not None and admin_token.generated:
        lines += [
            f"  token:     {admin_token.value}  (admin; kept in {admin_token.path})",
            f'  try:       curl -s -H "Authorization: Bearer {admin_token.value}" {url}/api/organizations/',
        ]
    elif admin_token is not None:
        # Printed once, when generated: later starts (and their logs) name the file, not the secret.
        read_token = f"$(cat {shlex.quote(str(admin_token.path))})"
        lines += [
            f"  token:     admin, kept in {admin_token.path}",
            f'  try:       curl -s -H "Authorization: Bearer {read_token}" {url}/api/organizations/',
        ]
    elif not settings.service_tokens:
        lines.append("  warning:   ACL_SERVICE_TOKENS is empty, every API call will be refused")
    print("\n".join(lines), flush=True)


def raise_stopped(signum: int, frame: FrameType | None) -> None:
    raise ShutdownRequestedError


def uvicorn_config(settings: Settings) -> uvicorn.Config:
    # Imported here, not above: the other commands need not load the web stack (about 0.2 s of
    # each `acl-service import`'s start).
    from acl_service.app import create_app

    return uvicorn.Config(
        # Each worker builds its own app (and pool) from these settings: the factory is pickled to
        # the spawned workers, so nothing passes through os.environ.
        functools.partial(create_app, settings),
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop="auto",  # uvloop where it is installed (every platform but Windows)
        http="httptools",
        lifespan="on",
        log_config=None,  # each worker's app configures its logging
        log_level=settings.log_level,
        access_log=False,  # acl_service.api.access_log writes it, with the request id
        # Change-feed streams (/v1/changes) never end by themselves: without a bound, one connected
        # subscriber holds a stop forever. Their clients reconnect elsewhere with Last-Event-ID.
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )


def serve_http(settings: Settings) -> None:
    """Serve with uvicorn until SIGINT/SIGTERM; with several workers its supervisor stops them all.

    uvicorn (uvloop, httptools) rather than granian, measured on `/v1/check` with
    `python bench/decisions.py`: granian hands a request body to Python with a cross-thread wake-up,
    which cost ~0.3 ms a check (p50 0.63 against 0.37 ms at one connection; 1.3 against 0.8 ms at
    3,000 checks/s), and uvicorn's two workers also answered more checks per second at saturation.

    A server that cannot start (its app, lifespan or socket) stops `serve` with one line. uvicorn's
    supervisor restarts a worker that dies after starting, and stops at one that fails to start.
    """
    try:
        if settings.workers == 1:
            uvicorn.Server(uvicorn_config(settings)).run()
            return
        configure_supervisor_logging(settings)
        # Each worker counts into its own file in this folder; a scrape sums them (api/metrics.py).
        # A new folder per run: counts of an earlier run, or of another serve, never add up.
        with tempfile.TemporaryDirectory(prefix="acl-service-metrics-") as metrics_dir:
            config = uvicorn_config(msgspec.structs.replace(settings, metrics_dir=Path(metrics_dir)))
            supervisor = Multiprocess(config, sockets=[config.bind_socket()])
            supervisor.run()
        failed = any(worker.process.exitcode == STARTUP_FAILURE for worker in supervisor.processes)
    except SystemExit:  # uvicorn's own way of saying it could not start
        failed = True
    if failed:
        raise CommandError("the HTTP server did not start (see the log above)")


def check_policies(policy_dir: Path) -> None:
    """Load the rules, the route table and the check actions once before serving: a broken file
    stops startup with one line, not every worker with a traceback."""
    try:
        Decider(PolicyEngine.load(policy_dir), RouteTable.load(policy_dir), policy_dir)
    except KeyError as error:  # a CSV row without a column the loader reads
        raise CommandError(f"policies in {policy_dir}: a file lacks the column {error}") from None
    except (PolicyError, ValueError, OSError) as error:
        raise CommandError(f"policies in {policy_dir}: {error}") from None


def check_port_free(host: str, port: int) -> None:
    # Fail before starting the embedded database, with a message that names the setting.
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise CommandError(
                f"cannot listen on {host}:{port} (ACL_HOST/ACL_PORT): {error.strerror}"
            ) from None


def run_serve(args: argparse.Namespace) -> int:
    settings = load_settings(os.environ)
    check_port_free(settings.host, settings.port)
    check_policies(settings.policy_dir)
    previous_sigterm = signal.signal(signal.SIGTERM, raise_stopped)
    try:
        with database(settings) as dsn:
            embedded = settings.database_url is None
            # The embedded database belongs to this service: it always migrates itself.
            prepare_schema(dsn, migrate=embedded or args.migrate)
            admin_token = None
            if embedded and not settings.service_tokens:
                admin_token = read_or_create_admin_token(settings.data_dir)
                settings = msgspec.structs.replace(
                    settings, service_tokens=(ServiceToken(role="admin", token=admin_token.value),)
                )
            print_banner(settings, dsn, admin_token)
            serve_http(msgspec.structs.replace(settings, database_url=dsn))
    except (KeyboardInterrupt, ShutdownRequestedError):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous_sigterm)
        drain_log_queues()
    print("acl-service stopped", flush=True)
    return 0


def register_serve(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "serve", help="run the HTTP API (an embedded PostgreSQL unless ACL_DATABASE_URL is set)"
    )
    parser.add_argument(
        "--migrate", action="store_true", help="apply pending migrations to ACL_DATABASE_URL before serving"
    )
    parser.set_defaults(run=run_serve)


# --- reset -----------------------------------------------------------------------------------


def run_reset(args: argparse.Namespace) -> int:
    settings = load_settings(os.environ)
    if settings.database_url is not None:
        raise CommandError("reset deletes the embedded database only; ACL_DATABASE_URL is set")
    embedded = EmbeddedPostgres(settings.data_dir)
    if not args.yes:
        raise CommandError(
            f"reset deletes every fact in {embedded.pgdata}; run `acl-service reset --yes` to do it"
        )
    try:
        removed = embedded.remove()
    except DataFolderInUseError:
        raise CommandError(f"{settings.data_dir} is in use by a running acl-service: stop it first") from None
    if not removed:
        print(f"no embedded database in {embedded.pgdata}; nothing deleted")
        return 0
    # The token is not a fact: kept, a script holding it keeps working against the empty database.
    print(f"deleted the embedded database in {embedded.pgdata}; the next serve starts empty")
    return 0


def register_reset(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "reset", help="delete the embedded database under ACL_DATA_DIR (not while serve runs)"
    )
    parser.add_argument("--yes", action="store_true", help="confirm: every fact is deleted")
    parser.set_defaults(run=run_reset)


# --- import, export, diff --------------------------------------------------------------------


async def import_into(
    dsn: str, policy_dir: Path, files: list[TableFile], mode: Mode, *, dry_run: bool, samples: int
) -> ImportSummary:
    engine = PolicyEngine.load(policy_dir)
    progress = Progress(sum(file.size for file in files))
    pool = await create_pool(dsn, min_size=1, max_size=1)
    try:
        return await import_files(
            pool,
            files,
            mode,
            lambda resource: engine.resource_info(resource).levels,
            progress=progress,
            dry_run=dry_run,
            samples=samples,
        )
    finally:
        await pool.close()


def read_table_files(path: Path) -> list[TableFile]:
    try:
        return table_files(path)
    except SourceError as error:
        raise CommandError(str(error)) from None


def report_problems(error: ImportRejectedError) -> int:
    for problem in error.problems:
        print(problem, file=sys.stderr)
    print(f"acl-service: {error}", file=sys.stderr)
    return EXIT_FAILURE


def run_import(args: argparse.Namespace) -> int:
    if (args.path is None) == (args.from_posthog is None):
        raise CommandError("import needs exactly one of PATH, --from-posthog DSN")
    settings = load_settings(os.environ)
    with tempfile.TemporaryDirectory(prefix="acl-posthog-") as folder:
        if args.from_posthog is not None:
            asyncio.run(read_posthog(args.from_posthog, Path(folder)))
        files = read_table_files(args.path or Path(folder))
        with database(settings) as dsn:
            try:
                summary = asyncio.run(
                    import_into(dsn, settings.policy_dir, files, args.mode, dry_run=False, samples=0)
                )
            except ImportRejectedError as error:
                return report_problems(error)
    print("\n".join(summary_lines(summary)))
    return 0


def register_import(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "import", help="load a directory (or .tar.gz) of <table>.ndjson files in one revision"
    )
    parser.add_argument("path", type=Path, nargs="?", help="a directory or .tar.gz of <table>.ndjson files")
    parser.add_argument(
        "--from-posthog",
        metavar="DSN",
        help="read PostHog's own tables from its PostgreSQL (read-only) instead of files",
    )
    parser.add_argument(
        "--mode",
        choices=["merge", "replace"],
        default="merge",
        help="merge: upsert, keep rows not in the files (default); replace: also delete the rows of"
        " the organizations in organizations.ndjson that the files do not list",
    )
    parser.set_defaults(run=run_import)


def run_export(args: argparse.Namespace) -> int:
    settings = load_settings(os.environ)

    async def export(dsn: str) -> int:
        pool = await create_pool(dsn, min_size=1, max_size=1)
        try:
            return await export_files(pool, args.path)
        finally:
            await pool.close()

    with database(settings) as dsn:
        revision = asyncio.run(export(dsn))
    print(f"exported revision {revision} to {args.path}")
    return 0


def register_export(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser("export", help="write every table as <table>.ndjson (the import format)")
    parser.add_argument("path", type=Path, help="a directory, or a path ending in .tar.gz")
    parser.set_defaults(run=run_export)


def run_diff(args: argparse.Namespace) -> int:
    settings = load_settings(os.environ)
    files = read_table_files(args.path)
    with database(settings) as dsn:
        try:
            summary = asyncio.run(
                import_into(dsn, settings.policy_dir, files, args.mode, dry_run=True, samples=args.limit)
            )
        except ImportRejectedError as error:
            return report_problems(error)
    print("\n".join(drift_lines(summary)))
    return EXIT_FAILURE if summary.changed else 0


def register_diff(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "diff", help="compare <table>.ndjson files with the service's state; exit 1 on drift"
    )
    parser.add_argument("path", type=Path, help="a directory or .tar.gz of <table>.ndjson files")
    parser.add_argument(
        "--mode",
        choices=["merge", "replace"],
        default="replace",
        help="replace: rows the service holds for the files' organizations but the files do not list"
        " are drift (default); merge: only rows of the files count",
    )
    parser.add_argument("--limit", type=int, default=20, help="rows listed per table (default 20)")
    parser.set_defaults(run=run_diff)


# --- entry point -----------------------------------------------------------------------------


def run_policy_test(args: argparse.Namespace) -> int:
    settings = load_settings(os.environ)
    engine = PolicyEngine.load(settings.policy_dir)
    paths = args.paths or [settings.policy_dir / "tests"]
    return run_policy_tests(paths, out=sys.stdout, engine=engine)


def register_policy(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser("policy", help="work with the Casbin policies under ACL_POLICY_DIR")
    commands = parser.add_subparsers(dest="policy_command", required=True, metavar="COMMAND")
    test = commands.add_parser("test", help="run policy unit tests (YAML: facts -> expected answers)")
    test.add_argument(
        "paths", nargs="*", type=Path, help="files or folders of *.yaml tests (default: policies/tests)"
    )
    test.set_defaults(run=run_policy_test)


# --- explain ---------------------------------------------------------------------------------


async def load_check_facts(
    dsn: str, user: uuid.UUID, project_id: int
) -> tuple[UserRef | None, OrganizationView | None]:
    """The user and the organization view of the project, read from the database as the index would."""
    pool = await create_pool(dsn, min_size=1, max_size=1)  # its jsonb codec is what the view reads
    try:
        async with pool.acquire() as conn:
            found = await load_user_by_uuid(conn, user)
            project = await load_project(conn, project_id)
            view = await load_organization_view(conn, project.organization_id) if project else None
        return found, view
    finally:
        await pool.close()


def parse_resource(value: str | None) -> tuple[str | None, str | None]:
    if value is None:
        return None, None
    resource, _, resource_id = value.partition(":")
    if resource not in CHECK_TYPES:
        raise CommandError(f"--resource: unknown type {resource!r}")
    if resource_id and (len(resource_id) > 36 or not RESOURCE_ID.match(resource_id)):
        raise CommandError(f"--resource: {resource_id!r} is not a valid resource id")
    return resource, resource_id or None


def run_explain(args: argparse.Namespace) -> int:
    settings = load_settings(os.environ)
    resource, resource_id = parse_resource(args.resource)
    engine = PolicyEngine.load(settings.policy_dir)
    decider = Decider(engine, RouteTable.load(settings.policy_dir), settings.policy_dir)
    target = CheckTarget(args.project, resource, resource_id, args.action)
    try:
        action = decider.require_action(target)
    except InvalidInput as error:
        raise CommandError(f"--action {args.action}: {error.detail}") from None
    with database(settings) as dsn:
        user, view = asyncio.run(load_check_facts(dsn, args.user, args.project))
    subject = Subject(Caller("user", user)) if user is not None and user.is_active else INVALID_USER
    decision, trace = Explainer(decider, settings.policy_dir).check(subject, target, action, view)
    for line in format_trace(trace, with_facts=args.facts):
        print(line)
    return 0 if decision.allowed else 3


def register_explain(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "explain",
        help="print how a check is decided: every step, its stored facts and its policy row",
        description="Explain a /v1/check decision as a tree, reading the facts from the database. "
        "Exit status 0 when allowed, 3 when denied.",
    )
    parser.add_argument("--user", type=uuid.UUID, required=True, help="the user's uuid")
    parser.add_argument("--project", type=int, required=True, help="the project id")
    parser.add_argument("--resource", help="TYPE or TYPE:ID (default: the project itself)")
    parser.add_argument(
        "--action",
        default="read",
        choices=get_args(Action),
        help="the check action (default: read)",
    )
    parser.add_argument("--facts", action="store_true", help="show the facts each policy query read")
    parser.set_defaults(run=run_explain)


SUBCOMMANDS: Final[list[Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]]] = [
    register_serve,
    register_migrate,
    register_version,
    register_policy,
    register_changelog,
    register_reset,
    register_explain,
    register_import,
    register_export,
    register_diff,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="acl-service", description="Access-control policy service with PostHog's semantics."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in SUBCOMMANDS:
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except SettingsError as error:
        print(f"acl-service: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (CommandError, MigrationError, EmbeddedPostgresError) as error:
        print(f"acl-service: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except (OSError, asyncpg.PostgresError) as error:
        print(f"acl-service: database error: {error}", file=sys.stderr)
        return EXIT_FAILURE
