"""The command line as a user runs it: bad input gives one line and exit 2, signals stop it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from support.env import CLI, start_cli
from support.fakes import ffprobe_stream

pytestmark = pytest.mark.integration


def run_cli(
    *args: str, env: dict | None = None, timeout: float = 30
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def assert_one_line_error(out: subprocess.CompletedProcess, *words: str) -> None:
    assert out.returncode == 2, (out.returncode, out.stderr)
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, out.stderr
    assert "Traceback" not in out.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--width", "0"], ["width"]),
        (["--height", "-480"], ["height"]),
        (["--width", "abc"], ["--width"]),
        (["--fps", "0"], ["fps"]),
        (["--fps", "241"], ["fps", "240"]),
        (["--port", "70000"], ["port", "65535"]),
        (["--port", "0"], ["port"]),
        (["--bitrate", "-1"], ["bitrate"]),
        (["--path", "stream"], ["path"]),
        (["--bind", "nowhere"], ["bind"]),
        (["--source", "webcam"], ["source"]),
        (["--source", "v4l2:/dev/video99"], ["/dev/video99", "--source test"]),
        (["--source", "file:/nonexistent.mp4"], ["/nonexistent.mp4"]),
        (["--hook", "nosuchmodule:fn"], ["hook", "nosuchmodule"]),
        (["--unknown-flag"], ["--unknown-flag"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], words: list[str]) -> None:
    assert_one_line_error(run_cli("--stats-interval", "5", *args), *words)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--source", "gst:nosuchelement"], ["--source", "nosuchelement"]),
        (["--source", "gst:v4l2src device=/dev/video99"], ["/dev/video99"]),
        (["--source", "gst:videotestsrc", "--overlay"], ["--overlay", "NumPy"]),
    ],
)
def test_bad_gst_source_is_one_line_and_exit_2(args: list[str], words: list[str]) -> None:
    # GST_DEBUG as a user has it (unset): the tests' GST_DEBUG=1 adds GStreamer's own
    # ERROR log line for the failed parse.
    out = run_cli("--stats-interval", "5", *args, env={"GST_DEBUG": "0"})
    assert_one_line_error(out, *words)


def test_busy_port_is_one_line_and_exit_2() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out = run_cli("--source", "test", "--bind", "127.0.0.1", "--port", str(port))
    assert_one_line_error(out, str(port), "in use", "--port")


def test_missing_encoder_plugin_names_the_package(tmp_path: Path) -> None:
    import gi

    gi.require_version("Gst", "1.0")
    from gi.repository import Gst

    Gst.init(None)
    plugin_dir = Path(Gst.Registry.get().find_plugin("coreelements").get_filename()).parent
    fake = tmp_path / "plugins"
    fake.mkdir()
    for lib in plugin_dir.glob("*.so"):
        if "x264" not in lib.name and "openh264" not in lib.name:  # no H.264 encoder at all
            (fake / lib.name).symlink_to(lib)
    env = {
        "GST_PLUGIN_SYSTEM_PATH_1_0": str(fake),
        "GST_PLUGIN_PATH_1_0": "",
        "GST_REGISTRY_1_0": str(tmp_path / "registry.bin"),
    }
    out = run_cli("--source", "test", "--port", "1", env=env)
    assert_one_line_error(out, "x264enc", "gstreamer1.0-plugins-ugly")


def test_version_and_help() -> None:
    out = run_cli("--version")
    assert out.returncode == 0 and "camera-streaming" in out.stdout
    out = run_cli("--help")
    assert out.returncode == 0
    for flag in (
        "--rtsp",
        "--width",
        "--height",
        "--fps",
        "--port",
        "--path",
        "--bitrate",
        "--keyframe-interval",
        "--source",
        "--bind",
        "--stats-interval",
        "--hook",
    ):
        assert flag in out.stdout


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_within_3s_with_stats_and_summary(port: int, sig: int) -> None:
    proc = start_cli(port)
    info = ffprobe_stream(f"rtsp://127.0.0.1:{port}/stream")  # a client was served
    assert info["width"] == 320
    time.sleep(1.5)
    t0 = time.monotonic()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=10)
    assert time.monotonic() - t0 < 3.0
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    stats = [ln for ln in err.splitlines() if "fps=" in ln and "rss=" in ln]
    assert stats, err
    for field in ("frames=", "uptime=", "dropped=", "clients="):
        assert field in stats[-1]
    assert "total frames=" in err and "average fps=" in err


def test_second_sigint_forces_exit(port: int) -> None:
    proc = start_cli(port)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=10)
    assert proc.returncode in (0, 130)
