"""The HTTP side port against a fake status source: real requests, no GStreamer."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from camera_streaming.errors import PortInUseError
from camera_streaming.telemetry.stats import MemoryHistory
from camera_streaming.web.http import HttpServer
from support.fakes import FakeClock
from support.web import ROUTES, FakeStatus, get, http_threads, raw, serving, settled_fds, url

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


@pytest.fixture
def server() -> Iterator[tuple[HttpServer, FakeStatus]]:
    status = FakeStatus()
    with serving(status) as srv:
        yield srv, status


def fetch(srv: HttpServer, path: str, method: str = "GET") -> tuple[int, bytes, str]:
    code, body, headers = get(url(srv, path), method=method)
    return code, body, headers["Content-Type"]


def test_metrics(server: tuple[HttpServer, FakeStatus]) -> None:
    code, body, ctype = fetch(server[0], "/metrics")
    assert code == 200 and ctype.startswith("text/plain")
    text = body.decode()
    for name in METRICS:
        assert name in text, name
    assert "camera_streaming_bytes_sent_total 12345.0" in text


def test_healthz(server: tuple[HttpServer, FakeStatus]) -> None:
    srv, status = server
    code, body, _ = fetch(srv, "/healthz")
    assert code == 200 and body == b"ok: last frame 0.1 s ago\n"
    status.age = 6.0
    code, body, _ = fetch(srv, "/healthz")
    assert code == 503 and b"no frame for 5 s" in body
    status.age = None
    assert fetch(srv, "/healthz")[:2] == (503, b"unhealthy: no frame for 5 s (last: never)\n")


def test_status_json(server: tuple[HttpServer, FakeStatus]) -> None:
    code, body, ctype = fetch(server[0], "/api/status")
    data = json.loads(body)
    assert code == 200 and ctype == "application/json"
    assert data["healthy"] is True and data["stats"]["clients"] == 2
    assert data["memory"][0] == [1.0, 40_000_000, 10_000_000]
    assert data["urls"] == ["rtsp://127.0.0.1:8554/stream"]


def test_snapshot(server: tuple[HttpServer, FakeStatus]) -> None:
    srv, status = server
    assert fetch(srv, "/snapshot.jpg")[0] == 503
    status.jpeg = b"\xff\xd8jpeg"
    assert fetch(srv, "/snapshot.jpg") == (200, b"\xff\xd8jpeg", "image/jpeg")


def test_page_embeds_the_status(server: tuple[HttpServer, FakeStatus]) -> None:
    for path in ("/", "/index.html", "/?t=1"):
        code, body, ctype = fetch(server[0], path)
        assert code == 200 and ctype == "text/html; charset=utf-8"
        assert b"rtsp://127.0.0.1:8554/stream" in body and b'id="chart"' in body
        assert b"</script>" in body and b"<\\/" not in body.split(b"<script>")[0]


def test_every_route_is_not_cached_and_head_sends_no_body(
    server: tuple[HttpServer, FakeStatus],
) -> None:
    srv, status = server
    status.jpeg = b"\xff\xd8jpeg"
    for path in (*ROUTES, "/nope"):
        code, body, headers = get(url(srv, path))
        assert headers["Cache-Control"] == "no-store", path
        assert "ETag" not in headers and headers["Server"] == "camera-streaming"
        head = raw(
            srv.port, f"HEAD {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
        )
        status_line, _, rest = head.partition(b"\r\n")
        assert status_line == f"HTTP/1.1 {code} {'OK' if code == 200 else 'Not Found'}".encode()
        length = int(rest.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        slack = 100 if path == "/metrics" else 0  # its figures move between two requests
        assert abs(length - len(body)) <= slack, path
        assert rest.endswith(b"\r\n\r\n"), "HEAD sent a body"


def test_unknown_paths_and_methods(server: tuple[HttpServer, FakeStatus]) -> None:
    srv, _ = server
    assert fetch(srv, "/nope") == (404, b"not found\n", "text/plain; charset=utf-8")
    assert fetch(srv, "/metrics/")[0] == 404
    code, body, headers = get(url(srv, "/metrics"), method="POST")
    assert (code, body, headers["Allow"]) == (405, b"405 Method Not Allowed\n", "GET, HEAD")
    assert get(url(srv, "/"), method="BREW")[0] == 405


BAD_REQUESTS = (
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"GET / HTTP/1.1\r\n\r\n",  # no Host
)


@pytest.mark.parametrize("request_bytes", BAD_REQUESTS)
def test_a_bad_request_gets_400_and_no_traceback(
    server: tuple[HttpServer, FakeStatus], request_bytes: bytes
) -> None:
    answer = raw(server[0].port, request_bytes)
    assert answer.startswith(b"HTTP/1.1 400 "), answer
    assert b"Traceback" not in answer and b"File " not in answer


def test_odd_but_valid_requests_are_served(server: tuple[HttpServer, FakeStatus]) -> None:
    srv, _ = server
    for target in (b"/?a=%zz&b=\xff", b"/%2e%2e/%00", b"/\xff\xfe", b"//api/status"):
        answer = raw(
            srv.port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        assert answer.split(b"\r\n", 1)[0] in (b"HTTP/1.1 200 OK", b"HTTP/1.1 404 Not Found")
    assert fetch(srv, "/healthz")[0] == 200  # and the server is still there


def test_a_failing_source_gets_500_without_detail(server: tuple[HttpServer, FakeStatus]) -> None:
    srv, status = server

    def broken() -> bytes:
        raise RuntimeError("secret detail")

    status.snapshot_jpeg = broken  # type: ignore[method-assign]
    code, body, _ = fetch(srv, "/snapshot.jpg")
    assert (code, body) == (500, b"internal error\n")
    assert fetch(srv, "/healthz")[0] == 200


def test_port_in_use_names_the_flag() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        from camera_streaming.config import HttpConfig

        srv = HttpServer(HttpConfig(port=s.getsockname()[1], bind="127.0.0.1"), FakeStatus())
        with pytest.raises(PortInUseError, match="--http-port"):
            srv.start()
        assert http_threads() == []


def test_stop_closes_connections_and_joins_the_threads() -> None:
    fds, threads = settled_fds(), http_threads()
    with serving() as srv:
        assert fetch(srv, "/healthz")[0] == 200
        assert http_threads() == ["http"]  # the pool starts with the first snapshot
        assert fetch(srv, "/snapshot.jpg")[0] == 503
        assert http_threads() == ["http", "http-worker_0"]
        idle = socket.create_connection(("127.0.0.1", srv.port))  # open, never sends
        kept = socket.create_connection(("127.0.0.1", srv.port))  # keep-alive, between requests
        kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert kept.recv(4096).startswith(b"HTTP/1.1 200 OK")
        t0 = time.monotonic()
        srv.stop()
        assert time.monotonic() - t0 < 1.0
        assert idle.recv(1) == b"" and kept.recv(1) == b""  # closed by the server
        idle.close()
        kept.close()
    assert http_threads() == threads
    assert settled_fds() == fds


def test_requests_leave_no_threads_or_fds_behind(server: tuple[HttpServer, FakeStatus]) -> None:
    from camera_streaming.telemetry.stats import rss_bytes

    srv, status = server
    status.jpeg = b"\xff\xd8" + b"x" * 50_000
    for _ in range(8):  # warm-up: both workers started
        for p in ROUTES:
            fetch(srv, p)
    fds, threads, rss = settled_fds(), threading.active_count(), rss_bytes()
    for i in range(200):
        fetch(srv, ROUTES[i % len(ROUTES)])
    assert settled_fds() == fds
    assert threading.active_count() == threads
    assert rss_bytes() - rss < 3_000_000


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
