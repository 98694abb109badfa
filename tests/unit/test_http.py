"""The HTTP side port against a fake status source: real requests, no GStreamer."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from camera_streaming.config import HttpConfig
from camera_streaming.errors import PortInUseError
from camera_streaming.telemetry.stats import MemoryHistory, OutputStatus, Snapshot
from camera_streaming.web.http import HttpServer
from support.fakes import FakeClock

RTMP_UP = OutputStatus("rtmp", "rtmp://127.0.0.1/live/s", "connected", bytes=1000, reconnects=2)

METRICS = (
    "camera_streaming_frames_total",
    "camera_streaming_fps",
    "camera_streaming_dropped_frames_total",
    "camera_streaming_clients",
    "camera_streaming_sessions",
    "camera_streaming_bytes_sent_total",
    "camera_streaming_rss_bytes",
    "camera_streaming_allocator_in_use_bytes",
    "camera_streaming_hook_seconds_total",
    'camera_streaming_encoder_info{codec="h264",encoder="x264enc"} 1.0',
    'camera_streaming_output_up{camera="",output="rtmp",stream=""} 1.0',
    'camera_streaming_output_bytes_total{camera="",output="rtmp",stream=""} 1000.0',
    'camera_streaming_output_reconnects_total{camera="",output="rtmp",stream=""} 2.0',
    "camera_streaming_source_restarts_total 2.0",
    "camera_streaming_encoded_frames_total",
    "camera_streaming_idle_frames_total",
    "camera_streaming_uptime_seconds",
    "camera_streaming_last_frame_age_seconds",
    "process_resident_memory_bytes",
)


class FakeStatus:
    def __init__(self) -> None:
        self.age: float | None = 0.1
        self.jpeg: bytes | None = None
        self.history = MemoryHistory(capacity=3, interval=10, clock=FakeClock(), wall=FakeClock())

    def snapshot(self) -> Snapshot:
        return Snapshot(uptime_s=5, frames=100, fps=25.0, dropped=1, clients=2, sessions=2,
                        rss_bytes=50_000_000, heap_bytes=20_000_000, encoded=90,
                        bytes_sent=12345, hook_seconds=0.5, encoder="x264enc", source_restarts=2,
                        last_frame_age_s=self.age, outputs=(RTMP_UP,))  # fmt: skip

    def memory_history(self) -> list[tuple[float, int, int | None]]:
        return [(1.0, 40_000_000, 10_000_000), (11.0, 41_000_000, None)]

    def snapshot_jpeg(self) -> bytes | None:
        return self.jpeg

    def describe(self) -> Mapping[str, Any]:
        return {"urls": ["rtsp://127.0.0.1:8554/stream"], "codec": "h264", "source": "test",
                "video": "320x240@25", "encoder": "x264enc", "version": "0"}  # fmt: skip


@pytest.fixture
def server() -> Iterator[tuple[HttpServer, FakeStatus]]:
    status = FakeStatus()
    srv = HttpServer(HttpConfig(port=0, bind="127.0.0.1", health_timeout_s=5), status)
    srv.start()
    yield srv, status
    srv.stop()


def get(srv: HttpServer, path: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{srv.port}{path}", timeout=5) as r:
            return r.status, r.read(), r.headers["Content-Type"]
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers["Content-Type"]


def test_metrics(server: tuple[HttpServer, FakeStatus]) -> None:
    code, body, ctype = get(server[0], "/metrics")
    assert code == 200 and ctype.startswith("text/plain")
    text = body.decode()
    for name in METRICS:
        assert name in text, name
    assert "camera_streaming_bytes_sent_total 12345.0" in text


def test_healthz(server: tuple[HttpServer, FakeStatus]) -> None:
    srv, status = server
    assert get(srv, "/healthz")[0] == 200
    status.age = 6.0
    code, body, _ = get(srv, "/healthz")
    assert code == 503 and b"no frame for 5 s" in body
    status.age = None
    assert get(srv, "/healthz")[0] == 503


def test_status_json(server: tuple[HttpServer, FakeStatus]) -> None:
    code, body, ctype = get(server[0], "/api/status")
    data = json.loads(body)
    assert code == 200 and ctype == "application/json"
    assert data["healthy"] is True and data["stats"]["clients"] == 2
    assert data["memory"][0] == [1.0, 40_000_000, 10_000_000]
    assert data["urls"] == ["rtsp://127.0.0.1:8554/stream"]


def test_snapshot(server: tuple[HttpServer, FakeStatus]) -> None:
    srv, status = server
    assert get(srv, "/snapshot.jpg")[0] == 503
    status.jpeg = b"\xff\xd8jpeg"
    assert get(srv, "/snapshot.jpg") == (200, b"\xff\xd8jpeg", "image/jpeg")


def test_page_embeds_the_status(server: tuple[HttpServer, FakeStatus]) -> None:
    code, body, ctype = get(server[0], "/")
    assert code == 200 and ctype.startswith("text/html")
    assert b"rtsp://127.0.0.1:8554/stream" in body and b'id="chart"' in body
    assert b"</script>" in body and b"<\\/" not in body.split(b"<script>")[0]
    assert get(server[0], "/nope")[0] == 404


def test_port_in_use_names_the_flag() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        srv = HttpServer(HttpConfig(port=s.getsockname()[1], bind="127.0.0.1"), FakeStatus())
        with pytest.raises(PortInUseError, match="--http-port"):
            srv.start()


def test_stop_joins_the_thread(server: tuple[HttpServer, FakeStatus]) -> None:
    import threading

    srv, _ = server
    assert any(t.name == "http" for t in threading.enumerate())
    srv.stop()
    assert not any(t.name == "http" for t in threading.enumerate())


def test_memory_history_is_bounded_and_paced() -> None:
    clock, wall = FakeClock(), FakeClock(1000.0)
    h = MemoryHistory(capacity=3, interval=10, clock=clock, wall=wall)
    assert h.maybe_sample(1, 2)
    assert not h.maybe_sample(5, 5)  # too soon
    for i in range(5):
        clock.advance(10)
        wall.advance(10)
        assert h.maybe_sample(10 + i, None)
    assert [s[1] for s in h.samples()] == [12, 13, 14]
    assert h.samples()[-1][0] == 1050.0
    assert h.samples()[-1][2] is None


def test_memory_history_allocates_nothing_as_it_fills() -> None:
    """Preallocated: filling all slots must not grow the heap (growing costs ~150 B a sample)."""
    import tracemalloc

    clock = FakeClock()
    h = MemoryHistory(capacity=360, interval=10, clock=clock, wall=FakeClock(1e9))
    h.maybe_sample(1, 2)  # warm the code path
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(720):
            clock.advance(10)
            h.maybe_sample(180_000_000 + i, 90_000_000 + i)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 1024, f"filling the history allocated {grown} B"
    assert len(h.samples()) == 360 and h.samples()[-1][1] == 180_000_719


def test_many_requests_leave_no_threads_or_memory_behind(
    server: tuple[HttpServer, FakeStatus],
) -> None:
    import threading
    import time

    from camera_streaming.telemetry.stats import rss_bytes

    srv, status = server
    status.jpeg = b"\xff\xd8" + b"x" * 50_000
    paths = ("/metrics", "/api/status", "/snapshot.jpg", "/healthz", "/")
    for _ in range(40):  # warm-up
        for p in paths:
            get(srv, p)
    time.sleep(0.2)
    threads, rss = threading.active_count(), rss_bytes()
    for _ in range(120):
        for p in paths:
            get(srv, p)
    time.sleep(0.3)
    assert threading.active_count() <= threads
    assert rss_bytes() - rss < 3_000_000
