"""Logging for every ocrgw process (`serve`, `api`, the local worker processes, Celery workers): one handler
on the root logger, writing one JSON object per line or readable text to stderr, with the request id and
job id of ``ops.context`` on every line. uvicorn's and Celery's loggers propagate to it, so a process never
mixes formats. The access log (one line per HTTP request) and the job log (one line per job run) are events,
not diagnostics: they stay at INFO whatever ``--log-level`` says, and ``OCRGW_ACCESS_LOG=false`` silences them."""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import IO

from ocrgw.ops.context import job_id_var, request_id_var

ACCESS_LOGGER = "ocrgw.access"
JOB_LOGGER = "ocrgw.job"
# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged as a field.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}
_THIRD_PARTY = (
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "uvicorn.asgi",
    "celery",
    "celery.task",
    "celery.redirected",
)


def _extras(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ms), level, logger, message, pid, request_id and job_id when
    set, any `extra=` fields, and the traceback as `exc`. Log shippers (Loki, Elasticsearch, CloudWatch)
    take such lines without a parsing rule, and a message cannot forge a second line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        if (rid := request_id_var.get()) is not None:
            out["request_id"] = rid
        if (jid := job_id_var.get()) is not None:
            out["job_id"] = jid
        out.update(_extras(record))
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, default=str)


class TextFormatter(logging.Formatter):
    """For a person at a terminal: the usual line, with request and job ids appended when there are any."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s[%(process)d] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = [f"{k}={v}" for k, v in (("request_id", request_id_var.get()), ("job_id", job_id_var.get())) if v]
        if not ids:
            return line
        head, sep, tail = line.partition("\n")  # after the message, before a traceback
        return f"{head} [{' '.join(ids)}]{sep}{tail}"


def resolve_format(fmt: str, stream: IO[str] | None = None) -> str:
    """`auto`: text on a terminal, JSON everywhere else (containers, systemd, files, pipes)."""
    if fmt != "auto":
        return fmt
    stream = stream or sys.stderr
    try:
        return "text" if stream.isatty() else "json"
    except (AttributeError, ValueError):
        return "json"


def use_colour(stream: IO[str] | None = None) -> bool:
    """Colour (ANSI escapes) only for a person at a terminal: never into a file, a pipe or a journal, and
    never when NO_COLOR is set to anything (https://no-color.org). ocrgw's own formatters never colour;
    this decides for the third-party output that would (Celery's start-up banner)."""
    if os.environ.get("NO_COLOR"):
        return False
    stream = stream or sys.stderr
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _level(level: str | int) -> int:
    if isinstance(level, int):
        return level
    name = level.upper()
    return 5 if name == "TRACE" else logging.getLevelNamesMapping().get(name, logging.INFO)


def configure_logging(
    fmt: str, level: str | int = "info", access_log: bool = True, stream: IO[str] | None = None
) -> str:
    """Install the one handler; returns the format chosen. Safe to call again (a forked or spawned worker
    redoes it with the same settings)."""
    stream = stream or sys.stderr
    chosen = resolve_format(fmt, stream)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if chosen == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(_level(level))
    for name in _THIRD_PARTY:
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # a line per plugin, every start
    for name in (ACCESS_LOGGER, JOB_LOGGER):
        logging.getLogger(name).setLevel(logging.INFO if access_log else logging.CRITICAL + 10)
    logging.captureWarnings(True)
    return chosen
