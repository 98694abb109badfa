"""The HTTP side without GStreamer: a fake `StatusSource`, an `HttpServer` on a free loopback
port, and real clients (urllib, a raw socket) that return what came back."""

from __future__ import annotations

import contextlib
import gc
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any

from camera_streaming.config import HttpConfig
from camera_streaming.telemetry.stats import OutputStatus, Snapshot
from camera_streaming.web.http import HttpServer

RTMP_UP = OutputStatus("rtmp", "rtmp://127.0.0.1/live/s", "connected", bytes=1000, reconnects=2)
ROUTES = ("/metrics", "/healthz", "/api/status", "/snapshot.jpg", "/", "/index.html")


class FakeStatus:
    """A `StatusSource` with fixed figures; `age` (the last frame's) and `jpeg` can be set."""

    def __init__(self) -> None:
        self.age: float | None = 0.1
        self.jpeg: bytes | None = None
        self.jpeg_calls = 0

    def snapshot(self) -> Snapshot:
        return Snapshot(uptime_s=5, frames=100, fps=25.0, dropped=1, clients=2, sessions=2,
                        rss_bytes=50_000_000, heap_bytes=20_000_000, encoded=90,
                        bytes_sent=12345, hook_seconds=0.5, encoder="x264enc", source_restarts=2,
                        last_frame_age_s=self.age, outputs=(RTMP_UP,))  # fmt: skip

    def memory_history(self) -> list[tuple[float, int, int | None]]:
        return [(1.0, 40_000_000, 10_000_000), (11.0, 41_000_000, None)]

    def snapshot_jpeg(self) -> bytes | None:
        self.jpeg_calls += 1
        return self.jpeg

    def describe(self) -> Mapping[str, Any]:
        return {"urls": ["rtsp://127.0.0.1:8554/stream"], "codec": "h264", "source": "test",
                "video": "320x240@25", "encoder": "x264enc", "version": "0"}  # fmt: skip


@contextlib.contextmanager
def serving(status: FakeStatus | None = None) -> Iterator[HttpServer]:
    """An `HttpServer` over `status` on 127.0.0.1 and a free port."""
    srv = HttpServer(
        HttpConfig(port=0, bind="127.0.0.1", health_timeout_s=5), status or FakeStatus()
    )
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def url(srv: HttpServer, path: str) -> str:
    return f"http://127.0.0.1:{srv.port}{path}"


def get(
    address: str, method: str = "GET", headers: Mapping[str, str] | None = None
) -> tuple[int, bytes, Mapping[str, str]]:
    """One request with urllib: (status, body, headers)."""
    req = urllib.request.Request(address, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read(), exc.headers


def raw(port: int, request: bytes, timeout: float = 5.0) -> bytes:
    """Send `request` as is and read until the server closes (or `timeout`)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        data = b""
        with contextlib.suppress(socket.timeout, ConnectionResetError):
            while chunk := s.recv(65536):
                data += chunk
        return data


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def settled_fds(hold: float = 0.3, timeout: float = 5.0) -> int:
    """The fd count once it has held still for `hold` seconds (connections that just ended
    close their sockets on both sides a moment later)."""
    gc.collect()
    deadline = time.monotonic() + timeout
    count, since = open_fds(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = open_fds()
        if now != count:
            count, since = now, time.monotonic()
        elif time.monotonic() - since >= hold:
            break
    return count


def http_threads() -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t.name.startswith("http"))
