from __future__ import annotations

import json
import logging

from camera_streaming.logs import JournalFormatter, JsonFormatter, formatter


def record(level: int, msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("camera_streaming.x", level, __file__, 1, msg, args, None)


def test_json_lines() -> None:
    line = JsonFormatter().format(record(logging.WARNING, "port %d busy", 8554))
    data = json.loads(line)
    assert data["level"] == "warning" and data["msg"] == "port 8554 busy"
    assert data["logger"] == "camera_streaming.x" and data["ts"].endswith("+00:00")
    assert "\n" not in line


def test_journald_gets_a_priority_prefix_and_no_timestamp() -> None:
    assert JournalFormatter().format(record(logging.ERROR, "boom")) == "<3>camera_streaming.x: boom"
    assert isinstance(formatter("text", journal=True), JournalFormatter)
    assert isinstance(formatter("json", journal=True), JsonFormatter)
    assert type(formatter("text", journal=False)) is logging.Formatter


def test_json_timestamps_read_as_datetime_writes_them() -> None:
    from datetime import datetime, timezone

    from camera_streaming.logs import _iso_utc

    for t in (0.0, 0.0005, 0.9999996, 1.4629996, 1822606867.4629996, 1764562443.405):
        iso = datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="milliseconds")
        assert _iso_utc(t) == iso, t
