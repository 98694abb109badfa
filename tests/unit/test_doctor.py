"""Doctor checks that do not need GStreamer: cameras, ports, the report."""

from __future__ import annotations

import socket
from pathlib import Path

from camera_streaming.doctor import (
    MISSING,
    OK,
    WARN,
    Report,
    check_cameras,
    check_port,
    check_webrtc,
    keeps_memory_per_thread,
)


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


def test_webrtc_pieces_missing_are_warnings_with_their_package() -> None:
    out, report = lines_of(check_webrtc, {"webrtcbin", "dtlssrtpenc", "srtpenc", "nicesink"})
    assert not report.failed
    assert any(WARN in ln and "nicesrc" in ln and "gstreamer1.0-nice" in ln for ln in out), out
    assert any(OK in ln and "webrtcbin" in ln for ln in out), out


def test_gnutls_before_3_8_keeps_memory_for_each_thread() -> None:
    assert keeps_memory_per_thread("3.7.9") and keeps_memory_per_thread("3.7")
    assert not keeps_memory_per_thread("3.8.0") and not keeps_memory_per_thread("3.8.9")
    assert not keeps_memory_per_thread("3.10.1") and not keeps_memory_per_thread("4.0.0~rc1")
