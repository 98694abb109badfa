"""The HTTP side without GStreamer: a fake `StatusSource`, an `HttpServer` on a free loopback
port, and real clients (urllib, curl, a raw socket) that return what came back."""

from __future__ import annotations

import contextlib
import gc
import os
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from camera_streaming.config import HttpConfig
from camera_streaming.telemetry.stats import OutputStatus, Snapshot
from camera_streaming.web.http import HttpServer

from .env import require_tool

USERS = {"alice": "s3cret:x", "bob": "hunter2", "zoë": "pässword"}
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

    def snapshot_jpeg(self, camera: str | None = None) -> bytes | None:
        self.jpeg_calls += 1
        return self.jpeg

    def describe(self) -> Mapping[str, Any]:
        return {"urls": ["rtsp://127.0.0.1:8554/stream"], "codec": "h264", "source": "test",
                "video": "320x240@25", "encoder": "x264enc", "version": "0"}  # fmt: skip

    def mse_feed(self, path: str) -> None:
        return None  # no streams: a WebSocket is closed with 4404


def tiny_jpeg() -> bytes:
    ok, buf = cv2.imencode(".jpg", np.full((16, 16, 3), 128, np.uint8))
    assert ok
    return bytes(buf)


@contextlib.contextmanager
def serving(status: FakeStatus | None = None, **kwargs: Any) -> Iterator[HttpServer]:
    """An `HttpServer` over `status` on 127.0.0.1 and a free port; `kwargs` go to it (auth,
    users, tls_cert, tls_key)."""
    srv = HttpServer(
        HttpConfig(port=0, bind="127.0.0.1", health_timeout_s=5), status or FakeStatus(), **kwargs
    )
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def url(srv: HttpServer, path: str) -> str:
    return f"{srv.scheme}://127.0.0.1:{srv.port}{path}"


def unverified() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def get(
    address: str,
    user: str | None = None,
    password: str = "",
    scheme: str = "digest",
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
) -> tuple[int, bytes, Mapping[str, str]]:
    """One request with urllib: (status, body, headers). With `user`, urllib's Digest or Basic
    handler answers the 401 challenge (Basic: `scheme="basic"`)."""
    handlers: list[urllib.request.BaseHandler] = []
    if address.startswith("https:"):
        handlers.append(urllib.request.HTTPSHandler(context=unverified()))
    if user is not None:
        passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
        passwords.add_password(None, address, user, password)
        handler_class = {
            "digest": urllib.request.HTTPDigestAuthHandler,
            "basic": urllib.request.HTTPBasicAuthHandler,
        }[scheme]
        handlers.append(handler_class(passwords))
    opener = urllib.request.build_opener(*handlers)
    req = urllib.request.Request(address, method=method, headers=dict(headers or {}))
    try:
        with opener.open(req, timeout=10) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read(), exc.headers


def curl(address: str, *args: str) -> tuple[int, bytes]:
    """curl with `args` (`--digest -u name:pw`, `-k`, ...): (status, body)."""
    exe = require_tool("curl")
    out = subprocess.run(
        [exe, "-s", "-S", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}", *args, address],
        capture_output=True,
        timeout=20,
        check=True,
    )
    body, _, code = out.stdout.rpartition(b"\n")
    return int(code), body


def raw(port: int, request: bytes, timeout: float = 5.0) -> bytes:
    """Send `request` as is and read until the server closes (or `timeout`)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        data = b""
        with contextlib.suppress(socket.timeout, ConnectionResetError):
            while chunk := s.recv(65536):
                data += chunk
        return data


def self_signed(directory: Path) -> tuple[str, str]:
    """A one-day RSA certificate for 127.0.0.1 made by openssl: (cert, key) paths."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [require_tool("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return str(cert), str(key)


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
