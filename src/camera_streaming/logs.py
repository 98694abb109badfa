"""Log handlers the CLI installs (the library itself only adds a NullHandler).

`text`: one line per record; under systemd (JOURNAL_STREAM set) without our own timestamp and
with a `<N>` syslog priority prefix, which journald turns into the entry's priority.
`json`: one JSON object a line (`ts`, `level`, `logger`, `msg`, `exc`), for journald's
`MESSAGE` field, Loki or jq.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time

_PRIORITY = {"DEBUG": 7, "INFO": 6, "WARNING": 4, "ERROR": 3, "CRITICAL": 2}


def _iso_utc(t: float) -> str:
    """`t` as ISO 8601 in UTC to the millisecond, as `datetime.isoformat` writes it (without
    loading `datetime` for it)."""
    seconds = int(t)
    micros = round((t - seconds) * 1e6)  # rounded to the microsecond first, as datetime does
    if micros >= 1_000_000:
        seconds, micros = seconds + 1, micros - 1_000_000
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{stamp}.{micros // 1000:03d}+00:00"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": _iso_utc(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


class JournalFormatter(logging.Formatter):
    """`<6>camera_streaming.service: message`: journald adds the time and reads the priority."""

    def format(self, record: logging.LogRecord) -> str:
        text = f"<{_PRIORITY.get(record.levelname, 6)}>{record.name}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info).replace("\n", " | ")
        return text


def formatter(fmt: str, journal: bool | None = None) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter()
    if journal if journal is not None else bool(os.environ.get("JOURNAL_STREAM")):
        return JournalFormatter()
    return logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


def configure_logging(level: str = "info", fmt: str = "text") -> None:
    """Replace the root logger's handlers with one stderr handler in `fmt`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(fmt))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper()))
