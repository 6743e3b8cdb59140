"""Service configuration: ACL_* environment variables (SPEC §5.6), read once at startup.

`load_settings` takes the environment as an argument instead of reading `os.environ`, so tests and
the CLI decide what the service sees; nothing here runs at import time.
"""

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal, TypeVar

import msgspec

import acl_service

TokenRole = Literal["admin", "check"]
LogLevel = Literal["debug", "info", "warning", "error"]
LogFormat = Literal["text", "json"]
AccessLogMode = Literal["all", "admin", "off"]
Choice = TypeVar("Choice", bound=str)

TOKEN_ROLES: tuple[TokenRole, ...] = ("admin", "check")
LOG_LEVELS: tuple[LogLevel, ...] = ("debug", "info", "warning", "error")
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
ACCESS_LOG_MODES: tuple[AccessLogMode, ...] = ("all", "admin", "off")
PERSONAL_API_KEY_PREFIX = "phx_"

# The test suite's own variable: developers export it in the shell they also run the service from.
IGNORED_VARIABLES = frozenset({"ACL_TEST_DATABASE_URL"})


class SettingsError(Exception):
    """A missing or malformed ACL_* variable; the message is one line naming it."""


class ServiceToken(msgspec.Struct, frozen=True):
    role: TokenRole
    token: str


class ChangelogRetention(msgspec.Struct, frozen=True):
    """Keep the last `revisions` revisions, or the rows younger than `seconds` (exactly one is set)."""

    revisions: int | None = None
    seconds: int | None = None

    def describe(self) -> str:
        return f"{self.revisions} revisions" if self.revisions is not None else f"{self.seconds} s"


DEFAULT_CHANGELOG_RETENTION = ChangelogRetention(seconds=7 * 24 * 3600)
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    database_url: str | None
    data_dir: Path
    policy_dir: Path
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    service_tokens: tuple[ServiceToken, ...] = ()
    decision_cache_size: int = 100_000
    fact_index_max_rows: int = 1_000_000
    min_revision_wait_ms: int = 2000
    changelog_retention: ChangelogRetention = DEFAULT_CHANGELOG_RETENTION
    log_level: LogLevel = "info"
    log_format: LogFormat = "text"
    access_log: AccessLogMode = "admin"
    # Not an ACL_* variable: `serve` sets it for several workers, which count into files there.
    metrics_dir: Path | None = None


def default_data_dir(environ: Mapping[str, str], *, as_root: bool) -> Path:
    # pgserver run as root chowns the data folder to its own system user and opens every parent
    # folder to others (o+rx): under root's home that would expose /root, so root gets a system path.
    if as_root:
        return Path("/var/lib/acl-service")
    xdg_data_home = environ.get("XDG_DATA_HOME")
    if xdg_data_home:
        return Path(xdg_data_home) / "acl-service"
    home = environ.get("HOME")
    return (Path(home) if home else Path.home()) / ".local" / "share" / "acl-service"


def default_policy_dir() -> Path:
    return Path(acl_service.__file__).resolve().parent.parent / "policies"


def parse_int(name: str, raw: str, minimum: int, maximum: int = 2**63 - 1) -> int:
    try:
        value = int(raw.strip(), 10)
    except ValueError:
        raise SettingsError(f"{name}: expected an integer, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise SettingsError(f"{name}: expected an integer from {minimum} to {maximum}, got {value}")
    return value


def parse_service_tokens(name: str, raw: str) -> tuple[ServiceToken, ...]:
    # Messages name entries by position and never echo a token: they end up in logs.
    tokens: list[ServiceToken] = []
    seen: set[str] = set()
    for position, entry in enumerate(raw.split(","), start=1):
        role, separator, token = entry.strip().partition(":")
        if not separator or not token:
            raise SettingsError(f"{name}: entry {position} is not of the form role:token")
        if role not in TOKEN_ROLES:
            raise SettingsError(f"{name}: entry {position} has role {role!r}; roles are admin, check")
        if token.startswith(PERSONAL_API_KEY_PREFIX):
            raise SettingsError(
                f"{name}: entry {position} starts with {PERSONAL_API_KEY_PREFIX!r}, "
                "which is reserved for personal API keys"
            )
        if any(character.isspace() for character in token):
            raise SettingsError(f"{name}: entry {position} contains whitespace")
        if token in seen:
            raise SettingsError(f"{name}: entry {position} repeats an earlier token")
        seen.add(token)
        tokens.append(ServiceToken(role=role, token=token))
    return tuple(tokens)


def parse_choice(choices: tuple[Choice, ...]) -> Callable[[str, str], Choice]:
    def parse(name: str, raw: str) -> Choice:
        text = raw.strip().lower()
        for known in choices:
            if text == known:
                return known
        raise SettingsError(f"{name}: expected one of {', '.join(choices)}, got {raw!r}")

    return parse


def parse_retention(name: str, raw: str) -> ChangelogRetention:
    """A number of revisions (`100000`) or an age (`45s`, `30m`, `12h`, `7d`)."""
    text = raw.strip().lower()
    unit = DURATION_UNITS.get(text[-1:]) if text else None
    if unit is None:
        return ChangelogRetention(revisions=parse_int(name, text, 1))
    try:
        amount = int(text[:-1], 10)
    except ValueError:
        amount = 0
    if amount < 1:
        raise SettingsError(
            f"{name}: expected a number of revisions or an age like 7d, 12h, 30m; got {raw!r}"
        )
    return ChangelogRetention(seconds=amount * unit)


def parse_text(name: str, raw: str) -> str:
    if not raw.strip():
        raise SettingsError(f"{name}: must not be empty")
    return raw.strip()


def parse_path(name: str, raw: str) -> Path:
    return Path(parse_text(name, raw)).expanduser()


PARSERS: dict[str, tuple[str, Callable[[str, str], object]]] = {
    "ACL_DATABASE_URL": ("database_url", parse_text),
    "ACL_DATA_DIR": ("data_dir", parse_path),
    "ACL_POLICY_DIR": ("policy_dir", parse_path),
    "ACL_HOST": ("host", parse_text),
    "ACL_PORT": ("port", lambda name, raw: parse_int(name, raw, 1, 65535)),
    "ACL_WORKERS": ("workers", lambda name, raw: parse_int(name, raw, 1, 64)),
    "ACL_SERVICE_TOKENS": ("service_tokens", parse_service_tokens),
    "ACL_DECISION_CACHE_SIZE": ("decision_cache_size", lambda name, raw: parse_int(name, raw, 0)),
    "ACL_FACT_INDEX_MAX_ROWS": ("fact_index_max_rows", lambda name, raw: parse_int(name, raw, 1)),
    "ACL_MIN_REVISION_WAIT_MS": ("min_revision_wait_ms", lambda name, raw: parse_int(name, raw, 0, 600_000)),
    "ACL_CHANGELOG_RETENTION": ("changelog_retention", parse_retention),
    "ACL_LOG_LEVEL": ("log_level", parse_choice(LOG_LEVELS)),
    "ACL_LOG_FORMAT": ("log_format", parse_choice(LOG_FORMATS)),
    "ACL_ACCESS_LOG": ("access_log", parse_choice(ACCESS_LOG_MODES)),
}


def load_settings(environ: Mapping[str, str]) -> Settings:
    values: dict[str, object] = {}
    for name in sorted(environ):
        if not name.startswith("ACL_") or name in IGNORED_VARIABLES:
            continue
        if name not in PARSERS:
            raise SettingsError(f"{name}: unknown setting; known settings are {', '.join(PARSERS)}")
        field, parse = PARSERS[name]
        # An empty ACL_SERVICE_TOKENS means "none configured", as when unset.
        if name == "ACL_SERVICE_TOKENS" and not environ[name].strip():
            continue
        values[field] = parse(name, environ[name])
    values.setdefault("database_url", None)
    values.setdefault("data_dir", default_data_dir(environ, as_root=os.geteuid() == 0))
    values.setdefault("policy_dir", default_policy_dir())
    return Settings(**values)  # type: ignore[arg-type]
