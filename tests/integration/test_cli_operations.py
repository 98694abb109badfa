"""The operator's command line: --config, --print-config, --list-encoders, doctor, systemd
notifications and JSON logs, run as a user (or systemd) runs them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.env import free_port

pytestmark = pytest.mark.integration
CLI = [sys.executable, "-m", "camera_streaming"]


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})}
    )


def test_print_config_shows_origins_and_masks_url_passwords(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[video]\nwidth = 640\nheight = 360\n[source]\nspec = "test"\n')
    out = run_cli(
        "--config", str(cfg), "--height", "480", "--print-config",
        env={"CAMERA_STREAMING_FPS": "12", "CAMERA_STREAMING_HOOK": "mod:fn"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "width = 640  # file" in text and "height = 480  # cli" in text
    assert "fps = 12  # env" in text and "bitrate = 2000  # default" in text
    assert f"# file: {cfg}" in text


def test_config_file_errors_name_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[rtsp]\nprot = 8554\n")
    out = run_cli("--config", str(cfg))
    assert out.returncode == 2 and "rtsp.prot" in out.stderr and "Traceback" not in out.stderr
    cfg.write_text("[rtsp]\nport = 0\n")
    out = run_cli("--config", str(cfg))
    assert out.returncode == 2 and f"rtsp.port (in {cfg})" in out.stderr


def test_list_encoders() -> None:
    out = run_cli("--list-encoders")
    assert out.returncode == 0, out.stderr
    lines = {ln.split()[0]: ln for ln in out.stdout.splitlines() if ln.strip()}
    assert "present" in lines["x264enc"] and "<- auto" in lines["x264enc"]
    assert "absent" in lines["mpph264enc"] and "absent" in lines["nvv4l2h264enc"]
    assert "would use: x264enc" in out.stdout
    forced = run_cli("--list-encoders", "--encoder", "openh264enc")
    assert "would use: openh264enc (--encoder openh264enc)" in forced.stdout


def test_doctor_passes_here_and_names_a_busy_port() -> None:
    out = run_cli("doctor", "--port", str(free_port()), "--http-port", str(free_port()))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "x264enc" in out.stdout and "/dev/video" in out.stdout
    assert "Everything camera-streaming needs is here." in out.stdout
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        s.listen()
        busy = s.getsockname()[1]
        out = run_cli("doctor", "--port", str(busy), "--http-port", str(free_port()))
    assert out.returncode == 1
    assert f"RTSP port 0.0.0.0:{busy}" in out.stdout and "--port" in out.stdout


def test_systemd_ready_watchdog_and_json_logs(tmp_path: Path) -> None:
    """Run as systemd would: READY=1 once serving, WATCHDOG=1 while frames flow, STOPPING=1."""
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(15)
    rtsp, http = free_port(), free_port()
    proc = subprocess.Popen(
        [*CLI, "--source", "test", "--width", "160", "--height", "120", "--fps", "10",
         "--bind", "127.0.0.1", "--port", str(rtsp), "--http-bind", "127.0.0.1",
         "--http-port", str(http), "--log-format", "json", "--stats-interval", "1",
         "--no-onvif-discovery"],
        env={**os.environ, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1500000"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        messages = []
        t0 = time.monotonic()
        while time.monotonic() - t0 < 15 and messages.count(b"WATCHDOG=1") < 2:
            messages.append(sock.recv(4096))
        assert messages[0].startswith(b"READY=1\nSTATUS=streaming to rtsp://")
        assert messages.count(b"WATCHDOG=1") >= 2
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
        sock.settimeout(2)
        tail = []
        try:
            while True:
                tail.append(sock.recv(4096))
        except OSError:
            pass
        sock.close()
    assert proc.returncode == 0, err
    assert b"STOPPING=1" in tail
    records = [json.loads(ln) for ln in err.splitlines() if ln.strip()]
    assert any("fps=" in r["msg"] for r in records)
    assert {"ts", "level", "logger", "msg"} <= set(records[0])


def test_systemd_unit_is_valid_and_notify_type(tmp_path: Path) -> None:
    from support.env import ROOT, require_tool

    text = (ROOT / "packaging" / "camera-streaming.service").read_text()
    for line in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "NotifyAccess=main"):
        assert line in text
    unit = tmp_path / "camera-streaming.service"
    exe = f"{sys.executable} -m camera_streaming"
    unit.write_text(text.replace("/opt/camera-streaming/.venv/bin/camera-streaming", exe))
    out = subprocess.run(
        [require_tool("systemd-analyze"), "verify", str(unit)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert out.returncode == 0 and not out.stderr.strip(), out.stderr
    conf = ROOT / "packaging" / "camera-streaming.toml"
    shown = run_cli("--config", str(conf), "--print-config")
    assert shown.returncode == 0 and "# file" in shown.stdout, shown.stderr
