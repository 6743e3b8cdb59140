"""Log output in the format ACL_LOG_FORMAT names: `text` for people, `json` (one object a line) for
log collectors.

A JSON line always has `timestamp` (UTC, ISO 8601), `level`, `logger`, `message` and `process`
(the pid: one of several workers); a record
logged with `extra={FIELDS: {...}}` adds those fields at the top level (the access log's method,
path, status, duration_ms, request_id), and one logged with an exception adds `exception`.
"""

import logging
import queue
from datetime import UTC, datetime
from logging.handlers import QueueHandler
from typing import Any, Final

import msgspec

from acl_service.settings import LogFormat, Settings

FIELDS: Final = "acl_fields"
TEXT_FORMAT: Final = "%(levelname)s - %(asctime)s - %(name)s - %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,  # which worker, when there are several
        }
        line.update(getattr(record, FIELDS, {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return msgspec.json.encode(line).decode()


def log_formatter(log_format: LogFormat) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure_supervisor_logging(settings: Settings) -> None:
    """The process supervising several workers builds no app: its own messages (a worker died,
    restarts) get a handler here, in the same format as the workers'."""
    handler = logging.StreamHandler()
    handler.setFormatter(log_formatter(settings.log_format))
    logging.basicConfig(level=settings.log_level.upper(), handlers=[handler])


def drain_log_queues() -> None:
    """Wait until the queue handlers' listener threads have written out every record queued, so that
    `serve`'s last line comes after the last log line of the server it ran."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, QueueHandler) and isinstance(handler.queue, queue.Queue):
            handler.queue.join()  # the listener marks each record done once written
