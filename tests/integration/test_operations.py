"""Operating it: the HTTP side port of a running streamer, the status page in headless Chromium,
other encoders and H.265 end to end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from camera_streaming.config import Config, HttpConfig, SourceSpec
from camera_streaming.telemetry.stats import MemoryHistory
from support.env import ROOT, free_port, require_tool
from support.fakes import ffprobe_stream, make_config, running

pytestmark = pytest.mark.integration
SCREENSHOT = ROOT / "docs" / "images" / "status-page.png"


def http_config() -> HttpConfig:
    return HttpConfig(port=free_port(), bind="127.0.0.1", health_timeout_s=1.0)


def get(port: int, path: str, timeout: float = 10) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")


def test_endpoints_of_a_running_streamer(port: int) -> None:
    http = http_config()
    config = replace(make_config(port, http=http), overlay=True)
    with running(config) as streamer:
        time.sleep(0.5)
        assert get(http.port, "/healthz")[0] == 200
        info = ffprobe_stream(config.rtsp.url())
        assert info["codec_name"] == "h264"
        code, body = get(http.port, "/metrics")
        text = body.decode()
        assert code == 200
        assert metric(text, "camera_streaming_frames_total") > 0
        assert metric(text, "camera_streaming_bytes_sent_total") > 0
        assert metric(text, "camera_streaming_encoded_frames_total") > 0
        assert metric(text, "camera_streaming_rss_bytes") > 10e6
        assert 'encoder_info{codec="h264",encoder="x264enc"} 1.0' in text
        code, body = get(http.port, "/snapshot.jpg")
        assert code == 200
        img = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
        assert img.shape == (240, 320, 3)
        assert img[200:, 200:].any()  # the overlay's bottom-right label
        again = get(http.port, "/snapshot.jpg")[1]
        assert again == body  # cached: at most snapshot_max_fps encodes a second
        status = json.loads(get(http.port, "/api/status")[1])
        assert status["healthy"] and status["encoder"] == "x264enc"
        assert status["stats"]["frames"] > 0 and len(status["memory"]) >= 1
        assert streamer.http is not None
    assert get_refused(http.port)


def get_refused(port: int) -> bool:
    try:
        get(port, "/healthz", timeout=2)
    except (urllib.error.URLError, ConnectionError):
        return True
    return False


def test_healthz_is_503_without_frames(port: int) -> None:
    http = http_config()
    config = replace(make_config(port, http=http), source=SourceSpec("api"))
    with running(config) as streamer:
        assert get(http.port, "/healthz")[0] == 503
        assert get(http.port, "/snapshot.jpg", timeout=5)[0] == 503
        streamer.push_frame(np.zeros((240, 320, 3), np.uint8))
        assert get(http.port, "/healthz")[0] == 200
        time.sleep(1.2)
        code, body = get(http.port, "/healthz")
        assert code == 503 and b"no frame for 1 s" in body


def chromium(url: str, *args: str, tmp: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("chromium") or require_tool("chromium")
    return subprocess.run(
        [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", f"--user-data-dir={tmp / 'chromium'}",
         "--virtual-time-budget=5000", *args, url],
        capture_output=True, text=True, timeout=90,
    )  # fmt: skip


def test_status_page_in_headless_chromium(port: int, tmp_path: Path) -> None:
    """The page loads, the memory chart and the snapshot render, a screenshot is taken. With
    CAMERA_STREAMING_UPDATE_DOCS=1 the screenshot replaces docs/images/status-page.png."""
    http = http_config()
    config = replace(make_config(port, 640, 360, 15, http=http), overlay=True)
    with running(config) as streamer:
        streamer.memory = MemoryHistory(capacity=360, interval=0.3)  # a chart within seconds
        viewer = subprocess.Popen(
            ["ffmpeg", "-v", "quiet", "-rtsp_transport", "tcp", "-i", config.rtsp.url(),
             "-t", "20", "-f", "null", "-"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 15
            while streamer.snapshot().clients == 0 and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(3)  # a few memory samples
            url = f"http://127.0.0.1:{http.port}/"
            dom = chromium(url, "--dump-dom", tmp=tmp_path)
            assert dom.returncode == 0, dom.stderr[-2000:]
            html = dom.stdout
            assert "rtsp://127.0.0.1:" in html and "frames flowing" in html
            assert 'data-loaded="1"' in html  # the snapshot <img> loaded and decoded
            points = int(html.split('data-points="', 1)[1].split('"', 1)[0])
            chart = html.split('<svg id="chart"', 1)[1].split("</svg>", 1)[0]
            assert points >= 3 and chart.count("<polyline") == 2  # RSS and allocator lines
            assert '<tr data-path="/stream">' in html  # the streams table, one row per stream
            shot = tmp_path / "status-page.png"
            out = chromium(url, "--window-size=1200,800", f"--screenshot={shot}", tmp=tmp_path)
            assert out.returncode == 0 and shot.exists(), out.stderr[-2000:]
        finally:
            viewer.kill()
            viewer.wait()
    img = cv2.imread(str(shot))
    assert img.shape == (800, 1200, 3)
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 200  # not a blank page
    if os.environ.get("CAMERA_STREAMING_UPDATE_DOCS") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT)


@pytest.mark.parametrize(
    ("encoder", "codec", "expected"),
    [("openh264enc", "h264", "h264"), ("x265enc", "h265", "hevc")],
)
def test_other_encoders_stream(port: int, encoder: str, codec: str, expected: str) -> None:
    config = make_config(port)
    config = replace(config, video=replace(config.video, encoder=encoder, codec=codec))
    with running(config) as streamer:
        info = ffprobe_stream(config.rtsp.url())
        assert info["codec_name"] == expected and info["width"] == 320
        assert streamer.snapshot().encoder == encoder


def test_api_has_no_http_port_by_default() -> None:
    assert Config().http.enabled
    from camera_streaming import RtspStreamer

    assert not RtspStreamer().config.http.enabled
    assert RtspStreamer(http_port=9999).config.http.port == 9999


def test_watchdog_only_while_frames_flow(
    port: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.setenv("WATCHDOG_USEC", "600000")
    config = replace(make_config(port, http=http_config()), source=SourceSpec("api"))

    def received(seconds: float) -> list[bytes]:
        out, deadline = [], time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                out.append(sock.recv(4096))
            except OSError:
                break
        return out

    try:
        with running(config) as streamer:
            assert received(0.5)[0].startswith(b"READY=1")
            assert b"WATCHDOG=1" not in received(0.8)  # no frame yet
            frame = np.zeros((240, 320, 3), np.uint8)
            t_end = time.monotonic() + 1.0
            while time.monotonic() < t_end:
                streamer.push_frame(frame)
                time.sleep(0.05)
            assert b"WATCHDOG=1" in received(0.3)
            received(0.8)  # frames stopped: the last ones may still be fed
            assert b"WATCHDOG=1" not in received(1.0)
    finally:
        sock.close()


def test_auto_falls_back_when_the_picked_encoder_cannot_start(
    port: int, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A registry that claims a Rockchip encoder (absent here, so its pipeline cannot be
    built): auto picks mpph264enc, fails, logs it and streams with the next usable one."""
    from camera_streaming.gst import runtime

    real = runtime.available_elements
    monkeypatch.setattr(runtime, "available_elements", lambda: real() | {"mpph264enc"})
    config = make_config(port)
    with running(config) as streamer:
        assert streamer.snapshot().encoder == "x264enc"
        assert ffprobe_stream(config.rtsp.url())["codec_name"] == "h264"
    assert any("mpph264enc" in r.getMessage() and "x264enc" in r.getMessage()
               for r in caplog.records)  # fmt: skip
