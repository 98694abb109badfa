"""Doctor checks that do not need GStreamer: cameras, ports, the report."""

from __future__ import annotations

import socket
from pathlib import Path

from camera_streaming.doctor import MISSING, OK, WARN, Report, check_cameras, check_port


def lines_of(report_fn: object, *args: object) -> tuple[list[str], Report]:
    out: list[str] = []
    report = Report(out.append)
    report_fn(report, *args)  # type: ignore[operator]
    return out, report


def test_no_camera_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    out, report = lines_of(check_cameras, str(tmp_path / "video*"))
    assert not report.failed
    assert any(WARN in ln and "test pattern" in ln for ln in out)


def test_a_device_that_is_not_v4l2_is_reported(tmp_path: Path) -> None:
    (tmp_path / "video0").write_bytes(b"")
    out, report = lines_of(check_cameras, str(tmp_path / "video*"))
    assert not report.failed
    assert any("video0: cannot query" in ln for ln in out), out


def test_busy_port_fails_with_the_flag_to_change() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out, report = lines_of(check_port, "HTTP", "127.0.0.1", port)
    assert report.failed and MISSING in out[0] and "--http-port" in report.fixes[0]
    out, report = lines_of(check_port, "RTSP", "127.0.0.1", port)
    assert not report.failed and OK in out[0]


def test_fixes_are_collected_once() -> None:
    out: list[str] = []
    r = Report(out.append)
    r.line(MISSING, "x264enc", "apt-get install gstreamer1.0-plugins-ugly")
    r.line(MISSING, "x265enc", "apt-get install gstreamer1.0-plugins-ugly")
    r.line(WARN, "no camera")
    assert r.failed and r.fixes == ["apt-get install gstreamer1.0-plugins-ugly"]
    assert "->  apt-get install" in out[0]
